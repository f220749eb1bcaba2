// Which axes a KV cache would hold, and whether incremental decoding with one is the model's own
// computation. Lowering for decode (lower.ts) and sampling (src/session/sample.ts) share this.
import type { CheckedModel } from './graph.js';

/** The token input's sequence letters: the query positions when decoding. */
export function queryAxesOf(m: CheckedModel): Set<string> {
  return new Set(m.inputs.filter((i) => i.onehot).flatMap((i) => i.axes.slice(0, -1)).filter((a) => m.axes.get(a)?.sequence));
}

/** Key axis -> its query axis: an axis renamed from a query letter (self-attention's M). */
export function keyAxesOf(m: CheckedModel, queryAxes = queryAxesOf(m)): Map<string, string> {
  const keyOf = new Map<string, string>();
  for (const n of m.nodes)
    if (n.op.kind === 'reshape' && n.op.from.length === 1 && n.op.to.length === 1 && queryAxes.has(n.op.from[0]!)) keyOf.set(n.op.to[0]!, n.op.from[0]!);
  return keyOf;
}

/** Why a KV cache would not compute this model, or undefined when it does. A cache holds the keys
 *  of positions decoded so far; that is the model's computation only when every position sees no
 *  later one, i.e. each key axis is masked by `causal(..., query, key)`. Without the mask (a
 *  `variant mask = none`), earlier positions attend to later ones, which the cache has not seen. */
export function cacheUnsafeReason(m: CheckedModel): string | undefined {
  const masked = new Set(m.nodes.flatMap((n) => (n.op.kind === 'causal' ? [n.op.key] : [])));
  const unmasked = [...keyAxesOf(m).keys()].filter((k) => !masked.has(k));
  if (unmasked.length === 0) return undefined;
  return `its attention over ${unmasked.join(', ')} has no causal mask (each position also sees later ones), so decoding one position at a time with a KV cache is not the same computation`;
}
