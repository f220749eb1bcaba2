// The graph patterns that the lowering writes and autodiff and fusion read (src/ir/patterns.ts):
// the causal mask's value is recognised where the lowering puts it, and the softmax chain is found
// in a lowered model and not in graphs that only look like one.

import { describe, expect, it } from 'vitest';
import { lower } from '../src/compiler/lower.js';
import { GraphBuilder } from '../src/ir/builder.js';
import { BROADCASTS, MASKED_SCORE, isMaskedScore, softmaxAt } from '../src/ir/patterns.js';
import type { Axis, Graph } from '../src/ir/types.js';
import { compileModel } from './model-helpers.js';

const L: Axis = { name: 'L', size: 3 };
const M: Axis = { name: 'M', size: 4 };

function chains(g: Graph) {
  return g.nodes.map((n) => softmaxAt(g, n.id)).filter((c) => c !== null);
}

describe('the causal mask', () => {
  it('is recognised by its value, through broadcasts, and nothing else is', () => {
    const b = new GraphBuilder();
    const masked = b.constant(MASKED_SCORE);
    const wide = b.expand(masked, [L, M]);
    const zero = b.constant(0);
    const small = b.constant(-1e9); // above -1e20: fusion does not bound an attention's keys by it
    const g = b.build();
    expect(isMaskedScore(g, masked)).toBe(true);
    expect(isMaskedScore(g, wide)).toBe(true);
    expect(isMaskedScore(g, zero)).toBe(false);
    expect(isMaskedScore(g, small)).toBe(false);
  });

  it('is the value the lowering puts in a causal attention', () => {
    const g = lower(compileModel('models/gpt-nano.arch', { V: 11, L: 6, D: 8, H: 2, N: 2 })).graph;
    const masks = g.nodes.filter((n) => isMaskedScore(g, n.id) && n.op.kind === 'const');
    expect(masks.map((n) => n.op.kind === 'const' && n.op.value)).toEqual([MASKED_SCORE]); // hash-consed: one node
    const selects = g.nodes.filter((n) => n.op.kind === 'select' && n.inputs.some((i) => isMaskedScore(g, i)));
    expect(selects).toHaveLength(2); // one per block
  });
});

describe('the softmax chain', () => {
  it('is found in a lowered model, one per attention block, over the key axis', () => {
    const g = lower(compileModel('models/gpt-nano.arch', { V: 11, L: 6, D: 8, H: 2, N: 2 })).graph;
    const found = chains(g);
    expect(found).toHaveLength(2);
    for (const c of found) {
      expect(c.axis).toBe('M');
      expect(g.nodes[c.max]!.op).toEqual({ kind: 'reduce', fn: 'max', axis: 'M' });
      expect(g.nodes[c.sum]!.op).toEqual({ kind: 'reduce', fn: 'sum', axis: 'M' });
      expect(g.nodes[c.max]!.inputs).toEqual([c.x]);
      expect(g.nodes[c.x]!.op.kind).toBe('select'); // the causal mask's output is softmax's input
      expect(c.passed).toEqual([]);
    }
  });

  const near: [string, (b: GraphBuilder, x: number) => number][] = [
    ['the max over another axis', (b, x) => b.div(b.unary('exp', b.sub(x, b.reduce('max', x, 'L'))), b.reduce('sum', b.unary('exp', b.sub(x, b.reduce('max', x, 'L'))), 'M'))],
    ['the sum of another exp', (b, x) => {
      const e = b.unary('exp', b.sub(x, b.reduce('max', x, 'M')));
      return b.div(e, b.reduce('sum', b.unary('exp', x), 'M'));
    }],
    ['a shift by addition', (b, x) => {
      const e = b.unary('exp', b.add(x, b.reduce('max', x, 'M')));
      return b.div(e, b.reduce('sum', e, 'M'));
    }],
    ['the max of another input', (b, x) => {
      const e = b.unary('exp', b.sub(x, b.reduce('max', b.scale(x, 2), 'M')));
      return b.div(e, b.reduce('sum', e, 'M'));
    }],
    ['a log instead of an exp', (b, x) => {
      const e = b.unary('log', b.sub(x, b.reduce('max', x, 'M')));
      return b.div(e, b.reduce('sum', e, 'M'));
    }],
  ];
  for (const [name, build] of near) {
    it(`is not found with ${name}`, () => {
      const b = new GraphBuilder();
      const x = b.input('x', [L, M]);
      b.output('w', build(b, x));
      expect(chains(b.build())).toEqual([]);
    });
  }

  it('is linked through broadcasts only when the caller asks (fusion does, autodiff does not)', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [L, M]);
    const e = b.unary('exp', b.sub(x, b.expand(b.reduce('max', x, 'M'), [L, M])));
    const w = b.div(e, b.reduce('sum', e, 'M'));
    b.output('w', w);
    const g = b.build();
    expect(softmaxAt(g, w)).toBeNull();
    const c = softmaxAt(g, w, BROADCASTS);
    expect(c).not.toBeNull();
    expect(c!.x).toBe(x);
    expect(c!.passed).toHaveLength(1);
    expect(g.nodes[c!.passed[0]!]!.op.kind).toBe('expand');
  });
});
