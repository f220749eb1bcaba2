// A state tensor updated at one position, in place: the KV cache's
//   next = select(ne(iota(M), p), prev, fresh)      (or select(eq(iota(M), p), fresh, prev))
// where `prev` is a state input that `next` replaces after each run (FuseOptions.state), `p` a
// scalar and `fresh` lacks the axis M. Every element but the row M = p keeps its value, so the
// kernel writes only that row, straight into prev's buffer: a dispatch over one row instead of a
// copy of the whole cache, and no copy back into the input afterwards.
//
// The meaning stays the IR's select: the kernel stores nothing where p is not an integer in
// [0, |M|), exactly where the select keeps prev everywhere.

import type { Graph, Node } from '../types.js';

export interface UpdateMatch {
  /** The select (its value is the updated state). */
  node: number;
  /** The state input it updates, and the output that replaces it. */
  input: number;
  axis: string;
  /** The scalar position and the row written there. */
  index: number;
  value: number;
}

/** Every in-place update of a state input, by its select node. */
export function findUpdates(g: Graph, state: Readonly<Record<string, string>>, consumers: readonly number[][]): Map<number, UpdateMatch> {
  const found = new Map<number, UpdateMatch>();
  for (const [inputName, outputName] of Object.entries(state)) {
    const input = g.inputs.get(inputName);
    const output = g.outputs.get(outputName);
    if (input === undefined || output === undefined) continue;
    const m = match(g, g.nodes[output]!, input);
    // prev is overwritten: nothing else may read it, and the select must be stored in its layout
    if (m === null || consumers[input]!.length !== 1) continue;
    const same = g.nodes[output]!.type.axes.map((a) => a.name).join(',') === g.nodes[input]!.type.axes.map((a) => a.name).join(',');
    if (same) found.set(output, m);
  }
  return found;
}

function match(g: Graph, sel: Node, input: number): UpdateMatch | null {
  if (sel.op.kind !== 'select') return null;
  const [c, a, b] = sel.inputs as [number, number, number];
  const cond = g.nodes[c]!;
  if (cond.op.kind !== 'binary' || (cond.op.fn !== 'eq' && cond.op.fn !== 'ne')) return null;
  const [prev, fresh] = cond.op.fn === 'ne' ? [a, b] : [b, a];
  if (prev !== input) return null;
  const [x, y] = cond.inputs.map((i) => g.nodes[i]!) as [Node, Node];
  const [iota, index] = x.op.kind === 'iota' ? [x, y] : [y, x];
  if (iota.op.kind !== 'iota' || iota.op.offset !== 0 || index.type.axes.length !== 0) return null;
  const axis = iota.op.axis.name;
  if (g.nodes[fresh]!.type.axes.some((ax) => ax.name === axis)) return null;
  return { node: sel.id, input, axis, index: index.id, value: fresh };
}
