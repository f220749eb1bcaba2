// State updated at one position (the KV cache's write) runs in place: fusion recognises
// select(ne(iota(M), p), state, fresh), writes only row p into the state input's own tensor, and
// the executor drops the copy back. Run for several steps on the real adapter, the state must
// follow the interpreter's select exactly, also where p is out of range or not an integer (the
// select then keeps every row, so the kernel must write nothing).
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../src/ir/builder.js';
import { fuse } from '../src/ir/fuse/fuse.js';
import { interpret } from '../src/ir/interpret.js';
import type { Axis } from '../src/ir/types.js';
import { compileGraph } from '../src/runtime/executor.js';
import { device } from './executor-helpers.js';
import { rng } from './ir-helpers.js';

const ax = (name: string, size: number): Axis => ({ name, size });
const [M, G, K] = [7, 3, 5];

afterAll(async () => (await device()).destroy());

/** cache[M, G, K] with row p replaced by tanh(x * w); y reads the updated cache. */
function cacheGraph(form: 'ne' | 'eq') {
  const b = new GraphBuilder();
  const cache = b.input('cache', [ax('M', M), ax('G', G), ax('K', K)]);
  const p = b.input('p', [], 'f32');
  const x = b.input('x', [ax('G', G), ax('K', K)]);
  const w = b.param('w', [ax('K', K)], { kind: 'normal', std: 1 });
  const fresh = b.unary('tanh', b.mul(x, w));
  const iota = b.iota(ax('M', M));
  const next = form === 'ne' ? b.select(b.binary('ne', iota, p), cache, fresh) : b.select(b.binary('eq', iota, p), fresh, cache);
  b.output('cache', next);
  b.output('y', b.reduce('sum', b.reduce('sum', next, 'K'), 'G'));
  return b.build();
}

/** cache[M, N] with row p replaced by x[1, K] . w[K, N] + bias: the KV projection's shape. */
function projectionGraph() {
  const b = new GraphBuilder();
  const cache = b.input('cache', [ax('M', M), ax('N', 6)]);
  const p = b.input('p', [], 'f32');
  const x = b.input('x', [ax('M', 1), ax('K', K)]);
  const w = b.param('w', [ax('K', K), ax('N', 6)], { kind: 'normal', std: 1 });
  const bias = b.param('bias', [ax('N', 6)], { kind: 'normal', std: 1 });
  const fresh = b.merge(b.add(b.contract(x, w, ['M', 'N']), bias), ['M', 'N'], ax('N', 6));
  const next = b.select(b.binary('ne', b.iota(ax('M', M)), p), cache, fresh);
  b.output('cache', next);
  b.output('y', b.reduce('sum', next, 'M'));
  return b.build();
}

/** Runs `graph` for positions `ps` on the device and in the interpreter, comparing every step. */
async function stepAlong(graph: ReturnType<typeof cacheGraph>, ps: number[], feed: (r: () => number) => Record<string, Float32Array>): Promise<void> {
  const d = await device();
  const c = await compileGraph(d, graph, {}, { state: { cache: 'cache' } });
  const r = rng(11);
  const params = Object.fromEntries([...graph.params].map(([name, id]) => [name, Float32Array.from({ length: graph.nodes[id]!.type.axes.reduce((n, a) => n * (a.size as number), 1) }, () => r() * 2 - 1)]));
  c.setParams(params);
  let state = new Float32Array(graph.nodes[graph.inputs.get('cache')!]!.type.axes.reduce((n, a) => n * (a.size as number), 1));
  try {
    for (const p of ps) {
      const inputs = { p: Float32Array.of(p), ...feed(r) };
      const got = await c.run({ inputs }, ['cache', 'y']);
      const ref = interpret(graph, { inputs: { cache: state, ...inputs }, params, symbols: {} });
      state = Float32Array.from(ref.get('cache')!.data);
      const want = ref.get('y')!.data;
      for (let i = 0; i < state.length; i++) expect(got.cache![i], `p=${p}, element ${i}`).toBeCloseTo(state[i]!, 5);
      for (let i = 0; i < want.length; i++) expect(got.y![i]).toBeCloseTo(want[i]!, 4);
    }
  } finally {
    c.destroy();
  }
}

const POSITIONS = [0, 3, 6, 3, 7, -1, 1.5, 2];

describe('in-place state update', () => {
  it('is one kernel over a row, writing into the state input', () => {
    const fg = fuse(cacheGraph('ne'), {}, { state: { cache: 'cache' } });
    const update = fg.kernels.find((k) => k.kind === 'elementwise' && k.update !== undefined);
    expect(update, fg.kernels.map((k) => k.name).join('\n')).toBeDefined();
    expect(update!.kind === 'elementwise' && update!.space).toEqual(['G', 'K']);
    expect(fg.outputs.get('cache')).toBe(fg.inputs.get('cache'));
    // without the state pairing, or in the form whose axes are not the cache's, the select is a full copy
    for (const fused of [fuse(cacheGraph('ne'), {}), fuse(cacheGraph('eq'), {}, { state: { cache: 'cache' } })]) {
      expect(fused.kernels.some((k) => k.kind === 'elementwise' && k.update !== undefined)).toBe(false);
      expect(fused.outputs.get('cache')).not.toBe(fused.inputs.get('cache'));
    }
  });

  it('matches the interpreter step by step, and writes nothing where p is no row', async () => {
    await stepAlong(cacheGraph('ne'), POSITIONS, (r) => ({ x: Float32Array.from({ length: G * K }, () => r() * 2 - 1) }));
  });

  it('is the epilogue of the contraction that computes the row (the KV projection)', async () => {
    const fg = fuse(projectionGraph(), {}, { state: { cache: 'cache' } });
    const contract = fg.kernels.find((k) => k.kind === 'contract');
    expect(contract?.kind === 'contract' && contract.update?.axis).toBe('M');
    expect(contract!.writes).toEqual([fg.inputs.get('cache')]);
    expect(fg.kernels.some((k) => k.kind === 'elementwise' && k.update !== undefined)).toBe(false);
    await stepAlong(projectionGraph(), POSITIONS, (r) => ({ x: Float32Array.from({ length: K }, () => r() * 2 - 1) }));
  });
});

describe('the KV-cache decode graph', () => {
  it('projects q, k and v in one dispatch per block, k and v straight into their caches', async () => {
    const { loadModel } = await import('../src/session/model.js');
    const { nodeEnv } = await import('../src/host/node/index.js');
    const { lower, CACHE_PREFIX } = await import('../src/compiler/lower.js');
    const { prune } = await import('../src/ir/index.js');
    const { model } = loadModel(nodeEnv(), 'models/gpt-nano.arch', new Map([['N', '3']]), { quietWarnings: true });
    const lowered = lower(model, { decode: true });
    const caches = [...lowered.graph.outputs.keys()].filter((k) => k.startsWith(CACHE_PREFIX));
    const fg = fuse(prune(lowered.graph, ['logits', ...caches]), { B: 1 }, { state: Object.fromEntries(caches.map((c) => [c, c])), maxBindings: 16 });
    const projections = fg.kernels.filter((k) => k.kind === 'contract' && k.siblings?.length === 2);
    expect(projections).toHaveLength(3);
    for (const p of projections) {
      if (p.kind !== 'contract') continue;
      expect([p, ...p.siblings!].filter((c) => c.update !== undefined)).toHaveLength(2);
    }
    for (const c of caches) expect(fg.outputs.get(c)).toBe(fg.inputs.get(c));
    expect(fg.kernels.some((k) => k.kind === 'elementwise' && k.update !== undefined)).toBe(false);
  });
});
