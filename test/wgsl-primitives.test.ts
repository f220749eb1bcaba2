// Every IR primitive alone on the real Dawn device, against the reference interpreter, at awkward
// sizes (not multiples of 4 or of a tile, size-1 axes, B = 1). Each graph runs unfused (one kernel
// per op: the primitive's own template) and fused.

import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../src/ir/builder.js';
import { randomUniform } from '../src/ir/random.js';
import type { Axis, Graph } from '../src/ir/types.js';
import { compare, device, F32, randomFeeds, type Tolerance } from './executor-helpers.js';

const ax = (name: string, size: number | string): Axis => ({ name, size });
const B = ax('B', 'B');
const L = ax('L', 7);
const D = ax('D', 5);
const ONE = ax('O', 1);

afterAll(async () => (await device()).destroy());

async function expectMatch(graph: Graph, symbols: Record<string, number>, tol: Tolerance = F32, intRange?: Record<string, number>): Promise<void> {
  for (const unfused of [true, false]) {
    const r = await compare(graph, symbols, { unfused, tol, intRange });
    for (const [name, w] of Object.entries(r.worst)) expect(w, `${name} (${unfused ? 'unfused' : 'fused'})`).toBeLessThanOrEqual(1);
    r.compiled.destroy();
  }
}

describe('elementwise primitives', () => {
  it('unary ops (log and sqrt on positive values)', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [B, L, D]);
    const pos = b.add(b.mul(x, x), b.constant(0.25));
    for (const fn of ['neg', 'exp', 'tanh', 'sin', 'cos'] as const) b.output(fn, b.unary(fn, x));
    for (const fn of ['log', 'sqrt', 'recip'] as const) b.output(fn, b.unary(fn, pos));
    await expectMatch(b.build(), { B: 2 });
  });

  it('binary ops broadcast by name, with operands in different axis orders', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [B, L, D]);
    const y = b.input('y', [D, L]);
    for (const fn of ['add', 'sub', 'mul', 'max', 'min', 'lt', 'le', 'gt', 'ge', 'eq', 'ne'] as const) b.output(fn, b.binary(fn, x, y));
    b.output('div', b.div(x, b.add(b.mul(y, y), b.constant(0.5))));
    b.output('mod', b.binary('mod', b.scale(x, 7), b.constant(3)));
    b.output('eq_self', b.binary('eq', x, b.permute(x, ['D', 'B', 'L'])));
    await expectMatch(b.build(), { B: 1 });
  });

  it('select, cast, const (also a symbolic size), iota with an offset', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [B, L]);
    const c = b.input('c', [L]);
    b.output('select', b.select(b.binary('gt', c, b.constant(0)), x, b.constant(-2.5)));
    b.output('trunc', b.cast(b.cast(b.scale(x, 10), 'i32'), 'f32'));
    b.output('size', b.add(x, b.constant('7*B')));
    b.output('iota', b.add(b.iota(L, 3), b.iota(B, 'B')));
    b.output('big', b.add(x, b.constant(-3.4e38)));
    await expectMatch(b.build(), { B: 3 });
  });

  it('random reproduces src/ir/random.ts bit for bit', async () => {
    const b = new GraphBuilder();
    b.output('u', b.random([B, ax('R', 37), ONE], 5));
    b.output('v', b.mul(b.random([ax('R', 37)], 0xfffffff0), b.constant(1)));
    const graph = b.build();
    for (const seed of [0, 123456789, 0xffffffff]) {
      const r = await compare(graph, { B: 3, seed }, { tol: { atol: 0, rtol: 0 } });
      expect(r.worst.u).toBe(0);
      expect(r.worst.v).toBe(0);
      expect(r.gpu.u![5]).toBe(randomUniform(seed, 5, 5));
      r.compiled.destroy();
    }
  });
});

describe('reductions and contraction', () => {
  it('sum and max over the first, a middle and the last axis, and over a size-1 axis', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [B, L, ONE, D]);
    for (const a of ['B', 'L', 'O', 'D']) {
      b.output(`sum_${a}`, b.reduce('sum', x, a));
      b.output(`max_${a}`, b.reduce('max', x, a));
    }
    const long = b.input('long', [ax('N', 3), ax('R', 301)]);
    b.output('sum_long', b.reduce('sum', long, 'R'));
    b.output('max_long', b.reduce('max', long, 'R'));
    await expectMatch(b.build(), { B: 2 });
  });

  it('contractions: matmul, transposed operands, batch, broadcast batch, outer product, dot', async () => {
    const b = new GraphBuilder();
    const M = ax('M', 13);
    const K = ax('K', 10);
    const Nn = ax('N', 7);
    const a = b.input('a', [M, K]);
    const at = b.input('at', [K, M]);
    const w = b.input('w', [K, Nn]);
    const wt = b.input('wt', [Nn, K]);
    const xb = b.input('xb', [B, M, K]);
    b.output('mm', b.contract(a, w, ['M', 'N']));
    b.output('mm_tt', b.contract(at, wt, ['M', 'N']));
    b.output('mm_nm', b.contract(a, w, ['N', 'M']));
    b.output('batched', b.contract(xb, w, ['B', 'M', 'N']));
    b.output('batch_mid', b.contract(xb, b.input('wb', [B, K, Nn]), ['M', 'B', 'N']));
    b.output('outer', b.contract(b.input('u', [M]), b.input('v', [Nn]), ['M', 'N']));
    b.output('dot', b.contract(b.input('p', [K]), b.input('q', [K]), []));
    b.output('two_k', b.contract(xb, b.input('y', [B, M, Nn]), ['K', 'N']));
    await expectMatch(b.build(), { B: 3 }, { atol: 1e-4, rtol: 1e-4 });
  });
});

describe('indexing', () => {
  it('gather: embedding rows, a batch-axis gather, and out-of-range indices read 0', async () => {
    const b = new GraphBuilder();
    const V = ax('V', 11);
    const table = b.input('table', [V, D]);
    const tokens = b.input('tokens', [B, L], 'i32');
    b.output('rows', b.gather(table, tokens, 'V'));
    const logits = b.input('logits', [B, L, V]);
    b.output('picked', b.gather(logits, tokens, 'V'));
    await expectMatch(b.build(), { B: 2 }, F32, { tokens: 13 }); // 11 and 12 are out of range
  });

  it('scatterAdd: summing repeated indices (embedding gradient) and the masked copy (cross-entropy gradient)', async () => {
    const b = new GraphBuilder();
    const V = ax('V', 6);
    const tokens = b.input('tokens', [B, L], 'i32');
    const g = b.input('g', [B, L, D]);
    b.output('dtable', b.scatterAdd(g, tokens, V, ['V', 'D']));
    b.output('dtable_dv', b.scatterAdd(g, tokens, V, ['D', 'V']));
    b.output('dlogits', b.scatterAdd(b.input('gl', [B, L]), tokens, V, ['B', 'L', 'V']));
    await expectMatch(b.build(), { B: 2 }, F32, { tokens: 8 });
  });

  for (const rows of [1031, 50257]) {
    it(`scatterAdd by index lists, ${rows} rows: each row sums only its own positions, in order, with repeated, absent and out-of-range indices`, async () => {
      const b = new GraphBuilder();
      const V = ax('V', rows); // lists from 1024 rows; most rows have no position
      const tokens = b.input('tokens', [B, L], 'i32');
      b.output('dtable', b.add(b.scatterAdd(b.input('g', [B, L, D]), tokens, V, ['V', 'D']), b.input('r', [V, D])));
      const graph = b.build();
      const feeds = randomFeeds(graph, { B: 3 }, 1);
      // repeated values (one four times, apart), the first and last rows, out of range both ways
      const last = rows - 1;
      feeds.inputs.tokens = Int32Array.from([5, last, 0, 5, 77, rows, 5, 2 * rows, -1, 77, 0, 5, 999, last, 3, 4, 9, 300, 300, 2, 1]);
      for (const unfused of [true, false]) {
        const r = await compare(graph, { B: 3 }, { unfused, tol: F32, feeds });
        for (const [name, w] of Object.entries(r.worst)) expect(w, `${name} (${unfused ? 'unfused' : 'fused'})`).toBeLessThanOrEqual(1);
        // the lists' five dispatches, then the rows over their own positions, sharing a scratch buffer
        const scatter = r.compiled.plan.kernels.find((k) => k.ops.some((op) => op.includes('scatterAdd')))!;
        for (const what of ['zero', 'rank', 'chunks', 'bases', 'place']) expect(scatter.wgsl).toContain(`// index lists, ${what}:`);
        expect(scatter.wgsl).toContain('each row over its own (index lists)');
        expect(scatter.bindings.filter((x) => x.kind === 'scratch')).toHaveLength(6);
        r.compiled.destroy();
      }
    });
  }

  it('scatterAdd of a fused expression (computed only where the index matches), B = 1, size-1 axes', async () => {
    for (const width of [1, 70]) {
      const b = new GraphBuilder();
      const V = ax('V', 9);
      const W = ax('W', width);
      const tokens = b.input('tokens', [B, L], 'i32');
      const g = b.unary('tanh', b.mul(b.input('g', [B, L, W]), b.input('s', [L])));
      b.output('dtable', b.add(b.scatterAdd(g, tokens, V, ['V', 'W']), b.input('r', [V, W])));
      b.output('dtable_wv', b.scatterAdd(g, tokens, V, ['W', 'V']));
      await expectMatch(b.build(), { B: 1 }, F32, { tokens: 11 });
    }
  });
});

describe('layout ops feed a kernel as views, and materialise as outputs', () => {
  it('permute, split, merge, rename, slice, pad, expand', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [B, L, ax('E', 6)]);
    const views: Record<string, number> = {
      permute: b.permute(x, ['E', 'B', 'L']),
      split: b.split(x, 'E', [ax('H', 2), ax('K', 3)]),
      merge: b.merge(x, ['L', 'E'], ax('F', 42)),
      merge_nonadjacent: b.merge(x, ['B', 'E'], ax('G', '6*B')),
      rename: b.rename(x, 'L', 'M'),
      slice: b.slice(x, 'L', 2, 4),
      pad: b.pad(x, 'E', 1, 9),
      expand: b.expand(x, [ax('Z', 3), B, L, ax('E', 6)]),
      split_merge: b.merge(b.permute(b.split(x, 'E', [ax('H', 2), ax('K', 3)]), ['B', 'H', 'L', 'K']), ['L', 'K'], ax('F', 21)),
    };
    for (const [name, v] of Object.entries(views)) {
      b.output(name, v);
      b.output(`${name}_exp`, b.unary('exp', v));
    }
    // a view as a contraction operand (strided A / B without a copy where possible)
    b.output('contract_view', b.contract(b.slice(x, 'L', 1, 5), b.input('w', [ax('E', 6), ax('N', 3)]), ['B', 'L', 'N']));
    await expectMatch(b.build(), { B: 2 }, { atol: 1e-5, rtol: 1e-4 });
  });
});
