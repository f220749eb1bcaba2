// Every model in models/ and every gpt2.arch variant, at tiny sizes: the loss and every
// parameter's gradient from the fused WebGPU kernels match the reference interpreter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { differentiate, gradName, initParams, interpret } from '../src/ir/index.js';
import { openDevice, type ArchDevice } from '../src/host/node/device.js';
import { compileGraph } from '../src/runtime/executor.js';
import { lowerModel, randomInputs, tinySymbols } from './model-helpers.js';
import { TINY_MODELS } from './model-helpers.js';
import { rng } from './ir-helpers.js';

const CASES = TINY_MODELS;

let dev: ArchDevice;
beforeAll(async () => {
  dev = await openDevice();
});
afterAll(() => dev?.destroy());

describe('WebGPU matches the interpreter: loss and every gradient', () => {
  for (const [name, file, sets] of CASES) {
    it(name, async () => {
      const l = lowerModel(file, sets);
      const g = differentiate(l.graph, 'loss', [...l.graph.params.keys()]);
      const symbols = tinySymbols(l, 4, 2);
      const inputs = randomInputs(l, symbols, rng(17));
      const params = initParams(l.graph, symbols, 2);
      for (const v of Object.values(params)) for (let i = 0; i < v.length; i++) v[i] = v[i]! * 5;
      const want = ['loss', ...[...l.graph.params.keys()].map(gradName)];
      const ref = interpret(g, { inputs, params, symbols });
      // A gradient that is zero in exact arithmetic (a key bias: softmax ignores a shift shared
      // by a row's scores) is rounding noise on both sides, with no scale to be relative to:
      // there the GPU's values must be noise-sized (the f64 interpreter's are ~1e-17).
      const exact = interpret(g, { inputs, params, symbols }, { precision: 'f64' });
      // both kernel variants (docs/kernels.md, "Two variants"), whatever the adapter
      for (const kernels of ['cpu', 'gpu'] as const) {
        const compiled = await compileGraph(dev, g, symbols, { kernels });
        compiled.setParams(params);
        expectMatches(ref, exact, want, await compiled.run({ inputs }, want), kernels);
        compiled.destroy();
      }
    });
  }
});

function expectMatches(
  ref: Map<string, { data: ArrayLike<number> }>,
  exact: Map<string, { data: ArrayLike<number> }>,
  want: string[],
  out: Record<string, Float32Array | Int32Array>,
  kernels: string,
): void {
  // f32 on both sides, summed in different orders: relative to the tensor's scale.
  for (const k of want) {
    const a = ref.get(k)!.data;
    const b = out[k]!;
    if (Math.max(...Array.from(exact.get(k)!.data, Math.abs)) < 1e-9) {
      expect(Math.max(...Array.from(b, Math.abs)), `${k} (${kernels} kernels): zero in exact arithmetic`).toBeLessThan(1e-5);
      continue;
    }
    const scale = Math.max(1e-3, ...Array.from(a, Math.abs));
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / scale);
    expect(worst, `${k} (${kernels} kernels): worst relative difference`).toBeLessThan(2e-4);
  }
}
