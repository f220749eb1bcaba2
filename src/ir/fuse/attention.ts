// Attention as one kernel: out = contract(softmax_M(scores(contract(q, k))), v), where the softmax
// is the IR's own max / sub / exp / sum / div chain over the key axis M and `scores` is any
// elementwise expression of the dot products (a scale, a causal mask built from iota and a
// compare, an additive mask read from a tensor). The kernel streams over M with an online softmax
// (running max and sum, accumulator rescaled when the max grows), so neither the L x M dot products
// nor the weights are ever stored.
//
// A match needs every intermediate (dot products, scores, max, exp, sum, weights) to feed nothing
// but the chain: in a training graph the backward reads the weights, so there the chain is fused
// the ordinary way (contraction, softmax row kernel, contraction).

import type { Graph, Node } from '../types.js';
import type { KeyBound } from './types.js';

export interface AttentionMatch {
  /** out = contract(weights, v), summing over `axis` only. */
  out: number;
  /** The operand of `out` that holds the weights, and the node read as v. */
  v: number;
  /** The dot products contract(q, k) over the head axes, and its operands. */
  logits: number;
  q: number;
  k: number;
  /** The expression of the dot products whose softmax over `axis` is taken. */
  scores: number;
  max: number;
  sum: number;
  /** The key axis (M): the softmax's and the second contraction's summed axis. */
  axis: string;
  /** The axes of one softmax row (the scores' axes minus `axis`). */
  rowAxes: string[];
  /** Every node computed only inside the kernel (never materialised). */
  interior: number[];
  /** Where the scores are select(iota(M) + offset <= bound (or < bound), live, c), bound free of
   *  M and c a mask constant (exp(c - anything live) = 0 in f32): keys past the bound add exactly
   *  nothing, so the kernel may stop there (a causal mask). */
  keyBound?: KeyBound;
}


const PASS = new Set(['expand', 'permute']);
const ELEMENTWISE = new Set(['unary', 'binary', 'select', 'cast', 'expand', 'permute']);

const names = (n: Node): string[] => n.type.axes.map((a) => a.name);

/** Every attention chain in the graph, by its output contraction. */
export function findAttention(g: Graph, consumers: readonly number[][], outputs: ReadonlySet<number>, needed: readonly boolean[]): Map<number, AttentionMatch> {
  const found = new Map<number, AttentionMatch>();
  for (const n of g.nodes) {
    if (!needed[n.id] || n.op.kind !== 'contract') continue;
    for (const w of [0, 1]) {
      const m = match(g, n, w);
      if (m === null) continue;
      const inside = new Set(m.interior);
      const closed = m.interior.every((id) => !outputs.has(id) && consumers[id]!.every((c) => inside.has(c) || c === m.out));
      if (closed) {
        found.set(n.id, m);
        break;
      }
    }
  }
  return found;
}

function match(g: Graph, out: Node, wIndex: number): AttentionMatch | null {
  const chain: number[] = [];
  /** Steps through broadcasts and permutes (free in the kernel), recording them as interior. */
  const peel = (id: number): Node => {
    let n = g.nodes[id]!;
    while (PASS.has(n.op.kind)) {
      chain.push(n.id);
      n = g.nodes[n.inputs[0]!]!;
    }
    return n;
  };
  const weights = peel(out.inputs[wIndex]!);
  const v = g.nodes[out.inputs[1 - wIndex]!]!;
  if (weights.op.kind !== 'binary' || weights.op.fn !== 'div') return null;
  const exp = peel(weights.inputs[0]!);
  const sum = peel(weights.inputs[1]!);
  if (exp.op.kind !== 'unary' || exp.op.fn !== 'exp') return null;
  if (sum.op.kind !== 'reduce' || sum.op.fn !== 'sum' || peel(sum.inputs[0]!).id !== exp.id) return null;
  const axis = sum.op.axis;
  const shifted = peel(exp.inputs[0]!);
  if (shifted.op.kind !== 'binary' || shifted.op.fn !== 'sub') return null;
  const scores = peel(shifted.inputs[0]!);
  const max = peel(shifted.inputs[1]!);
  if (max.op.kind !== 'reduce' || max.op.fn !== 'max' || max.op.axis !== axis || peel(max.inputs[0]!).id !== scores.id) return null;

  // the second contraction sums over the key axis only, and keeps every row axis
  const rowAxes = names(scores).filter((a) => a !== axis);
  const outAxes = new Set(names(out));
  if (!names(scores).includes(axis) || outAxes.has(axis) || !rowAxes.every((a) => outAxes.has(a))) return null;
  if (!names(v).every((a) => a === axis || outAxes.has(a)) || !names(v).includes(axis)) return null;
  if (names(weights).some((a) => a !== axis && !outAxes.has(a))) return null;

  // scores: elementwise in the dot products, which are reached through coordinate-preserving ops
  let logits: Node | undefined;
  const dependsOn = new Map<number, boolean>();
  const walk = (id: number): boolean => {
    const known = dependsOn.get(id);
    if (known !== undefined) return known;
    const n = g.nodes[id]!;
    let hit = false;
    if (n.op.kind === 'contract') {
      if (logits !== undefined && logits.id !== id) return false;
      logits = n;
      hit = true;
    } else if (ELEMENTWISE.has(n.op.kind)) {
      for (const i of n.inputs) if (walk(i)) hit = true;
    }
    dependsOn.set(id, hit);
    return hit;
  };
  if (!walk(scores.id) || logits === undefined) return null;
  for (const [id, hit] of dependsOn) if (hit && id !== logits.id && !ELEMENTWISE.has(g.nodes[id]!.op.kind)) return null;
  const lg = logits as Node;
  if (names(lg).length !== names(scores).length || !names(scores).every((a) => names(lg).includes(a))) return null;
  const [q, k] = lg.inputs as [number, number];
  const qAxes = names(g.nodes[q]!);
  const kAxes = names(g.nodes[k]!);
  const summed = [...new Set([...qAxes, ...kAxes])].filter((a) => !names(lg).includes(a));
  if (!summed.every((a) => qAxes.includes(a) && kAxes.includes(a))) return null;
  const all = [out, v, lg, g.nodes[q]!, g.nodes[k]!];
  if (all.some((n) => n.type.dtype !== 'f32')) return null;

  const interior = new Set<number>([...chain, weights.id, exp.id, sum.id, shifted.id, max.id]);
  for (const [id, hit] of dependsOn) if (hit) interior.add(id);
  return {
    out: out.id,
    v: v.id,
    logits: lg.id,
    q,
    k,
    scores: scores.id,
    max: max.id,
    sum: sum.id,
    axis,
    rowAxes,
    interior: [...interior].sort((a, b) => a - b),
    keyBound: keyBound(g, scores, axis) ?? undefined,
  };
}

/** The causal bound of the scores, if they mask keys past one (AttentionMatch.keyBound). */
function keyBound(g: Graph, scores: Node, axis: string): KeyBound | null {
  const peel = (id: number): Node => {
    let n = g.nodes[id]!;
    while (PASS.has(n.op.kind)) n = g.nodes[n.inputs[0]!]!;
    return n;
  };
  if (scores.op.kind !== 'select') return null;
  const [c, whenTrue, whenFalse] = scores.inputs as [number, number, number];
  const masked = (id: number): boolean => {
    const d = peel(id);
    return d.op.kind === 'const' && typeof d.op.value === 'number' && d.op.value <= -1e20;
  };
  // the condition under which a key is live: the select's, or its negation when the true arm is masked
  const deadWhenTrue = masked(whenTrue);
  if (!deadWhenTrue && !masked(whenFalse)) return null;
  const cond = peel(c);
  if (cond.op.kind !== 'binary') return null;
  let [x, y] = cond.inputs as [number, number];
  const NEGATE: Record<string, string> = { lt: 'ge', le: 'gt', gt: 'le', ge: 'lt' };
  let fn: string = deadWhenTrue ? NEGATE[cond.op.fn] ?? '' : cond.op.fn;
  if (fn === 'ge' || fn === 'gt') {
    [x, y] = [y, x];
    fn = fn === 'ge' ? 'le' : 'lt';
  }
  if (fn !== 'le' && fn !== 'lt') return null;
  const iota = peel(x);
  if (iota.op.kind !== 'iota' || iota.op.axis.name !== axis || typeof iota.op.offset !== 'number') return null;
  if (g.nodes[y]!.type.axes.some((a) => a.name === axis)) return null;
  return { bound: y, offset: iota.op.offset, strict: fn === 'lt' };
}
