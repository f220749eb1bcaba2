// The interpreter against independent hand-written loops, f32 rounding, and the random hash
// against a BigInt re-implementation of its documented definition.

import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../src/ir/builder.js';
import { interpret } from '../src/ir/interpret.js';
import type { Data, Feeds } from '../src/ir/interpret.js';
import { pcgHash, randomBits } from '../src/ir/random.js';
import type { Axis } from '../src/ir/types.js';
import { randn, rng } from './ir-helpers.js';

const ax = (name: string, size: number | string): Axis => ({ name, size });

function run(b: GraphBuilder, out: number, feeds: Partial<Feeds>, precision: 'f32' | 'f64' = 'f64') {
  b.output('out', out);
  const res = interpret(b.build(), { inputs: {}, params: {}, symbols: {}, ...feeds }, { precision });
  return res.get('out')!;
}

function expectClose(actual: Data, expected: ArrayLike<number>, tol = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i]! - expected[i]!), `element ${i}: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(tol);
  }
}

describe('interpreter vs hand-written loops', () => {
  const r = rng(7);

  it('contract: batched matmul with the output in a different layout', () => {
    // out[K, B, I] = sum_J a[B, I, J] * w[J, K] ... plus a batch axis B in both
    const [B, I, J, K] = [2, 3, 4, 5];
    const a = randn(B * I * J, r);
    const w = randn(B * J * K, r);
    const b = new GraphBuilder();
    const ia = b.input('a', [ax('B', B), ax('I', I), ax('J', J)]);
    const iw = b.input('w', [ax('B', B), ax('J', J), ax('K', K)]);
    const out = run(b, b.contract(ia, iw, ['K', 'B', 'I']), { inputs: { a, w } });
    expect(out.type.axes).toEqual([ax('K', K), ax('B', B), ax('I', I)]);
    const expected = new Float64Array(K * B * I);
    for (let k = 0; k < K; k++)
      for (let bb = 0; bb < B; bb++)
        for (let i = 0; i < I; i++) {
          let s = 0;
          for (let j = 0; j < J; j++) s += a[(bb * I + i) * J + j]! * w[(bb * J + j) * K + k]!;
          expected[(k * B + bb) * I + i] = s;
        }
    expectClose(out.data, expected);
  });

  it('binary broadcasting by name: a[A, C] + b[C, E] -> [A, C, E]', () => {
    const a = randn(6, r);
    const c = randn(8, r);
    const b = new GraphBuilder();
    const out = run(b, b.sub(b.input('a', [ax('A', 3), ax('C', 2)]), b.input('b', [ax('C', 2), ax('E', 4)])), { inputs: { a, b: c } });
    expect(out.type.axes.map((x) => x.name)).toEqual(['A', 'C', 'E']);
    const expected: number[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) for (let k = 0; k < 4; k++) expected.push(a[i * 2 + j]! - c[j * 4 + k]!);
    expectClose(out.data, expected);
  });

  it('reduce sum and max over a middle axis', () => {
    const x = randn(2 * 5 * 3, r);
    for (const fn of ['sum', 'max'] as const) {
      const b = new GraphBuilder();
      const out = run(b, b.reduce(fn, b.input('x', [ax('A', 2), ax('C', 5), ax('E', 3)]), 'C'), { inputs: { x } });
      const expected: number[] = [];
      for (let i = 0; i < 2; i++)
        for (let k = 0; k < 3; k++) {
          let acc = fn === 'sum' ? 0 : -Infinity;
          for (let j = 0; j < 5; j++) {
            const v = x[(i * 5 + j) * 3 + k]!;
            acc = fn === 'sum' ? acc + v : Math.max(acc, v);
          }
          expected.push(acc);
        }
      expectClose(out.data, expected);
    }
  });

  it('gather rows with batch axes and out-of-range indices; scatterAdd is its transpose', () => {
    // logits[B, L, V] gathered by targets[B, L]: picks logits[b, l, t[b, l]]
    const [B, L, V] = [2, 3, 4];
    const logits = randn(B * L * V, r);
    const t = Int32Array.from([0, 3, 2, 1, -1, 4]);
    const b = new GraphBuilder();
    const out = run(b, b.gather(b.input('x', [ax('B', B), ax('L', L), ax('V', V)]), b.input('t', [ax('B', B), ax('L', L)], 'i32'), 'V'), {
      inputs: { x: logits, t },
    });
    const expected = [...t].map((k, i) => (k >= 0 && k < V ? logits[i * V + k]! : 0));
    expectClose(out.data, expected);

    // <gather(T, i), y> == <T, scatterAdd(y, i)> for the unbatched form
    const table = randn(5 * 2, r);
    const idx = Int32Array.from([4, 0, 4, 2, 7, 1]);
    const y = randn(6 * 2, r);
    const b2 = new GraphBuilder();
    const ii = b2.input('i', [ax('P', 6)], 'i32');
    const g = b2.gather(b2.input('T', [ax('V', 5), ax('D', 2)]), ii, 'V');
    const s = b2.scatterAdd(b2.input('y', [ax('P', 6), ax('D', 2)]), ii, ax('V', 5));
    b2.output('g', g);
    b2.output('s', s);
    const res = interpret(b2.build(), { inputs: { T: table, i: idx, y }, params: {}, symbols: {} }, { precision: 'f64' });
    const dot = (u: Data, v: ArrayLike<number>) => Array.from(u).reduce((acc, x, i) => acc + x * v[i]!, 0);
    expect(dot(res.get('g')!.data, y)).toBeCloseTo(dot(res.get('s')!.data, table), 12);
    const scattered = new Float64Array(10);
    idx.forEach((k, p) => { if (k < 5) for (let d = 0; d < 2; d++) scattered[k * 2 + d]! += y[p * 2 + d]!; });
    expectClose(res.get('s')!.data, scattered);
  });

  it('layout: permute, split/merge are views, slice and pad move a window', () => {
    const x = Float64Array.from({ length: 24 }, (_, i) => i);
    const b = new GraphBuilder();
    const xi = b.input('x', [ax('A', 2), ax('C', 3), ax('E', 4)]);
    b.output('perm', b.permute(xi, ['E', 'A', 'C']));
    b.output('split', b.split(xi, 'E', [ax('P', 2), ax('Q', 2)]));
    b.output('merge', b.merge(xi, ['A', 'E'], ax('F', 8))); // not adjacent: permutes first
    b.output('slice', b.slice(xi, 'C', 1, 2));
    b.output('pad', b.pad(b.slice(xi, 'C', 1, 2), 'C', 0, 4));
    b.output('iota', b.iota(ax('E', 4), 'P'));
    b.output('cast', b.cast(b.scale(b.iota(ax('E', 4), -2), 0.75), 'i32'));
    const res = interpret(b.build(), { inputs: { x }, params: {}, symbols: { P: 10 } });
    const at = (a: number, c: number, e: number) => a * 12 + c * 4 + e;
    const perm: number[] = [];
    for (let e = 0; e < 4; e++) for (let a = 0; a < 2; a++) for (let c = 0; c < 3; c++) perm.push(at(a, c, e));
    expectClose(res.get('perm')!.data, perm);
    expectClose(res.get('split')!.data, x);
    expect(res.get('merge')!.type.axes.map((q) => q.name)).toEqual(['F', 'C']);
    const merged: number[] = [];
    for (let a = 0; a < 2; a++) for (let e = 0; e < 4; e++) for (let c = 0; c < 3; c++) merged.push(at(a, c, e));
    expectClose(res.get('merge')!.data, merged);
    const sl: number[] = [];
    for (let a = 0; a < 2; a++) for (let c = 1; c < 3; c++) for (let e = 0; e < 4; e++) sl.push(at(a, c, e));
    expectClose(res.get('slice')!.data, sl);
    const pd: number[] = [];
    for (let a = 0; a < 2; a++) for (let c = 0; c < 4; c++) for (let e = 0; e < 4; e++) pd.push(c < 2 ? at(a, c + 1, e) : 0);
    expectClose(res.get('pad')!.data, pd);
    expectClose(res.get('iota')!.data, [10, 11, 12, 13]);
    expect(res.get('cast')!.data).toBeInstanceOf(Int32Array);
    expect([...res.get('cast')!.data]).toEqual([-1, 0, 0, 0]); // trunc(-1.5, -0.75, 0, 0.75)
  });

  it('select and compare broadcast; mod is floored', () => {
    const b = new GraphBuilder();
    const i = b.iota(ax('L', 3));
    const j = b.iota(ax('M', 3));
    const out = run(b, b.select(b.binary('le', j, i), b.binary('mod', b.sub(j, b.constant(1)), b.constant(2)), b.constant(-9)), {});
    // axes: [M] from a, then L from cond
    expect(out.type.axes.map((x) => x.name)).toEqual(['M', 'L']);
    const expected: number[] = [];
    for (let m = 0; m < 3; m++) for (let l = 0; l < 3; l++) expected.push(m <= l ? (((m - 1) % 2) + 2) % 2 : -9);
    expectClose(out.data, expected);
  });

  it('symbolic sizes: B*L merges and the mean over a runtime axis', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [ax('B', 'B'), ax('L', 'L')]);
    const flat = b.merge(x, ['B', 'L'], ax('N', 'L*B'));
    expect(b.type(flat).axes).toEqual([ax('N', 'B*L')]);
    const data = randn(6, rng(3));
    const out = run(b, b.mean(flat, 'N'), { inputs: { x: data }, symbols: { B: 2, L: 3 } });
    expect(out.data[0]).toBeCloseTo(data.reduce((s, v) => s + v, 0) / 6, 14);
  });
});

describe('f32 rounding', () => {
  it('f32 mode rounds every op to float32; f64 mode does not', () => {
    const build = () => {
      const b = new GraphBuilder();
      const one = b.input('x', []);
      return { b, out: b.sub(b.add(one, b.constant(1e-8)), one) };
    };
    const f = build();
    expect(run(f.b, f.out, { inputs: { x: Float64Array.of(1) } }, 'f32').data[0]).toBe(0);
    const d = build();
    expect(run(d.b, d.out, { inputs: { x: Float64Array.of(1) } }, 'f64').data[0]).toBeCloseTo(1e-8, 15);
    const e = new GraphBuilder();
    const v = run(e, e.unary('exp', e.constant(1)), {}, 'f32');
    expect(v.data).toBeInstanceOf(Float32Array);
    expect(v.data[0]).toBe(Math.fround(Math.E));
  });
});

describe('random', () => {
  // The documented definition, in BigInt arithmetic mod 2^32.
  const M = (1n << 32n) - 1n;
  const pcgRef = (v: bigint): bigint => {
    const state = (v * 747796405n + 2891336453n) & M;
    const word = (((state >> ((state >> 28n) + 4n)) ^ state) * 277803737n) & M;
    return ((word >> 22n) ^ word) & M;
  };

  it('pcgHash and randomBits match a BigInt re-implementation', () => {
    const r = rng(11);
    for (let n = 0; n < 200; n++) {
      const v = Math.floor(r() * 2 ** 32);
      expect(pcgHash(v)).toBe(Number(pcgRef(BigInt(v))));
    }
    const [seed, stream, i] = [123456789, 7, 4000000000];
    const ref = pcgRef((BigInt(i) + pcgRef((BigInt(stream) + pcgRef(BigInt(seed))) & M)) & M);
    expect(randomBits(seed, stream, i)).toBe(Number(ref));
  });

  it('random is uniform in [0, 1), reproducible, and differs by seed and stream', () => {
    const sample = (seed: number, stream: number) => {
      const b = new GraphBuilder();
      return run(b, b.random([ax('A', 100), ax('C', 'C')], stream), { symbols: { seed, C: 50 } }, 'f32').data;
    };
    const u = sample(1, 0);
    expect(u.every((v) => v >= 0 && v < 1)).toBe(true);
    const mean = Array.from(u).reduce((s, v) => s + v, 0) / u.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
    expect(sample(1, 0)).toEqual(u);
    expect(sample(2, 0)).not.toEqual(u);
    expect(sample(1, 1)).not.toEqual(u);
    expect(u[1234]).toBe((randomBits(1, 0, 1234) >>> 8) / 2 ** 24);
  });
});
