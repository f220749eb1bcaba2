// Kernel sizes as uniforms (src/codegen/wgsl/sizes.ts): a tiny GPT's training graph compiled at a
// second batch size or sequence length creates no new pipeline on the device, and the loss and
// every gradient still match the reference interpreter at each size.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { differentiate, gradName, initParams, interpret } from '../src/ir/index.js';
import type { Graph } from '../src/ir/types.js';
import { openDevice, type ArchDevice } from '../src/host/node/device.js';
import { compileGraph, pipelineCount, planGraph } from '../src/runtime/executor.js';
import { pipelineKey } from '../src/codegen/wgsl/index.js';
import { lowerModel, randomInputs, tinySymbols } from './model-helpers.js';
import { rng } from './ir-helpers.js';

// B·L stays a multiple of 4 at every size below: K mod 4 is structure for the weight gradients'
// contractions (an unrolled tail), so it is specialised, not read from the uniform.
const SETS = { V: 13, L: 16, D: 16, H: 2, N: 1 };

let dev: ArchDevice;
beforeAll(async () => {
  dev = await openDevice();
});
afterAll(() => dev?.destroy());

const lowered = lowerModel('models/gpt-nano.arch', SETS);
const graph: Graph = differentiate(lowered.graph, 'loss', [...lowered.graph.params.keys()]);
const want = ['loss', ...[...lowered.graph.params.keys()].map(gradName)];

/** Compiles and runs the training graph at `len` x `batch`; the worst difference from the
 *  interpreter over the loss and every gradient, relative to each tensor's scale. */
async function runAt(len: number, batch: number): Promise<number> {
  const symbols = tinySymbols(lowered, len, batch);
  const inputs = randomInputs(lowered, symbols, rng(len * 31 + batch));
  const params = initParams(lowered.graph, symbols, 3);
  for (const v of Object.values(params)) for (let i = 0; i < v.length; i++) v[i] = v[i]! * 5;
  const compiled = await compileGraph(dev, graph, symbols);
  compiled.setParams(params);
  const out = await compiled.run({ inputs }, want);
  compiled.destroy();
  const ref = interpret(graph, { inputs, params, symbols });
  let worst = 0;
  for (const k of want) {
    const a = ref.get(k)!.data;
    const b = out[k]!;
    expect(b.length, k).toBe(a.length);
    const scale = Math.max(1e-3, ...Array.from(a, Math.abs));
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / scale);
  }
  return worst;
}

describe('kernel sizes read from a uniform', () => {
  it('the WGSL of a training graph does not depend on B or L; only the sizes uniforms do', () => {
    const plan = (len: number, batch: number) => planGraph(graph, tinySymbols(lowered, len, batch));
    const [a, b, c] = [plan(8, 2), plan(8, 3), plan(12, 2)];
    const texts = (p: typeof a) => p.codes.map((k) => pipelineKey(k.code));
    expect(texts(b)).toEqual(texts(a));
    expect(texts(c)).toEqual(texts(a));
    // the gpu variant's templates too (docs/kernels.md, "Two variants")
    const gpu = (len: number, batch: number) => texts(planGraph(graph, tinySymbols(lowered, len, batch), { kernels: 'gpu' }));
    expect(gpu(8, 3)).toEqual(gpu(8, 2));
    expect(gpu(12, 2)).toEqual(gpu(8, 2));
    expect(gpu(8, 2)).not.toEqual(texts(a));
    // the sizes themselves differ (B·L rows: 16, 24, 24), and so do the dispatches
    expect(b.codes.map((k) => k.sizes)).not.toEqual(a.codes.map((k) => k.sizes));
    expect(c.codes.map((k) => k.workgroups)).not.toEqual(a.codes.map((k) => k.workgroups));
    // fewer pipelines than kernels: the same kernel in both directions, at every shape, is one
    expect(new Set(texts(a)).size).toBeLessThan(a.codes.length);
    // with literal sizes, the texts differ with B
    const literal = (batch: number) => planGraph(graph, tinySymbols(lowered, 8, batch), { uniformSizes: false }).codes.map((k) => pipelineKey(k.code));
    expect(literal(3)).not.toEqual(literal(2));
  });

  it('a deeper model compiles no more pipelines: the layers share every kernel structure', () => {
    const pipelines = (layers: number) => {
      const l = lowerModel('models/gpt-nano.arch', { ...SETS, N: layers });
      const g = differentiate(l.graph, 'loss', [...l.graph.params.keys()]);
      const p = planGraph(g, tinySymbols(l, 8, 2));
      return { kernels: p.codes.length, pipelines: new Set(p.codes.map((k) => pipelineKey(k.code))).size };
    };
    const [one, three] = [pipelines(1), pipelines(3)];
    expect(three.kernels).toBeGreaterThan(2 * one.kernels);
    // the residual stream is stored (fuse/materialise.ts): a layer's layernorms do not inline the
    // adds of the layers before it, so the third layer's row kernels are the first's
    expect(three.pipelines).toBe(one.pipelines);
  });

  it('one set of pipelines serves two batch sizes and two lengths, each matching the interpreter', async () => {
    expect(pipelineCount(dev.device)).toBe(0);
    expect(await runAt(8, 2)).toBeLessThan(2e-4);
    const first = pipelineCount(dev.device);
    expect(first).toBeGreaterThan(0);
    expect(await runAt(8, 3)).toBeLessThan(2e-4);
    expect(pipelineCount(dev.device), 'a new batch size compiled new pipelines').toBe(first);
    expect(await runAt(12, 2)).toBeLessThan(2e-4);
    expect(pipelineCount(dev.device), 'a new length compiled new pipelines').toBe(first);
  });

  it('at the full context, the slice of the positions and the pad of its gradient are no kernels, and all still matches', async () => {
    const kernels = (len: number) => planGraph(graph, tinySymbols(lowered, len, 2)).codes.length;
    // L = 16 is the model's context: slice(wpe, 0, L) and the pad of its gradient cover the axis
    expect(kernels(SETS.L)).toBe(kernels(12) - 1);
    expect(await runAt(SETS.L, 2)).toBeLessThan(2e-4);
  });
});
