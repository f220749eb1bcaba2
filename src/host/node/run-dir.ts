// A training run's directory (checkpoint.safetensors, metrics.jsonl, loss.svg) and the rules
// that keep a run from ever being lost:
// - one writer at a time (DIR/.lock);
// - a directory that holds a run is refused unless the run is continued (--resume) or started
//   over (--force), and --force moves the old run's files to DIR.old-TIME, never deletes them;
// - nothing in the directory changes until the new run has really started (its first step is
//   done): a run that fails before that leaves the directory as it was;
// - a failed write (a full disk) is one message, leaves the earlier files whole and no
//   temporary file behind; temporary files a killed process left are removed on the next run.
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../../session/errors.js';
import { checkOutDir, writeFailure } from './out-path.js';
import { makeDir, writeAtomic } from './write.js';
import { lockDir, type DirLock } from './run-lock.js';
import { lossPlot } from '../../report/loss-plot.js';
import type { CheckpointMeta } from '../../runtime/train/checkpoint.js';
import { saveCheckpoint } from './safetensors-file.js';
import type { OptimizerState, Weights } from '../../runtime/train/backend.js';
import type { RunStore } from '../../session/train.js';

export const CHECKPOINT = 'checkpoint.safetensors';
export const METRICS = 'metrics.jsonl';
export const PLOT = 'loss.svg';
/** What --force moves aside: a run's own files (result.json: an ablation's finished run). */
const RUN_FILES = [CHECKPOINT, METRICS, PLOT, 'result.json'];

export interface History {
  train: [number, number][];
  val: [number, number][];
}

export interface RunDirOptions {
  dir: string;
  /** Start over in a directory that holds a run (its files are moved aside). */
  force: boolean;
  /** Continue the run in `dir` (the same directory as `dir`, or another) from its checkpoint. */
  resume?: { dir: string; step: number };
  /** The command to suggest in messages, e.g. `arch train models/gpt-nano.arch`. */
  command: string;
  log(text: string): void;
}

const samePath = (a: string, b: string) => resolve(a) === resolve(b);

/** Claims a run directory for a session's training run (src/session/train.ts's RunStore). */
export function claimRunDir(o: RunDirOptions): RunStore {
  return RunDir.claim(o);
}

export class RunDir implements RunStore {
  readonly checkpointPath: string;
  readonly metricsPath: string;
  readonly plotPath: string;
  /** The run so far: the resumed run's metrics up to its checkpoint, then this run's. */
  readonly history: History;
  private begun = false;
  private metricsBytes = 0;
  private savedStep: number | undefined;
  private readonly kept: string[];

  private constructor(readonly dir: string, private readonly o: RunDirOptions, private readonly lock: DirLock, private readonly created: string[]) {
    this.checkpointPath = join(dir, CHECKPOINT);
    this.metricsPath = join(dir, METRICS);
    this.plotPath = join(dir, PLOT);
    this.kept = o.resume ? metricsUpTo(join(o.resume.dir, METRICS), o.resume.step) : [];
    this.history = historyOf(this.kept);
    if (o.resume && samePath(o.resume.dir, dir)) this.savedStep = o.resume.step;
  }

  /** Checks the place, takes the lock, removes leftovers, and refuses a run it would replace. */
  static claim(o: RunDirOptions): RunDir {
    checkOutDir(o.dir);
    const continuing = o.resume !== undefined && samePath(o.resume.dir, o.dir);
    if (o.force && continuing) throw new UsageError(`--force starts the run in ${o.dir} over and --resume continues it: give one of them`);
    const created = makeDir(o.dir);
    const lock = lockDir(o.dir);
    try {
      if (lock.reclaimed) o.log(`note: ${lock.reclaimed}\n`);
      removeLeftovers(o.dir, o.log);
      const existing = continuing ? undefined : describeRun(o.dir);
      if (existing && !o.force) {
        throw new UsageError(
          `${o.dir} already holds a run: ${existing}\n` +
            `  continue it:  ${o.command} --resume ${o.dir} [--steps N]\n` +
            `  start over:   add --force (the old run's files are moved to ${o.dir}.old-TIME once the new run has started)\n` +
            `  or choose another --out`,
        );
      }
      return new RunDir(o.dir, o, lock, created);
    } catch (e) {
      lock.release();
      removeIfEmpty(created);
      throw e;
    }
  }

  /** The run has really started: make the directory its own (idempotent). */
  begin(): void {
    if (this.begun) return;
    this.begun = true;
    if (this.o.force) this.moveAside();
    const text = this.kept.map((l) => l + '\n').join('');
    this.writing(this.metricsPath, Buffer.byteLength(text), () => writeAtomic(this.metricsPath, text));
    this.metricsBytes = Buffer.byteLength(text);
  }

  appendMetrics(entry: object): void {
    this.begin();
    const line = JSON.stringify(entry) + '\n';
    const bytes = Buffer.byteLength(line);
    this.writing(this.metricsPath, bytes, () => {
      try {
        appendFileSync(this.metricsPath, line);
      } catch (e) {
        // a line written in part would make the file unreadable: cut it back to whole lines
        try {
          truncateSync(this.metricsPath, this.metricsBytes);
        } catch {
          // the write error is the one to report
        }
        throw e;
      }
    });
    this.metricsBytes += bytes;
  }

  saveCheckpoint(weights: Weights, shapes: Map<string, number[]>, opt: OptimizerState | null, meta: CheckpointMeta): void {
    this.begin();
    const tensors = [...weights.values(), ...(opt ? [...opt.m.values(), ...opt.v.values()] : [])];
    // the data, the metadata and ~100 bytes of header per tensor
    const bytes = tensors.reduce((a, t) => a + t.byteLength + 100, 0) + JSON.stringify(meta).length;
    this.writing(this.checkpointPath, bytes, () => saveCheckpoint(this.checkpointPath, weights, shapes, opt, meta));
    this.savedStep = meta.step;
  }

  savePlot(title: string, history: History, ideal?: number): void {
    const svg = lossPlot(title, history, ideal);
    this.writing(this.plotPath, Buffer.byteLength(svg), () => writeAtomic(this.plotPath, svg));
  }

  /** The step of the last checkpoint in this directory, if any. */
  get checkpointStep(): number | undefined {
    return this.savedStep;
  }

  /** Releases the lock; a directory made for a run that never started goes again. */
  finish(): void {
    this.lock.release();
    if (!this.begun) removeIfEmpty(this.created);
  }

  private writing(path: string, bytes: number, write: () => void): void {
    try {
      write();
    } catch (e) {
      const kept = this.savedStep !== undefined ? `the checkpoint of step ${this.savedStep} in ${this.dir} is intact` : 'no checkpoint of this run was written';
      throw writeFailure(path, e, bytes, kept);
    }
  }

  private moveAside(): void {
    const files = RUN_FILES.filter((f) => existsSync(join(this.dir, f)));
    if (!files.length) return;
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
    let target = `${this.dir.replace(/\/+$/, '')}.old-${stamp}`;
    for (let i = 2; existsSync(target); i++) target = `${this.dir.replace(/\/+$/, '')}.old-${stamp}-${i}`;
    // one rename per file: a crash between two leaves each file whole, in one place or the other
    this.writing(target, 0, () => {
      mkdirSync(target);
      for (const f of files) renameSync(join(this.dir, f), join(target, f));
    });
    this.o.log(`--force: moved the earlier run's ${files.join(', ')} to ${target}\n`);
  }
}

/** What a directory holds of a run, in a few words, or undefined when it holds none. */
export function describeRun(dir: string): string | undefined {
  const parts: string[] = [];
  const ckpt = join(dir, CHECKPOINT);
  if (existsSync(ckpt)) {
    const md = checkpointMetadata(ckpt);
    if (typeof md === 'string') parts.push(`a checkpoint that cannot be read (${md})`);
    else if (md.format === 'arch-checkpoint') parts.push(`a checkpoint at step ${md.step} of ${md.model_file || 'a model'} trained on ${md.data || 'unknown data'}`);
    else parts.push('a weights file without training state');
  }
  const lines = metricsUpTo(join(dir, METRICS), Infinity);
  if (lines.length) {
    const h = historyOf(lines);
    const last = h.train.at(-1);
    parts.push(last ? `metrics up to step ${last[0]} (loss ${Number.isFinite(last[1]) ? last[1].toFixed(4) : 'not a number'})` : `${lines.length} lines of metrics`);
  }
  return parts.length ? parts.join('; ') : undefined;
}

/** The metadata of a safetensors file, from its header alone (a checkpoint can be gigabytes), or
 *  why it cannot be read. */
function checkpointMetadata(path: string): Record<string, string> | string {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = statSync(path).size;
    const len = Buffer.alloc(8);
    if (size < 8 || readSync(fd, len, 0, 8, 0) < 8) return 'too short';
    const n = Number(len.readBigUInt64LE(0));
    if (n > Math.min(size - 8, 100 << 20)) return 'its header is cut off';
    const header = Buffer.alloc(n);
    readSync(fd, header, 0, n, 8);
    const md = (JSON.parse(header.toString('utf8')) as { __metadata__?: Record<string, string> }).__metadata__;
    return md ?? {};
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'its header is not JSON';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** A run's metrics lines up to `step`: on resume, lines past the checkpoint belong to a future
 *  that did not happen. Unreadable lines (a torn write) are dropped. */
function metricsUpTo(path: string, step: number): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => {
    if (!l.trim()) return false;
    try {
      return JSON.parse(l).step <= step;
    } catch {
      return false;
    }
  });
}

function historyOf(lines: string[]): History {
  const h: History = { train: [], val: [] };
  for (const l of lines) {
    const m = JSON.parse(l);
    // JSON writes a non-finite loss as null
    if ('val_loss' in m) h.val.push([m.step, m.val_loss ?? NaN]);
    else if ('loss' in m) h.train.push([m.step, m.loss ?? NaN]);
  }
  return h;
}

/** Temporary files (NAME.tmp-PID) are written and renamed by one process; under the lock any
 *  that another process left were left by a killed one. */
export function removeLeftovers(dir: string, log: (text: string) => void): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const left = names.filter((n) => {
    const m = /\.tmp-(\d+)$/.exec(n) ?? /^\.arch-probe-(\d+)$/.exec(n);
    return m && Number(m[1]) !== process.pid;
  });
  for (const n of left) rmSync(join(dir, n), { force: true });
  if (left.length) log(`note: removed ${left.length === 1 ? 'a temporary file' : `${left.length} temporary files`} left in ${dir} by an interrupted run: ${left.join(', ')}\n`);
}

/** Removes the directories a claim created (deepest first) while they are empty. */
function removeIfEmpty(created: readonly string[]): void {
  try {
    for (const dir of created) {
      if (readdirSync(dir).length > 0) return;
      rmdirSync(dir);
    }
  } catch {
    // leaving an empty directory is harmless
  }
}
