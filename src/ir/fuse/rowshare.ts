// Recompute-or-store, refined: an expensive elementwise value with several consumers is normally
// stored once. But when every consumer ends up in one kernel, storing it costs a kernel and a
// round trip through memory. Two such cases:
// - one row kernel: the value is summed over the row, and everything else that reads it also
//   reads that sum, so it is the kernel's epilogue (recomputed once more per element there).
//   Cross-entropy's backward: d_shifted feeds sum_V(d_shifted) and d_logits = d_shifted +
//   [x == max] * that sum / count.
// - one value: every use flows, over the same axes, into one later value, whose kernel computes
//   it once (the emitter keeps each node's value). GELU's backward: a term its three products
//   share, all summed into the one gradient; stored, it cut the gradient off from the
//   contraction that produces its input (a contraction takes one value as its epilogue).

import type { Graph, Node } from '../types.js';
import { MAX_INLINE_DEPTH } from './types.js';

const SAME_AXES = new Set(['unary', 'binary', 'select', 'cast', 'permute']);

const axisSet = (n: Node): string => n.type.axes.map((a) => a.name).sort().join(',');

/**
 * Whether all uses of `id` (through elementwise ops over the same axes) are one row reduction
 * over its axes and values that read that reduction's result: then one row kernel holds them all.
 */
export function feedsOneRow(g: Graph, consumers: readonly number[][], outputs: ReadonlySet<number>, id: number): boolean {
  const root = g.nodes[id]!;
  const axes = axisSet(root);
  const reductions = new Set<number>();
  const exits: number[] = [];
  const seen = new Set<number>([id]);
  const stack = [id];
  while (stack.length > 0) {
    // a region past any one kernel's (a long chain): stored, and no walk to the chain's end from every step
    if (seen.size > MAX_INLINE_DEPTH) return false;
    const cur = stack.pop()!;
    if (outputs.has(cur) && cur !== id) exits.push(cur);
    for (const c of consumers[cur]!) {
      if (seen.has(c)) continue;
      seen.add(c);
      const n = g.nodes[c]!;
      if (n.op.kind === 'reduce' && n.op.fn === 'sum') {
        reductions.add(c);
        if (reductions.size > 1) return false;
      } else if (SAME_AXES.has(n.op.kind) && axisSet(n) === axes) {
        stack.push(c);
      } else {
        exits.push(cur);
      }
    }
  }
  if (reductions.size !== 1) return false;
  const r = g.nodes[[...reductions][0]!]!;
  const rowAxes = r.type.axes.map((a) => a.name);
  if (r.op.kind !== 'reduce' || [...rowAxes, r.op.axis].sort().join(',') !== axes) return false;
  return exits.length > 0 && exits.every((e) => dependsOn(g, e, r.id));
}

/** Whether every use of `id`, through elementwise ops over its own axes, ends in one later value
 *  (the only one of them read by anything else, or an output). */
export function feedsOneValue(g: Graph, consumers: readonly number[][], outputs: ReadonlySet<number>, id: number): boolean {
  const axes = axisSet(g.nodes[id]!);
  const inside = (c: number) => SAME_AXES.has(g.nodes[c]!.op.kind) && axisSet(g.nodes[c]!) === axes;
  const exits = new Set<number>();
  const seen = new Set<number>([id]);
  const stack = [id];
  while (stack.length > 0) {
    if (seen.size > MAX_INLINE_DEPTH) return false;
    const cur = stack.pop()!;
    if (outputs.has(cur)) exits.add(cur);
    for (const c of consumers[cur]!) {
      if (!inside(c)) exits.add(cur);
      else if (!seen.has(c)) {
        seen.add(c);
        stack.push(c);
      }
    }
  }
  return exits.size === 1 && !exits.has(id);
}

/** Whether `target` is an input of `id`, directly or not (node ids are topological). */
function dependsOn(g: Graph, id: number, target: number): boolean {
  const seen = new Set<number>();
  const stack = [id];
  while (stack.length > 0) {
    const cur = stack.pop()!;
    if (cur === target) return true;
    if (cur < target || seen.has(cur)) continue;
    seen.add(cur);
    stack.push(...g.nodes[cur]!.inputs);
  }
  return false;
}
