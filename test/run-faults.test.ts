// What goes wrong during a run never costs the run: a divergence keeps the last finite
// checkpoint, a full disk is one message with the old files whole, kill -9 at any moment leaves a
// loadable checkpoint (or none), Ctrl-C releases the lock, and a failing training step is the
// loop's error, not an unhandled rejection.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { differentiate, initParams } from '../src/ir/index.js';
import { NEXT_SUFFIX } from '../src/compiler/lower.js';
import { openData } from '../src/data/index.js';
import { openDevice, type ArchDevice } from '../src/host/node/device.js';
import { loadCheckpoint } from '../src/host/node/safetensors-file.js';
import { InterpreterBackend } from '../src/runtime/train/interpreter-backend.js';
import { createWebGPUBackend } from '../src/runtime/train/webgpu-backend.js';
import { trainLoop, TRAIN_DEFAULTS, type TrainOptions } from '../src/runtime/train/loop.js';
import type { StepHyper } from '../src/runtime/train/adamw.js';
import type { Feeds, StepResult, TrainBackend } from '../src/runtime/train/backend.js';
import type { InputSpec } from '../src/runtime/train/feeds.js';
import { lowerModel } from './model-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'arch-faults-'));
const TINY = ['--set', 'D=16', '--set', 'N=1', '--set', 'L=8', '--set', 'H=2', '--batch', '4', '--eval-batches', '1', '--backend', 'interpreter'];
const TRAIN = ['train', 'models/gpt-nano.arch', '--data', 'task:reverse', ...TINY];

function arch(...args: string[]) {
  const r = spawnSync('node', ['bin/arch.js', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
const allFinite = (path: string) => [...loadCheckpoint(path).weights.values()].every((t) => t.data.every(Number.isFinite));

describe('a diverging run', () => {
  it('stops, keeps the last finite checkpoint, says at which step and what to try; exit 1', () => {
    const d = join(root, 'diverged');
    // lr 1e6 (the largest --lr takes): a few steps of huge but finite weights, then an overflow
    const r = arch(...TRAIN, '--steps', '8', '--eval-every', '1', '--lr', '1e6', '--warmup', '1', '--out', d);
    expect(r.code).toBe(1);
    const at = Number(/diverged at step (\d+) \(the (validation )?loss is NaN\)/.exec(r.err)?.[1]);
    expect(at).toBeGreaterThan(1);
    expect(r.err).toContain(`kept from step ${at - 1}, before the divergence`);
    expect(r.err).toMatch(/lower --lr/);
    const ckpt = join(d, 'checkpoint.safetensors');
    expect(loadCheckpoint(ckpt).meta!.step).toBe(at - 1);
    expect(allFinite(ckpt)).toBe(true);
  });
});

describe('a failing training step', () => {
  const V = 12;
  const inputs: InputSpec[] = [
    { name: 'tokens_BLV', role: 'tokens', symbols: ['B', 'L'] },
    { name: 'tokens_BLV' + NEXT_SUFFIX, role: 'targets', symbols: ['B', 'L'] },
  ];
  const opts: TrainOptions = {
    steps: 6,
    batch: 2,
    length: 8,
    accum: 1,
    seed: 1,
    schedule: { lr: 1e-3, minLr: 1e-4, warmup: 0, steps: 6, kind: 'constant' },
    adamw: TRAIN_DEFAULTS,
    gradClip: 1,
    evalEvery: 0,
    evalBatches: 1,
  };
  const hooks = { onStep() {}, onEval() {}, stopRequested: () => false, async checkpoint() {} };
  const graphs = () => {
    const l = lowerModel('models/gpt-nano.arch', { V, L: 8, D: 8, H: 2, N: 1 }, true);
    const evalL = lowerModel('models/gpt-nano.arch', { V, L: 8, D: 8, H: 2, N: 1 }, false);
    const weights = new Map(Object.entries(initParams(l.graph, {}, 3)).map(([k, v]) => [k, Float32Array.from(v)]));
    return { train: differentiate(l.graph, 'loss', [...l.graph.params.keys()]), evalG: evalL.graph, weights };
  };
  const unhandled: unknown[] = [];
  const record = (e: unknown) => unhandled.push(e);
  let dev: ArchDevice;
  beforeAll(async () => {
    process.on('unhandledRejection', record);
    dev = await openDevice();
  });
  afterAll(() => {
    process.off('unhandledRejection', record);
    dev?.destroy();
  });

  /** The interpreter backend, whose step (an async function) rejects at once at step 3. */
  class FailingInterpreter extends InterpreterBackend {
    override async step(micro: Feeds[], hp: StepHyper): Promise<StepResult> {
      if (hp.step === 3) throw new Error('step 3 failed');
      return super.step(micro, hp);
    }
  }

  it('on the interpreter: trainLoop rejects with its error, and no rejection goes unhandled', async () => {
    unhandled.length = 0;
    const { train, evalG, weights } = graphs();
    const data = openData('task:reverse', { tokenizer: 'char' });
    await expect(trainLoop(new FailingInterpreter(train, evalG, weights), data, inputs, opts, hooks)).rejects.toThrow('step 3 failed');
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled).toEqual([]);
  });

  it('on WebGPU: a step that fails after its work was submitted is the loop\'s error', async () => {
    unhandled.length = 0;
    const { train, evalG, weights } = graphs();
    const data = openData('task:reverse', { tokenizer: 'char' });
    const gpu = await createWebGPUBackend(dev, train, evalG, { symbols: { B: 2, L: 8, seed: 0 }, weights });
    // The real backend's step, failing once the device has run it (a lost device, a failed map).
    const failing: TrainBackend = {
      ...gpu,
      name: gpu.name,
      step: (micro, hp) => gpu.step(micro, hp).then((r) => (hp.step === 3 ? Promise.reject(new Error('step 3 failed on the device')) : r)),
    };
    try {
      await expect(trainLoop(failing, data, inputs, opts, hooks)).rejects.toThrow('step 3 failed on the device');
    } finally {
      gpu.dispose();
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled).toEqual([]);
  });
});

describe('kill -9 and Ctrl-C', () => {
  it('kill -9 at any moment leaves the checkpoint loadable (or absent); the next run removes what was left', async () => {
    const d = join(root, 'killed');
    for (const [i, delay] of [0, 250, 600, 1100].entries()) {
      // a checkpoint every step, so that a kill often lands in or near a write; after the first
      // run, each continues the one before
      const args = i === 0 ? [...TRAIN, '--steps', '400', '--eval-every', '1', '--out', d] : ['train', 'models/gpt-nano.arch', '--resume', d, '--steps', '400'];
      const child = spawn('node', ['bin/arch.js', ...args], { env: { ...process.env, ARCH_CHILD: '1' } });
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      // the first run is killed once it has a checkpoint; the others once they hold the lock
      const started = () => (i === 0 ? existsSync(join(d, 'checkpoint.safetensors')) : existsSync(join(d, '.lock')) && readFileSync(join(d, '.lock'), 'utf8').includes(`"pid":${child.pid},`));
      await new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          if (started() || child.exitCode !== null) {
            clearInterval(poll);
            setTimeout(resolve, delay);
          }
        }, 5);
      });
      child.kill('SIGKILL');
      await exited;
      const ckpt = join(d, 'checkpoint.safetensors');
      expect(existsSync(ckpt)).toBe(true);
      expect(loadCheckpoint(ckpt).meta!.step).toBeGreaterThan(0);
      expect(allFinite(ckpt)).toBe(true);
    }
    // Whatever the kills left (a lock, maybe a temporary file; one is planted to be sure), the next run takes over.
    writeFileSync(join(d, 'metrics.jsonl.tmp-999999999'), '{"step"');
    const r = arch('train', 'models/gpt-nano.arch', '--resume', d, '--steps', String(loadCheckpoint(join(d, 'checkpoint.safetensors')).meta!.step + 1));
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('removed a stale lock');
    expect(r.err).toMatch(/removed (a temporary file|\d+ temporary files) left in .* by an interrupted run: .*metrics\.jsonl\.tmp-999999999/);
    expect(readdirSync(d).filter((f) => f.includes('.tmp-') || f === '.lock')).toEqual([]);
  });
});

// A tmpfs of 300 KiB: room for the tiny model's run (a ~52 KB checkpoint) and little more.
const full = join(root, 'full');
mkdirSync(full);
const mounted = process.platform === 'linux' && spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=300k', 'tmpfs', full]).status === 0;
const readOnly = join(root, 'read-only');
mkdirSync(readOnly);
const mountedRo = mounted && spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', readOnly]).status === 0;
if (!mounted) console.log('run-faults: skipping the full-disk tests: cannot mount a tmpfs here (they need root on Linux)');
afterAll(() => {
  if (mountedRo) spawnSync('umount', [readOnly]);
  if (mounted) spawnSync('umount', [full]);
});

describe('a full disk', () => {
  /** Fills the tmpfs but for `room` bytes. */
  const fill = (name: string, room: number) => {
    const st = spawnSync('df', ['--output=avail', '-B1', full], { encoding: 'utf8' });
    const avail = Number(st.stdout.trim().split('\n').at(-1));
    writeFileSync(join(full, name), Buffer.alloc(Math.max(0, avail - room)));
  };

  it.skipIf(!mounted)('on --resume: one message, which file and how much it needed; the old checkpoint and metrics stay whole', () => {
    const d = join(full, 'run');
    expect(arch(...TRAIN, '--steps', '3', '--eval-every', '3', '--out', d).code).toBe(0);
    const ckpt = readFileSync(join(d, 'checkpoint.safetensors'));
    const metrics = readFileSync(join(d, 'metrics.jsonl'), 'utf8');
    fill('filler-1', 16 * 1024);
    const r = arch('train', 'models/gpt-nano.arch', '--resume', d, '--steps', '6');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot write .*run\/(checkpoint\.safetensors|metrics\.jsonl|loss\.svg): the disk is full \(it needs about [\d.]+ KiB, [\d.]+ (KiB|bytes) free\); the checkpoint of step 3 in .* is intact/);
    expect(r.err).not.toMatch(/internal error|\n\s+at /);
    expect(readFileSync(join(d, 'checkpoint.safetensors')).equals(ckpt)).toBe(true);
    expect(loadCheckpoint(join(d, 'checkpoint.safetensors')).meta!.step).toBe(3);
    expect(readFileSync(join(d, 'metrics.jsonl'), 'utf8').startsWith(metrics)).toBe(true);
    expect(readdirSync(d).filter((f) => f.includes('.tmp-') || f === '.lock')).toEqual([]);
  });

  it.skipIf(!mounted)('on a fresh run: one message, no temporary file left', () => {
    const d = join(full, 'fresh');
    const r = arch(...TRAIN, '--steps', '3', '--eval-every', '3', '--out', d);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/the disk is full/);
    expect(existsSync(join(d, 'checkpoint.safetensors'))).toBe(false);
    expect(readdirSync(d).filter((f) => f.includes('.tmp-') || f === '.lock')).toEqual([]);
  });

  it.skipIf(!mountedRo)('a read-only place is refused before any work', () => {
    const r = arch(...TRAIN, '--steps', '3', '--out', join(readOnly, 'run'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot write in .*read-only \(a read-only filesystem\)/);
  });
});
