// Attention as streaming kernels: out = contract(softmax_M(scores(contract(q, k))), v), where the
// softmax is the IR's own max / sub / exp / sum / div chain over the key axis M (src/ir/patterns.ts)
// and `scores` is any elementwise expression of the dot products (a scale, a causal mask built from
// iota and a compare, an additive mask read from a tensor). The forward kernel streams over M with
// an online softmax (running max and sum, accumulator rescaled when the max grows), so neither the
// L x M dot products nor the weights are ever stored.
//
// The backward (autodiff's softmax rule: dscores = w * (dw - D), D = dout . out per row) reads the
// weights and the dot product dout . v, both L x M. They form a region with the forward's
// intermediates: L x M nodes computed elementwise from dot products, row values (the max and sum,
// which the forward kernel then writes) and indices. Every contraction that sums a region node
// against an outside tensor (dq, dk, dv) becomes a kernel of the same template that streams over
// the summed axes and recomputes its region operand per step from q, k, v and dout: the L x M
// matrix is never stored, forward or backward (FlashAttention's recomputation).
//
// Anything else reading the region (an output of the weights, a reduction the backward rule
// did not simplify) keeps the ordinary fusion: contraction, softmax row kernel, contraction.

import type { Graph, Node } from '../types.js';
import { BROADCASTS, isMaskedScore, peel, softmaxAt } from '../patterns.js';
import { postOrder } from '../walk.js';
import { MAX_INLINE_DEPTH, type KeyBound, type StreamedContraction } from './types.js';

export interface AttentionMatch extends StreamedContraction {
  /** The contraction the kernel computes. */
  out: number;
  /** The forward's max and sum are written when the backward reads them. */
  softmax?: StreamedContraction['softmax'] & { written: boolean };
  /** Every node of the region (never materialised), shared by the forward and backward kernels. */
  interior: number[];
}

interface ForwardChain {
  out: number;
  weights: number;
  v: number;
  logits: number;
  scores: number;
  max: number;
  sum: number;
  axis: string;
  rowAxes: string[];
  /** The chain's nodes computed only in the kernel (not the max and sum). */
  inner: number[];
}

const ELEMENTWISE = new Set(['unary', 'binary', 'select', 'cast', 'expand', 'permute']);

const names = (n: Node): string[] => n.type.axes.map((a) => a.name);

/** Every attention kernel in the graph (the forward's and its backward's), by the contraction it computes. */
export function findAttention(g: Graph, consumers: readonly number[][], outputs: ReadonlySet<number>, needed: readonly boolean[]): Map<number, AttentionMatch> {
  const found = new Map<number, AttentionMatch>();
  for (const n of g.nodes) {
    if (!needed[n.id] || n.op.kind !== 'contract' || found.has(n.id)) continue;
    for (const w of [0, 1]) {
      const f = forwardChain(g, n, w);
      if (f === null) continue;
      const r = region(g, consumers, outputs, needed, f);
      // a region far past any real model's (11 nodes, 2026-12-03) keeps the ordinary fusion, where
      // long chains are cut: an attention kernel computes its whole region inline
      if (r === null || r.nodes.size > MAX_INLINE_DEPTH) break;
      const interior = [...r.nodes].sort((a, b) => a - b);
      const written = r.streams.length > 0;
      found.set(f.out, {
        out: f.out,
        pairs: f.weights,
        x: f.v,
        stream: [f.axis],
        rowAxes: f.rowAxes,
        dots: [f.logits],
        softmax: { scores: f.scores, max: f.max, sum: f.sum, written },
        keyBound: keyBound(g, g.nodes[f.scores]!, f.axis) ?? undefined,
        // with no backward, the max and sum stay in registers too
        interior: written ? interior : [...interior, f.max, f.sum].sort((a, b) => a - b),
      });
      for (const s of r.streams) found.set(s.out, { ...s, interior });
      break;
    }
  }
  return found;
}

function forwardChain(g: Graph, out: Node, wIndex: number): ForwardChain | null {
  const passed: number[] = [];
  const weights = peel(g, out.inputs[wIndex]!, BROADCASTS, passed);
  const v = g.nodes[out.inputs[1 - wIndex]!]!;
  const softmax = softmaxAt(g, weights.id, BROADCASTS);
  if (softmax === null) return null;
  const { axis } = softmax;
  const scores = g.nodes[softmax.x]!;

  // the second contraction sums over the key axis only, and keeps every row axis
  const rowAxes = names(scores).filter((a) => a !== axis);
  const outAxes = new Set(names(out));
  if (!names(scores).includes(axis) || outAxes.has(axis) || !rowAxes.every((a) => outAxes.has(a))) return null;
  if (!names(v).every((a) => a === axis || outAxes.has(a)) || !names(v).includes(axis)) return null;
  if (names(weights).some((a) => a !== axis && !outAxes.has(a))) return null;

  // scores: elementwise in the dot products, which are reached through coordinate-preserving ops
  let logits: Node | undefined;
  // (in the order a recursive walk finishes them, so the first contraction reached is the same)
  const dependsOn = new Map<number, boolean>();
  const hitBy = (id: number): boolean => (g.nodes[id]!.op.kind === 'contract' ? id === logits?.id : dependsOn.get(id)!);
  for (const id of postOrder(g, scores.id, (id) => ELEMENTWISE.has(g.nodes[id]!.op.kind))) {
    const n = g.nodes[id]!;
    if (n.op.kind === 'contract') {
      logits ??= n;
      if (logits.id === id) dependsOn.set(id, true);
    } else dependsOn.set(id, ELEMENTWISE.has(n.op.kind) && n.inputs.some(hitBy));
  }
  if (!hitBy(scores.id) || logits === undefined) return null;
  for (const [id, hit] of dependsOn) if (hit && id !== logits.id && !ELEMENTWISE.has(g.nodes[id]!.op.kind)) return null;
  const lg = logits as Node;
  if (names(lg).length !== names(scores).length || !names(scores).every((a) => names(lg).includes(a))) return null;
  const [q, k] = lg.inputs as [number, number];
  const qAxes = names(g.nodes[q]!);
  const kAxes = names(g.nodes[k]!);
  const summed = [...new Set([...qAxes, ...kAxes])].filter((a) => !names(lg).includes(a));
  if (!summed.every((a) => qAxes.includes(a) && kAxes.includes(a))) return null;
  if ([out, v, lg, g.nodes[q]!, g.nodes[k]!].some((n) => n.type.dtype !== 'f32')) return null;

  const inner = new Set<number>([...passed, ...softmax.passed, weights.id, softmax.exp, softmax.shifted]);
  for (const [id, hit] of dependsOn) if (hit) inner.add(id);
  return { out: out.id, weights: weights.id, v: v.id, logits: lg.id, scores: scores.id, max: softmax.max, sum: softmax.sum, axis, rowAxes, inner: [...inner] };
}

/**
 * The region of a forward chain: its inner nodes, the L x M elementwise nodes that read them, and
 * the L x M dot products those read; and the contractions that sum region nodes against outside
 * tensors (the backward's streams). Null when anything else reads the region.
 */
function region(g: Graph, consumers: readonly number[][], outputs: ReadonlySet<number>, needed: readonly boolean[], f: ForwardChain): { nodes: Set<number>; streams: Omit<AttentionMatch, 'interior'>[] } | null {
  const shape = g.nodes[f.scores]!;
  const pairShaped = (n: Node): boolean =>
    n.type.dtype === 'f32' && n.type.axes.length === shape.type.axes.length && shape.type.axes.every((a) => n.type.axes.some((b) => b.name === a.name && b.size === a.size));
  const dotted = new Map<number, boolean>();
  const fromDots = (id: number): boolean => {
    const elementwise = (x: number): boolean => pairShaped(g.nodes[x]!) && ELEMENTWISE.has(g.nodes[x]!.op.kind) && !dotted.has(x);
    for (const x of postOrder(g, id, elementwise)) {
      if (dotted.has(x)) continue;
      const n = g.nodes[x]!;
      dotted.set(x, pairShaped(n) && (n.op.kind === 'contract' || (ELEMENTWISE.has(n.op.kind) && n.inputs.some((i) => dotted.get(i)))));
    }
    return dotted.get(id)!;
  };
  const nodes = new Set(f.inner);
  const candidates = new Set<number>();
  const queue = [...nodes];
  const join = (id: number): void => {
    nodes.add(id);
    queue.push(id);
  };
  while (queue.length > 0) {
    const id = queue.pop()!;
    if (outputs.has(id)) return null;
    const n = g.nodes[id]!;
    // L x M inputs computed from L x M dot products (the backward's dout . v, and what it feeds)
    if (n.op.kind !== 'contract') for (const i of n.inputs) if (!nodes.has(i) && fromDots(i)) join(i);
    for (const u of consumers[id]!) {
      if (nodes.has(u) || u === f.max || u === f.sum || u === f.out || !needed[u]) continue;
      const un = g.nodes[u]!;
      if (ELEMENTWISE.has(un.op.kind) && pairShaped(un)) join(u);
      else if (un.op.kind === 'contract') candidates.add(u);
      else return null;
    }
  }
  for (const id of nodes) {
    const n = g.nodes[id]!;
    if (n.op.kind === 'contract' && n.inputs.some((i) => nodes.has(i))) return null;
  }
  for (const id of [f.max, f.sum]) if (outputs.has(id) || consumers[id]!.some((u) => !nodes.has(u))) return null;
  // the forward's v is read per step like any outside tensor
  if (nodes.has(f.v)) return null;

  const streams: Omit<AttentionMatch, 'interior'>[] = [];
  for (const u of candidates) {
    const c = g.nodes[u]!;
    const inside = c.inputs.filter((i) => nodes.has(i));
    if (inside.length !== 1 || c.inputs[0] === c.inputs[1]) return null;
    const pairs = g.nodes[inside[0]!]!;
    const x = g.nodes[c.inputs.find((i) => !nodes.has(i))!]!;
    const outAxes = names(c);
    const stream = [...new Set([...names(pairs), ...names(x)])].filter((a) => !outAxes.includes(a));
    if (stream.length === 0 || !stream.every((a) => names(pairs).includes(a)) || x.type.dtype !== 'f32' || c.type.dtype !== 'f32') return null;
    // the dot products the operand is computed from
    const dots = postOrder(g, pairs.id, (id) => nodes.has(id) && g.nodes[id]!.op.kind !== 'contract').filter((id) => nodes.has(id) && g.nodes[id]!.op.kind === 'contract');
    // the bound is evaluated once per row, before the loop
    const bound = zeroBound(g, pairs.id, stream);
    const keyBound = bound && names(g.nodes[bound.bound]!).every((a) => outAxes.includes(a)) ? bound : undefined;
    streams.push({ out: u, pairs: pairs.id, x: x.id, stream, rowAxes: outAxes.filter((a) => names(pairs).includes(a)), dots: dots.sort((a, b) => a - b), keyBound });
  }
  return { nodes, streams };
}

/** The causal bound of the scores, if they mask keys past one (AttentionMatch.keyBound). */
function keyBound(g: Graph, scores: Node, axis: string): KeyBound | null {
  if (scores.op.kind !== 'select') return null;
  const [c, whenTrue, whenFalse] = scores.inputs as [number, number, number];
  // the condition under which a key is live: the select's, or its negation when the true arm is masked
  const deadWhenTrue = isMaskedScore(g, whenTrue);
  if (!deadWhenTrue && !isMaskedScore(g, whenFalse)) return null;
  const b = liveRange(g, c, deadWhenTrue, [axis]);
  return b && !b.lower ? b : null;
}

/**
 * A backward operand that is exactly zero outside a range of one streamed axis: select(cond, x, 0)
 * (autodiff's rule for the causal mask), scaled or multiplied. Steps outside add nothing, so the
 * kernel skips them: dq stops at the last key a query sees, dk starts at the first query that
 * sees the key.
 */
function zeroBound(g: Graph, id: number, stream: readonly string[]): KeyBound | null {
  const zero = (x: number): boolean => {
    const d = peel(g, x);
    return d.op.kind === 'const' && d.op.value === 0;
  };
  // depth-first, a product's left factor first: the first bound found (a chain may be deep)
  const stack = [id];
  while (stack.length > 0) {
    const n = peel(g, stack.pop()!);
    let found: KeyBound | null = null;
    if (n.op.kind === 'select') {
      const [c, whenTrue, whenFalse] = n.inputs as [number, number, number];
      if (zero(whenFalse) || zero(whenTrue)) found = liveRange(g, c, zero(whenTrue), stream);
    } else if (n.op.kind === 'unary' && n.op.fn === 'neg') stack.push(n.inputs[0]!);
    else if (n.op.kind === 'unary' && n.op.fn === 'exp') found = weightsBound(g, n.inputs[0]!, stream);
    else if (n.op.kind === 'binary' && (n.op.fn === 'mul' || n.op.fn === 'div')) {
      const [a, b] = n.inputs as [number, number];
      if (n.op.fn === 'mul') stack.push(b);
      stack.push(a);
    }
    if (found !== null) return found;
  }
  return null;
}

/**
 * The weights' zeros, for dv (the sum over queries of w * dout): exp(scores - max) where the
 * scores are select(m + oM <= l + oL, live, c), c a mask constant. A masked weight is exp(c - max)
 * = 0 whenever its row has a live key (a finite max); when oM <= oL (oM < oL if strict) key 0 is
 * live in every row, so queries before the key's first (l < m + oM - oL) add exactly nothing.
 */
function weightsBound(g: Graph, shifted: number, stream: readonly string[]): KeyBound | null {
  const sub = peel(g, shifted);
  if (sub.op.kind !== 'binary' || sub.op.fn !== 'sub') return null;
  const scores = peel(g, sub.inputs[0]!);
  if (scores.op.kind !== 'select') return null;
  const [c, whenTrue, whenFalse] = scores.inputs as [number, number, number];
  if (!isMaskedScore(g, whenTrue) && !isMaskedScore(g, whenFalse)) return null;
  const b = liveRange(g, c, isMaskedScore(g, whenTrue), stream);
  const key = b && peel(g, b.bound);
  if (!b?.lower || key?.op.kind !== 'iota' || typeof key.op.offset !== 'number') return null;
  const keyZeroLive = b.strict ? key.op.offset < b.offset : key.op.offset <= b.offset;
  return keyZeroLive ? b : null;
}

/** Where `c` (negated when deadWhenTrue) compares iota(A) + offset with a value free of A, for
 *  one of `axes`: the range of A it keeps live (an upper bound, or with `lower` a lower one). */
function liveRange(g: Graph, c: number, deadWhenTrue: boolean, axes: readonly string[]): KeyBound | null {
  const cond = peel(g, c);
  if (cond.op.kind !== 'binary') return null;
  let [x, y] = cond.inputs as [number, number];
  const NEGATE: Record<string, string> = { lt: 'ge', le: 'gt', gt: 'le', ge: 'lt' };
  let fn: string = deadWhenTrue ? NEGATE[cond.op.fn] ?? '' : cond.op.fn;
  if (fn === 'ge' || fn === 'gt') {
    [x, y] = [y, x];
    fn = fn === 'ge' ? 'le' : 'lt';
  }
  if (fn !== 'le' && fn !== 'lt') return null;
  // live where x <= y (or x < y): an upper bound when x is the iota, a lower one when y is
  const free = (id: number, axis: string) => !g.nodes[id]!.type.axes.some((a) => a.name === axis);
  for (const [iotaAt, other, lower] of [[x, y, false], [y, x, true]] as const) {
    const iota = peel(g, iotaAt);
    if (iota.op.kind !== 'iota' || !axes.includes(iota.op.axis.name) || typeof iota.op.offset !== 'number' || !free(other, iota.op.axis.name)) continue;
    return { axis: iota.op.axis.name, bound: other, offset: iota.op.offset, strict: fn === 'lt', lower };
  }
  return null;
}
