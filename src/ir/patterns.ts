// Graph patterns that more than one layer agrees on: what the lowering writes (src/compiler/lower-rules.ts)
// and what autodiff and fusion look for in it. One home, so that the writer and the readers cannot
// drift apart: the softmax chain and the causal mask's value.

import type { Graph, Node, OpKind } from './types.js';

/**
 * The score a causal mask puts where a key is hidden: large enough to vanish under exp (exp(c -
 * anything finite) is exactly 0 in f32), small enough to stay finite in f32 arithmetic.
 */
export const MASKED_SCORE = -1e30;

/** Any constant at or below this is a mask (other writers pick their own huge negative). */
const MASKED_AT_MOST = -1e20;

/** Broadcasts and permutes: they move no value, so a pattern may look through them. */
export const BROADCASTS: ReadonlySet<OpKind> = new Set(['expand', 'permute']);

/** The node under any chain of `through` ops above `id`; each node stepped over goes to `passed`. */
export function peel(g: Graph, id: number, through: ReadonlySet<OpKind> = BROADCASTS, passed?: number[]): Node {
  let n = g.nodes[id]!;
  while (through.has(n.op.kind)) {
    passed?.push(n.id);
    n = g.nodes[n.inputs[0]!]!;
  }
  return n;
}

/** Whether `id` is a mask constant (MASKED_SCORE or another at most -1e20), through broadcasts. */
export function isMaskedScore(g: Graph, id: number): boolean {
  const d = peel(g, id);
  return d.op.kind === 'const' && typeof d.op.value === 'number' && d.op.value <= MASKED_AT_MOST;
}

/** softmax(x) over `axis` as the lowering writes it: weights = e / sum_axis(e), e = exp(x - max_axis(x)). */
export interface SoftmaxChain {
  weights: number;
  exp: number;
  sum: number;
  shifted: number;
  max: number;
  /** The softmax's input. */
  x: number;
  axis: string;
  /** The nodes stepped over between the chain's steps (see softmaxAt's `through`). */
  passed: number[];
}

const NOTHING: ReadonlySet<OpKind> = new Set();

/**
 * The softmax chain whose weights are node `weights`, or null. With `through` (BROADCASTS), the
 * steps may be linked through those ops (fusion, which computes them free in a kernel); without,
 * each step reads the one before directly (autodiff, whose rule replaces exactly these nodes).
 * Who else reads the chain's nodes is the caller's question.
 */
export function softmaxAt(g: Graph, weights: number, through: ReadonlySet<OpKind> = NOTHING): SoftmaxChain | null {
  const passed: number[] = [];
  const step = (id: number): Node => peel(g, id, through, passed);
  const w = g.nodes[weights]!;
  if (w.op.kind !== 'binary' || w.op.fn !== 'div') return null;
  const exp = step(w.inputs[0]!);
  const sum = step(w.inputs[1]!);
  if (exp.op.kind !== 'unary' || exp.op.fn !== 'exp') return null;
  if (sum.op.kind !== 'reduce' || sum.op.fn !== 'sum' || step(sum.inputs[0]!).id !== exp.id) return null;
  const axis = sum.op.axis;
  const shifted = step(exp.inputs[0]!);
  if (shifted.op.kind !== 'binary' || shifted.op.fn !== 'sub') return null;
  const x = step(shifted.inputs[0]!);
  const max = step(shifted.inputs[1]!);
  if (max.op.kind !== 'reduce' || max.op.fn !== 'max' || max.op.axis !== axis || step(max.inputs[0]!).id !== x.id) return null;
  return { weights, exp: exp.id, sum: sum.id, shifted: shifted.id, max: max.id, x: x.id, axis, passed };
}
