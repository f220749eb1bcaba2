// Every model in models/, lowered to IR and differentiated: analytic gradients of the whole loss
// agree with float64 central finite differences (a sample of elements of every parameter).
import { describe, expect, it } from 'vitest';
import { differentiate, gradName, initParams, interpret } from '../src/ir/index.js';
import { lowerModel, randomInputs, tinySymbols } from './model-helpers.js';
import { TINY_MODELS } from './model-helpers.js';
import { rng } from './ir-helpers.js';

const CASES = TINY_MODELS;

describe('whole-model gradients match float64 finite differences', () => {
  for (const [name, file, sets] of CASES) {
    it(name, () => {
      const l = lowerModel(file, sets);
      const g = differentiate(l.graph, 'loss', [...l.graph.params.keys()]);
      const symbols = tinySymbols(l, 4);
      const rand = rng(11);
      const inputs = randomInputs(l, symbols, rand);
      const params = initParams(l.graph, symbols, 3);
      // Bigger than the init so every nonlinearity is exercised away from zero.
      for (const v of Object.values(params)) for (let i = 0; i < v.length; i++) v[i] = v[i]! * 4 + (rand() - 0.5) * 0.3;
      const run = (p: Record<string, Float64Array>) => interpret(l.graph, { inputs, params: p, symbols }, { precision: 'f64' });
      const base = interpret(g, { inputs, params, symbols }, { precision: 'f64' });
      const loss0 = base.get('loss')!.data[0]!;
      expect(Number.isFinite(loss0)).toBe(true);
      const eps = 1e-5;
      let worst = 0;
      let checked = 0;
      for (const [p, values] of Object.entries(params)) {
        const grad = base.get(gradName(p))!.data;
        // Two elements of every parameter: the last and a random one.
        const idx = new Set([values.length - 1, Math.floor(rand() * values.length)]);
        for (const i of idx) {
          const orig = values[i]!;
          values[i] = orig + eps;
          const up = run(params).get('loss')!.data[0]!;
          values[i] = orig - eps;
          const down = run(params).get('loss')!.data[0]!;
          values[i] = orig;
          const numeric = (up - down) / (2 * eps);
          const err = Math.abs(numeric - grad[i]!) / Math.max(1e-3, Math.abs(numeric) + Math.abs(grad[i]!));
          worst = Math.max(worst, err);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(20);
      // Relative error of central differences in float64 at eps 1e-5: ~1e-8; 1e-5 leaves room.
      expect(worst).toBeLessThan(1e-5);
    });
  }
});
