// llvmpipe runs 65535 loop iterations an invocation and then silently stops every loop
// (docs/llvmpipe.md, Loops). Attention with a head too wide to unroll (128) looped per key over
// the head and the value, and at 512 keys its loss came out wrong; the CPU variant now takes
// 32 of a sum an iteration, and every kernel whose loops grow with a size counts them, so that a
// plan past the limit is refused instead of computed wrongly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { differentiate, gradName, initParams, interpret } from '../src/ir/index.js';
import { openDevice, type ArchDevice } from '../src/host/node/device.js';
import { compileGraph, DEFAULT_LIMITS, PlanLimitError, planGraph } from '../src/runtime/executor.js';
import { lowerModel, randomInputs } from './model-helpers.js';
import { rng } from './ir-helpers.js';

const LIMITED = { ...DEFAULT_LIMITS, maxLoopIterations: 65535 };

/** gpt-nano, one block, at context L and width D over H heads, its training graph and sizes at batch B. */
function nano(L: number, D: number, H: number, B = 1) {
  const l = lowerModel('models/gpt-nano.arch', { V: 13, L, D, H, N: 1 });
  const g = differentiate(l.graph, 'loss', [...l.graph.params.keys()]);
  const symbols: Record<string, number> = { seed: 7 };
  for (const [sym, info] of l.symbols) symbols[sym] = info.max === undefined ? B : Math.min(info.max, L);
  return { l, g, symbols };
}

describe('loops counted where they grow with a size', () => {
  it('attention at a head of 128: planned at 512 keys, refused at 8192 (naming the kernel)', () => {
    const ok = nano(512, 256, 2);
    expect(() => planGraph(ok.g, ok.symbols, { kernels: 'cpu' }, LIMITED)).not.toThrow();
    const long = nano(8192, 256, 2);
    expect(() => planGraph(long.g, long.symbols, { kernels: 'cpu' }, LIMITED)).toThrow(/kernel k\d+_attention\S* would run \d+ loop iterations in one invocation/);
  });

  it("the gpu variants' loops count too: flash attention at a head of 64 and 1024 keys is refused on a CPU adapter, the cpu variant planned", () => {
    const { g, symbols } = nano(1024, 128, 2);
    expect(() => planGraph(g, symbols, { kernels: 'cpu' }, LIMITED)).not.toThrow();
    expect(() => planGraph(g, symbols, { kernels: 'gpu' }, LIMITED)).toThrow(PlanLimitError);
    // a GPU has no such limit
    expect(() => planGraph(g, symbols, { kernels: 'gpu' }, DEFAULT_LIMITS)).not.toThrow();
  });

  it("a weight gradient's sweep over B x L positions is counted: 65536 positions refused, 16384 planned", () => {
    const small = nano(64, 8, 2, 256);
    expect(() => planGraph(small.g, small.symbols, { kernels: 'cpu' }, LIMITED)).not.toThrow();
    const large = nano(64, 8, 2, 1024);
    // the first kernel over the limit is a weight gradient (the embedding's scatter comes later)
    expect(() => planGraph(large.g, large.symbols, { kernels: 'cpu' }, LIMITED)).toThrow(/kernel k\d+_contract\S* would run 656\d\d loop iterations/);
  });
});

describe('on the device', () => {
  let dev: ArchDevice;
  beforeAll(async () => {
    dev = await openDevice();
  });
  afterAll(() => dev?.destroy());

  it('attention at a head of 128 and 512 keys: the loss and every gradient match the interpreter', async () => {
    // (before the sums were chunked: a loss of 9.2263 against the interpreter's 8.8365)
    const { l, g, symbols } = nano(512, 128, 1);
    const inputs = randomInputs(l, symbols, rng(17));
    const params = initParams(l.graph, symbols, 2);
    for (const v of Object.values(params)) for (let i = 0; i < v.length; i++) v[i] = v[i]! * 5;
    const want = ['loss', ...[...l.graph.params.keys()].map(gradName)];
    const ref = interpret(g, { inputs, params, symbols });
    const c = await compileGraph(dev, g, symbols, { kernels: 'cpu' });
    c.setParams(params);
    const out = await c.run({ inputs }, want);
    c.destroy();
    for (const name of want) {
      const r = ref.get(name)!.data;
      const o = out[name]!;
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < r.length; i++) {
        worst = Math.max(worst, Math.abs(o[i]! - r[i]!));
        scale = Math.max(scale, Math.abs(r[i]!));
      }
      expect(worst, `${name}: worst difference ${worst} at scale ${scale}`).toBeLessThan(2e-3 * Math.max(scale, 1e-3));
    }
  }, 180_000);
});
