// The session runs on any host: here one with no file system at all (the model is served from
// memory, the run's place is a map, the device is refused), as a page in a browser would be.
// A tiny run on the interpreter must train, save its checkpoint as bytes the core reads back,
// and ask the host for nothing it does not have.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../grammar/diagnostic.js';
import { parseCheckpoint, checkpointBytes, trainRun, UsageError, type Host, type RunStore, type SessionEnv } from '../src/index.js';

const MODEL = readFileSync('models/gpt-nano.arch', 'utf8');

function memoryHost(files: Map<string, string>, asked: string[]): Host {
  return {
    openDevice: async () => {
      throw new Error('no device on this host');
    },
    readFile(path, maxBytes, fail) {
      asked.push(path);
      const text = files.get(path);
      if (text === undefined) throw fail({ kind: 'missing', text: 'not there (no such file)' });
      const bytes = new TextEncoder().encode(text);
      if (bytes.length > maxBytes) throw fail({ kind: 'too-large', text: `${bytes.length} bytes`, size: bytes.length });
      return bytes;
    },
    writeFile: () => {
      throw new Error('the session writes through its RunStore, not here');
    },
    appendLine: () => {
      throw new Error('the session writes through its RunStore, not here');
    },
    now: () => performance.now(),
    pause: () => Promise.resolve(),
    memoryBytes: () => undefined,
  };
}

function memoryStore(dir: string, saved: Uint8Array[], metrics: object[]): RunStore {
  let step: number | undefined;
  return {
    dir,
    checkpointPath: `${dir}/checkpoint.safetensors`,
    metricsPath: `${dir}/metrics.jsonl`,
    plotPath: `${dir}/loss.svg`,
    history: { train: [], val: [] },
    get checkpointStep() {
      return step;
    },
    begin() {},
    appendMetrics: (entry) => metrics.push(entry),
    saveCheckpoint(weights, shapes, opt, meta) {
      saved.push(checkpointBytes(weights, shapes, opt, meta));
      step = meta.step;
    },
    savePlot() {},
    finish() {},
  };
}

const request = (file: string) => ({
  file,
  data: 'task:reverse',
  tokenizer: 'char',
  steps: 3,
  batch: 2,
  seed: 1,
  lr: 1e-2,
  schedule: 'constant',
  warmup: 0,
  minLr: 1e-3,
  weightDecay: 0.1,
  gradClip: 1,
  accum: 1,
  evalEvery: 3,
  evalBatches: 1,
  backend: 'interpreter',
  sets: new Map([['D', '16'], ['N', '1'], ['L', '8'], ['H', '2']]),
});

describe('a session on a host without files or a device', () => {
  it('trains on the interpreter: events, metrics and a checkpoint the core reads back', async () => {
    const asked: string[] = [];
    const logs: string[] = [];
    const shown: Diagnostic[] = [];
    const env: SessionEnv = { host: memoryHost(new Map([['nano.arch', MODEL]]), asked), diagnostics: (d) => shown.push(...d), log: (t) => logs.push(t) };
    const saved: Uint8Array[] = [];
    const metrics: object[] = [];
    const steps: number[] = [];
    const out = await trainRun(env, request('nano.arch'), {
      claimRun: (o) => memoryStore(o.dir, saved, metrics),
      onStep: (m) => steps.push(m.step),
    });
    expect(asked).toEqual(['nano.arch']);
    expect(steps).toEqual([1, 2, 3]);
    expect(out.step).toBe(3);
    expect(out.diverged).toBe(false);
    expect(out.outDir).toBe('runs/gpt_nano');
    expect(metrics).toHaveLength(5); // three steps and two evaluations: before the first step, and at step 3
    expect(metrics[0]).toMatchObject({ step: 0 });
    expect(logs.join('')).toContain('note: V = 12 (from the data');
    expect(shown.filter((d) => d.severity === 'error')).toEqual([]);
    // the last checkpoint is the run's own, step and source included
    const ckpt = parseCheckpoint(saved.at(-1)!, 'memory');
    expect(ckpt.meta!.step).toBe(3);
    expect(ckpt.meta!.modelSource).toBe(MODEL);
    expect(ckpt.optimizer).not.toBeNull();
  });

  it("a missing model is the host's problem, worded by the session (UsageError)", async () => {
    const env: SessionEnv = { host: memoryHost(new Map(), []), diagnostics: () => {}, log: () => {} };
    const run = trainRun(env, request('gone.arch'), { claimRun: () => expect.unreachable() });
    await expect(run).rejects.toThrow(UsageError);
    await expect(run).rejects.toThrow("can't read gone.arch: no such file");
  });
});
