// Reverse-mode autodiff as a rule table: one entry per primitive, each with its math.
// g is the gradient arriving at the node's output y; a rule returns one gradient per input
// (null: none flows). Rules may return a gradient with extra (broadcast) axes or another axis
// order; `unbroadcast` reduce-sums the axes the operand lacks and permutes to its layout.

import { GraphBuilder } from './builder.js';
import type { Graph, Node, Op, OpKind, OpOf, TensorType } from './types.js';
import { gradName } from './types.js';
import { softmaxAt } from './patterns.js';

interface RuleCtx<K extends OpKind> {
  b: GraphBuilder;
  op: OpOf<K>;
  node: Node; // the forward node (y)
  x: number[]; // its inputs
  g: number; // d loss / d y
}

type Rule<K extends OpKind> = (c: RuleCtx<K>) => (number | null)[];

const none = (c: { x: number[] }): null[] => c.x.map(() => null);

const RULES: { [K in OpKind]: Rule<K> } = {
  input: none,
  param: none,
  const: none,
  iota: none,
  random: none,
  unary: ({ b, op, node, x: [a], g }) => {
    const y = node.id;
    switch (op.fn) {
      case 'neg': return [b.neg(g)]; //                          f = -a        da = -g
      case 'exp': return [b.mul(g, y)]; //                       f = e^a       da = g * f
      case 'log': return [b.div(g, a!)]; //                      f = ln a      da = g / a
      case 'sqrt': return [b.scale(b.div(g, y), 0.5)]; //       f = sqrt a    da = g / (2 f)
      case 'recip': return [b.neg(b.mul(g, b.mul(y, y)))]; //    f = 1/a       da = -g * f^2
      case 'tanh': //                                            f = tanh a    da = g * (1 - f^2)
        return [b.mul(g, b.sub(b.constant(1), b.mul(y, y)))];
      case 'sin': return [b.mul(g, b.unary('cos', a!))]; //      f = sin a     da = g * cos a
      case 'cos': return [b.neg(b.mul(g, b.unary('sin', a!)))]; // f = cos a   da = -g * sin a
    }
  },
  binary: ({ b, op, node, x: [a, c], g }) => {
    const y = node.id;
    switch (op.fn) {
      case 'add': return [g, g]; //                          f = a + b   da = g          db = g
      case 'sub': return [g, b.neg(g)]; //                   f = a - b   da = g          db = -g
      case 'mul': return [b.mul(g, c!), b.mul(g, a!)]; //    f = a * b   da = g * b      db = g * a
      case 'div': //                                         f = a / b   da = g / b      db = -g * f / b
        return [b.div(g, c!), b.neg(b.div(b.mul(g, y), c!))];
      case 'max': //                     f = max(a, b)   da = g * [a >= b]   db = g * [a < b]  (ties go to a)
        return [b.mul(g, b.binary('ge', a!, c!)), b.mul(g, b.binary('lt', a!, c!))];
      case 'min': //                     f = min(a, b)   da = g * [a <= b]   db = g * [a > b]
        return [b.mul(g, b.binary('le', a!, c!)), b.mul(g, b.binary('gt', a!, c!))];
      default: return [null, null]; //   compare, mod: piecewise constant (mod's da = g is deliberately not passed)
    }
  },
  // f = c ? a : b      dc = none   da = c ? g : 0   db = c ? 0 : g
  select: ({ b, x: [c, , ], g }) => {
    const zero = b.constant(0);
    return [null, b.select(c!, g, zero), b.select(c!, zero, g)];
  },
  cast: none,
  reduce: ({ b, op, node, x: [a], g }) => {
    // f = sum_k a_k        da_k = g
    if (op.fn === 'sum') return [g];
    // f = max_k a_k        da_k = g * [a_k == f] / #{k : a_k == f}   (ties share the gradient)
    const hit = b.binary('eq', a!, node.id);
    return [b.mul(hit, b.div(g, b.reduce('sum', hit, op.axis)))];
  },
  // f[o] = sum_s a[..] b[..]     da = contract(g, b -> a's axes)   db = contract(g, a -> b's axes)
  contract: ({ b, x: [a, c], g }) => [
    b.contract(g, c!, b.type(a!).axes.map((ax) => ax.name)),
    b.contract(g, a!, b.type(c!).axes.map((ax) => ax.name)),
  ],
  // f[i.., r..] = t[k = idx[i..], r..]     dt = scatterAdd(g, idx) into t's axes   didx = none
  gather: ({ b, op, x: [t, idx], g }) => {
    const tt = b.type(t!);
    const axis = tt.axes.find((ax) => ax.name === op.axis)!;
    return [b.scatterAdd(g, idx!, axis, tt.axes.map((ax) => ax.name)), null];
  },
  // f[k = idx[i..], r..] += v[i.., r..]    dv = gather(g, idx)   didx = none
  scatterAdd: ({ b, op, x: [, idx], g }) => [b.gather(g, idx!, op.axis.name), null],
  // layout ops move values without arithmetic: the gradient moves back
  permute: ({ b, x: [a], g }) => [b.permute(g, b.type(a!).axes.map((ax) => ax.name))],
  split: ({ b, op, x: [a], g }) => {
    const whole = b.type(a!).axes.find((ax) => ax.name === op.axis)!;
    return [b.merge(g, op.into.map((ax) => ax.name), whole)];
  },
  merge: ({ b, op, x: [a], g }) => {
    const parts = op.axes.map((n) => b.type(a!).axes.find((ax) => ax.name === n)!);
    return [b.split(g, op.into.name, parts)];
  },
  rename: ({ b, op, g }) => [b.rename(g, op.to, op.from)],
  slice: ({ b, op, x: [a], g }) => {
    const full = b.type(a!).axes.find((ax) => ax.name === op.axis)!.size;
    return [b.pad(g, op.axis, op.start, full)];
  },
  pad: ({ b, op, x: [a], g }) => {
    const size = b.type(a!).axes.find((ax) => ax.name === op.axis)!.size;
    return [b.slice(g, op.axis, op.start, size)];
  },
  // f = broadcast a      da = sum of g over the new axes (done by unbroadcast)
  expand: ({ g }) => [g],
};

/**
 * softmax(x) over `axis` as the lowering writes it (patterns.ts, softmaxAt), where the max, the
 * shifted x, e and the sum feed nothing else. Its gradient is one rule instead of five:
 *   dx = w * (g - D),   D = sum_axis(g * w)
 * (the max path carries nothing in exact arithmetic, so it is left out). When the only reader of w
 * is a contraction out = w . v over `axis` alone (attention), D = sum_v(dout * out) over the value
 * axes: no L x M reduction, so a streaming backward can recompute w from the dot products.
 */
interface SoftmaxChain {
  x: number;
  axis: string;
  /** Reads of w other than its own chain: none, or the one contraction over `axis`. */
  into?: number;
}

function softmaxChains(graph: Graph): Map<number, SoftmaxChain> {
  const consumers: number[][] = graph.nodes.map(() => []);
  for (const n of graph.nodes) for (const i of new Set(n.inputs)) consumers[i]!.push(n.id);
  const only = (id: number, ...readers: number[]) => consumers[id]!.length === readers.length && readers.every((r) => consumers[id]!.includes(r));
  const found = new Map<number, SoftmaxChain>();
  for (const w of graph.nodes) {
    const m = softmaxAt(graph, w.id);
    if (m === null) continue;
    if (!only(m.max, m.shifted) || !only(m.shifted, m.exp) || !only(m.exp, w.id, m.sum) || !only(m.sum, w.id)) continue;
    const axis = m.axis;
    const chain: SoftmaxChain = { x: m.x, axis };
    const readers = consumers[w.id]!;
    const c = readers.length === 1 ? graph.nodes[readers[0]!]! : undefined;
    if (c?.op.kind === 'contract' && c.inputs[0] !== c.inputs[1]) {
      const has = (id: number, a: string) => graph.nodes[id]!.type.axes.some((ax) => ax.name === a);
      const summed = [...new Set(c.inputs.flatMap((i) => graph.nodes[i]!.type.axes.map((ax) => ax.name)))].filter((a) => !has(c.id, a));
      const rowsKept = w.type.axes.every((ax) => ax.name === axis || has(c.id, ax.name));
      if (summed.length === 1 && summed[0] === axis && rowsKept) chain.into = c.id;
    }
    found.set(w.id, chain);
  }
  return found;
}

/** The gradient of a softmax chain's x (SoftmaxChain), given g at w (and at its contraction). */
function softmaxGrad(b: GraphBuilder, w: Node, chain: SoftmaxChain, g: number, total: ReadonlyMap<number, number>): number {
  const rows = w.type.axes.map((ax) => ax.name).filter((a) => a !== chain.axis);
  const gOut = chain.into === undefined ? undefined : total.get(chain.into);
  let d: number;
  if (gOut !== undefined) {
    // a row reduction of dout * out over the value axes (one row kernel after fusion)
    d = b.mul(gOut, chain.into!);
    for (const a of b.type(chain.into!).axes) if (!rows.includes(a.name)) d = b.reduce('sum', d, a.name);
  } else d = b.reduce('sum', b.mul(g, w.id), chain.axis);
  return b.mul(w.id, b.sub(g, d));
}

/** Reduce-sum the axes of g that `to` lacks, broadcast to axes g lacks, then permute to `to`'s layout. */
function unbroadcast(b: GraphBuilder, g: number, to: TensorType): number {
  for (const ax of b.type(g).axes) {
    if (!to.axes.some((t) => t.name === ax.name)) g = b.reduce('sum', g, ax.name);
  }
  if (b.type(g).axes.length < to.axes.length) return b.expand(g, to.axes);
  return b.permute(g, to.axes.map((ax) => ax.name));
}

/**
 * A new graph: the forward nodes, then the backward nodes. Outputs: the original ones plus
 * `grad:<param>` for each param in `wrt`. A non-scalar loss is differentiated as its sum.
 */
export function differentiate(graph: Graph, loss: string, wrt: readonly string[]): Graph {
  const lossId = graph.outputs.get(loss);
  if (lossId === undefined) throw new Error(`differentiate: no output '${loss}'`);
  for (const p of wrt) if (!graph.params.has(p)) throw new Error(`differentiate: no param '${p}'`);
  const b = GraphBuilder.from(graph);
  const forwardCount = graph.nodes.length;

  // Only nodes between a wrt param and the loss carry gradients.
  const wrtIds = new Set(wrt.map((p) => graph.params.get(p)!));
  const live = graph.nodes.map((n) => wrtIds.has(n.id));
  for (const n of graph.nodes) {
    if (n.type.dtype === 'f32' && n.inputs.some((i) => live[i])) live[n.id] = true;
  }

  const pending = new Map<number, number[]>();
  const push = (id: number, g: number): void => {
    const list = pending.get(id);
    if (list) list.push(g);
    else pending.set(id, [g]);
  };
  const lossNode = graph.nodes[lossId]!;
  if (lossNode.type.dtype !== 'f32') throw new Error(`differentiate: loss '${loss}' is not f32`);
  if (live[lossId]) push(lossId, b.expand(b.constant(1), lossNode.type.axes));

  const total = new Map<number, number>();
  const softmax = softmaxChains(graph);
  for (let id = lossId; id >= 0; id--) {
    const parts = pending.get(id);
    if (!parts) continue;
    pending.delete(id);
    const g = parts.reduce((s, p) => b.add(s, p));
    total.set(id, g);
    const node = graph.nodes[id]!;
    if (node.label && g >= forwardCount && b.node(g).label === undefined) b.label(g, `d ${node.label}`);
    const chain = softmax.get(id);
    if (chain !== undefined) {
      // the chain's inner nodes receive nothing, so the loop passes over them
      if (live[chain.x]) push(chain.x, unbroadcast(b, softmaxGrad(b, node, chain, g, total), graph.nodes[chain.x]!.type));
      continue;
    }
    const rule = RULES[node.op.kind] as Rule<Op['kind']>;
    const grads = rule({ b, op: node.op, node, x: node.inputs, g });
    node.inputs.forEach((inp, j) => {
      const gi = grads[j];
      if (gi === null || gi === undefined || !live[inp]) return;
      push(inp, unbroadcast(b, gi, graph.nodes[inp]!.type));
    });
  }

  for (const p of wrt) {
    const id = graph.params.get(p)!;
    const g = total.get(id) ?? b.expand(b.constant(0), graph.nodes[id]!.type.axes);
    b.output(gradName(p), g);
  }
  return dropDeadBackward(b.build(), forwardCount);
}

/**
 * Rules build gradients for every input before knowing which are wanted; drop the backward
 * nodes no output needs (forward nodes are kept as they were) and renumber.
 */
function dropDeadBackward(g: Graph, forwardCount: number): Graph {
  const needed = g.nodes.map((n) => n.id < forwardCount);
  for (const id of g.outputs.values()) needed[id] = true;
  for (let id = g.nodes.length - 1; id >= forwardCount; id--) {
    if (needed[id]) for (const i of g.nodes[id]!.inputs) needed[i] = true;
  }
  const remap = new Map<number, number>();
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    if (!needed[n.id]) continue;
    remap.set(n.id, nodes.length);
    nodes.push({ ...n, id: nodes.length, inputs: n.inputs.map((i) => remap.get(i)!) });
  }
  const re = (m: Map<string, number>) => new Map([...m].map(([k, v]) => [k, remap.get(v)!]));
  return { nodes, inputs: re(g.inputs), params: re(g.params), outputs: re(g.outputs) };
}
