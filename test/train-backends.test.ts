// The WebGPU training backend (fused kernels, GPU AdamW over the parameter slab, clipping,
// accumulation) against the interpreter backend (the reference): same losses, same weights.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { differentiate, initParams } from '../src/ir/index.js';
import { openDevice, type ArchDevice } from '../src/host/node/device.js';
import { InterpreterBackend } from '../src/runtime/train/interpreter-backend.js';
import { createWebGPUBackend } from '../src/runtime/train/webgpu-backend.js';
import { ADAMW_DEFAULTS } from '../src/runtime/train/adamw.js';
import type { Feeds, TrainBackend } from '../src/runtime/train/backend.js';
import { NEXT_SUFFIX } from '../src/compiler/lower.js';
import { lowerModel } from './model-helpers.js';
import { rng } from './ir-helpers.js';

let dev: ArchDevice;
beforeAll(async () => {
  dev = await openDevice();
});
afterAll(() => dev?.destroy());

const B = 3;
const L = 7;
const V = 13;

function batch(r: () => number, seed: number): Feeds {
  const x = Int32Array.from({ length: B * L }, () => Math.floor(r() * V));
  const y = Int32Array.from({ length: B * L }, (_, i) => (i % 5 === 0 ? -1 : Math.floor(r() * V)));
  return { inputs: { tokens_BLV: x, ['tokens_BLV' + NEXT_SUFFIX]: y }, symbols: { B, L, seed } };
}

/** `steps` steps; `inFlight` > 1 submits that many before reading the first (the trainer keeps two). */
async function run(backend: TrainBackend, steps: number, accum: number, clip: number, inFlight = 1): Promise<number[]> {
  const r = rng(42);
  const results: Promise<{ loss: number }>[] = [];
  const losses: number[] = [];
  for (let s = 1; s <= steps; s++) {
    const micro = Array.from({ length: accum }, (_, i) => batch(r, s * 10 + i));
    results.push(backend.step(micro, { lr: 3e-3, step: s, gradClip: clip, adamw: { ...ADAMW_DEFAULTS, weightDecay: 0.1 } }));
    if (results.length >= inFlight) losses.push((await results.shift()!).loss);
  }
  for (const p of results) losses.push((await p).loss);
  return losses;
}

describe('the WebGPU backend refuses', () => {
  it('parameters larger than the largest buffer, before compiling anything', async () => {
    const l = lowerModel('models/gpt-nano.arch', { V, L: 8, D: 12, H: 3, N: 1 }, true);
    const g = differentiate(l.graph, 'loss', [...l.graph.params.keys()]);
    const weights = new Map(Object.entries(initParams(l.graph, {}, 9)).map(([k, v]) => [k, Float32Array.from(v)]));
    // 2,160 parameters: ~12 KB in the slab (each member 256-byte aligned), over a 4 KB buffer
    await expect(createWebGPUBackend(dev, g, g, { symbols: { B, L, seed: 0 }, weights, maxBufferBytes: 4096 })).rejects.toThrow(/the parameters need \d+ bytes in one buffer, more than this adapter's largest buffer \(maxBufferSize: 4096 bytes\)/);
  });
});

describe('training backends agree', () => {
  for (const [name, accum, clip, sets, maxBindingBytes] of [
    ['plain', 1, 0, {}, undefined],
    ['clipped, 2 micro-batches, dropout', 2, 0.05, { dropout: 0.2 }, undefined],
    // 2,160 parameters in 1,024-byte bindings: the optimizer sweeps the ~12 KB slab in 12 ranges (as an
    // 85M-parameter model does on llvmpipe's 128 MiB), every kernel of it, with decay ending mid-slab
    ['the slab in ranges of one binding each: clipped, 2 micro-batches', 2, 0.05, {}, 1024],
  ] as const) {
    it(name, async () => {
      const l = lowerModel('models/gpt-nano.arch', { V, L: 8, D: 12, H: 3, N: 1, ...sets }, true);
      const evalL = lowerModel('models/gpt-nano.arch', { V, L: 8, D: 12, H: 3, N: 1, ...sets }, false);
      const g = differentiate(l.graph, 'loss', [...l.graph.params.keys()]);
      const init = () => new Map(Object.entries(initParams(l.graph, {}, 9)).map(([k, v]) => [k, Float32Array.from(v)]));
      const cpu = new InterpreterBackend(g, evalL.graph, init());
      const gpu = await createWebGPUBackend(dev, g, evalL.graph, { symbols: { B, L, seed: 0 }, weights: init(), maxBindingBytes });
      // a ~12 KB slab (2,160 parameters, members 256-byte aligned): 12 ranges of 1 KB, or one
      expect(gpu.optimizerRanges).toBe(maxBindingBytes ? 12 : 1);
      const a = await run(cpu, 4, accum, clip);
      // three steps in flight: each reads its own loss and gradient norm, not a later step's
      const b = await run(gpu, 4, accum, clip, 3);
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!), `step ${i + 1}: ${a[i]} vs ${b[i]}`).toBeLessThan(2e-4);
      const wa = await cpu.weights();
      const wb = await gpu.weights();
      let worst = 0;
      for (const [k, x] of wa) {
        const y = wb.get(k)!;
        expect(y.length).toBe(x.length);
        for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
      }
      expect(worst).toBeLessThan(1e-4);
      const f = batch(rng(7), 0);
      expect(Math.abs((await cpu.loss(f)) - (await gpu.loss(f)))).toBeLessThan(2e-4);
      const sa = await cpu.optimizerState();
      const sb = await gpu.optimizerState();
      const k0 = [...sa.m.keys()][0]!;
      expect(sb.m.get(k0)!.length).toBe(sa.m.get(k0)!.length);
      gpu.dispose();
    });
  }
});
