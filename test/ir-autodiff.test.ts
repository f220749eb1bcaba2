// Every primitive's gradient rule against float64 central finite differences of the interpreter,
// with awkward sizes, size-1 axes, permuted operands and broadcasting; then composites.

import { describe, expect, it } from 'vitest';
import type { GraphBuilder } from '../src/ir/builder.js';
import { differentiate } from '../src/ir/autodiff.js';
import { interpret } from '../src/ir/interpret.js';
import { GraphBuilder as Builder } from '../src/ir/builder.js';
import type { Axis, BinaryFn, UnaryFn } from '../src/ir/types.js';
import { UNARY_FNS } from '../src/ir/types.js';
import { causalMask, crossEntropy, gelu, gradCheck, layernorm, randn, softmax } from './ir-helpers.js';

const ax = (name: string, size: number | string): Axis => ({ name, size });
const A = ax('A', 3);
const One = ax('O', 1);
const C = ax('C', 5);
const E = ax('E', 2);
const TOL = 1e-6;

function check(spec: Parameters<typeof gradCheck>[0]): void {
  const r = gradCheck(spec);
  expect(r.maxErr, r.worst).toBeLessThan(TOL);
}

const positive = (n: number, r: () => number) => randn(n, r, 0.9, 1.5);
const p = (b: GraphBuilder, name: string, axes: Axis[]) => b.param(name, axes, { kind: 'normal', std: 1 });

describe('unary gradients', () => {
  for (const fn of UNARY_FNS) {
    it(fn, () => {
      const needsPositive = fn === 'log' || fn === 'sqrt' || fn === 'recip';
      check({
        build: (b) => b.unary(fn as UnaryFn, p(b, 'x', [A, One, C])),
        values: needsPositive ? { x: positive } : undefined,
      });
    });
  }
});

describe('binary gradients with broadcasting by name', () => {
  const cases: [string, Axis[], Axis[]][] = [
    ['same axes', [A, One, C], [A, One, C]],
    ['b permuted', [A, One, C], [C, A]],
    ['b has a new axis', [A, C], [C, E]],
    ['a is a scalar', [], [A, C]],
    ['b is a scalar', [A, C], []],
    ['disjoint axes', [A], [E, One]],
  ];
  const fns: BinaryFn[] = ['add', 'sub', 'mul', 'div', 'max', 'min'];
  for (const fn of fns) {
    for (const [name, aAxes, bAxes] of cases) {
      it(`${fn}: ${name}`, () => {
        check({
          build: (b) => b.binary(fn, p(b, 'a', aAxes), p(b, 'b', bAxes)),
          values: fn === 'div' ? { b: positive } : undefined,
        });
      });
    }
  }

  it('x * x (one node feeding both operands) accumulates both contributions', () => {
    check({ build: (b) => { const x = p(b, 'x', [A, C]); return b.mul(x, x); } });
  });

  it('compare and mod pass no gradient', () => {
    for (const fn of ['lt', 'le', 'gt', 'ge', 'eq', 'ne', 'mod'] as BinaryFn[]) {
      const r = gradCheck({
        build: (b) => b.add(b.binary(fn, p(b, 'a', [A, C]), p(b, 'b', [C])), p(b, 'c', [A])),
        values: fn === 'mod' ? { b: positive } : undefined,
      });
      expect(r.grads.a!.every((v) => v === 0)).toBe(true);
      expect(r.grads.b!.every((v) => v === 0)).toBe(true);
      // a compare is flat almost everywhere, so finite differences agree; mod's da = 1 is withheld
      if (fn !== 'mod') expect(r.maxErr, r.worst).toBeLessThan(TOL);
    }
  });
});

describe('other primitive gradients', () => {
  it('select: cond none, a and b masked, with broadcasting', () => {
    check({
      build: (b) => {
        const cond = b.binary('gt', p(b, 'c', [A, C]), b.constant(0));
        return b.select(cond, p(b, 'a', [C]), p(b, 'b', [A, One]));
      },
    });
  });

  it('reduce sum over the first, middle and last axis', () => {
    for (const axis of ['A', 'O', 'C']) check({ build: (b) => b.reduce('sum', p(b, 'x', [A, One, C]), axis) });
  });

  it('reduce max over a middle axis and a size-1 axis', () => {
    for (const axis of ['C', 'O']) check({ build: (b) => b.reduce('max', p(b, 'x', [A, C, One, E]), axis) });
  });

  it('reduce max splits the gradient among ties', () => {
    const r = gradCheck({
      build: (b) => b.reduce('max', b.binary('max', p(b, 'x', [A, C]), b.constant(0.5)), 'C'),
      values: { x: (n) => new Float64Array(n).fill(2) },
    });
    // five tied maxima per row: each gets a fifth of the row's gradient
    for (let row = 0; row < 3; row++) {
      const g = r.grads.x!.slice(row * 5, row * 5 + 5);
      for (const v of g) expect(v).toBeCloseTo(g[0]!, 12);
      expect(g[0]).not.toBe(0);
    }
  });

  const contractions: [string, Axis[], Axis[], string[]][] = [
    ['matmul', [A, C], [C, E], ['A', 'E']],
    ['batched, out permuted', [E, A, C], [E, C, One], ['O', 'A', 'E']],
    ['outer product', [A], [C], ['C', 'A']],
    ['two summed axes', [A, C, E], [E, C], ['A']],
    ['everything summed to a scalar', [A, C], [C, A], []],
    ['shared axis kept (elementwise)', [A, C], [C], ['A', 'C']],
  ];
  for (const [name, aAxes, bAxes, out] of contractions) {
    it(`contract: ${name}`, () => check({ build: (b) => b.contract(p(b, 'a', aAxes), p(b, 'b', bAxes), out) }));
  }

  it('gather (with out-of-range indices) and its batched form', () => {
    const index = Int32Array.from([0, 4, 2, -1, 2, 5]);
    check({
      build: (b) => b.gather(p(b, 't', [A, C, E]), b.input('i', [ax('P', 2), ax('Q', 3)], 'i32'), 'C'),
      inputs: { i: index },
    });
    check({
      build: (b) => b.gather(p(b, 't', [E, ax('Q', 3), C]), b.input('i', [ax('Q', 3), E], 'i32'), 'C'),
      inputs: { i: index },
    });
  });

  it('scatterAdd with repeated indices, default and batched out', () => {
    const index = Int32Array.from([1, 1, 0, 3, 1, 9]);
    check({
      build: (b) => b.scatterAdd(p(b, 'v', [ax('P', 2), ax('Q', 3), E]), b.input('i', [ax('P', 2), ax('Q', 3)], 'i32'), C),
      inputs: { i: index },
    });
    check({
      build: (b) => b.scatterAdd(p(b, 'v', [ax('P', 2), ax('Q', 3), E]), b.input('i', [ax('P', 2), ax('Q', 3)], 'i32'), C, ['E', 'C', 'Q']),
      inputs: { i: index },
    });
  });

  it('layout: permute, split, merge (adjacent and not), rename', () => {
    check({ build: (b) => b.permute(p(b, 'x', [A, One, C]), ['C', 'A', 'O']) });
    check({ build: (b) => b.split(p(b, 'x', [A, ax('D', 6)]), 'D', [ax('H', 2), ax('K', 3)]) });
    check({ build: (b) => b.merge(p(b, 'x', [A, C, E]), ['C', 'E'], ax('F', 10)) });
    check({ build: (b) => b.merge(p(b, 'x', [A, C, E]), ['E', 'A'], ax('F', 6)) });
    check({ build: (b) => b.rename(p(b, 'x', [A, C]), 'C', 'M') });
  });

  it('slice, pad, expand', () => {
    check({ build: (b) => b.slice(p(b, 'x', [A, C]), 'C', 1, 3) });
    check({ build: (b) => b.pad(p(b, 'x', [A, C]), 'A', 2, 7) });
    check({ build: (b) => b.expand(p(b, 'x', [C, A]), [E, A, One, C]) });
    check({ build: (b) => b.concat(p(b, 'x', [A, C]), p(b, 'y', [ax('A', 2), C]), 'A') });
  });

  it('symbolic sizes resolve at run time', () => {
    check({
      build: (b) => b.mean(b.mul(p(b, 'x', [ax('B', 'B'), C]), p(b, 'y', [C])), 'B'),
      symbols: { B: 3 },
    });
  });

  it('params that do not reach the loss get zero gradients', () => {
    const b = new Builder();
    const x = b.param('x', [A], { kind: 'ones' });
    b.param('unused', [C], { kind: 'ones' });
    b.output('loss', b.reduce('sum', x, 'A'));
    const g = differentiate(b.build(), 'loss', ['x', 'unused']);
    const out = interpret(g, { inputs: {}, params: { x: new Float32Array(3), unused: new Float32Array(5) }, symbols: {} });
    expect([...out.get('grad:x')!.data]).toEqual([1, 1, 1]);
    expect([...out.get('grad:unused')!.data]).toEqual([0, 0, 0, 0, 0]);
    expect(out.get('loss')).toBeDefined();
  });
});

describe('composite gradients', () => {
  const B = ax('B', 2);
  const L = ax('L', 3);
  const M = ax('M', 3);
  const D = ax('D', 4);
  it('softmax over a middle axis', () => {
    check({ build: (b) => softmax(b, p(b, 'x', [B, C, L]), 'C') });
  });
  it('layernorm', () => {
    check({
      build: (b) => layernorm(b, p(b, 'x', [B, L, D]), 'D', p(b, 'g', [D]), p(b, 'h', [D])),
    });
  });
  it('GELU (tanh)', () => {
    check({ build: (b) => gelu(b, p(b, 'x', [B, L, D])) });
  });
  it('cross-entropy via a batched gather', () => {
    check({
      build: (b) => crossEntropy(b, p(b, 'x', [B, L, C]), b.input('t', [B, L], 'i32'), 'C'),
      inputs: { t: Int32Array.from([0, 4, 2, 1, 1, 3]) },
    });
  });
  it('causal mask + softmax (attention weights)', () => {
    check({ build: (b) => softmax(b, causalMask(b, p(b, 's', [B, L, M]), L, M), 'M') });
  });
  it('attention: softmax then a contraction over its axis, with ties in the scores', () => {
    // equal scores tie for the max: the one rule must not depend on which element is the max
    const equal = (n: number) => new Float64Array(n).fill(0.5);
    check({ build: (b) => b.contract(softmax(b, b.contract(p(b, 'q', [B, L, D]), p(b, 'k', [B, M, D]), ['B', 'L', 'M']), 'M'), p(b, 'v', [B, M, E]), ['B', 'L', 'E']) });
    check({ build: (b) => b.contract(softmax(b, p(b, 's', [B, L, M]), 'M'), p(b, 'v', [B, M, E]), ['B', 'L', 'E']), values: { s: equal } });
  });
});

describe('the softmax rule', () => {
  const [L, M, D] = [ax('L', 3), ax('M', 4), ax('D', 2)];
  /** The backward's ops (nodes past the forward) of a graph whose loss reads softmax(s) over M. */
  function backwardOps(attention: boolean): string[] {
    const b = new Builder();
    const w = softmax(b, b.param('s', [L, M], { kind: 'normal', std: 1 }), 'M');
    const out = attention ? b.contract(w, b.param('v', [M, D], { kind: 'normal', std: 1 }), ['L', 'D']) : w;
    let loss = b.mul(out, out);
    for (const a of b.type(loss).axes) loss = b.reduce('sum', loss, a.name);
    b.output('loss', loss);
    const fwd = b.build();
    const g = differentiate(fwd, 'loss', [...fwd.params.keys()]);
    return g.nodes.slice(fwd.nodes.length).map((n) => (n.op.kind === 'reduce' ? `${n.op.fn} ${n.op.axis}` : 'fn' in n.op ? n.op.fn : n.op.kind));
  }
  it('has no max path (no ties to share) and one reduction over the softmax axis', () => {
    const ops = backwardOps(false);
    expect(ops).not.toContain('eq');
    expect(ops.filter((o) => o === 'sum M')).toHaveLength(1);
  });
  it('into a contraction, reduces over the value axes instead: no L x M reduction is left', () => {
    const ops = backwardOps(true);
    expect(ops).not.toContain('eq');
    expect(ops.filter((o) => o.endsWith(' M'))).toEqual([]);
    expect(ops).toContain('sum D');
  });
});
