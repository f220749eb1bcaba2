// A short char-level run on tiny Shakespeare: the validation loss, measured on held-out text
// (the last 10% of the file), falls at every evaluation and ends well below chance, ln 65.
// The benchmark run (200 steps of the config) is in docs/benchmarks.md.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { trainRun } from '../src/session/train.js';
import { claimRunDir, nodeEnv } from '../src/host/node/index.js';
import { openDevice, type ArchDevice } from '../src/host/node/device.js';

const CORPUS = 'data/tinyshakespeare.txt';

const dir = mkdtempSync(join(tmpdir(), 'arch-shakespeare-'));
let device: ArchDevice | undefined;
afterAll(() => {
  device?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe(`tiny Shakespeare (${CORPUS})`, () => {
  it('a small gpt-nano: 60 steps, the validation loss falls at every evaluation and ends well below ln 65', async () => {
    device = await openDevice();
    const steps = 60;
    const out = await trainRun(
      nodeEnv({ quiet: true }),
      {
        file: 'models/gpt-nano.arch',
        data: CORPUS,
        tokenizer: 'char',
        steps,
        batch: 16,
        seed: 1,
        lr: 2e-2,
        schedule: 'cosine',
        warmup: 3,
        minLr: 2e-3,
        weightDecay: 0.1,
        gradClip: 1,
        accum: 1,
        evalEvery: 10,
        evalBatches: 4,
        backend: 'webgpu',
        sets: new Map([['D', '32'], ['N', '1'], ['H', '2'], ['L', '32']]),
        out: join(dir, 'run'),
      },
      { device, claimRun: claimRunDir },
    );
    const chance = Math.log(65);
    const val = out.history.val.map(([, v]) => v);
    // Step 0, before training, is the untrained model's loss: near chance.
    expect(out.history.val.map(([s]) => s)).toEqual([0, 10, 20, 30, 40, 50, 60]);
    expect(Math.abs(val[0]! - chance)).toBeLessThan(0.1);
    expect(val[1]!).toBeLessThan(chance);
    for (let i = 1; i < val.length; i++) expect(val[i]!, `validation curve ${val.map((v) => v.toFixed(3)).join(' ')}`).toBeLessThan(val[i - 1]!);
    // Below 3.31 nats, the entropy of the text's character frequencies (ln 65 = 4.17 is chance): the model uses the context.
    expect(out.valLoss).toBeLessThan(3.3);
    expect(out.valLoss).toBeLessThan(val[1]! - 0.15);
    // The run wrote its metrics: one line per step and per evaluation.
    const lines = readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(steps + val.length);
  }, 600_000);
});
