// What every phase asks of a fused graph's tensor: its name (for plans and errors) and its size.

import { numelOf } from '../../ir/fuse/resolve.js';
import type { FusedGraph, Tensor } from '../../ir/fuse/types.js';

export function tensorName(fg: FusedGraph, t: Tensor): string {
  const n = fg.graph.nodes[t.node]!;
  const output = [...fg.graph.outputs].find(([, id]) => id === n.id)?.[0];
  const base = n.op.kind === 'input' || n.op.kind === 'param' ? n.op.name : n.label ?? output ?? `%${n.id}`;
  const logical = n.type.axes.map((a) => a.name).join('');
  const layout = t.layout.join('');
  return layout === logical ? base : `${base} as ${layout}`;
}

/** tensorName, and for an unnamed intermediate the named value it is computed for (the nearest
 *  labelled node or output downstream): what an error can tell a user about it. */
export function describeTensor(fg: FusedGraph, t: Tensor): string {
  const name = tensorName(fg, t);
  if (!name.startsWith('%')) return name;
  const g = fg.graph;
  const outputs = new Map([...g.outputs].map(([k, id]) => [id, k]));
  const consumers: number[][] = g.nodes.map(() => []);
  for (const n of g.nodes) for (const i of n.inputs) consumers[i]!.push(n.id);
  const seen = new Set([t.node]);
  for (let queue = [t.node]; queue.length > 0; ) {
    const next: number[] = [];
    for (const id of queue) {
      for (const c of consumers[id]!) {
        if (seen.has(c)) continue;
        seen.add(c);
        const named = outputs.get(c) ?? g.nodes[c]!.label;
        if (named !== undefined) return `${name} (part of ${named})`;
        next.push(c);
      }
    }
    queue = next;
  }
  return name;
}

/** Elements of tensor `t` (by index in fg.tensors). */
export const tensorNumel = (fg: FusedGraph, t: number): number => numelOf(fg.graph.nodes[fg.tensors[t]!.node]!);

/** Bytes of tensor `t`, before any rounding. */
export const tensorBytes = (fg: FusedGraph, t: number): number => tensorNumel(fg, t) * 4;

/** Round up to 16 bytes: vec4 and texel reads may run to the end of a group of four. */
export const align16 = (x: number) => Math.max(16, Math.ceil(x / 16) * 16);
