// The KV-cache decoder is IR like the rest: decoding one position at a time, feeding each step's
// cache outputs back as inputs, reproduces the full forward pass's logits at every position.
import { describe, expect, it } from 'vitest';
import { initParams, interpret, prune } from '../src/ir/index.js';
import { lower, CACHE_PREFIX, POSITION_INPUT } from '../src/compiler/lower.js';
import { compileModel } from './model-helpers.js';
import { rng } from './ir-helpers.js';

const CASES: [string, string, Record<string, string | number>][] = [
  ['gpt-nano', 'models/gpt-nano.arch', { V: 11, L: 8, D: 16, H: 2, N: 2 }],
  ['gpt2 sinusoidal post-norm relu', 'models/gpt2.arch', { V: 11, L: 8, D: 16, H: 4, N: 2, pos: 'sinusoidal', norm: 'post', act: 'relu' }],
  ['gpt2 grouped-query, untied', 'models/gpt2.arch', { V: 11, L: 8, D: 16, H: 4, G: 2, N: 1, head: 'untied' }],
  ['gpt-gqa', 'models/gpt-gqa.arch', { V: 9, L: 6, D: 16, H: 4, G: 2 }],
];

describe('KV-cache decoding matches the full forward pass', () => {
  for (const [name, file, sets] of CASES) {
    it(name, () => {
      const model = compileModel(file, sets);
      const full = prune(lower(model).graph, ['logits']);
      const dec = lower(model, { decode: true });
      const caches = [...dec.graph.outputs.keys()].filter((k) => k.startsWith(CACHE_PREFIX));
      expect(caches.length).toBeGreaterThan(0);
      const graph = prune(dec.graph, ['logits', ...caches]);
      const params = initParams(full, {}, 5);
      for (const v of Object.values(params)) for (let i = 0; i < v.length; i++) v[i] = v[i]! * 8; // sharper attention
      const V = Number(sets.V);
      const T = Number(sets.L) - 1;
      const r = rng(3);
      const tokens = Int32Array.from({ length: T }, () => Math.floor(r() * V));
      const ref = interpret(full, { inputs: { tokens_BLV: tokens }, params, symbols: { B: 1, L: T } }).get('logits')!.data;
      const state: Record<string, Float32Array> = {};
      for (const c of caches) {
        const n = graph.nodes[graph.inputs.get(c)!]!;
        state[c] = new Float32Array(n.type.axes.reduce((p, a) => p * (typeof a.size === 'number' ? a.size : 1), 1));
      }
      let worst = 0;
      for (let p = 0; p < T; p++) {
        const out = interpret(graph, { inputs: { tokens_BLV: Int32Array.of(tokens[p]!), [POSITION_INPUT]: Float32Array.of(p), ...state }, params, symbols: { B: 1, L: 1 } });
        for (const c of caches) state[c] = out.get(c)!.data as Float32Array;
        const step = out.get('logits')!.data;
        for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(step[v]! - ref[p * V + v]!));
      }
      expect(worst).toBeLessThan(1e-4);
    });
  }
});

// The same on the device: the decode graph compiled with its caches as state, so fusion writes
// each cache row in place from the k / v projection and runs q, k, v in one dispatch.
describe('KV-cache decoding on WebGPU matches the full forward pass', () => {
  for (const [name, file, sets] of CASES) {
    it(name, async () => {
      const { openDevice } = await import('../src/host/node/device.js');
      const { compileGraph } = await import('../src/runtime/executor.js');
      const model = compileModel(file, sets);
      const full = prune(lower(model).graph, ['logits']);
      const dec = lower(model, { decode: true });
      const caches = [...dec.graph.outputs.keys()].filter((k) => k.startsWith(CACHE_PREFIX));
      const graph = prune(dec.graph, ['logits', ...caches]);
      const params = initParams(full, {}, 5);
      for (const v of Object.values(params)) for (let i = 0; i < v.length; i++) v[i] = v[i]! * 8;
      const V = Number(sets.V);
      const T = Number(sets.L) - 1;
      const r = rng(3);
      const tokens = Int32Array.from({ length: T }, () => Math.floor(r() * V));
      const ref = interpret(full, { inputs: { tokens_BLV: tokens }, params, symbols: { B: 1, L: T } }).get('logits')!.data;
      const d = await openDevice();
      try {
        const c = await compileGraph(d, graph, { B: 1, L: 1 }, { state: Object.fromEntries(caches.map((k) => [k, k])) });
        expect(caches.every((k) => c.fused.outputs.get(k) === c.fused.inputs.get(k)), 'caches updated in place').toBe(true);
        c.setParams(Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Float32Array.from(v)])));
        let worst = 0;
        for (let p = 0; p < T; p++) {
          const out = await c.run({ inputs: { tokens_BLV: Int32Array.of(tokens[p]!), [POSITION_INPUT]: Float32Array.of(p) } }, ['logits']);
          for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(out.logits![v]! - ref[p * V + v]!));
        }
        expect(worst).toBeLessThan(2e-3);
        c.destroy();
      } finally {
        d.destroy();
      }
    });
  }
});
