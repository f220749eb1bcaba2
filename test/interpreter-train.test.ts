// The reference interpreter can train a model written in .arch: a fresh gpt-nano starts at
// ln(V), and a few dozen AdamW steps on a synthetic task bring the loss well down.
import { describe, expect, it } from 'vitest';
import { differentiate, gradName, initParams, interpret } from '../src/ir/index.js';
import { NEXT_SUFFIX } from '../src/compiler/lower.js';
import { Rng, type Batch } from '../src/data/index.js';
import { lowerModel, randomInputs } from './model-helpers.js';
import { rng } from './ir-helpers.js';

/** Targets the data marks as not counted become -1, which the prelude's cross_entropy skips. */
function feeds(batch: Batch): Record<string, Int32Array> {
  const targets = Int32Array.from(batch.targets!, (t, i) => (batch.mask && batch.mask[i] === 0 ? -1 : t));
  return { tokens_BLV: batch.inputs, ['tokens_BLV' + NEXT_SUFFIX]: targets };
}

describe('training on the reference interpreter', () => {
  it('a fresh gpt-nano starts within 0.1 of ln(V)', () => {
    const l = lowerModel('models/gpt-nano.arch');
    const symbols = { B: 4, L: 32, seed: 0 };
    const params = initParams(l.graph, symbols, 1);
    const inputs = randomInputs(l, symbols, rng(5));
    const loss = interpret(l.graph, { inputs, params, symbols }).get('loss')!.data[0]!;
    expect(Math.abs(loss - Math.log(65))).toBeLessThan(0.1);
  });

  it('gpt-nano learns a permutation walk: the loss falls well below its start', () => {
    // Each token is followed by perm[token]: an ideal model reaches 0, a fresh one is at ln(V).
    const V = 16;
    const L = 12;
    const perm = [...Array(V).keys()].sort((a, b) => Math.sin(a * 12.9898 + b) - Math.sin(b * 12.9898 + a));
    const data = {
      vocabSize: V,
      trainBatch(r: Rng, B: number, len: number): Batch {
        const inputs = new Int32Array(B * len);
        const targets = new Int32Array(B * len);
        for (let b = 0; b < B; b++) {
          let t = r.int(V);
          for (let i = 0; i < len; i++) {
            inputs[b * len + i] = t;
            t = perm[t]!;
            targets[b * len + i] = t;
          }
        }
        return { batch: B, length: len, inputs, targets };
      },
    };
    const l = lowerModel('models/gpt-nano.arch', { V, L, D: 32, N: 1 });
    const g = differentiate(l.graph, 'loss', [...l.graph.params.keys()]);
    const params = initParams(l.graph, { B: 8, L }, 2);
    const m: Record<string, Float64Array> = {};
    const v: Record<string, Float64Array> = {};
    for (const [k, x] of Object.entries(params)) {
      m[k] = new Float64Array(x.length);
      v[k] = new Float64Array(x.length);
    }
    const r = new Rng(3);
    const losses: number[] = [];
    const lr = 1e-2;
    for (let step = 1; step <= 40; step++) {
      const batch = data.trainBatch(r, 8, L);
      const out = interpret(g, { inputs: feeds(batch), params, symbols: { B: 8, L, seed: step } });
      losses.push(out.get('loss')!.data[0]!);
      // Adam, in plain JS: this test is about the interpreter and the gradients, not the optimizer.
      for (const [k, x] of Object.entries(params)) {
        const grad = out.get(gradName(k))!.data;
        for (let i = 0; i < x.length; i++) {
          m[k]![i] = 0.9 * m[k]![i]! + 0.1 * grad[i]!;
          v[k]![i] = 0.999 * v[k]![i]! + 0.001 * grad[i]! * grad[i]!;
          const mh = m[k]![i]! / (1 - 0.9 ** step);
          const vh = v[k]![i]! / (1 - 0.999 ** step);
          x[i] = x[i]! - (lr * mh) / (Math.sqrt(vh) + 1e-8);
        }
      }
    }
    const start = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const end = losses.slice(-5).reduce((a, b) => a + b) / 5;
    expect(start).toBeGreaterThan(Math.log(data.vocabSize) - 0.3);
    expect(end).toBeLessThan(0.5 * start);
  });
});
