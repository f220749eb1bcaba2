// Shape inference and the errors that guard programming mistakes; hash-consing; the printer.

import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../src/ir/builder.js';
import { printGraph } from '../src/ir/print.js';
import { normSize, sizeEq, sizeMul, evalSize } from '../src/ir/size.js';
import type { Axis } from '../src/ir/types.js';
import { LAYOUT_KINDS, opGroup } from '../src/ir/types.js';

const ax = (name: string, size: number | string): Axis => ({ name, size });

describe('sizes', () => {
  it('canonical products', () => {
    expect(normSize('L*B')).toBe('B*L');
    expect(normSize('2*3')).toBe(6);
    expect(sizeMul('B', 4, 'L', 2)).toBe('8*B*L');
    expect(sizeEq('B*L', 'L * B')).toBe(true);
    expect(sizeEq('B', 'L')).toBe(false);
    expect(evalSize('2*B*L', { B: 3, L: 5 })).toBe(30);
    expect(() => evalSize('Q', {})).toThrow(/'Q' is not bound/);
  });
});

describe('shape inference', () => {
  const B = ax('B', 'B');
  const L = ax('L', 16);
  const D = ax('D', 8);

  it('broadcast, contract, gather, layout', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [B, L, D]);
    const w = b.param('w', [D, ax('F', 32)], { kind: 'normal', std: 0.02 });
    expect(b.type(b.add(b.param('bias', [D], { kind: 'zeros' }), x)).axes.map((a) => a.name)).toEqual(['D', 'B', 'L']);
    expect(b.type(b.contract(x, w, ['B', 'L', 'F'])).axes).toEqual([B, L, ax('F', 32)]);
    const tok = b.input('tok', [B, L], 'i32');
    const e = b.gather(b.param('wte', [ax('V', 65), D], { kind: 'zeros' }), tok, 'V');
    expect(b.type(e)).toEqual({ axes: [B, L, D], dtype: 'f32' });
    expect(b.type(b.slice(tok, 'L', 1, 15))).toEqual({ axes: [B, ax('L', 15)], dtype: 'i32' });
    expect(b.type(b.split(x, 'D', [ax('H', 2), ax('K', 4)])).axes.map((a) => a.name)).toEqual(['B', 'L', 'H', 'K']);
  });

  it('rejects mistakes with plain errors', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [B, L, D]);
    const y = b.input('y', [ax('L', 15)]);
    expect(() => b.add(x, y)).toThrow(/axis 'L' has size 16 in one operand and 15/);
    expect(() => b.contract(x, y, ['B'])).toThrow();
    expect(() => b.contract(x, b.input('z', [D, ax('F', 3)]), ['B', 'L'])).toThrow(/'F' is in one operand only/);
    expect(() => b.contract(x, x, ['Q'])).toThrow(/out axis 'Q'/);
    expect(() => b.split(x, 'D', [ax('H', 3), ax('K', 3)])).toThrow(/does not multiply/);
    expect(() => b.merge(x, ['B', 'L'], ax('N', 16))).toThrow(/does not multiply/);
    expect(() => b.rename(x, 'L', 'D')).toThrow(/twice/);
    expect(() => b.slice(x, 'L', 10, 7)).toThrow(/outside/);
    expect(() => b.reduce('sum', x, 'Q')).toThrow(/no axis 'Q'/);
    expect(() => b.unary('exp', b.input('t', [L], 'i32'))).toThrow(/must be f32/);
    expect(() => b.gather(x, x, 'D')).toThrow(/must be i32/);
    expect(() => b.input('x', [])).toThrow(/declared twice/);
    expect(() => b.permute(x, ['B', 'L'])).toThrow(/not a permutation/);
    expect(() => b.expand(x, [B, L])).toThrow(/lacks D/);
  });

  it('shares identical nodes and skips identity layout ops', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [B, L]);
    expect(b.unary('exp', x)).toBe(b.unary('exp', x));
    expect(b.constant(2)).toBe(b.constant(2));
    expect(b.permute(x, ['B', 'L'])).toBe(x);
    expect(b.rename(x, 'L', 'L')).toBe(x);
  });
});

describe('groups and printer', () => {
  it('op groups', () => {
    expect(LAYOUT_KINDS.has('permute')).toBe(true);
    expect(opGroup({ kind: 'unary', fn: 'exp' })).toBe('elementwise');
    expect(opGroup({ kind: 'contract', out: [] })).toBe('contract');
    expect(opGroup({ kind: 'gather', axis: 'V' })).toBe('index');
  });

  it('prints one op per line with shapes and labels', () => {
    const b = new GraphBuilder();
    const tok = b.input('tokens', [ax('B', 'B'), ax('L', 4)], 'i32');
    const wte = b.param('wte', [ax('V', 65), ax('D', 768)], { kind: 'normal', std: 0.02 });
    const e = b.label(b.gather(wte, tok, 'V'), 'embedded_BLD');
    b.output('e', b.reduce('sum', e, 'D'));
    expect(printGraph(b.build()).split('\n')).toEqual([
      '%0 = input "tokens" -> [B, L=4] i32',
      '%1 = param "wte" ~ normal(0.02) -> [V=65, D=768]',
      '%2 = gather %1 %0 on V -> [B, L=4, D=768]  # embedded_BLD',
      '%3 = reduce.sum %2 over D -> [B, L=4]',
      'out e = %3',
      '',
    ]);
  });
});
