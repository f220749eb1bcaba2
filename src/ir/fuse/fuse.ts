// The fusion pass: partition a graph (forward, or forward + backward) into kernels.
//
// 0. The LM head and its cross-entropy are cut into chunks of positions when their logits are
//    large (classifier.ts, a graph rewrite): no B x L x V tensor is stored.
// 1. Choose what is materialised (stored in memory): materialise.ts. Everything else is inlined
//    into its consumers as index expressions; attention's L x M region is never stored.
// 2. Place each materialised node, in topological order, by the first join rule that takes it
//    (RULES: one file of rules per kernel kind in rules/, over the shared state in partition.ts):
//    an in-place state update joins the contraction computing its row; attention is a streaming
//    kernel; a contraction is a kernel; a reduction nests a small row kernel into its sweep, joins
//    a row kernel with the same rows, or starts one; an elementwise value joins, as an epilogue,
//    the row kernel or contraction whose registers it reads, or is a kernel of its own. A join is
//    refused when it would form a cycle between kernels or bind too many buffers.
// 3. Outputs in their own order, drop the writes nobody reads, order the kernels, run
//    contractions that read the same A in one dispatch: kernels.ts.
// A kernel that binds too many buffers on its own gets one of its inlined subexpressions
// materialised, and the pass starts over.

import type { Graph } from '../types.js';
import { chunkClassifier, CLASSIFIER_CHUNK } from './classifier.js';
import { finish } from './kernels.js';
import { materialise, type FuseSettings } from './materialise.js';
import { Partition, type JoinRule } from './partition.js';
import { resolveGraph } from './resolve.js';
import { ATTENTION_RULES } from './rules/attention.js';
import { CONTRACT_RULES } from './rules/contract.js';
import { ELEMENTWISE_RULES } from './rules/elementwise.js';
import { ROW_RULES } from './rules/row.js';
import { UPDATE_RULES } from './rules/update.js';
import type { FuseOptions, FusedGraph } from './types.js';

export { describeKernel } from './kernels.js';
export { reducedAxes, scatterSummed } from './materialise.js';

const DEFAULTS = { maxBindings: 8, recomputeMaxOps: 8 };

/** Tried in this order for each materialised node; the first that places it wins. The last
 *  (an elementwise kernel of its own) places anything. */
const RULES: readonly JoinRule[] = [...UPDATE_RULES, ...ATTENTION_RULES, ...CONTRACT_RULES, ...ROW_RULES, ...ELEMENTWISE_RULES];

export function fuse(graph: Graph, symbols: Record<string, number>, options: FuseOptions = {}): FusedGraph {
  const opts = { ...DEFAULTS, ...options };
  // the LM head and its loss in chunks of positions when the logits are large (classifier.ts)
  const resolved = resolveGraph(graph, symbols);
  const { graph: g, store, from } = opts.unfused ? { graph: resolved, store: [], from: resolved.nodes.map((n) => n.id) } : chunkClassifier(resolved, opts.classifierChunk ?? CLASSIFIER_CHUNK, opts.maxBindings);
  const forced = new Set<number>(store);
  for (let attempt = 0; ; attempt++) {
    const result = attemptFuse(g, opts, forced);
    if (result.fused !== undefined) return { ...result.fused, sourceIds: from };
    const fresh = (result.overflow ?? []).filter((id) => id >= 0 && !forced.has(id));
    if (fresh.length === 0 || attempt > g.nodes.length) {
      throw new Error(`fuse: a kernel needs more than ${opts.maxBindings} storage buffers and cannot be split`);
    }
    for (const id of fresh) forced.add(id);
  }
}

function attemptFuse(g: Graph, opts: FuseSettings, forced: ReadonlySet<number>): { fused?: Omit<FusedGraph, 'sourceIds'>; overflow?: number[] } {
  const p = new Partition(g, opts, materialise(g, opts, forced));
  for (const n of g.nodes) {
    // sources are stored already; an attention forward writes its held max and sum
    if (!p.isMat(n.id) || n.op.kind === 'input' || n.op.kind === 'param' || p.m.held.has(n.id)) continue;
    RULES.some((rule) => rule(p, n));
  }
  if (p.overflow.length > 0) return { overflow: p.overflow };
  return { fused: finish(p) };
}
