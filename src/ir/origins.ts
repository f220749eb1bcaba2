// Where each node of a graph comes from in the model's source: its own label (a named tensor,
// `stream.3.causal_attention.scores_BGRLM`; a gradient's `d ` dropped), a parameter's path, or,
// for the many unnamed nodes (most of the backward pass), the deepest origin among its inputs.
// Profiles use it to group kernels by block instance.
import type { Graph } from './types.js';

const depth = (s: string): number => (s === '' ? 0 : s.split('.').length);

/** Each node's origin, and whether it is the node's own (a label or a parameter) or inherited. */
export function nodeOrigins(g: Graph): { origin: string[]; own: boolean[] } {
  const paramOf = new Map<number, string>();
  for (const [name, id] of g.params) paramOf.set(id, name);
  const out: string[] = [];
  const owned: boolean[] = [];
  for (const n of g.nodes) {
    const own = n.label?.replace(/^(d )+/, '') ?? paramOf.get(n.id);
    owned.push(own !== undefined);
    if (own !== undefined) {
      out.push(own);
      continue;
    }
    let best = '';
    for (const i of n.inputs) {
      const o = out[i] ?? '';
      if (depth(o) >= depth(best)) best = o;
    }
    out.push(best);
  }
  return { origin: out, own: owned };
}
