// GPT-2 (Hugging Face) names for every variant of models/gpt2.arch: arch -> GPT-2 names -> a
// safetensors file -> loadWeights -> arch gives back every parameter, the same loss and the same
// greedy tokens. Post-norm blocks name their norms after the tensors they make (attended, out),
// and those must still be GPT-2's ln_1 and ln_2.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initParams, interpret } from '../src/ir/index.js';
import { loadWeights, writeSafetensors } from '../src/host/node/safetensors-file.js';
import { paramShapes, toGpt2Names } from '../src/runtime/weights.js';
import { argmaxRows, lowerModel, randomInputs, tinySymbols } from './model-helpers.js';
import { rng } from './ir-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'arch-gpt2-names-'));
const TINY = { D: 16, H: 2, N: 2, L: 8, V: 11 };

/** Every combination of the variants that change parameter names, with act and scale alternating. */
function combinations(): Record<string, string | number>[] {
  const out: Record<string, string | number>[] = [];
  let i = 0;
  for (const norm of ['pre', 'post'])
    for (const residual of ['on', 'off'])
      for (const pos of ['learned', 'sinusoidal', 'none'])
        for (const head of ['tied', 'untied'])
          for (const G of [2, 1])
            out.push({ ...TINY, G, norm, residual, pos, head, act: i % 2 ? 'relu' : 'gelu', scale: i++ % 3 ? 'on' : 'off' });
  return out;
}

describe('GPT-2 names', () => {
  it('every variant of gpt2.arch round-trips through GPT-2 names with the same loss and greedy tokens', () => {
    const all = combinations();
    expect(all).toHaveLength(48);
    for (const sets of all) {
      const what = JSON.stringify(sets);
      const l = lowerModel('models/gpt2.arch', sets);
      const shapes = paramShapes(l.graph);
      const weights = new Map(Object.entries(initParams(l.graph, {}, 3)).map(([k, v]) => [k, Float32Array.from(v)]));
      const hf = toGpt2Names(weights, shapes);
      expect(hf.has('h.1.ln_1.weight') && hf.has('h.1.ln_2.bias'), what).toBe(true);
      expect(hf.has('ln_f.weight'), what).toBe(sets.norm === 'pre');
      expect(hf.has('wpe.weight'), what).toBe(sets.pos === 'learned');
      expect(hf.has('lm_head.weight'), what).toBe(sets.head === 'untied');
      for (const name of hf.keys()) expect(name, what).toMatch(/^(wte|wpe|ln_f|lm_head)\.|^h\.[01]\.(ln_[12]|attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.(weight|bias)$/);
      // ln_1 is the block's first norm: before attention (pre-norm) or after it (post-norm).
      const firstNorm = sets.norm === 'pre' ? 'layernorm' : 'attended';
      expect(hf.get('h.0.ln_1.bias')!.data, what).toBe(weights.get(`stream.0.${firstNorm}.bias`));

      const file = join(dir, 'gpt2.safetensors');
      writeSafetensors(file, hf);
      const loaded = loadWeights(file, shapes);
      expect(loaded.format, what).toBe('gpt2');
      expect([...loaded.weights.keys()].sort(), what).toEqual([...weights.keys()].sort());
      for (const [k, v] of weights) expect(loaded.weights.get(k), `${what} ${k}`).toEqual(v);

      const symbols = tinySymbols(l, 6);
      const inputs = randomInputs(l, symbols, rng(2));
      const run = (w: Map<string, Float32Array>) => interpret(l.graph, { inputs, params: Object.fromEntries(w), symbols });
      const [before, after] = [run(weights), run(loaded.weights)];
      expect(after.get('loss')!.data[0], what).toBe(before.get('loss')!.data[0]);
      expect(argmaxRows(after.get('logits')!.data, 11), what).toEqual(argmaxRows(before.get('logits')!.data, 11));
    }
  });
});
