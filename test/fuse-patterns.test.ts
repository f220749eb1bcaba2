// Fusion patterns: each runs fused on the Dawn device against the interpreter, and the kernel
// count shows what fusion bought (softmax and layernorm are one kernel each, a contraction takes
// its bias + gelu, an elementwise chain over broadcasts and permutes is one kernel).

import { afterAll, describe, expect, it } from 'vitest';
import { differentiate } from '../src/ir/autodiff.js';
import { GraphBuilder } from '../src/ir/builder.js';
import { fuse } from '../src/ir/fuse/fuse.js';
import { planMemory } from '../src/ir/plan.js';
import type { Axis } from '../src/ir/types.js';
import { causalMask, crossEntropy, gelu, layernorm, softmax } from './ir-helpers.js';
import { compare, device, type Tolerance } from './executor-helpers.js';

const ax = (name: string, size: number | string): Axis => ({ name, size });
const B = ax('B', 'B');
const L = ax('L', 7);
const M = ax('M', 7);
const D = ax('D', 10);
const H = ax('H', 3);
const TOL: Tolerance = { atol: 1e-5, rtol: 1e-4 };

afterAll(async () => (await device()).destroy());

async function fusedMatch(b: GraphBuilder, symbols: Record<string, number>, tol = TOL, intRange?: Record<string, number>): Promise<number> {
  const r = await compare(b.build(), symbols, { tol, intRange });
  for (const [name, w] of Object.entries(r.worst)) expect(w, name).toBeLessThanOrEqual(1);
  r.compiled.destroy();
  return r.kernels;
}

describe('fusion patterns on the device', () => {
  it('an elementwise chain with broadcasts and a permute is one kernel', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [B, L, D]);
    const bias = b.input('bias', [D]);
    const s = b.input('s', [L, B]);
    const y = b.unary('tanh', b.mul(b.add(x, bias), b.permute(b.expand(s, [L, B, D]), ['B', 'L', 'D'])));
    b.output('y', b.permute(b.sub(y, b.unary('exp', s)), ['D', 'B', 'L']));
    expect(await fusedMatch(b, { B: 2 })).toBe(1);
  });

  it('softmax over a middle axis is one kernel (one row per workgroup or per invocation)', async () => {
    for (const size of [7, 130]) {
      const b = new GraphBuilder();
      const x = b.input('x', [B, ax('M', size), H]);
      b.output('p', softmax(b, x, 'M'));
      expect(await fusedMatch(b, { B: 2 })).toBe(1);
    }
  });

  it('many long rows (one invocation per row, no workgroup tree) match: softmax and layernorm', async () => {
    const b = new GraphBuilder();
    const R = ax('R', 300);
    const x = b.input('x', [B, R, ax('M', 77)]);
    b.output('p', softmax(b, x, 'M'));
    b.output('y', layernorm(b, x, 'M', b.input('g', [ax('M', 77)]), b.input('beta', [ax('M', 77)])));
    // one kernel each, or both in one where the adapter binds enough buffers (same rows and axis)
    expect(await fusedMatch(b, { B: 1 })).toBeLessThanOrEqual(2);
  });

  it('layernorm is one kernel', async () => {
    for (const width of [10, 97]) {
      const b = new GraphBuilder();
      const Dw = ax('D', width);
      const x = b.input('x', [B, L, Dw]);
      b.output('y', layernorm(b, x, 'D', b.input('g', [Dw]), b.input('beta', [Dw])));
      expect(await fusedMatch(b, { B: 1 })).toBe(1);
    }
  });

  it('cross-entropy via gather: one row kernel over the classes', async () => {
    const b = new GraphBuilder();
    const V = ax('V', 37);
    const logits = b.input('logits', [B, L, V]);
    const targets = b.input('targets', [B, L], 'i32');
    b.output('loss', crossEntropy(b, logits, targets, 'V'));
    // max and sum of exp share the row kernel; the mean over B (lse - picked logit inlined) is a
    // second reduction and the mean over L a third (this helper's two means do not nest: the mean
    // over B is not a scalar)
    expect(await fusedMatch(b, { B: 3 }, TOL, { targets: 37 })).toBeLessThanOrEqual(3);
  });

  it("cross-entropy's forward is one kernel while its rows fit one workgroup's sweep, two past that", async () => {
    // the prelude's form: the mean over all rows of (logsumexp - the target's logit), one sum over
    // B and L (collapsed into one reduction) divided by the count
    const build = (V: number, train: boolean) => {
      const b = new GraphBuilder();
      const Vx = ax('V', V);
      const logits = train ? b.param('logits', [B, L, Vx], { kind: 'normal', std: 1 }) : b.input('logits', [B, L, Vx]);
      const targets = b.input('targets', [B, L], 'i32');
      const top = b.reduce('max', logits, 'V');
      const shifted = b.sub(logits, top);
      const nll = b.sub(b.unary('log', b.reduce('sum', b.unary('exp', shifted), 'V')), b.gather(shifted, targets, 'V'));
      b.output('loss', b.scale(b.reduce('sum', b.reduce('sum', nll, 'B'), 'L'), 1 / 21));
      const fwd = b.build();
      return train ? differentiate(fwd, 'loss', ['logits']) : fwd;
    };
    // 3 x 7 rows of 37 classes nest; 3 x 7 rows of 4000 (84,000 elements) do not
    for (const [V, kernels] of [[37, 1], [4000, 2]] as const) {
      const g = build(V, false);
      expect(fuse(g, { B: 3 }).kernels.length, `V = ${V}`).toBe(kernels);
      const r = await compare(g, { B: 3 }, { tol: TOL, intRange: { targets: V } });
      for (const [name, w] of Object.entries(r.worst)) expect(w, `${name} (V = ${V})`).toBeLessThanOrEqual(1);
      r.compiled.destroy();
    }
    // in training the nested kernel also writes each row's max and sum for the backward
    const g = build(37, true);
    const fg = fuse(g, { B: 3 });
    expect(fg.kernels.map((k) => k.kind)).toEqual(['row', 'row']);
    expect(fg.kernels[0]!.kind === 'row' && fg.kernels[0]!.inner?.reductions.length).toBe(2);
    const r = await compare(g, { B: 3 }, { tol: TOL, intRange: { targets: 37 } });
    for (const [name, w] of Object.entries(r.worst)) expect(w, name).toBeLessThanOrEqual(1);
    r.compiled.destroy();
  });

  it("cross-entropy's gradient is one row kernel over the classes (d_shifted recomputed, not stored)", async () => {
    for (const [Bn, V] of [[3, 37], [1, 1]] as const) {
      const b = new GraphBuilder();
      const Vx = ax('V', V);
      const logits = b.param('logits', [B, L, Vx], { kind: 'normal', std: 1 });
      const targets = b.input('targets', [B, L], 'i32');
      b.output('loss', crossEntropy(b, logits, targets, 'V'));
      const fwd = b.build();
      const g = differentiate(fwd, 'loss', ['logits']);
      const fg = fuse(g, { B: Bn });
      const overClasses = fg.kernels.filter((k) => k.kind === 'row' && k.redAxes.join() === 'V');
      const backward = fg.kernels.filter((k) => k.writes.some((t) => fg.outputs.get('grad:logits') === t));
      expect(backward.length).toBe(1);
      expect(backward[0]!.kind).toBe('row');
      // the forward's max and sum of exp, and the gradient: one or two kernels over the classes
      expect(overClasses.length).toBeLessThanOrEqual(2);
      expect(overClasses).toContain(backward[0]);
      expect(fg.kernels.filter((k) => k.kind === 'elementwise').length).toBe(0);
      const r = await compare(g, { B: Bn }, { tol: { atol: 1e-5, rtol: 1e-4 }, intRange: { targets: V + 1 } });
      for (const [name, w] of Object.entries(r.worst)) expect(w, name).toBeLessThanOrEqual(1);
      r.compiled.destroy();
    }
  });

  it('a contraction takes its bias + gelu epilogue, and a residual', async () => {
    const b = new GraphBuilder();
    const F = ax('F', 19);
    const x = b.input('x', [B, L, D]);
    const w = b.input('w', [D, F]);
    const h = gelu(b, b.add(b.contract(x, w, ['B', 'L', 'F']), b.input('bias', [F])));
    b.output('h', h);
    expect(await fusedMatch(b, { B: 2 }, { atol: 1e-4, rtol: 1e-4 })).toBe(1);

    const r = new GraphBuilder();
    const xr = r.input('x', [B, L, D]);
    const E = ax('E', 6);
    const wr = r.input('w', [D, E]);
    r.output('y', r.add(r.contract(xr, wr, ['B', 'L', 'E']), r.input('res', [B, L, E])));
    expect(await fusedMatch(r, { B: 2 }, { atol: 1e-4, rtol: 1e-4 })).toBe(1);

    // a residual reached through a rename (a projection back to the stream's width: D_1 -> D)
    const s = new GraphBuilder();
    const xs = s.input('x', [B, L, D]);
    const D1 = ax('D_1', 10);
    const y = s.add(s.contract(xs, s.input('w', [D, D1]), ['B', 'L', 'D_1']), s.input('bias', [D1]));
    s.output('y', s.add(xs, s.rename(y, 'D_1', 'D')));
    expect(await fusedMatch(s, { B: 2 }, { atol: 1e-4, rtol: 1e-4 })).toBe(1);
  });

  it("GELU's gradient is the epilogue of the contraction that brings the gradient back through the next layer (inlineSharedTerms)", async () => {
    // x -> gelu(x W1 + b1) W2 = y; the backward's dh = (dy W2^T) * gelu'(...) shares a term of
    // gelu' among three products: kept in registers, dh is one value over dy W2^T's space
    const b = new GraphBuilder();
    const F = ax('F', 12);
    const E = ax('E', 8);
    const x = b.input('x', [B, L, D]);
    const w1 = b.param('w1', [D, F], { kind: 'normal', std: 0.5 });
    const h = gelu(b, b.add(b.contract(x, w1, ['B', 'L', 'F']), b.param('b1', [F], { kind: 'normal', std: 0.5 })));
    const y = b.contract(h, b.param('w2', [F, E], { kind: 'normal', std: 0.5 }), ['B', 'L', 'E']);
    b.output('loss', b.reduce('sum', b.reduce('sum', b.reduce('sum', b.mul(y, y), 'E'), 'L'), 'B'));
    const g = differentiate(b.build(), 'loss', ['w1', 'b1', 'w2']);
    const fg = fuse(g, { B: 2 });
    // the contraction over E with the gradient of gelu as its epilogue: no elementwise kernel reads dh's parts
    const dhKernels = fg.kernels.filter((k) => k.kind === 'contract' && k.k.join() === 'E');
    expect(dhKernels).toHaveLength(1);
    expect(dhKernels[0]!.fused.length).toBeGreaterThan(10);
    expect(fg.kernels.filter((k) => k.kind === 'elementwise' && k.reads.some((t) => dhKernels[0]!.writes.includes(t)))).toHaveLength(0);
    // stored instead, the term leaves dh an elementwise kernel of its own, one kernel more
    expect(fuse(g, { B: 2 }, { inlineSharedTerms: false }).kernels.length).toBe(fg.kernels.length + 1);
    // on the device with either template (the cpu plan stores the term unless asked)
    for (const kernels of ['cpu', 'gpu'] as const) {
      const r = await compare(g, { B: 2 }, { tol: { atol: 1e-4, rtol: 1e-4 }, kernels, inlineSharedTerms: true });
      for (const [name, w] of Object.entries(r.worst)) expect(w, `${kernels} ${name}`).toBeLessThanOrEqual(1);
      expect(r.kernels).toBe(fg.kernels.length);
      r.compiled.destroy();
    }
  });

  it('an elementwise value and one that reads it over the same space are one kernel writing both', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [B, L, D]);
    const u = b.unary('tanh', b.mul(x, b.input('y', [B, L, D])));
    b.output('u', u);
    b.output('v', b.add(b.mul(u, x), b.scale(u, 0.5)));
    expect(await fusedMatch(b, { B: 2 })).toBe(1);
  });

  it('a causal mask from iota / compare / select fuses into the softmax', async () => {
    const b = new GraphBuilder();
    const scores = b.input('scores', [B, H, L, M]);
    b.output('p', softmax(b, causalMask(b, b.scale(scores, 0.5), L, M), 'M'));
    expect(await fusedMatch(b, { B: 2 })).toBe(1);
  });

  it('a kernel that would bind too many buffers is split under the limit', async () => {
    const b = new GraphBuilder();
    const xs = Array.from({ length: 7 }, (_, i) => b.input(`x${i}`, [B, D]));
    b.output('sum', xs.reduce((s, x) => b.add(s, b.unary('exp', x))));
    for (const maxBindings of [4, 5]) {
      const r = await compare(b.build(), { B: 2 }, { maxBindings });
      expect(r.worst.sum).toBeLessThanOrEqual(1);
      for (const k of r.compiled.plan.kernels) expect(k.bindings.filter((x) => x.kind === 'storage').length).toBeLessThanOrEqual(maxBindings);
      expect(r.kernels).toBeGreaterThan(1);
      r.compiled.destroy();
    }
  });
});

describe('the fusion pass (no device)', () => {
  it('fusion cuts kernels: softmax, layernorm and a bias+gelu MLP against one kernel per op', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [B, L, D]);
    const ln = layernorm(b, x, 'D', b.param('g', [D], { kind: 'ones' }), b.param('beta', [D], { kind: 'zeros' }));
    const h = gelu(b, b.add(b.contract(ln, b.param('w', [D, ax('F', 16)], { kind: 'zeros' }), ['B', 'L', 'F']), b.param('bias', [ax('F', 16)], { kind: 'zeros' })));
    b.output('p', softmax(b, h, 'F'));
    const g = b.build();
    const fused = fuse(g, { B: 2 });
    const unfused = fuse(g, { B: 2 }, { unfused: true });
    expect(fused.kernels.map((k) => k.kind)).toEqual(['row', 'contract', 'row']);
    expect(unfused.kernels.length).toBeGreaterThan(20);
  });

  it('intermediates share buffers by liveness; a row reduction kept in registers is not stored', () => {
    const b = new GraphBuilder();
    let x = b.input('x', [B, L, D]);
    for (let i = 0; i < 6; i++) {
    const p = softmax(b, b.contract(x, b.param(`w${i}`, [D, ax('E', 10)], { kind: 'zeros' }), ['B', 'L', 'E']), 'E');
    x = i < 5 ? b.rename(p, 'E', 'D') : p;
  }
    b.output('y', x);
    const f = fuse(b.build(), { B: 2 });
    expect(f.kernels.length).toBe(12);
    // softmax writes only its probabilities: its max and sum stay in registers
    for (const k of f.kernels.filter((k) => k.kind === 'row')) expect(k.writes.length).toBe(1);
    const steps = f.kernels.map((k) => ({ reads: k.reads, writes: k.writes }));
    const plan = planMemory(f.tensors.map((t) => ({ bytes: 4 * 140, persistent: t.role !== 'intermediate' || f.outputs.get('y') === t.id })), steps);
    const written = new Set(f.kernels.flatMap((k) => k.writes));
    const intermediates = f.tensors.filter((t) => written.has(t.id) && t.role === 'intermediate' && f.outputs.get('y') !== t.id);
    const shared = new Set(intermediates.map((t) => plan.bufferOf[t.id]));
    expect(intermediates.length).toBe(11);
    expect(shared.size).toBe(2); // ping-pong
    // no kernel writes a buffer it reads
    for (const k of f.kernels) {
      const read = new Set(k.reads.map((t) => plan.bufferOf[t]));
      for (const t of k.writes) expect(read.has(plan.bufferOf[t])).toBe(false);
    }
  });
});
