// Step 1 of fusion: which values are stored in memory (materialised). Inputs, params, outputs,
// every anchor (reduce, contract, scatterAdd that sums over index axes), contraction operands that
// are not strided views, elementwise results that several consumers share when their expression
// is dearer than `recomputeMaxOps` ops or is a residual stream (a sum a row reduction reads),
// unless all those consumers land in one row kernel or one later value (rowshare.ts), and every
// MAX_INLINE_DEPTH-th step of a chain longer than that. Attention's L x M region is never stored
// (attention.ts).
// Everything else is inlined into its consumer as an index expression: layout is indexing, not a
// kernel.

import type { Graph, Node } from '../types.js';
import { LAYOUT_KINDS } from '../types.js';
import { findAttention, type AttentionMatch } from './attention.js';
import { feedsOneRow, feedsOneValue } from './rowshare.js';
import { MAX_INLINE_DEPTH, type FuseOptions } from './types.js';
import { findUpdates, type UpdateMatch } from './update.js';

/** The options with their defaults filled in. */
export type FuseSettings = Required<Pick<FuseOptions, 'maxBindings' | 'recomputeMaxOps'>> & FuseOptions;

/** What the kernels are built around: the stored nodes and the patterns found in the graph. */
export interface Materialised {
  /** Nodes an output depends on, by id. */
  needed: boolean[];
  /** The needed readers of each node. */
  consumers: number[][];
  outputNodes: Set<number>;
  /** Attention kernels (attention.ts), by the contraction each computes. */
  attention: Map<number, AttentionMatch>;
  /** The max and sum an attention forward keeps for its backward: written by that kernel. */
  held: Set<number>;
  /** State inputs updated at one position (update.ts), by the select that updates each. */
  updates: Map<number, UpdateMatch>;
  /** The materialised nodes. */
  mat: Set<number>;
  /** Reductions collapsed into one over several axes (collapseReductions). */
  collapsed: Map<number, { term: number; axes: string[] }>;
}

/** Index axes that a scatterAdd sums over (values' axes missing from its output). */
export function scatterSummed(g: Graph, n: Node): string[] {
  if (n.op.kind !== 'scatterAdd') return [];
  const out = new Set(n.type.axes.map((a) => a.name));
  return g.nodes[n.inputs[0]!]!.type.axes.map((a) => a.name).filter((a) => !out.has(a));
}

/** A reduction over a row: a reduce, or a scatterAdd that sums over index axes. */
export function isRowReduction(g: Graph, n: Node): boolean {
  return n.op.kind === 'reduce' || scatterSummed(g, n).length > 0;
}

/** The reduced axes of a row reduction (reduce or summing scatterAdd). */
export function reducedAxes(g: Graph, n: Node): string[] {
  return n.op.kind === 'reduce' ? [n.op.axis] : scatterSummed(g, n);
}

export function materialise(g: Graph, opts: FuseSettings, forced: ReadonlySet<number>): Materialised {
  const N = g.nodes.length;
  const outputNodes = new Set(g.outputs.values());
  const needed = new Array<boolean>(N).fill(false);
  for (const id of outputNodes) needed[id] = true;
  for (let id = N - 1; id >= 0; id--) if (needed[id]) for (const i of g.nodes[id]!.inputs) needed[i] = true;
  const consumers: number[][] = g.nodes.map(() => []);
  for (const n of g.nodes) if (needed[n.id]) for (const i of new Set(n.inputs)) consumers[i]!.push(n.id);

  const attention = opts.unfused || opts.flashAttention === false ? new Map<number, AttentionMatch>() : findAttention(g, consumers, outputNodes, needed);
  const interior = new Set([...attention.values()].flatMap((m) => m.interior));
  const held = new Set([...attention.values()].flatMap((m) => (m.softmax?.written ? [m.softmax.max, m.softmax.sum] : [])));
  const updates = opts.unfused || !opts.state ? new Map<number, UpdateMatch>() : findUpdates(g, opts.state, consumers);

  const mat = new Set<number>(forced);
  for (const n of g.nodes) {
    if (!needed[n.id] || interior.has(n.id)) continue;
    const k = n.op.kind;
    if (k === 'input' || k === 'param' || outputNodes.has(n.id) || k === 'contract' || isRowReduction(g, n)) mat.add(n.id);
    else if (opts.unfused && !LAYOUT_KINDS.has(k)) mat.add(n.id);
  }
  storeOperands(g, needed, interior, mat);
  const collapsed = opts.unfused ? new Map<number, { term: number; axes: string[] }>() : collapseReductions(g, consumers, (id) => outputNodes.has(id) || forced.has(id));
  for (const n of g.nodes) if (n.op.kind === 'reduce' && needed[n.id] && !collapsed.has(n.id) && !opts.unfused) mat.delete(n.id);
  storeShared(g, opts, { needed, consumers, outputNodes, interior, mat });
  storeDeep(g, needed, interior, mat);
  return { needed, consumers, outputNodes, attention, held, updates, mat, collapsed };
}

/** Contraction operands are read with strides: materialise the value under each layout chain. */
function storeOperands(g: Graph, needed: readonly boolean[], interior: ReadonlySet<number>, mat: Set<number>): void {
  for (const n of g.nodes) {
    if (!needed[n.id] || n.op.kind !== 'contract') continue;
    for (const x of n.inputs) {
      if (interior.has(x)) continue; // the weights of an attention kernel
      let cur = x;
      let viewable = true;
      while (!mat.has(cur) && LAYOUT_KINDS.has(g.nodes[cur]!.op.kind)) {
        if (g.nodes[cur]!.op.kind === 'pad') viewable = false;
        cur = g.nodes[cur]!.inputs[0]!;
      }
      if (!mat.has(cur)) mat.add(viewable ? cur : x);
    }
  }
}

/** Recompute or store: a value several kernels read is stored once when its expression is dear. */
function storeShared(
  g: Graph,
  opts: FuseSettings,
  s: { needed: readonly boolean[]; consumers: readonly number[][]; outputNodes: ReadonlySet<number>; interior: ReadonlySet<number>; mat: Set<number> },
): void {
  const cost = new Array<number>(g.nodes.length).fill(0);
  for (const n of g.nodes) {
    if (!s.needed[n.id] || s.mat.has(n.id) || s.interior.has(n.id)) continue;
    cost[n.id] = (LAYOUT_KINDS.has(n.op.kind) ? 0 : 1) + n.inputs.reduce((sum, i) => sum + cost[i]!, 0);
    const dear = cost[n.id]! > opts.recomputeMaxOps || residualStream(g, s.consumers, n.id);
    const oneKernel = () => feedsOneRow(g, s.consumers, s.outputNodes, n.id) || (opts.inlineSharedTerms !== false && feedsOneValue(g, s.consumers, s.outputNodes, n.id));
    if (s.consumers[n.id]!.length >= 2 && dear && (opts.unfused || !oneKernel())) {
      s.mat.add(n.id);
      cost[n.id] = 0;
    }
  }
}

/** A sum that a row reduction reads (a residual stream under a layernorm, or its gradient): stored
 *  when shared, every layer's row kernels read a tensor alike and are one pipeline, where inlining
 *  gives each layer's kernels their own copy of the stream's adds so far (a pipeline a layer, and
 *  the adds recomputed in every kernel that reads the stream). */
function residualStream(g: Graph, consumers: readonly number[][], id: number): boolean {
  const op = g.nodes[id]!.op;
  return op.kind === 'binary' && op.fn === 'add' && consumers[id]!.some((c) => g.nodes[c]!.op.kind === 'reduce');
}

/** An inlined expression deeper than MAX_INLINE_DEPTH (types.ts) is cut: every MAX_INLINE_DEPTH-th
 *  node of the chain is stored (not an inner reduction of a collapsed chain: its outer one is). */
function storeDeep(g: Graph, needed: readonly boolean[], interior: ReadonlySet<number>, mat: Set<number>): void {
  const depth = new Array<number>(g.nodes.length).fill(0);
  for (const n of g.nodes) {
    if (!needed[n.id] || mat.has(n.id) || interior.has(n.id)) continue;
    depth[n.id] = 1 + n.inputs.reduce((d, i) => Math.max(d, depth[i]!), 0);
    if (depth[n.id]! >= MAX_INLINE_DEPTH && n.op.kind !== 'reduce') {
      mat.add(n.id);
      depth[n.id] = 0;
    }
  }
}

/**
 * sum(sum(x, B), L) is one reduction of x over [B, L] when the inner result feeds nothing else
 * (autodiff's unbroadcast writes bias gradients this way). Returns, per outer reduction, the
 * term it reduces and all its axes; the inner reductions are no longer materialised.
 */
function collapseReductions(g: Graph, consumers: number[][], keep: (id: number) => boolean): Map<number, { term: number; axes: string[] }> {
  const out = new Map<number, { term: number; axes: string[] }>();
  for (const n of g.nodes) {
    if (n.op.kind !== 'reduce') continue;
    const inner = g.nodes[n.inputs[0]!]!;
    const nested = out.get(inner.id);
    const fits = inner.op.kind === 'reduce' && inner.op.fn === n.op.fn && consumers[inner.id]!.length === 1 && !keep(inner.id);
    if (fits) {
      out.set(n.id, { term: nested?.term ?? inner.inputs[0]!, axes: [...(nested?.axes ?? [(inner.op as { axis: string }).axis]), n.op.axis] });
      out.delete(inner.id);
    } else out.set(n.id, { term: n.inputs[0]!, axes: [n.op.axis] });
  }
  return out;
}
