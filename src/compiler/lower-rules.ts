// One rule per construct of the checked graph: each writes its node in the IR's few primitives
// (softmax, causal, mean, reshape, one-hot contraction, dropout among them), so their gradients
// come from the primitives' rules and fusion sees them whole. A rule gets the lowering's state,
// the node, its op and the IR nodes of its arguments, and returns the IR node it made.
import { MASKED_SCORE } from '../ir/index.js';
import type { GNode, GOp } from './graph.js';
import { NEXT_SUFFIX, type Lowering } from './lower-state.js';

type LowerRule<K extends GOp['kind']> = (l: Lowering, n: GNode, op: Extract<GOp, { kind: K }>, a: number[]) => number;

/** Every kind of checked op has its rule (the type makes a missing one an error). */
export const LOWER_RULES: { readonly [K in GOp['kind']]: LowerRule<K> } = {
  input: (l, n, op) => {
    const onehot = op.onehot;
    const axes = (onehot ? n.axes.slice(0, -1) : n.axes).map((x) => l.axis(x));
    const id = l.b.input(op.name, axes, onehot ? 'i32' : 'f32');
    l.inputs.set(op.name, { source: op.name, tokens: onehot, shifted: false, classes: onehot ? l.info(n.axes[n.axes.length - 1]!).size! : undefined });
    return id;
  },
  next: (l, n, op) => {
    const src = l.m.nodes[n.args[0]!]!;
    const name = op.input + NEXT_SUFFIX;
    const id = l.b.input(name, src.axes.slice(0, -1).map((x) => l.axis(x)), 'i32');
    l.inputs.set(name, { source: op.input, tokens: true, shifted: true, classes: l.info(src.axes[src.axes.length - 1]!).size! });
    return id;
  },
  param: (l, n, op) => {
    const b = l.b;
    let id = b.param(op.path, n.axes.map((x) => l.declared(x)), op.init);
    // A table over a sequence letter (wpe_LD) holds the maximum; a run uses its first rows,
    // a decoding step the rows of its positions.
    for (const x of n.axes) {
      if (!l.info(x).sequence) continue;
      if (l.opts.decode && l.queryAxes.has(x)) {
        const table = b.rename(id, x, `${x}#table`);
        id = b.gather(table, b.cast(l.positions(x), 'i32'), `${x}#table`);
      } else id = b.slice(id, x, 0, l.runtimeSize(x));
    }
    return id;
  },
  number: (l, _n, op) => l.b.constant(op.value),
  size: (l, _n, op) => l.b.sizeOf(l.runtimeSize(op.axis)),
  unary: (l, _n, op, a) => (op.fn === 'abs' ? l.b.binary('max', a[0]!, l.b.unary('neg', a[0]!)) : l.b.unary(op.fn, a[0]!)),
  binary: (l, n, op, a) => (op.fn === 'pow' ? power(l, n, a[0]!, a[1]!) : l.b.binary(op.fn, a[0]!, a[1]!)),
  select: (l, _n, _op, a) => l.b.select(a[0]!, a[1]!, a[2]!),
  reduce: (l, _n, op, a) => {
    const b = l.b;
    let id = a[0]!;
    for (const x of op.over) {
      if (op.fn === 'sum') id = b.reduce('sum', id, x);
      else if (op.fn === 'mean') id = b.mean(id, x);
      else if (op.fn === 'max') id = b.reduce('max', id, x);
      else id = b.unary('neg', b.reduce('max', b.unary('neg', id), x)); // min x = -max(-x)
    }
    return id;
  },
  contract: (l, n, _op, a) => {
    const [left, right] = n.args as [number, number];
    if (!l.isTokens(left) && !l.isTokens(right)) return l.b.contract(a[0]!, a[1]!, n.axes);
    // A one-hot operand contracted over its class letter is a row lookup.
    const [index, table, tokenNode] = l.isTokens(left) ? [a[0]!, a[1]!, left] : [a[1]!, a[0]!, right];
    return l.b.gather(table, index, l.m.nodes[tokenNode]!.axes.at(-1)!);
  },
  softmax: (l, _n, op, a) => {
    // exp(x - max x) / sum exp(x - max x): the max keeps exp in range. Autodiff and fusion
    // recognise this chain (src/ir/patterns.ts, softmaxAt).
    const b = l.b;
    const shifted = b.binary('sub', a[0]!, b.reduce('max', a[0]!, op.over));
    const e = b.unary('exp', shifted);
    return b.binary('div', e, b.reduce('sum', e, op.over));
  },
  causal: (l, _n, op, a) => {
    const q = l.positions(op.query, l.opts.positionOffset);
    const k = l.b.iota(l.axis(op.key));
    return l.b.select(l.b.binary('le', k, q), a[0]!, l.b.constant(MASKED_SCORE));
  },
  reshape: (l, _n, op, a) => reshape(l, a[0]!, op.from, op.to),
  permute: (_l, _n, _op, a) => a[0]!,
  iota: (l, _n, op) => (l.info(op.axis).sequence ? l.positions(op.axis, l.opts.positionOffset) : l.b.iota(l.axis(op.axis))),
  valid: (l, _n, _op, a) => l.b.binary('ge', l.b.cast(a[0]!, 'f32'), l.b.constant(0)),
  dropout: (l, _n, op, a) => {
    if (!l.opts.training) return a[0]!;
    // Inverted dropout: keep with probability 1 - p and scale by 1 / (1 - p).
    const b = l.b;
    const keep = b.binary('ge', b.random(b.type(a[0]!).axes, l.nextRandomStream()), b.constant(op.p));
    return b.binary('mul', a[0]!, b.binary('mul', keep, b.constant(1 / (1 - op.p))));
  },
};

/** x^e: repeated products for a small whole exponent, else exp(e log x) (for positive x). */
function power(l: Lowering, n: GNode, x: number, e: number): number {
  const b = l.b;
  const exponent = l.m.nodes[n.args[1]!]!.op;
  if (exponent.kind === 'number' && Number.isInteger(exponent.value) && exponent.value >= 1 && exponent.value <= 8) {
    let r = x;
    for (let i = 1; i < exponent.value; i++) r = b.binary('mul', r, x);
    return r;
  }
  // x^e = exp(e log x), for positive x (the prelude uses it for 10000^(2i/D)).
  return b.unary('exp', b.binary('mul', e, b.unary('log', x)));
}

/** Split, merge or rename: the `from` axes are brought together in order, then replaced. */
function reshape(l: Lowering, x: number, from: string[], to: string[]): number {
  const b = l.b;
  if (from.length === 1 && to.length === 1) {
    l.inheritSymbol(from[0]!, to[0]!);
    return b.rename(x, from[0]!, to[0]!);
  }
  const have = b.type(x).axes.map((a) => a.name);
  const at = Math.min(...from.map((f) => have.indexOf(f)));
  const others = have.filter((h) => !from.includes(h));
  const before = have.slice(0, at).filter((h) => !from.includes(h));
  const order = [...before, ...from, ...others.slice(before.length)];
  const id = order.every((o, i) => have[i] === o) ? x : b.permute(x, order);
  if (from.length > 1) {
    const merged = from.join('');
    const whole = b.merge(id, from, { name: to.length === 1 ? to[0]! : `(${merged})`, size: from.reduce((p, f) => p * l.info(f).size!, 1) });
    if (to.length === 1) return whole;
    return b.split(whole, `(${merged})`, to.map((t) => l.declared(t)));
  }
  return b.split(id, from[0]!, to.map((t) => l.declared(t)));
}
