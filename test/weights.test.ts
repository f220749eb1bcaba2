// Checkpoints: arch's own names and GPT-2's (Hugging Face) names and layouts, and clear errors
// for a checkpoint that does not fit the model.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initParams, interpret } from '../src/ir/index.js';
import { CheckpointError } from '../src/runtime/safetensors.js';
import { loadWeights, writeSafetensors } from '../src/host/node/safetensors-file.js';
import { paramShapes, toGpt2Names } from '../src/runtime/weights.js';
import { lowerModel, randomInputs, tinySymbols } from './model-helpers.js';
import { rng } from './ir-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'arch-weights-'));
const TINY = { V: 13, L: 8, D: 12, H: 3, N: 2 };

function f32(params: Record<string, Float64Array>): Map<string, Float32Array> {
  return new Map(Object.entries(params).map(([k, v]) => [k, Float32Array.from(v)]));
}

describe('weights', () => {
  it('a GPT-2-named checkpoint loads into models/gpt2.arch with the same values and the same loss', () => {
    for (const head of ['tied', 'untied']) {
      const l = lowerModel('models/gpt2.arch', { ...TINY, head });
      const shapes = paramShapes(l.graph);
      const weights = f32(initParams(l.graph, {}, 4));
      const hf = toGpt2Names(weights, shapes);
      // What a real file holds besides parameters, and the prefix some exports add.
      const file = new Map<string, { shape: number[]; data: Float32Array }>();
      for (const [k, v] of hf) file.set(k.startsWith('h.') ? `transformer.${k}` : k, v);
      file.set('h.0.attn.bias', { shape: [1, 1, 8, 8], data: new Float32Array(64) });
      const path = join(dir, `gpt2-${head}.safetensors`);
      writeSafetensors(path, file);
      expect(hf.get('h.0.attn.c_attn.weight')!.shape).toEqual([12, 36]);
      expect(hf.get('h.1.mlp.c_fc.weight')!.shape).toEqual([12, 48]);
      if (head === 'untied') expect(hf.get('lm_head.weight')!.shape).toEqual([13, 12]);

      const loaded = loadWeights(path, shapes);
      expect(loaded.format).toBe('gpt2');
      expect(loaded.weights.size).toBe(weights.size);
      for (const [k, v] of weights) expect(loaded.weights.get(k), k).toEqual(v);

      const symbols = tinySymbols(l, 6);
      const inputs = randomInputs(l, symbols, rng(1));
      const lossOf = (w: Map<string, Float32Array>) => interpret(l.graph, { inputs, params: Object.fromEntries(w), symbols }).get('loss')!.data[0];
      expect(lossOf(loaded.weights)).toBe(lossOf(weights));
    }
  });

  it('c_attn columns are [q | k | v] with head h of q at columns h*K .. h*K+K-1', () => {
    const l = lowerModel('models/gpt2.arch', TINY);
    const shapes = paramShapes(l.graph);
    const weights = f32(initParams(l.graph, {}, 5));
    const hf = toGpt2Names(weights, shapes);
    const cattn = hf.get('h.1.attn.c_attn.weight')!.data;
    const q = weights.get('stream.1.causal_attention.q.w')!; // [D, H, K]
    const v = weights.get('stream.1.causal_attention.v.w')!; // [D, G, K]
    const [D, K, cols] = [12, 4, 36];
    for (let d = 0; d < D; d++)
      for (let h = 0; h < 3; h++)
        for (let k = 0; k < K; k++) {
          expect(cattn[d * cols + h * K + k]).toBe(q[(d * 3 + h) * K + k]);
          expect(cattn[d * cols + 24 + h * K + k]).toBe(v[(d * 3 + h) * K + k]);
        }
  });

  it('a checkpoint that does not fit the model is one error listing each mismatch', () => {
    const small = lowerModel('models/gpt2.arch', TINY);
    const other = lowerModel('models/gpt2.arch', { ...TINY, D: 9 });
    const path = join(dir, 'arch-names.safetensors');
    writeSafetensors(path, new Map([...f32(initParams(small.graph, {}, 1))].map(([k, v]) => [k, { shape: paramShapes(small.graph).find((p) => p.name === k)!.shape, data: v }])));
    expect(loadWeights(path, paramShapes(small.graph)).format).toBe('arch');
    let err: unknown;
    try {
      loadWeights(path, paramShapes(other.graph));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckpointError);
    const msg = (err as Error).message;
    expect(msg).toContain('does not match the model');
    expect(msg).toContain('wte: the model needs [13, 9], the file has [13, 12]');
    expect(msg).toMatch(/\d+ mismatches/);
  });
});
