// Elementwise kernels that compute 4 elements an invocation, and row kernels that sweep 4 an
// iteration, reading 4 to a texel (rgba32float): on the device against the interpreter, with
// reads at the 4 lanes (one texel each, also through a split of the tensor's innermost axis) and
// reads whose innermost coordinate is not a lane (a permuted tensor, a slice along the inner
// axis: one texel per element, its component by index).

import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../src/ir/builder.js';
import type { Axis } from '../src/ir/types.js';
import { layernorm, softmax } from './ir-helpers.js';
import { compare, device } from './executor-helpers.js';

const ax = (name: string, size: number | string): Axis => ({ name, size });
// 2 x 72 x 128 = 18432 elements: past the size where kernels read through textures
const B = ax('B', 'B');
const L = ax('L', 72);
const D = ax('D', 128);

afterAll(async () => (await device()).destroy());

describe('elementwise kernels, 4 elements an invocation', () => {
  it('match the interpreter: contiguous, broadcast, permuted and sliced reads', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [B, L, D]);
    const bias = b.input('bias', [D]);
    const t = b.input('t', [D, B, L]); // stored with L innermost: read at D lanes, not its own
    const wide = b.input('wide', [B, L, ax('D', 132)]); // read from element 3 on along D
    const s = b.slice(wide, 'D', 3, 128);
    const y = b.unary('tanh', b.mul(b.add(x, bias), b.permute(t, ['B', 'L', 'D'])));
    b.output('y', b.sub(y, b.mul(s, s)));
    const r = await compare(b.build(), { B: 2 });
    for (const [name, w] of Object.entries(r.worst)) expect(w, name).toBeLessThanOrEqual(1);
    const wgsl = r.compiled.plan.kernels.map((k) => k.wgsl).join('\n');
    expect(r.kernels).toBe(1);
    expect(wgsl).toContain('4 an invocation');
    expect(wgsl).toContain('rgba32float'); // x at least is read 4 to a texel
    expect(wgsl).toMatch(/\[tx\d+ & 3u\]/); // and some read takes one element of a texel
    r.compiled.destroy();
  });

  it('a tensor read through a split of its innermost axis (D into heads of 32) shares the lanes\' texel', async () => {
    const b = new GraphBuilder();
    const [H, K] = [ax('H', 4), ax('K', 32)];
    const x = b.split(b.input('x', [B, L, D]), 'D', [H, K]);
    b.output('y', b.mul(b.unary('exp', x), b.input('t', [B, L, H, K])));
    const r = await compare(b.build(), { B: 2 });
    expect(r.worst.y).toBeLessThanOrEqual(1);
    const wgsl = r.compiled.plan.kernels.map((k) => k.wgsl).join('\n');
    expect(wgsl).toContain('4 an invocation');
    expect(wgsl).not.toMatch(/\[tx\d+ & 3u\]/);
    r.compiled.destroy();
  });

  it('an innermost axis not a multiple of 4 stays one element an invocation', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [B, L, ax('E', 130)]);
    b.output('y', b.unary('exp', b.scale(x, 0.5)));
    const r = await compare(b.build(), { B: 2 });
    expect(r.worst.y).toBeLessThanOrEqual(1);
    expect(r.compiled.plan.kernels.map((k) => k.wgsl).join('\n')).not.toContain('4 an invocation');
    r.compiled.destroy();
  });

  it('row kernels sweeping 4 an iteration match: layernorm over a gathered row, softmax', async () => {
    const b = new GraphBuilder();
    const V = ax('V', 20);
    const R = ax('R', 72);
    const table = b.input('table', [V, D]);
    const ids = b.input('ids', [B, R], 'i32');
    const x = b.add(b.gather(table, ids, 'V'), b.input('x', [B, R, D]));
    b.output('y', layernorm(b, x, 'D', b.input('g', [D]), b.input('beta', [D])));
    b.output('p', softmax(b, b.input('s', [B, R, D]), 'D'));
    const r = await compare(b.build(), { B: 4 }, { intRange: { ids: 20 } });
    for (const [name, w] of Object.entries(r.worst)) expect(w, name).toBeLessThanOrEqual(1);
    const wgsl = r.compiled.plan.kernels.map((k) => k.wgsl).join('\n');
    expect(wgsl).toMatch(/row: 288 rows x 128, 1 lane/);
    expect(wgsl).toMatch(/j \+= 4\)/);
    expect(wgsl).toContain('rgba32float');
    r.compiled.destroy();
  });
});
