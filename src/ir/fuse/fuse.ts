// The fusion pass: partition a graph (forward, or forward + backward) into kernels.
//
// 1. Choose what is materialised (stored in memory): inputs, params, outputs, every anchor
//    (reduce, contract, scatterAdd that sums over index axes), contraction operands that are not
//    strided views, and elementwise results that several consumers share when their expression
//    is dearer than `recomputeMaxOps` ops (unless all those consumers land in one row kernel:
//    rowshare.ts). Attention is streamed (attention.ts): its L x M region (scores, weights,
//    and in training their gradients) is never materialised; the forward and each backward
//    contraction over the region are one kernel each, recomputing the region per step.
//    Everything else (elementwise ops, layout ops, constants, iota, random, gather, scatterAdd
//    without a sum) is inlined into its consumer as an index expression: layout is indexing,
//    not a kernel.
// 2. Give each materialised node a kernel, in topological order, merging where it pays:
//    - a reduction joins a row kernel with the same rows and reduced axes (softmax's max and sum,
//      layernorm's mean and variance) when it reads the kernel's results at the row's coordinates;
//    - an elementwise result joins, as an epilogue, the row kernel or contraction whose result it
//      reads at the same coordinates (softmax's divide, layernorm's normalise, bias + gelu);
//    - a scalar reduction over a small row kernel's rows takes that kernel into its sweep
//      (cross-entropy's mean over the rows' logsumexp: nestInto);
//    a merge is refused when it would form a cycle between kernels or bind too many buffers.
// 3. Drop the writes nobody reads (softmax's max stays in a register), order the kernels, and run
//    contractions that read the same A in one dispatch (siblings.ts).
// A kernel that binds too many buffers on its own gets one of its inlined subexpressions
// materialised, and the pass starts over.

import type { Graph, Node } from '../types.js';
import { LAYOUT_KINDS } from '../types.js';
import { formatOp } from '../print.js';
import { layoutStrides, resolveGraph, sizeOf } from './resolve.js';
import type { FuseOptions, FusedGraph, Kernel, StridedView, Tensor } from './types.js';
import { findAttention, type AttentionMatch } from './attention.js';
import { feedsOneRow } from './rowshare.js';
import { findUpdates, type UpdateMatch } from './update.js';
import { groupSiblings } from './siblings.js';
import { dagOf, mergedStride, stridedView } from './views.js';

const DEFAULTS = { maxBindings: 8, recomputeMaxOps: 8 };

/** The most elements (rows x reduced) of a row kernel nested into a scalar reduction's sweep: the
 *  speed config's cross-entropy (512 rows of 65 classes) nests, GPT-2's (8192 x 50257) does not. */
const NEST_MAX = 1 << 16;

/** Index axes that a scatterAdd sums over (values' axes missing from its output). */
export function scatterSummed(g: Graph, n: Node): string[] {
  if (n.op.kind !== 'scatterAdd') return [];
  const out = new Set(n.type.axes.map((a) => a.name));
  return g.nodes[n.inputs[0]!]!.type.axes.map((a) => a.name).filter((a) => !out.has(a));
}

function isAnchor(g: Graph, n: Node): boolean {
  return n.op.kind === 'reduce' || n.op.kind === 'contract' || scatterSummed(g, n).length > 0;
}

/** The reduced axes of a row reduction (reduce or summing scatterAdd). */
export function reducedAxes(g: Graph, n: Node): string[] {
  return n.op.kind === 'reduce' ? [n.op.axis] : scatterSummed(g, n);
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

interface Draft {
  index: number;
  kind: 'elementwise' | 'row' | 'contract' | 'attention';
  members: number[];
  /** Members computed by inlining their expression (not reductions or the contraction). */
  inlineMembers: Set<number>;
  /** Members whose values are registers (reductions, the contraction's sum). */
  provided: Set<number>;
  reads: Set<number>; // tensors
  writes: Set<number>; // tensors
  rowAxes?: string[];
  redAxes?: string[];
  /** The size of each row and reduced axis: an epilogue joins only if its same-named axes agree
   *  (a reduction removes its axis, so a consumer may have another axis of that name). */
  axisSizes?: Map<string, number>;
  rowKey?: string;
  /** A row kernel nested into the sweep of a scalar reduction over its rows (nestInto). */
  inner?: { redAxes: string[]; reductions: number[] };
  contract?: {
    node: number; batch: string[]; m: string[]; n: string[]; k: string[];
    aNode: number; bNode: number; a: StridedView; b: StridedView; out: number; epilogue: number; epilogueReads: number[];
    update?: { axis: string; index: number };
  };
  /** Elementwise kernels that copy a value into another layout. */
  space?: string[];
  update?: UpdateMatch;
  attention?: AttentionMatch & { tensor: number };
}

function setKey(g: Graph, n: Node, names: readonly string[]): string {
  return [...names].sort().map((a) => `${a}=${sizeOf(n, a)}`).join(',');
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export function fuse(graph: Graph, symbols: Record<string, number>, options: FuseOptions = {}): FusedGraph {
  const g = resolveGraph(graph, symbols);
  const opts = { ...DEFAULTS, ...options };
  const forced = new Set<number>();
  for (let attempt = 0; ; attempt++) {
    const result = attemptFuse(g, opts, forced);
    if (result.fused !== undefined) return result.fused;
    const fresh = (result.overflow ?? []).filter((id) => id >= 0 && !forced.has(id));
    if (fresh.length === 0 || attempt > g.nodes.length) {
      throw new Error(`fuse: a kernel needs more than ${opts.maxBindings} storage buffers and cannot be split`);
    }
    for (const id of fresh) forced.add(id);
  }
}

function attemptFuse(
  g: Graph,
  opts: Required<Pick<FuseOptions, 'maxBindings' | 'recomputeMaxOps'>> & FuseOptions,
  forced: ReadonlySet<number>,
): { fused?: FusedGraph; overflow?: number[] } {
  const N = g.nodes.length;
  const outputNodes = new Set(g.outputs.values());
  const needed = new Array<boolean>(N).fill(false);
  for (const id of outputNodes) needed[id] = true;
  for (let id = N - 1; id >= 0; id--) if (needed[id]) for (const i of g.nodes[id]!.inputs) needed[i] = true;
  const consumers: number[][] = g.nodes.map(() => []);
  for (const n of g.nodes) if (needed[n.id]) for (const i of new Set(n.inputs)) consumers[i]!.push(n.id);

  // attention, forward and backward: the kernels over its L x M region, which is never stored
  const attention = opts.unfused || opts.flashAttention === false ? new Map<number, AttentionMatch>() : findAttention(g, consumers, outputNodes, needed);
  const interior = new Set([...attention.values()].flatMap((m) => m.interior));
  // the max and sum an attention forward keeps for its backward: written by that kernel
  const held = new Set([...attention.values()].flatMap((m) => (m.softmax?.written ? [m.softmax.max, m.softmax.sum] : [])));
  // state inputs updated at one position: the update writes into the input's own tensor
  const updates = opts.unfused || !opts.state ? new Map<number, UpdateMatch>() : findUpdates(g, opts.state, consumers);

  // ---- 1. what is materialised ----
  const mat = new Set<number>(forced);
  for (const n of g.nodes) {
    if (!needed[n.id] || interior.has(n.id)) continue;
    const k = n.op.kind;
    if (k === 'input' || k === 'param' || outputNodes.has(n.id) || isAnchor(g, n)) mat.add(n.id);
    else if (opts.unfused && !LAYOUT_KINDS.has(k)) mat.add(n.id);
  }
  for (const n of g.nodes) {
    if (!needed[n.id] || n.op.kind !== 'contract') continue;
    for (const x of n.inputs) {
      if (interior.has(x)) continue; // the weights of an attention kernel
      // operands are read with strides: materialise the value under the layout chain
      let cur = x;
      let viewable = true;
      while (!mat.has(cur) && LAYOUT_KINDS.has(g.nodes[cur]!.op.kind)) {
        if (g.nodes[cur]!.op.kind === 'pad') viewable = false;
        cur = g.nodes[cur]!.inputs[0]!;
      }
      if (!mat.has(cur)) mat.add(viewable ? cur : x);
    }
  }
  const collapsed = opts.unfused ? new Map<number, { term: number; axes: string[] }>() : collapseReductions(g, consumers, (id) => outputNodes.has(id) || forced.has(id));
  for (const n of g.nodes) if (n.op.kind === 'reduce' && needed[n.id] && !collapsed.has(n.id) && !opts.unfused) mat.delete(n.id);
  const redAxesOf = (n: Node): string[] => collapsed.get(n.id)?.axes ?? reducedAxes(g, n);
  const termOf = (n: Node): number => collapsed.get(n.id)?.term ?? (n.op.kind === 'reduce' ? n.inputs[0]! : n.id);
  const cost = new Array<number>(N).fill(0);
  for (const n of g.nodes) {
    if (!needed[n.id] || mat.has(n.id) || interior.has(n.id)) continue;
    cost[n.id] = (LAYOUT_KINDS.has(n.op.kind) ? 0 : 1) + n.inputs.reduce((s, i) => s + cost[i]!, 0);
    if (consumers[n.id]!.length >= 2 && cost[n.id]! > opts.recomputeMaxOps && (opts.unfused || !feedsOneRow(g, consumers, outputNodes, n.id))) {
      mat.add(n.id);
      cost[n.id] = 0;
    }
  }

  // ---- tensors ----
  const tensors: Tensor[] = [];
  const primary = new Map<number, number>();
  const newTensor = (node: number, layout: string[], role: Tensor['role'] = 'intermediate'): number => {
    const id = tensors.length;
    tensors.push({ id, node, layout, role });
    return id;
  };
  const logical = (id: number): string[] => g.nodes[id]!.type.axes.map((a) => a.name);
  for (const [, id] of g.inputs) if (needed[id]) primary.set(id, newTensor(id, logical(id), 'input'));
  for (const [, id] of g.params) primary.set(id, newTensor(id, logical(id), 'param'));
  for (const u of updates.values()) primary.set(u.node, primary.get(u.input)!);
  const tensorOf = (node: number): number => {
    let t = primary.get(node);
    if (t === undefined) {
      t = newTensor(node, logical(node));
      primary.set(node, t);
    }
    return t;
  };

  // ---- 2. kernels ----
  const drafts: Draft[] = [];
  const kernelOf = new Map<number, Draft>(); // materialised node -> the draft producing it
  const writer = new Map<number, Draft>(); // tensor -> draft
  const stopFor = (d: Draft | undefined) => (id: number): boolean => mat.has(id) && !(d?.inlineMembers.has(id) ?? false);

  /** External tensors a member would read inside draft d, or null if it reads d's registers at other coordinates. */
  const memberReads = (d: Draft | undefined, m: number): { reads: number[]; fused: number[] } | null => {
    const dag = dagOf(g, m, stopFor(d));
    const reads: number[] = [];
    for (const r of dag.reads) {
      if (d?.provided.has(r.node)) {
        if (!r.preserving) return null;
      } else reads.push(tensorOf(r.node));
    }
    return { reads, fused: dag.inlined };
  };
  /** Whether any of the drafts writing `reads` depends on `target` (one search from all of them). */
  const reachesFrom = (reads: readonly number[], target: Draft): boolean => {
    const seen = new Set<Draft>([target]);
    const stack: Draft[] = [];
    for (const t of reads) {
      const w = writer.get(t);
      if (w !== undefined && !seen.has(w)) {
        seen.add(w);
        stack.push(w);
      }
    }
    while (stack.length > 0) {
      const d = stack.pop()!;
      for (const t of d.reads) {
        const w = writer.get(t);
        if (w === target) return true;
        if (w !== undefined && !seen.has(w)) {
          seen.add(w);
          stack.push(w);
        }
      }
    }
    return false;
  };
  const bindings = (d: Draft, reads: readonly number[], writes: number): number =>
    new Set([...d.reads, ...d.writes, ...reads]).size + writes;
  const acyclic = (d: Draft, reads: readonly number[]): boolean => !reachesFrom(reads, d);

  const newDraft = (kind: Draft['kind']): Draft => {
    const d: Draft = { index: drafts.length, kind, members: [], inlineMembers: new Set(), provided: new Set(), reads: new Set(), writes: new Set() };
    drafts.push(d);
    return d;
  };
  const readers = new Map<number, Set<Draft>>(); // tensor -> drafts reading it
  const addReads = (d: Draft, reads: Iterable<number>): void => {
    for (const t of reads) {
      d.reads.add(t);
      (readers.get(t) ?? readers.set(t, new Set()).get(t)!).add(d);
    }
  };
  const addMember = (d: Draft, m: number, reads: readonly number[], provided: boolean, tensor = tensorOf(m)): void => {
    d.members.push(m);
    (provided ? d.provided : d.inlineMembers).add(m);
    addReads(d, reads);
    d.writes.add(tensor);
    writer.set(tensor, d);
    kernelOf.set(m, d);
  };
  const overflow: number[] = [];
  const checkAlone = (d: Draft, m: number): void => {
    if (d.reads.size + d.writes.size <= opts.maxBindings) return;
    // materialise the inlined subexpression that reads the most buffers, and start over
    const dag = dagOf(g, m, stopFor(d));
    let best = -1;
    let bestReads = 1;
    for (const id of dag.inlined) {
      if (id === m) continue;
      const r = dagOf(g, id, stopFor(d)).reads.length;
      if (r > bestReads && r < dag.reads.length) {
        best = id;
        bestReads = r;
      }
    }
    overflow.push(best);
  };

  const copies = new Map<string, number>();
  /** A tensor holding `node` in `layout`, written by a copy kernel (made once per node and layout). */
  const copyTensor = (node: number, layout: string[]): number => {
    const key = `${node}:${layout.join(',')}`;
    const hit = copies.get(key);
    if (hit !== undefined) return hit;
    const t = newTensor(node, layout);
    const d = newDraft('elementwise');
    d.space = layout;
    if (mat.has(node)) addReads(d, [tensorOf(node)]);
    else addReads(d, dagOf(g, node, (id) => mat.has(id)).reads.map((r) => tensorOf(r.node)));
    d.writes.add(t);
    writer.set(t, d);
    copies.set(key, t);
    return t;
  };

  const contractOperand = (x: number, groups: string[][]): StridedView => {
    const node = g.nodes[x]!;
    const v = stridedView(g, x, (id) => mat.has(id), (id) => ({ id: tensorOf(id), layout: tensors[tensorOf(id)]!.layout }));
    const fits = v !== null && groups.every((grp) => mergedStride(grp.map((a) => ({ size: sizeOf(node, a), stride: v.strides[a]! }))) !== null);
    if (fits) return v!;
    const layout = groups.flat();
    const t = copyTensor(x, layout);
    return { tensor: t, offset: 0, strides: layoutStrides(node, layout) };
  };

  const formContract = (c: Node): void => {
    let [a, b] = c.inputs as [number, number];
    const out = logical(c.id);
    const has = (id: number, ax: string) => g.nodes[id]!.type.axes.some((x) => x.name === ax);
    const batch = out.filter((ax) => has(a, ax) && has(b, ax));
    const firstOwn = out.find((ax) => !batch.includes(ax));
    if (firstOwn !== undefined && !has(a, firstOwn)) [a, b] = [b, a];
    const m = out.filter((ax) => !batch.includes(ax) && has(a, ax));
    const n = out.filter((ax) => !batch.includes(ax) && has(b, ax));
    const k = logical(a).filter((ax) => has(b, ax) && !out.includes(ax));
    const av = contractOperand(a, [batch, m, k]);
    const bv = contractOperand(b, [batch, k, n]);
    const strides = layoutStrides(c, out);
    const cFits = [batch, m, n].every((grp) => mergedStride(grp.map((ax) => ({ size: sizeOf(c, ax), stride: strides[ax]! }))) !== null);
    const layout = cFits ? out : [...batch, ...m, ...n];
    const t = newTensor(c.id, layout);
    primary.set(c.id, t);
    const d = newDraft('contract');
    addReads(d, [av.tensor, bv.tensor]);
    addMember(d, c.id, [], true, t);
    d.contract = { node: c.id, batch, m, n, k, aNode: a, bNode: b, a: av, b: bv, out: t, epilogue: c.id, epilogueReads: [] };
  };

  /**
   * A scalar reduction over the rows of a row kernel whose results it reads at its own sweep's
   * coordinates (cross-entropy's mean over B·L of the per-row logsumexp): the row kernel's
   * reductions run inside this one's sweep, so the whole is one kernel, one workgroup. Only
   * while the inner kernel's elements fit one workgroup's sweep (NEST_MAX): past that, two
   * kernels spread the rows over the machine.
   */
  const nestInto = (r: Node, red: string[], key: string, src: Node): boolean => {
    if (logical(r.id).length > 0 || r.op.kind !== 'reduce') return false;
    const dag = dagOf(g, r.id, (id) => mat.has(id));
    const inner = [...new Set(dag.reads.map((x) => kernelOf.get(x.node)))].find((d) => d?.kind === 'row' && d.inner === undefined && sameSet(d.rowAxes!, red));
    if (inner === undefined || inner.members.some((m) => !inner.provided.has(m) || g.nodes[m]!.op.kind !== 'reduce')) return false;
    if (red.some((a) => inner.axisSizes!.get(a) !== sizeOf(src, a))) return false;
    const elements = [...inner.axisSizes!.values()].reduce((p, x) => p * x, 1);
    if (elements > NEST_MAX) return false;
    const mr = memberReads(inner, r.id);
    if (mr === null || !acyclic(inner, mr.reads) || bindings(inner, mr.reads, 1) > opts.maxBindings) return false;
    inner.inner = { redAxes: inner.redAxes!, reductions: [...inner.members] };
    inner.rowAxes = [];
    inner.redAxes = red;
    inner.rowKey = key;
    inner.axisSizes = new Map(red.map((a) => [a, sizeOf(src, a)] as const));
    addMember(inner, r.id, mr.reads, true);
    return true;
  };

  const formReduction = (r: Node): void => {
    const red = redAxesOf(r);
    const rows = logical(r.id);
    const src = r.op.kind === 'scatterAdd' ? g.nodes[r.inputs[0]!]! : g.nodes[termOf(r)]!;
    const key = `${setKey(g, r, rows)}|${red.map((a) => `${a}=${sizeOf(src, a)}`).sort().join(',')}`;
    if (!opts.unfused && nestInto(r, red, key, src)) return;
    if (!opts.unfused) {
      // candidates: row kernels whose results this reduction reads, or that read what it reads
      const dag0 = dagOf(g, r.id, (id) => mat.has(id));
      const near = new Set<Draft>();
      for (const x of dag0.reads) {
        const w = kernelOf.get(x.node);
        if (w) near.add(w);
        for (const u of readers.get(tensorOf(x.node)) ?? []) near.add(u);
      }
      const candidates = [...near].filter((d) => d.kind === 'row' && d.rowKey === key).sort((x, y) => y.index - x.index);
      for (const d of candidates) {
        const mr = memberReads(d, r.id);
        if (mr === null) continue;
        const touches = dagOf(g, r.id, stopFor(d)).reads.some((x) => d.provided.has(x.node)) || mr.reads.some((t) => d.reads.has(t));
        if (!touches || !acyclic(d, mr.reads) || bindings(d, mr.reads, 1) > opts.maxBindings) continue;
        addMember(d, r.id, mr.reads, true);
        return;
      }
    }
    const d = newDraft('row');
    d.rowAxes = rows;
    d.redAxes = red;
    d.axisSizes = new Map([...rows.map((a) => [a, sizeOf(r, a)] as const), ...red.map((a) => [a, sizeOf(src, a)] as const)]);
    d.rowKey = key;
    addMember(d, r.id, memberReads(undefined, r.id)!.reads, true);
    checkAlone(d, r.id);
  };

  const formElementwise = (e: Node): void => {
    const axes = logical(e.id);
    if (!opts.unfused) {
      const dag = dagOf(g, e.id, (id) => mat.has(id));
      const candidates = [...new Set(dag.reads.map((r) => kernelOf.get(r.node)).filter((d) => d !== undefined && d.provided.size > 0))] as Draft[];
      candidates.sort((x, y) => y.index - x.index);
      for (const d of candidates) {
        if (d.kind === 'row') {
          if (!sameSet(axes, d.rowAxes!) && (d.inner !== undefined || !sameSet(axes, [...d.rowAxes!, ...d.redAxes!]))) continue;
          if (axes.some((a) => d.axisSizes!.get(a) !== sizeOf(e, a))) continue;
        } else {
          if (d.kind !== 'contract') continue;
          const c = d.contract!;
          if (c.epilogue !== c.node || outputNodes.has(c.node) || !sameSet(axes, logical(c.node))) continue;
          // the template stores only the epilogue's value: nothing else may read the raw sum
          if (!onlyFeeds(g, consumers, c.node, e.id, dag.inlined)) continue;
          // the template binds epilogue inputs as array<f32> and has no seed uniform
          if (dag.reads.some((r) => g.nodes[r.node]!.type.dtype !== 'f32')) continue;
          if (dag.inlined.some((id) => g.nodes[id]!.op.kind === 'random')) continue;
        }
        const mr = memberReads(d, e.id);
        if (mr === null || !acyclic(d, mr.reads) || bindings(d, mr.reads, 1) > opts.maxBindings) continue;
        if (d.kind === 'contract') {
          const t = newTensor(e.id, tensors[d.contract!.out]!.layout);
          primary.set(e.id, t);
          addMember(d, e.id, mr.reads, false, t);
          d.contract!.epilogue = e.id;
          d.contract!.epilogueReads = [...new Set(mr.reads)];
          d.contract!.out = t;
        } else addMember(d, e.id, mr.reads, false);
        return;
      }
    }
    const d = newDraft('elementwise');
    d.space = axes;
    addMember(d, e.id, memberReads(undefined, e.id)!.reads, false);
    checkAlone(d, e.id);
  };

  const formAttention = (o: Node, m: AttentionMatch): void => {
    const reads = new Set<number>();
    const roots = [m.softmax?.scores ?? m.pairs, m.x];
    for (const root of roots) {
      if (mat.has(root)) reads.add(tensorOf(root));
      else for (const r of dagOf(g, root, (id) => mat.has(id)).reads) reads.add(tensorOf(r.node));
    }
    const t = newTensor(o.id, logical(o.id));
    primary.set(o.id, t);
    const d = newDraft('attention');
    addReads(d, reads);
    addMember(d, o.id, [], true, t);
    if (m.softmax?.written) for (const r of [m.softmax.max, m.softmax.sum]) addMember(d, r, [], true);
    d.attention = { ...m, tensor: t };
    if (reads.size + d.writes.size > opts.maxBindings) {
      throw new Error(`fuse: the attention kernel for %${o.id} reads ${reads.size} tensors, more than the binding limit allows`);
    }
  };

  /** The update as the epilogue of the contraction that computes its row (the KV projection):
   *  the row goes from the contraction's registers straight into the state. */
  const updateIntoContract = (u: UpdateMatch): boolean => {
    const dag = dagOf(g, u.value, (id) => mat.has(id));
    for (const r of dag.reads) {
      const d = kernelOf.get(r.node);
      const c = d?.contract;
      if (!d || !c || c.node !== r.node || c.epilogue !== c.node || outputNodes.has(c.node) || !r.preserving) continue;
      const state = g.nodes[u.input]!;
      const cn = g.nodes[c.node]!;
      // the contraction's axes are the state's, with the updated axis of size 1
      const sameAxes = sameSet(logical(c.node), logical(u.input)) && cn.type.axes.every((a) => (a.name === u.axis ? a.size === 1 : a.size === sizeOf(state, a.name)));
      if (!sameAxes || !onlyFeeds(g, consumers, c.node, u.value, dag.inlined)) continue;
      const index = mat.has(u.index) ? [u.index] : dagOf(g, u.index, (id) => mat.has(id)).reads.map((x) => x.node);
      const inner = [...dag.reads.filter((x) => x.node !== c.node).map((x) => x.node), ...index].map(tensorOf);
      if (inner.some((t) => g.nodes[tensors[t]!.node]!.type.dtype !== 'f32')) continue;
      if (dag.inlined.some((id) => g.nodes[id]!.op.kind === 'random')) continue;
      if (!acyclic(d, inner) || bindings(d, inner, 1) > opts.maxBindings) continue;
      const t = tensorOf(u.node);
      addMember(d, u.node, inner, false, t);
      Object.assign(c, { epilogue: u.value, epilogueReads: [...new Set(inner)], out: t, update: { axis: u.axis, index: u.index } });
      return true;
    }
    return false;
  };

  const formUpdate = (u: UpdateMatch): void => {
    if (!opts.unfused && updateIntoContract(u)) return;
    const d = newDraft('elementwise');
    d.update = u;
    d.space = logical(u.node).filter((a) => a !== u.axis);
    const reads = dagOf(g, u.node, (id) => mat.has(id)).reads.filter((r) => r.node !== u.input).map((r) => tensorOf(r.node));
    addMember(d, u.node, reads, false);
    checkAlone(d, u.node);
  };

  for (const n of g.nodes) {
    if (!mat.has(n.id) || n.op.kind === 'input' || n.op.kind === 'param' || held.has(n.id)) continue;
    const att = attention.get(n.id);
    const upd = updates.get(n.id);
    if (upd !== undefined) formUpdate(upd);
    else if (att !== undefined) formAttention(n, att);
    else if (n.op.kind === 'contract') formContract(n);
    else if (isAnchor(g, n)) formReduction(n);
    else formElementwise(n);
  }
  if (overflow.length > 0) return { overflow };

  // ---- graph outputs in their own axis order ----
  const outputs = new Map<string, number>();
  for (const [name, id] of g.outputs) {
    const t = tensorOf(id);
    const want = logical(id);
    outputs.set(name, tensors[t]!.layout.join(',') === want.join(',') ? t : copyTensor(id, want));
  }

  // ---- 3. drop unread writes, order ----
  const readBy = new Map<number, Set<Draft>>();
  for (const d of drafts) for (const t of d.reads) (readBy.get(t) ?? readBy.set(t, new Set()).get(t)!).add(d);
  const kept = new Set([...outputs.values()]);
  for (const d of drafts) {
    for (const t of [...d.writes]) {
      const others = [...(readBy.get(t) ?? [])].some((r) => r !== d);
      if (!others && !kept.has(t)) d.writes.delete(t);
    }
  }
  for (const d of drafts) {
    if (d.kind === 'contract') d.writes.add(d.contract!.out); // the template always stores C
  }
  const order = topoOrder(drafts.filter((d) => d.writes.size > 0), writer);
  // an updated state is stored (in its input's tensor): readers do not compute it
  const stored = new Set([...tensors.map((t) => t.node), ...updates.keys()]);
  const each: Kernel[] = order.map((d, i) => toKernel(g, d, i, tensors, stored, (id) => termOf(g.nodes[id]!)));
  const kernels = opts.unfused ? each : groupSiblings(g, each, opts.maxBindings);
  const inputs = new Map<string, number>();
  for (const [name, id] of g.inputs) if (primary.has(id)) inputs.set(name, primary.get(id)!);
  const params = new Map<string, number>();
  for (const [name, id] of g.params) params.set(name, primary.get(id)!);
  return { fused: { graph: g, tensors, kernels, primary, outputs, inputs, params } };
}

function topoOrder(drafts: Draft[], writer: Map<number, Draft>): Draft[] {
  const set = new Set(drafts);
  const done = new Set<Draft>();
  const out: Draft[] = [];
  const visiting = new Set<Draft>();
  const visit = (d: Draft): void => {
    if (done.has(d)) return;
    if (visiting.has(d)) throw new Error('fuse: internal error: kernels form a cycle');
    visiting.add(d);
    for (const t of d.reads) {
      const w = writer.get(t);
      if (w !== undefined && w !== d && set.has(w)) visit(w);
    }
    visiting.delete(d);
    done.add(d);
    out.push(d);
  };
  for (const d of [...drafts].sort((a, b) => a.index - b.index)) visit(d);
  return out;
}

/** Whether every path from `src` to consumers stays inside `inlined` and ends at `root`. */
function onlyFeeds(g: Graph, consumers: number[][], src: number, root: number, inlined: readonly number[]): boolean {
  const inside = new Set(inlined);
  const stack = [src];
  const seen = new Set<number>();
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id) || id === root) continue;
    seen.add(id);
    for (const u of consumers[id]!) {
      if (!inside.has(u)) return false;
      stack.push(u);
    }
  }
  return true;
}

function toKernel(g: Graph, d: Draft, index: number, tensors: Tensor[], stored: ReadonlySet<number>, termOf: (id: number) => number): Kernel {
  const fused = new Set<number>();
  for (const m of d.members) for (const id of dagOf(g, m, (x) => d.provided.has(x) || stored.has(x)).inlined) fused.add(id);
  if (d.kind === 'elementwise' && d.members.length === 0) {
    // a copy into another layout: of a stored value, or of a view computed in place
    const t = tensors[[...d.writes][0]!]!;
    const storedElsewhere = tensors.some((x) => x.node === t.node && x.id !== t.id);
    if (!storedElsewhere) for (const id of dagOf(g, t.node, (x) => stored.has(x) && x !== t.node).inlined) fused.add(id);
  }
  const ops = [...fused].sort((a, b) => a - b).map((id) => g.nodes[id]!).filter((n) => !LAYOUT_KINDS.has(n.op.kind));
  const words = ops.map((n) => (n.op.kind === 'unary' || n.op.kind === 'binary' || n.op.kind === 'reduce' ? n.op.fn : n.op.kind));
  const label = d.members.map((m) => g.nodes[m]!.label).find((l) => l !== undefined);
  const summary = words.length === 0 ? 'copy' : words.length > 6 ? `${words.slice(0, 6).join(',')},+${words.length - 6}` : words.join(',');
  const kind = d.update ? 'update' : d.attention && !d.attention.softmax ? 'attention_grad' : d.kind;
  const name = `k${index}_${kind}${label ? `_${label.replace(/[^A-Za-z0-9_]/g, '_')}` : ''}(${summary})`;
  const base = {
    name,
    reads: [...d.reads].sort((a, b) => a - b),
    writes: [...d.writes].sort((a, b) => a - b),
    members: [...d.members],
    fused: [...fused].sort((a, b) => a - b),
  };
  if (d.kind === 'row') {
    const nested = new Set(d.inner?.reductions ?? []);
    const reductions = d.members.filter((m) => d.provided.has(m) && !nested.has(m));
    const inner = d.inner && { redAxes: d.inner.redAxes, reductions: d.inner.reductions, terms: d.inner.reductions.map(termOf) };
    return { ...base, kind: 'row', rowAxes: d.rowAxes!, redAxes: d.redAxes!, reductions, terms: reductions.map(termOf), ...(inner ? { inner } : {}) };
  }
  if (d.kind === 'contract') return { ...base, kind: 'contract', ...d.contract! };
  if (d.kind === 'attention') {
    const a = d.attention!;
    const softmax = a.softmax && { scores: a.softmax.scores, max: a.softmax.max, sum: a.softmax.sum };
    return { ...base, kind: 'attention', node: a.out, out: a.tensor, pairs: a.pairs, x: a.x, stream: a.stream, rowAxes: a.rowAxes, dots: a.dots, softmax, keyBound: a.keyBound };
  }
  if (d.update) return { ...base, kind: 'elementwise', space: d.space!, update: { axis: d.update.axis, index: d.update.index, value: d.update.value } };
  const first = tensors[base.writes[0]!]!;
  return { ...base, kind: 'elementwise', space: first.layout };
}

/** One line per kernel, for dumps and `arch compile --emit plan`. */
export function describeKernel(g: Graph, k: Kernel): string {
  const ops = k.fused.map((id) => `%${id} = ${formatOp(g.nodes[id]!.op, g.nodes[id]!.inputs)}`);
  return `${k.name}: reads [${k.reads.join(', ')}] writes [${k.writes.join(', ')}]\n    ${ops.join('\n    ')}`;
}
