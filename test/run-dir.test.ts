// A run directory is never lost: arch train refuses a directory that holds a run (unless
// --resume or --force), --force moves the old run aside, a run that fails before its first step
// leaves the directory as it was, --resume A --out B leaves A alone, one writer per directory, and
// output paths are checked before any work. The real CLI, on the interpreter backend.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../src/host/node/safetensors-file.js';

const root = mkdtempSync(join(tmpdir(), 'arch-rundir-'));
const TINY = ['--set', 'D=16', '--set', 'N=1', '--set', 'L=8', '--set', 'H=2', '--batch', '4', '--eval-batches', '1', '--backend', 'interpreter'];
const TRAIN = ['train', 'models/gpt-nano.arch', '--data', 'task:reverse', ...TINY];

function arch(...args: string[]) {
  const r = spawnSync('node', ['bin/arch.js', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** Every file of a directory and a hash of its bytes. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')]));
}

/** A finished 3-step run in a fresh directory. */
function trainedRun(name: string): string {
  const d = join(root, name);
  const r = arch(...TRAIN, '--steps', '3', '--eval-every', '3', '--out', d);
  expect(r.code, r.err).toBe(0);
  return d;
}

describe('arch train --out into a directory that holds a run', () => {
  it('refuses with exit 2, says what is there and the two ways on, and changes nothing', () => {
    const d = trainedRun('held');
    const before = snapshot(d);
    const r = arch(...TRAIN, '--steps', '3', '--out', d);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${d} already holds a run`);
    expect(r.err).toMatch(/checkpoint at step 3 of models\/gpt-nano\.arch trained on task:reverse/);
    expect(r.err).toMatch(/metrics up to step 3 \(loss \d\.\d{4}\)/);
    expect(r.err).toContain(`--resume ${d}`);
    expect(r.err).toContain('--force');
    expect(r.err).not.toMatch(/internal error|\n\s+at /);
    expect(snapshot(d)).toEqual(before);
  });

  it('--force moves the old run to DIR.old-TIME, whole, and trains anew', () => {
    const d = trainedRun('forced');
    const before = snapshot(d);
    const r = arch(...TRAIN, '--steps', '2', '--eval-every', '2', '--out', d, '--force');
    expect(r.code, r.err).toBe(0);
    const old = readdirSync(root).filter((f) => f.startsWith('forced.old-'));
    expect(old).toHaveLength(1);
    expect(r.err).toContain(join(root, old[0]!));
    expect(snapshot(join(root, old[0]!))).toEqual(before);
    expect(loadCheckpoint(join(d, 'checkpoint.safetensors')).meta!.step).toBe(2);
    expect(readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').filter((l) => 'loss' in JSON.parse(l))).toHaveLength(2);
  });

  it('a run that fails before its first step leaves the directory byte for byte, --force or not', () => {
    const d = trainedRun('failing');
    const before = snapshot(d);
    // 23 training tokens cannot fill one window of a 32-token context: an error at the first batch
    const short = join(root, 'short.txt');
    writeFileSync(short, 'abcdefghijklmnopqrstuvwxyz');
    const r = arch('train', 'models/gpt-nano.arch', '--data', short, ...TINY, '--set', 'L=32', '--steps', '3', '--out', d, '--force');
    expect(r.code).toBe(2);
    expect(r.err).toContain('cannot hold one window');
    expect(snapshot(d)).toEqual(before);
    // a model that does not compile
    const bad = arch(...TRAIN, '--set', 'H=3', '--steps', '3', '--out', d, '--force');
    expect(bad.code).toBe(1);
    expect(snapshot(d)).toEqual(before);
    expect(readdirSync(root).filter((f) => f.startsWith('failing.old-'))).toEqual([]);
    // a fresh directory is not even made
    const fresh = join(root, 'never', 'made');
    expect(arch('train', 'models/gpt-nano.arch', '--data', short, ...TINY, '--set', 'L=32', '--steps', '3', '--out', fresh).code).toBe(2);
    expect(existsSync(fresh)).toBe(false);
  });

  it('--resume A --out B continues into B and leaves A as it was', () => {
    const a = trainedRun('resume-a');
    const before = snapshot(a);
    const b = join(root, 'resume-b');
    const r = arch('train', 'models/gpt-nano.arch', '--resume', a, '--out', b, '--steps', '5');
    expect(r.code, r.err).toBe(0);
    expect(snapshot(a)).toEqual(before);
    expect(loadCheckpoint(join(b, 'checkpoint.safetensors')).meta!.step).toBe(5);
    const steps = readFileSync(join(b, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((m) => 'loss' in m).map((m) => m.step);
    expect(steps).toEqual([1, 2, 3, 4, 5]); // A's history, then B's
    // B now holds a run: resuming A into it again is refused like any other
    const again = arch('train', 'models/gpt-nano.arch', '--resume', a, '--out', b, '--steps', '6');
    expect(again.code).toBe(2);
    expect(again.err).toContain(`${b} already holds a run`);
  });
});

describe('one arch train per directory', () => {
  it('a second run into a locked directory refuses at once, naming the owner; the lock goes with the owner', async () => {
    const d = join(root, 'locked');
    const first = spawn('node', ['bin/arch.js', ...TRAIN, '--steps', '2000', '--eval-every', '0', '--out', d], { env: { ...process.env, ARCH_CHILD: '1' } });
    const exited = new Promise<number>((resolve) => first.on('exit', (c) => resolve(c ?? -1)));
    const lock = join(d, '.lock');
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (existsSync(join(d, 'metrics.jsonl'))) {
          clearInterval(poll);
          resolve();
        }
      }, 20);
    });
    expect(JSON.parse(readFileSync(lock, 'utf8')).pid).toBe(first.pid);
    const t0 = Date.now();
    const second = arch(...TRAIN, '--steps', '3', '--out', d, '--force');
    expect(second.code).toBe(2);
    expect(second.err).toContain(`${d} is in use by pid ${first.pid}`);
    expect(Date.now() - t0).toBeLessThan(20_000);
    first.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(existsSync(lock)).toBe(false);
    expect(readdirSync(d).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it("a dead process's lock and temporary files are reclaimed, and each is reported in one line", () => {
    const d = trainedRun('stale');
    const dead = spawnSync('node', ['-e', '0']).pid!; // exited: its pid runs nothing now
    writeFileSync(join(d, '.lock'), JSON.stringify({ pid: dead, host: hostname(), command: 'arch train', since: 'then' }));
    writeFileSync(join(d, `checkpoint.safetensors.tmp-${dead}`), 'half a checkpoint');
    const r = arch('train', 'models/gpt-nano.arch', '--resume', d, '--steps', '4');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`removed a stale lock (pid ${dead}`);
    expect(r.err).toContain(`removed a temporary file left in ${d} by an interrupted run: checkpoint.safetensors.tmp-${dead}`);
    expect(readdirSync(d).sort()).toEqual(['checkpoint.safetensors', 'loss.svg', 'metrics.jsonl']);
  });
});

describe('output paths are checked before any work', () => {
  const file = join(root, 'a-file');
  writeFileSync(file, 'not a directory');
  const cases: [string, string, RegExp][] = [
    ['an empty string', '', /--out is empty/],
    ['a file', file, /a file is there, not a directory/],
    ['inside a file', join(file, 'sub'), /is a file, so nothing can be made inside it/],
    ['/proc (where a recursive mkdir hangs)', '/proc/arch-run', /\/proc is a kernel filesystem/],
    ['/sys', '/sys/arch-run', /\/sys is a kernel filesystem/],
  ];
  for (const [what, out, message] of cases) {
    it(`train --out: ${what}`, () => {
      const r = arch(...TRAIN, '--steps', '3', '--out', out);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/internal error|\n\s+at /);
    });
  }

  it('ablate --out and attention --out go through the same check', () => {
    const ab = arch('ablate', 'models/gpt-nano.arch', '--vary', 'act=gelu,relu', '--data', 'task:reverse', '--steps', '2', '--seeds', '1', ...TINY, '--out', '/proc/arch-ablation');
    expect(ab.code).toBe(2);
    expect(ab.err).toMatch(/\/proc is a kernel filesystem/);
    const d = trainedRun('for-attention');
    const w = join(d, 'checkpoint.safetensors');
    const att = (out: string) => arch('attention', 'models/gpt-nano.arch', '--weights', w, '--prompt', '123', '--out', out);
    expect(att('').err).toMatch(/--out is empty/);
    const dirOut = att(d);
    expect(dirOut.code).toBe(2);
    expect(dirOut.err).toMatch(/a directory is there, not a file/);
    // a missing directory is made
    const made = att(join(root, 'pictures', 'attention.svg'));
    expect(made.code, made.err).toBe(0);
    expect(readFileSync(join(root, 'pictures', 'attention.svg'), 'utf8')).toMatch(/<svg/);
  });

  it('a missing parent directory of train --out is made', () => {
    const d = join(root, 'deep', 'er', 'run');
    mkdirSync(join(root, 'deep'));
    const r = arch(...TRAIN, '--steps', '2', '--out', d);
    expect(r.code, r.err).toBe(0);
    expect(existsSync(join(d, 'checkpoint.safetensors'))).toBe(true);
  });
});
