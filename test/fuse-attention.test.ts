// Attention as one streaming kernel (src/ir/fuse/attention.ts, src/codegen/wgsl/attention.ts):
// contract -> scores -> softmax -> contract fuses into one kernel that stores no L x M tensor,
// and matches the interpreter at awkward sizes, B = 1, size-1 axes, masks and layouts.

import { afterAll, describe, expect, it } from 'vitest';
import { differentiate } from '../src/ir/autodiff.js';
import { GraphBuilder } from '../src/ir/builder.js';
import { fuse } from '../src/ir/fuse/fuse.js';
import type { Axis, Graph } from '../src/ir/types.js';
import { causalMask, softmax } from './ir-helpers.js';
import { compare, device, F32 } from './executor-helpers.js';

const ax = (name: string, size: number | string): Axis => ({ name, size });

afterAll(async () => (await device()).destroy());

interface Shape { L: number; M: number; H: number; K: number; N?: number }

/** out[B, L, H, N] = softmax_M(mask(scale * q . k)) v, with k and v in the layouts given. */
function attention(s: Shape, opts: { mask?: 'causal' | 'bounded' | 'bounded-flipped' | 'input' | 'none'; kLayout?: string[]; vLayout?: string[]; scale?: number } = {}): Graph {
  const B = ax('B', 'B');
  const [L, M, H, K, N] = [ax('L', s.L), ax('M', s.M), ax('H', s.H), ax('K', s.K), ax('N', s.N ?? s.K)];
  const b = new GraphBuilder();
  const q = b.input('q', [B, L, H, K]);
  const byName: Record<string, Axis> = { B, M, H, K, N };
  const k = b.input('k', (opts.kLayout ?? ['B', 'M', 'H', 'K']).map((a) => byName[a]!));
  const v = b.input('v', (opts.vLayout ?? ['B', 'M', 'H', 'N']).map((a) => byName[a]!));
  let scores = b.scale(b.contract(q, k, ['B', 'H', 'L', 'M']), opts.scale ?? 0.37);
  if ((opts.mask ?? 'causal') === 'causal') scores = causalMask(b, scores, L, M);
  if (opts.mask === 'bounded') scores = b.select(b.binary('le', b.iota(M), b.iota(L)), scores, b.constant(-1e30));
  if (opts.mask === 'bounded-flipped') scores = b.select(b.binary('gt', b.iota(M), b.iota(L)), b.constant(-1e30), scores);
  if (opts.mask === 'input') scores = b.add(scores, b.input('bias', [L, M]));
  b.output('out', b.contract(softmax(b, scores, 'M'), v, ['B', 'L', 'H', 'N']));
  return b.build();
}

function attentionKernels(graph: Graph, symbols: Record<string, number>) {
  const fg = fuse(graph, symbols);
  const stored = fg.tensors.map((t) => fg.graph.nodes[t.node]!.type.axes.map((a) => a.name));
  const causal = fg.kernels.some((k) => k.kind === 'attention' && k.keyBound !== undefined);
  return { kinds: fg.kernels.map((k) => k.kind), storesScores: stored.some((axes) => axes.includes('L') && axes.includes('M')), causal };
}

/** Both kernel variants (docs/kernels.md, "Two variants"); unfused attention only with the cpu
 *  one (its contractions' gpu variant is covered in gpu-kernels.test.ts). */
async function expectMatch(graph: Graph, symbols: Record<string, number>): Promise<void> {
  for (const [flashAttention, kernels] of [[true, 'cpu'], [false, 'cpu'], [true, 'gpu']] as const) {
    const r = await compare(graph, symbols, { flashAttention, kernels, tol: F32 });
    for (const [name, w] of Object.entries(r.worst)) expect(w, `${name} (flash ${flashAttention}, ${kernels} kernels)`).toBeLessThanOrEqual(1);
    r.compiled.destroy();
  }
}

describe('flash-style attention', () => {
  it('causal attention is one kernel that stores no L x M tensor', async () => {
    const g = attention({ L: 9, M: 9, H: 3, K: 5 });
    const { kinds, storesScores } = attentionKernels(g, { B: 2 });
    expect(kinds).toEqual(['attention']);
    expect(storesScores).toBe(false);
    expect(attentionKernels(g, { B: 2 }).kinds).not.toContain('row');
    await expectMatch(g, { B: 2 });
  });

  it('a causal mask bounds the key loop (skipped keys add exactly nothing); an additive one does not', async () => {
    // L < M: queries see keys up to their own position, so most keys are past every bound. Both
    // ways of writing the mask: keep where m <= l (as the lowering does), or mask where m > l.
    for (const mask of ['bounded', 'bounded-flipped'] as const) {
      const causal = attention({ L: 3, M: 17, H: 2, K: 4 }, { mask });
      expect(attentionKernels(causal, { B: 2 }).causal, mask).toBe(true);
      await expectMatch(causal, { B: 2 });
    }
    // a mask constant that a live score could come near (-1e9), an additive mask, none: no bound
    for (const mask of ['causal', 'input', 'none'] as const) expect(attentionKernels(attention({ L: 3, M: 17, H: 2, K: 4 }, { mask }), { B: 1 }).causal, mask).toBe(false);
  });

  it('non-causal, B = 1, size-1 head and query axes, more keys than queries', async () => {
    await expectMatch(attention({ L: 1, M: 7, H: 1, K: 1 }, { mask: 'none' }), { B: 1 });
    await expectMatch(attention({ L: 5, M: 13, H: 2, K: 3, N: 6 }, { mask: 'none', scale: 2.5 }), { B: 1 });
  });

  it('heads wider than 64 (loops instead of unrolled sums, one query per invocation)', async () => {
    await expectMatch(attention({ L: 6, M: 6, H: 2, K: 66, N: 5 }, { scale: 0.1 }), { B: 2 });
    await expectMatch(attention({ L: 3, M: 4, H: 1, K: 3, N: 65 }, { mask: 'none' }), { B: 1 });
  });

  it('an additive mask read from a tensor, k and v in transposed layouts', async () => {
    const g = attention({ L: 6, M: 11, H: 2, K: 4, N: 3 }, { mask: 'input', kLayout: ['H', 'K', 'B', 'M'], vLayout: ['N', 'M', 'H', 'B'] });
    expect(attentionKernels(g, { B: 3 }).kinds).toEqual(['attention']);
    await expectMatch(g, { B: 3 });
  });

  it('rows whose keys are all masked (mixed mask constants) match the interpreter', async () => {
    // causal with more queries than keys: query 0 sees key 0 only; then mask key 0 everywhere
    const B = ax('B', 'B');
    const [L, M, K] = [ax('L', 4), ax('M', 4), ax('K', 3)];
    const b = new GraphBuilder();
    const q = b.input('q', [B, L, K]);
    const k = b.input('k', [B, M, K]);
    const v = b.input('v', [B, M, K]);
    const first = b.binary('eq', b.iota(M), b.constant(0));
    const scores = b.select(first, b.constant(-1e30), causalMask(b, b.contract(q, k, ['B', 'L', 'M']), L, M));
    b.output('out', b.contract(softmax(b, scores, 'M'), v, ['B', 'L', 'K']));
    const g = b.build();
    expect(attentionKernels(g, { B: 2 }).kinds).toEqual(['attention']);
    await expectMatch(g, { B: 2 });
  });

  it('is not used where the weights themselves are an output (the ordinary kernels run instead)', async () => {
    const B = ax('B', 'B');
    const [L, M, K] = [ax('L', 5), ax('M', 5), ax('K', 3)];
    const b = new GraphBuilder();
    const x = b.input('x', [B, L, K]);
    const k = b.rename(x, 'L', 'M');
    const w = softmax(b, causalMask(b, b.contract(x, k, ['B', 'L', 'M']), L, M), 'M');
    b.output('out', b.contract(w, k, ['B', 'L', 'K']));
    b.output('weights', w);
    const g = b.build();
    expect(attentionKernels(g, { B: 2 }).kinds).not.toContain('attention');
    await expectMatch(g, { B: 2 });
  });
});

interface TrainShape { B: number; L: number; M: number; G: number; R: number; K: number; N: number }

/** A loss through attention whose q, k and v are parameters: out[B, L, G, R, N] =
 *  softmax_M(mask(scale * q . k)) v, with q's heads G x R over k and v's G (grouped-query when R > 1),
 *  loss = sum(out * w) for a random w, so every gradient is dense. */
function trainable(s: TrainShape, mask: 'causal' | 'none' | 'shifted' = 'causal'): Graph {
  const [B, L, M, G, R, K, N] = [ax('B', s.B), ax('L', s.L), ax('M', s.M), ax('G', s.G), ax('R', s.R), ax('K', s.K), ax('N', s.N)];
  const b = new GraphBuilder();
  const init = { kind: 'normal', std: 1 } as const;
  const q = b.param('q', [B, L, G, R, K], init);
  const k = b.param('k', [B, M, G, K], init);
  const v = b.param('v', [B, M, G, N], init);
  let scores = b.scale(b.contract(q, k, ['B', 'G', 'R', 'L', 'M']), 0.41);
  if (mask === 'causal') scores = b.select(b.binary('le', b.iota(M), b.iota(L)), scores, b.constant(-1e30));
  // keys m + 2 <= l: queries 0 and 1 see no key at all (uniform weights, as the softmax of equal scores)
  if (mask === 'shifted') scores = b.select(b.binary('le', b.iota(M, 2), b.iota(L)), scores, b.constant(-1e30));
  const out = b.contract(softmax(b, scores, 'M'), v, ['B', 'L', 'G', 'R', 'N']);
  let loss = b.mul(out, b.input('w', [B, L, G, R, N]));
  for (const a of ['B', 'L', 'G', 'R', 'N']) loss = b.reduce('sum', loss, a);
  b.output('loss', loss);
  return differentiate(b.build(), 'loss', ['q', 'k', 'v']);
}

/** Each attention kernel's loop bound: 'to M' (stops after the bound), 'from L' (starts at it), 'none'. */
function bounds(g: Graph): string[] {
  return fuse(g, {}).kernels.flatMap((k) => (k.kind === 'attention' ? [k.keyBound ? `${k.keyBound.lower ? 'from' : 'to'} ${k.keyBound.axis}` : 'none'] : []));
}

describe('flash-style attention backward', () => {
  const TRAIN_TOL = { atol: 1e-4, rtol: 1e-3 };
  async function expectGradients(g: Graph): Promise<void> {
    for (const kernels of ['cpu', 'gpu'] as const) {
      const r = await compare(g, {}, { tol: TRAIN_TOL, kernels });
      expect(Object.keys(r.worst).sort()).toEqual(['grad:k', 'grad:q', 'grad:v', 'loss']);
      for (const [name, worst] of Object.entries(r.worst)) expect(worst, `${name} (${kernels} kernels)`).toBeLessThanOrEqual(1);
      r.compiled.destroy();
    }
  }

  it('a training step streams forward, dq, dk and dv, and stores no L x M tensor', async () => {
    const g = trainable({ B: 2, L: 9, M: 9, G: 3, R: 1, K: 5, N: 5 });
    const { kinds, storesScores } = attentionKernels(g, {});
    // forward, and one kernel per gradient of q, k and v
    expect(kinds.filter((k) => k === 'attention')).toHaveLength(4);
    expect(storesScores).toBe(false);
    // the causal mask bounds the forward's and dq's key loops from above, and dk's and dv's query
    // loops from below (every query sees key 0, so a masked weight is exactly 0)
    expect(bounds(g).sort()).toEqual(['from L', 'from L', 'to M', 'to M']);
    // with the device's 16 bindings a kernel, dk and dv (same rows, steps and bound; both need
    // q . k) run as one kernel; the gradients below are computed that way
    const grouped = fuse(g, {}, { maxBindings: 16 }).kernels.filter((k) => k.kind === 'attention');
    expect(grouped.map((k) => (k.kind === 'attention' ? k.siblings?.length ?? 0 : 0))).toEqual([0, 0, 1]);
    await expectGradients(g);
  });

  it('queries that see no key (uniform weights): dv takes every query, and still matches', async () => {
    const g = trainable({ B: 2, L: 6, M: 6, G: 2, R: 1, K: 3, N: 2 }, 'shifted');
    expect(bounds(g).sort()).toEqual(['from L', 'none', 'to M', 'to M']);
    await expectGradients(g);
  });

  it('causal grouped-query heads with fewer queries than keys (the bounded axis is not the innermost step)', async () => {
    await expectGradients(trainable({ B: 2, L: 5, M: 8, G: 2, R: 3, K: 3, N: 4 }));
  });

  it('grouped-query heads (dk and dv sum over queries and head groups), no mask, B = 1, L != M', async () => {
    const g = trainable({ B: 1, L: 6, M: 11, G: 2, R: 3, K: 4, N: 3 }, 'none');
    expect(attentionKernels(g, {}).storesScores).toBe(false);
    await expectGradients(g);
  });

  it('size-1 axes, and heads wider than 64 (loops instead of unrolled sums)', async () => {
    await expectGradients(trainable({ B: 1, L: 1, M: 1, G: 1, R: 1, K: 1, N: 1 }));
    await expectGradients(trainable({ B: 2, L: 5, M: 5, G: 1, R: 2, K: 66, N: 3 }));
    await expectGradients(trainable({ B: 1, L: 4, M: 7, G: 2, R: 1, K: 3, N: 65 }, 'none'));
  });
});

/** A loss through causal attention whose q, k and v are parameters over a model dimension D
 *  split into H heads of K, as the language's models write it (q, k, v projections' outputs):
 *  out[B, L, H, K] merged back to D, loss = sum(out * w) with w a parameter, so that dout is w
 *  read through the split. Parameters are read through textures at any size. */
function mergedHeads(s: { B: number; L: number; H: number; K: number }): Graph {
  const [B, L, M, H, K, N] = [ax('B', s.B), ax('L', s.L), ax('M', s.L), ax('H', s.H), ax('K', s.K), ax('N', s.K)];
  const D = ax('D', s.H * s.K);
  const b = new GraphBuilder();
  const init = { kind: 'normal', std: 1 } as const;
  const q = b.split(b.param('q', [B, L, D], init), 'D', [H, K]);
  const k = b.split(b.param('k', [B, M, D], init), 'D', [H, K]);
  const v = b.split(b.param('v', [B, M, D], init), 'D', [H, N]);
  const scores = causalMask(b, b.scale(b.contract(q, k, ['B', 'H', 'L', 'M']), 0.35), L, M);
  const out = b.merge(b.contract(softmax(b, scores, 'M'), v, ['B', 'L', 'H', 'N']), ['H', 'N'], D);
  let loss = b.mul(out, b.param('w', [B, L, D], init));
  for (const a of ['B', 'L', 'D']) loss = b.reduce('sum', loss, a);
  b.output('loss', loss);
  return differentiate(b.build(), 'loss', ['q', 'k', 'v']);
}

describe('attention reading 4 elements a texel (cpu kernels)', () => {
  const TRAIN_TOL = { atol: 1e-4, rtol: 1e-3 };
  async function attentionWgsl(g: Graph): Promise<string> {
    const r = await compare(g, {}, { tol: TRAIN_TOL, kernels: 'cpu' });
    for (const [name, worst] of Object.entries(r.worst)) expect(worst, name).toBeLessThanOrEqual(1);
    const wgsl = r.compiled.plan.kernels.filter((k) => k.kind === 'attention').map((k) => k.wgsl);
    r.compiled.destroy();
    expect(wgsl.length).toBeGreaterThanOrEqual(3); // forward, dq, dk and dv (one kernel, or two)
    return wgsl.join('\n');
  }

  it('heads of 8 split from D: every head and value read is one component of a shared texel', async () => {
    const wgsl = await attentionWgsl(mergedHeads({ B: 2, L: 9, H: 2, K: 8 }));
    expect(wgsl).toContain('rgba32float');
    expect(wgsl).toMatch(/a row per invocation/);
    // q, k, v and dout (w through the split) by whole texels, none by an element's index
    expect(wgsl).not.toMatch(/\[tx\d+ & 3u\]/);
  });

  it('heads of 6 (D = 12 is 4 to a texel, a head is not): reads take one element of a texel', async () => {
    const wgsl = await attentionWgsl(mergedHeads({ B: 2, L: 7, H: 2, K: 6 }));
    expect(wgsl).toContain('rgba32float');
    expect(wgsl).toMatch(/\[tx\d+ & 3u\]/);
  });
});
