// Forward + backward on the Dawn device against the interpreter: an MLP, an attention layer and a
// tiny GPT built with GraphBuilder + differentiate(). Loss and every gradient must match.

import { afterAll, describe, expect, it } from 'vitest';
import { differentiate } from '../src/ir/autodiff.js';
import { GraphBuilder } from '../src/ir/builder.js';
import type { Axis, Graph } from '../src/ir/types.js';
import { gradName } from '../src/ir/types.js';
import { causalMask, crossEntropy, gelu, layernorm, relu, softmax, tinyGpt } from './ir-helpers.js';
import { compare, device } from './executor-helpers.js';

const ax = (name: string, size: number | string): Axis => ({ name, size });
const TOL = { atol: 1e-4, rtol: 1e-3 };

afterAll(async () => (await device()).destroy());

function withGrads(b: GraphBuilder, loss: number): Graph {
  b.output('loss', loss);
  const fwd = b.build();
  return differentiate(fwd, 'loss', [...fwd.params.keys()]);
}

async function expectAllMatch(graph: Graph, symbols: Record<string, number>, intRange?: Record<string, number>): Promise<number> {
  const r = await compare(graph, symbols, { tol: TOL, intRange });
  const names = Object.keys(r.worst);
  expect(names).toContain('loss');
  expect(names.filter((n) => n.startsWith('grad:')).length).toBe(graph.params.size);
  for (const [name, w] of Object.entries(r.worst)) expect(w, name).toBeLessThanOrEqual(1);
  // the gradients are not trivially zero
  for (const p of graph.params.keys()) expect(r.gpu[gradName(p)]!.some((v) => v !== 0), p).toBe(true);
  r.compiled.destroy();
  return r.kernels;
}

describe('forward + backward matches the interpreter', () => {
  it('a 2-layer MLP with cross-entropy (B = 1, odd widths)', async () => {
    const N = ax('N', 'N');
    const I = ax('I', 3);
    const H = ax('H', 13);
    const C = ax('C', 5);
    const b = new GraphBuilder();
    const x = b.input('x', [N, I]);
    const y = b.input('y', [N], 'i32');
    const h = relu(b, b.add(b.contract(x, b.param('w1', [I, H], { kind: 'normal', std: 1 }), ['N', 'H']), b.param('b1', [H], { kind: 'zeros' })));
    const logits = b.add(b.contract(h, b.param('w2', [H, C], { kind: 'normal', std: 0.3 }), ['N', 'C']), b.param('b2', [C], { kind: 'zeros' }));
    const g = withGrads(b, crossEntropy(b, logits, y, 'C'));
    await expectAllMatch(g, { N: 1 }, { y: 5 });
    await expectAllMatch(g, { N: 9 }, { y: 5 });
  });

  it('a pre-norm causal attention layer with a gelu MLP', async () => {
    const B = ax('B', 'B');
    const L = ax('L', 6);
    const M = ax('M', 6);
    const D = ax('D', 8);
    const H = ax('H', 2);
    const K = ax('K', 4);
    const F = ax('F', 11);
    const b = new GraphBuilder();
    const x = b.input('x', [B, L, D]);
    const w = b.input('w', [B, L, D]);
    const ln = layernorm(b, x, 'D', b.param('ln.g', [D], { kind: 'ones' }), b.param('ln.b', [D], { kind: 'zeros' }));
    const proj = (name: string) => b.contract(ln, b.param(name, [D, H, K], { kind: 'normal', std: 0.3 }), ['B', 'L', 'H', 'K']);
    const q = proj('wq');
    const k = b.rename(proj('wk'), 'L', 'M');
    const v = b.rename(proj('wv'), 'L', 'M');
    const scores = b.scale(b.contract(q, k, ['B', 'H', 'L', 'M']), 0.5);
    const att = softmax(b, causalMask(b, scores, L, M), 'M');
    const mixed = b.contract(att, v, ['B', 'L', 'H', 'K']);
    const o = b.add(x, b.contract(mixed, b.param('wo', [H, K, D], { kind: 'normal', std: 0.3 }), ['B', 'L', 'D']));
    const hidden = gelu(b, b.add(b.contract(o, b.param('w1', [D, F], { kind: 'normal', std: 0.3 }), ['B', 'L', 'F']), b.param('b1', [F], { kind: 'zeros' })));
    const out = b.add(o, b.contract(hidden, b.param('w2', [F, D], { kind: 'normal', std: 0.3 }), ['B', 'L', 'D']));
    let loss = b.mul(out, w);
    for (const a of ['B', 'L', 'D']) loss = b.reduce('sum', loss, a);
    await expectAllMatch(withGrads(b, loss), { B: 2 });
  });

  it('a tiny GPT (embedding gather, learned positions, tied head, cross-entropy)', async () => {
    const b = new GraphBuilder();
    const { loss } = tinyGpt(b, { B: 'B', L: 7, V: 13, D: 12, H: 3, layers: 1 });
    const kernels = await expectAllMatch(withGrads(b, loss), { B: 2 }, { tokens: 13, targets: 13 });
    expect(kernels).toBeLessThan(80);
  });
});
