// Views: how a consumer reads a materialised tensor through layout ops without a kernel of its own.
//
// Two questions are answered here:
// - stridedView: is a node a strided window (offset + sum(coord * stride)) on some materialised
//   tensor? Contraction operands must be (the template takes strides); a chain of permute,
//   expand, rename, split, slice and stride-compatible merge is.
// - dagReads: walking a node's inlined expression down to materialised nodes, which does it read,
//   and does each read see the consumer's own coordinates ("preserving": only elementwise ops,
//   permute and expand in between)? A kernel may hold a value of its own in a register for a
//   consumer only when the coordinates agree.

import type { Graph, Node } from '../types.js';
import { LAYOUT_KINDS } from '../types.js';
import { layoutStrides, sizeOf } from './resolve.js';
import type { StridedView } from './types.js';

/** Strides over `node`'s axes reading tensor `tensor` (stored in `layout` for node `source`), or null. */
export function stridedView(
  g: Graph,
  node: number,
  isMat: (id: number) => boolean,
  tensorOf: (id: number) => { id: number; layout: string[] },
): StridedView | null {
  const chain: Node[] = [];
  let cur = g.nodes[node]!;
  while (!isMat(cur.id)) {
    if (!LAYOUT_KINDS.has(cur.op.kind) || cur.op.kind === 'pad') return null;
    chain.push(cur);
    cur = g.nodes[cur.inputs[0]!]!;
  }
  const t = tensorOf(cur.id);
  let strides = layoutStrides(cur, t.layout);
  let offset = 0;
  for (let i = chain.length - 1; i >= 0; i--) {
    const n = chain[i]!;
    const src = g.nodes[n.inputs[0]!]!;
    const op = n.op;
    const next: Record<string, number> = {};
    switch (op.kind) {
      case 'permute':
        Object.assign(next, strides);
        break;
      case 'expand':
        for (const a of op.to) next[a.name] = strides[a.name] ?? 0;
        break;
      case 'rename':
        for (const [k, v] of Object.entries(strides)) next[k === op.from ? op.to : k] = v;
        break;
      case 'split': {
        Object.assign(next, strides);
        delete next[op.axis];
        let s = strides[op.axis]!;
        for (let j = op.into.length - 1; j >= 0; j--) {
          next[op.into[j]!.name] = s;
          s *= op.into[j]!.size as number;
        }
        break;
      }
      case 'merge': {
        const merged = mergedStride(op.axes.map((a) => ({ size: sizeOf(src, a), stride: strides[a]! })));
        if (merged === null) return null;
        Object.assign(next, strides);
        for (const a of op.axes) delete next[a];
        next[op.into.name] = merged;
        break;
      }
      case 'slice':
        Object.assign(next, strides);
        offset += (op.start as number) * strides[op.axis]!;
        break;
      default:
        return null;
    }
    strides = next;
  }
  return { tensor: t.id, offset, strides };
}

/**
 * The single stride of a flattened group of axes (outer first), or null when the group is not
 * evenly strided. Size-1 axes place no constraint.
 */
export function mergedStride(group: readonly { size: number; stride: number }[]): number | null {
  const real = group.filter((x) => x.size !== 1);
  if (real.length === 0) return 0;
  for (let i = 0; i + 1 < real.length; i++) {
    if (real[i]!.stride !== real[i + 1]!.stride * real[i + 1]!.size) return null;
  }
  return real[real.length - 1]!.stride;
}

export interface DagRead {
  node: number;
  preserving: boolean;
  /** The node's axes whose coordinates a path changed, when that is known (a rename: its `from`
   *  axis, read at the consumer's coordinate of `to`; a gather: its table's gathered axis).
   *  Absent when the read is preserving, or when nothing is known. */
  changed?: string[];
}

export interface Dag {
  /** Materialised nodes read, each with whether every path to it preserves coordinates. */
  reads: DagRead[];
  /** Inlined nodes (root included when it is computed here). */
  inlined: number[];
  /** Arithmetic ops inlined (layout ops are free). */
  ops: number;
}

/**
 * What each input of a node sees of the node's coordinates: the same (an empty set), the same but
 * for these axes (a gather's table: its gathered axis is the index's value), or none (null).
 */
function inputCoords(g: Graph, n: Node): (ReadonlySet<string> | null)[] {
  const same = new Set<string>();
  switch (n.op.kind) {
    case 'unary': case 'binary': case 'select': case 'cast': case 'permute': case 'expand':
      return n.inputs.map(() => same);
    case 'reduce': return [same]; // the row's coordinates, plus the reduced axis
    case 'gather': return [new Set([n.op.axis]), same];
    case 'scatterAdd': return [same, same];
    // the input's axis `from` is read at the consumer's coordinate of `to`: the same position
    case 'rename': return [new Set([n.op.from])];
    // merging away axes of size 1 keeps the other axis's coordinates (a size-1 axis has only 0)
    case 'merge': {
      const src = g.nodes[n.inputs[0]!]!;
      const real = n.op.axes.filter((a) => sizeOf(src, a) !== 1);
      return [real.length === 0 || (real.length === 1 && real[0] === n.op.into.name) ? same : null];
    }
    default: return n.inputs.map(() => null);
  }
}

/** Axes whose coordinates a path changed (null: all of them). */
type Changed = ReadonlySet<string> | null;
const union = (a: Changed, b: Changed): Changed => (a === null || b === null ? null : a.size === 0 ? b : b.size === 0 ? a : new Set([...a, ...b]));
const sameChanged = (a: Changed, b: Changed): boolean => a === b || (a !== null && b !== null && a.size === b.size && [...a].every((x) => b.has(x)));

/**
 * Walk from `root` (computed in place) down through nodes that are not materialised. `stop`
 * says which nodes are read from memory rather than inlined. A read is preserving when every
 * path to it leaves the coordinates of its own axes as the root's. The walk is depth-first in
 * input order on an explicit stack: an inlined chain may be as long as the graph.
 */
export function dagOf(g: Graph, root: number, stop: (id: number) => boolean): Dag {
  const reads = new Map<number, Changed>();
  const seen = new Map<number, Changed>(); // inlined node -> coordinates changed on the way so far
  let ops = 0;
  const stack: { id: number; changed: Changed }[] = [{ id: root, changed: new Set() }];
  while (stack.length > 0) {
    const { id, changed } = stack.pop()!;
    if (id !== root && stop(id)) {
      reads.set(id, reads.has(id) ? union(reads.get(id)!, changed) : changed);
      continue;
    }
    const before = seen.get(id);
    const now = before === undefined ? changed : union(before, changed);
    if (before !== undefined && sameChanged(before, now)) continue;
    if (before === undefined && !LAYOUT_KINDS.has(g.nodes[id]!.op.kind)) ops++;
    seen.set(id, now);
    const n = g.nodes[id]!;
    const inputs = inputCoords(g, n);
    // pushed last input first, so that the first is walked first
    for (let j = n.inputs.length - 1; j >= 0; j--) stack.push({ id: n.inputs[j]!, changed: inputs[j] === null ? null : union(now, inputs[j]!) });
  }
  const changedAxes = (id: number, changed: Changed): string[] | null => (changed === null ? null : g.nodes[id]!.type.axes.map((a) => a.name).filter((a) => changed.has(a)));
  const read = (node: number, changed: Changed): DagRead => {
    const axes = changedAxes(node, changed);
    return axes !== null && axes.length === 0 ? { node, preserving: true } : { node, preserving: false, ...(axes === null ? {} : { changed: axes }) };
  };
  return {
    reads: [...reads].map(([node, changed]) => read(node, changed)),
    inlined: [...seen.keys()].sort((a, b) => a - b),
    ops,
  };
}
