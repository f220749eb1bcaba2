// Lowering: the checked graph becomes IR, node by node in evaluation order. Each construct has
// its rule (lower-rules.ts) over a shared state (lower-state.ts); decoding adds the KV cache
// (lower-cache.ts). Here: the walk, the labels, the outputs and the attention maps.
import type { CheckedModel, GNode } from './graph.js';
import { cached, cacheName, cachePoints } from './lower-cache.js';
import { LOWER_RULES } from './lower-rules.js';
import { ATTENTION_PREFIX, Lowering, type Lowered, type LowerOptions } from './lower-state.js';

export { ATTENTION_PREFIX, CACHE_PREFIX, NEXT_SUFFIX, POSITION_INPUT, type Lowered, type LowerOptions } from './lower-state.js';

export function lower(m: CheckedModel, opts: LowerOptions = {}): Lowered {
  const l = new Lowering(m, opts);
  const cachePoint = opts.decode || opts.prefill ? cachePoints(l) : () => false;
  for (const n of m.nodes) l.ids.push(lowerNode(l, n, cachePoint));
  for (const [name, id] of m.outputs) l.b.output(name, l.ids[id]!);
  if (opts.attentionMaps) outputAttentionMaps(l);
  return { graph: l.b.build(), symbols: l.symbols, inputs: l.inputs };
}

function lowerNode(l: Lowering, n: GNode, cachePoint: (n: GNode) => boolean): number {
  const rule = LOWER_RULES[n.op.kind] as (l: Lowering, n: GNode, op: GNode['op'], a: number[]) => number;
  let id = rule(l, n, n.op, n.args.map((x) => l.ids[x]!));
  // A token tensor's class letter is implicit (it holds ids), so it is not among the IR's axes.
  id = l.conform(id, n.axes.filter((x) => !(l.isTokens(n.id) && x === n.axes.at(-1))));
  if (n.name) l.b.label(id, n.scope ? `${n.scope}.${n.name}` : n.name);
  if (cachePoint(n)) {
    if (l.opts.decode) id = cached(l, n, id);
    else l.b.output(cacheName(n), id);
  }
  return id;
}

/** Every softmax's weights as an output `attention:<block instance>`, numbered when one repeats. */
function outputAttentionMaps(l: Lowering): void {
  const used = new Set<string>();
  for (const n of l.m.nodes)
    if (n.op.kind === 'softmax') {
      const name = ATTENTION_PREFIX + (n.scope || n.name || `%${n.id}`);
      let unique = name;
      for (let i = 2; used.has(unique); i++) unique = `${name}#${i}`;
      used.add(unique);
      l.b.output(unique, l.ids[n.id]!);
    }
}
