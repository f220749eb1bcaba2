// Shared by the test/ir-*.test.ts suites: a seeded RNG, a float64 finite-difference gradient
// check, composites written with primitives only (as the prelude writes them), and a tiny GPT.

import { GraphBuilder } from '../src/ir/builder.js';
import { differentiate } from '../src/ir/autodiff.js';
import { interpret, numel, resolveType } from '../src/ir/interpret.js';
import type { Data } from '../src/ir/interpret.js';
import type { Axis, Graph } from '../src/ir/types.js';
import { gradName } from '../src/ir/types.js';

/** mulberry32: deterministic uniform [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randn(n: number, r: () => number, scale = 1, offset = 0): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = offset + scale * (2 * r() - 1);
  return out;
}

export interface GradCheckSpec {
  /** Build the function under test; params are the differentiated operands. Returns the output id. */
  build: (b: GraphBuilder) => number;
  /** Values per param; default uniform(-1, 1). */
  values?: Record<string, (n: number, r: () => number) => Float64Array>;
  inputs?: Record<string, Data>;
  symbols?: Record<string, number>;
  seed?: number;
  eps?: number;
}

export interface GradCheckResult {
  maxErr: number; // max |analytic - numeric| / max(1, |numeric|)
  worst: string;
  grads: Record<string, Float64Array>;
  graph: Graph;
}

/**
 * loss = sum(out * w) with a fixed random w (so every output element matters differently);
 * analytic gradients from differentiate() vs float64 central differences of the interpreter.
 */
export function gradCheck(spec: GradCheckSpec): GradCheckResult {
  const b = new GraphBuilder();
  const out = spec.build(b);
  const outAxes = b.type(out).axes;
  const w = b.input('__w', outAxes);
  let loss = b.mul(out, w);
  for (const ax of outAxes) loss = b.reduce('sum', loss, ax.name);
  b.output('loss', loss);
  const fwd = b.build();
  const params = [...fwd.params.keys()];
  const graph = differentiate(fwd, 'loss', params);
  const r = rng(spec.seed ?? 1);
  const symbols = spec.symbols ?? {};
  const sizeOf = (id: number): number => numel(resolveType(graph.nodes[id]!.type, symbols));
  const pv: Record<string, Float64Array> = {};
  for (const p of params) {
    const n = sizeOf(fwd.params.get(p)!);
    pv[p] = spec.values?.[p]?.(n, r) ?? randn(n, r);
  }
  const feeds = {
    inputs: { ...spec.inputs, __w: randn(sizeOf(w), r, 1, 0) },
    params: pv,
    symbols,
  };
  const res = interpret(graph, feeds, { precision: 'f64' });
  const lossAt = (): number => interpret(fwd, feeds, { precision: 'f64' }).get('loss')!.data[0]!;
  const eps = spec.eps ?? 1e-6;
  let maxErr = 0;
  let worst = '';
  const grads: Record<string, Float64Array> = {};
  for (const p of params) {
    const analytic = Float64Array.from(res.get(gradName(p))!.data);
    grads[p] = analytic;
    const v = pv[p]!;
    for (let i = 0; i < v.length; i++) {
      const x0 = v[i]!;
      v[i] = x0 + eps;
      const up = lossAt();
      v[i] = x0 - eps;
      const down = lossAt();
      v[i] = x0;
      const numeric = (up - down) / (2 * eps);
      const err = Math.abs(analytic[i]! - numeric) / Math.max(1, Math.abs(numeric));
      if (err > maxErr) {
        maxErr = err;
        worst = `${p}[${i}]: analytic ${analytic[i]} numeric ${numeric}`;
      }
    }
  }
  return { maxErr, worst, grads, graph };
}

// ---- composites from primitives ----

export function softmax(b: GraphBuilder, x: number, axis: string): number {
  const m = b.reduce('max', x, axis);
  const e = b.unary('exp', b.sub(x, m));
  return b.div(e, b.reduce('sum', e, axis));
}

export function layernorm(b: GraphBuilder, x: number, axis: string, gamma: number, beta: number): number {
  const xc = b.sub(x, b.mean(x, axis));
  const variance = b.mean(b.mul(xc, xc), axis);
  const inv = b.unary('recip', b.unary('sqrt', b.add(variance, b.constant(1e-5))));
  return b.add(b.mul(b.mul(xc, inv), gamma), beta);
}

/** GPT-2's tanh GELU: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function gelu(b: GraphBuilder, x: number): number {
  const x3 = b.mul(x, b.mul(x, x));
  const inner = b.scale(b.add(x, b.scale(x3, 0.044715)), Math.sqrt(2 / Math.PI));
  return b.mul(b.scale(x, 0.5), b.add(b.constant(1), b.unary('tanh', inner)));
}

/** Mean over every axis of targets of (logsumexp(logits) - logits[target]). */
export function crossEntropy(b: GraphBuilder, logits: number, targets: number, classAxis: string): number {
  const m = b.reduce('max', logits, classAxis);
  const lse = b.add(m, b.unary('log', b.reduce('sum', b.unary('exp', b.sub(logits, m)), classAxis)));
  let nll = b.sub(lse, b.gather(logits, targets, classAxis));
  for (const ax of b.type(targets).axes) nll = b.mean(nll, ax.name);
  return nll;
}

/** scores with key positions after the query position set to -1e9 (scores has axes q and k). */
export function causalMask(b: GraphBuilder, scores: number, q: Axis, k: Axis): number {
  const future = b.binary('gt', b.iota(k), b.iota(q));
  return b.select(future, b.constant(-1e9), scores);
}

export function relu(b: GraphBuilder, x: number): number {
  return b.binary('max', x, b.constant(0));
}

// ---- a tiny GPT (pre-norm, learned positions, tied head) ----

export interface GptDims { B: number | string; L: number; V: number; D: number; H: number; layers: number }

export function tinyGpt(b: GraphBuilder, d: GptDims): { loss: number; logits: number } {
  const K = d.D / d.H;
  const B: Axis = { name: 'B', size: d.B };
  const L: Axis = { name: 'L', size: d.L };
  const M: Axis = { name: 'M', size: d.L };
  const V: Axis = { name: 'V', size: d.V };
  const D: Axis = { name: 'D', size: d.D };
  const F: Axis = { name: 'F', size: 4 * d.D };
  const H: Axis = { name: 'H', size: d.H };
  const Kx: Axis = { name: 'K', size: K };
  const tokens = b.input('tokens', [B, L], 'i32');
  const targets = b.input('targets', [B, L], 'i32');
  const wte = b.param('wte', [V, D], { kind: 'normal', std: 0.02 });
  const wpe = b.param('wpe', [L, D], { kind: 'normal', std: 0.01 });
  let x = b.label(b.add(b.gather(wte, tokens, 'V'), wpe), 'x_BLD');
  const ln = (y: number, name: string): number =>
    layernorm(b, y, 'D', b.param(`${name}.g`, [D], { kind: 'ones' }), b.param(`${name}.b`, [D], { kind: 'zeros' }));
  const linear = (y: number, from: Axis, to: Axis[], name: string): number => {
    const w = b.param(`${name}.w`, [from, ...to], { kind: 'normal', std: 0.02 });
    const out = b.contract(y, w, [...b.type(y).axes.filter((a) => a.name !== from.name).map((a) => a.name), ...to.map((a) => a.name)]);
    return b.add(out, b.param(`${name}.b`, to, { kind: 'zeros' }));
  };
  for (let l = 0; l < d.layers; l++) {
    const h = ln(x, `h${l}.ln1`);
    const q = linear(h, D, [H, Kx], `h${l}.q`);
    const k = b.rename(linear(h, D, [H, Kx], `h${l}.k`), 'L', 'M');
    const v = b.rename(linear(h, D, [H, Kx], `h${l}.v`), 'L', 'M');
    const scores = b.scale(b.contract(q, k, ['B', 'H', 'L', 'M']), 1 / Math.sqrt(K));
    const w = softmax(b, causalMask(b, scores, L, M), 'M');
    const mixed = b.contract(w, v, ['B', 'L', 'H', 'K']);
    const att = linear(b.merge(mixed, ['H', 'K'], { name: 'E', size: d.D }), { name: 'E', size: d.D }, [D], `h${l}.proj`);
    x = b.add(x, att);
    const hidden = gelu(b, linear(ln(x, `h${l}.ln2`), D, [F], `h${l}.fc`));
    x = b.label(b.add(x, linear(hidden, F, [D], `h${l}.out`)), `x${l}_BLD`);
  }
  const logits = b.label(b.contract(ln(x, 'lnf'), wte, ['B', 'L', 'V']), 'logits_BLV');
  const loss = b.label(crossEntropy(b, logits, targets, 'V'), 'loss');
  return { loss, logits };
}
