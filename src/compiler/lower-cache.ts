// The KV cache, when lowering for decoding: a key-side node (keys, no queries) that meets the
// queries is where the cache goes (keys and values after their projections). Its cache is an
// input and an output of the graph, the output the input with this step's row written in.
import type { CheckedModel, GNode } from './graph.js';
import { CACHE_PREFIX, type Lowering } from './lower-state.js';

/** Whether a checked node's value is cached, for a model lowered with `keyOf`/`queryAxes`. */
export function cachePoints(l: Lowering): (n: GNode) => boolean {
  const m: CheckedModel = l.m;
  const consumers = new Map<number, GNode[]>();
  for (const n of m.nodes) for (const a of n.args) (consumers.get(a) ?? consumers.set(a, []).get(a)!).push(n);
  const keySide = (n: GNode) => n.axes.some((a) => l.keyOf.has(a) && !n.axes.includes(l.keyOf.get(a)!));
  const hasQuery = (n: GNode) => n.axes.some((a) => l.queryAxes.has(a));
  return (n) => keySide(n) && (consumers.get(n.id) ?? []).some((c) => hasQuery(c) || c.args.some((a) => hasQuery(m.nodes[a]!)));
}

/** The name of a cached value's `cache:*` input and output (its prefill output too). */
export function cacheName(n: GNode): string {
  return `${CACHE_PREFIX}${n.scope ? `${n.scope}.` : ''}${n.name ?? `%${n.id}`}`;
}

/** The cache of a key-side tensor: this step's position written in, every position read out. */
export function cached(l: Lowering, n: GNode, fresh: number): number {
  const b = l.b;
  const key = n.axes.find((a) => l.keyOf.has(a))!;
  const cacheAxes = n.axes.map((a) => (a === key ? l.declared(a) : l.axis(a)));
  const name = cacheName(n);
  const previous = b.input(name, cacheAxes, 'f32');
  // One new position per step: drop its key axis (size 1) by merging it into a neighbour, a view
  // rather than a reduction, so the projection's kernel can write the fresh row; then write it
  // at `position`.
  const axesNow = b.type(fresh).axes.map((a) => a.name);
  const at = axesNow.indexOf(key);
  const neighbour = axesNow[at + 1] ?? axesNow[at - 1]!;
  const pair = at + 1 < axesNow.length ? [key, neighbour] : [neighbour, key];
  const one = b.merge(fresh, pair, { name: neighbour, size: b.type(fresh).axes.find((a) => a.name === neighbour)!.size });
  // Written as "keep previous except at position" so that the result has the cache's own axis
  // order: fusion then updates the cache's row in place (src/ir/fuse/update.ts).
  const elsewhere = b.binary('ne', b.iota(l.declared(key)), l.pos());
  const updated = l.conform(b.select(elsewhere, previous, one), n.axes);
  b.output(name, updated);
  return updated;
}
