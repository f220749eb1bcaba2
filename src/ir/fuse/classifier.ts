// The LM head fused with its loss, in chunks of positions: a graph rewrite before fusion, so that
// training and eval never store the B x L x V logits (GPT-2's are 1.6 GB at B = 8, L = 1024).
//
// The match is the head's contraction (logits = x . w, the class axis V owned by w) read by a max
// over V and, downstream, a gather on V (cross-entropy's target logit), with nothing reading the
// logits as a whole (sampling asks for them: no match). Its **region** is every node computed from
// the logits position by position along one row axis A (the longest, L in a GPT): elementwise ops,
// broadcasts, reductions and gathers over other axes. Every such node has A, and one chunk of A
// (a slice of the positions) needs only that chunk of the logits. So:
//
// - an **exit** (a region value read outside it: the loss's per-position terms) is computed chunk
//   by chunk, each chunk from its own logits contraction, and laid end to end along A (pad + add);
// - a **stream** (a contraction reading a region value: the backward's dx = dlogits . w and dw =
//   dlogits . x) is computed per chunk from a second, recomputed logits contraction (its operands
//   swapped so that hash-consing keeps it apart from the forward's, which is dead by then); dx's
//   chunks are laid end to end along A, dw's are summed (each chunk's contraction adds the running
//   sum in its epilogue).
//
// Each row keeps its whole softmax in one chunk (no online rescaling), the contractions are the
// register-blocked template, and the row kernels over V are cross-entropy's own. Kernels run in
// node order, so one chunk's logits (and, backward, its gradient) are dead before the next chunk's
// are written: the memory plan holds one chunk of each (`classifierChunk` elements, default 2^24).
// Rows are chunked rather than V, like Liger's fused linear cross-entropy.

import { GraphBuilder } from '../builder.js';
import type { Graph, Node } from '../types.js';
import { numelOf, sizeOf } from './resolve.js';

/** The most logits one chunk holds (64 MiB of f32) unless `FuseOptions.classifierChunk` says. */
export const CLASSIFIER_CHUNK = 1 << 24;

interface HeadMatch {
  logits: number;
  /** The row axis cut into chunks, and how many of its positions one chunk takes. */
  axis: string;
  per: number;
  region: Set<number>;
  exits: number[];
  streams: number[];
}

/** Ops a region node may be: each keeps every position of A apart (checked per op in rowWise). */
const ROW_WISE = new Set(['unary', 'binary', 'select', 'cast', 'expand', 'permute', 'reduce', 'gather']);

const names = (n: Node): string[] => n.type.axes.map((a) => a.name);

/**
 * The graph with the head and its loss chunked (see above), and the new nodes fusion should
 * store (the running sums, and every few terms of a concatenation so no kernel reads them all).
 * The graph itself when nothing matches or the logits fit in one chunk.
 */
export function chunkClassifier(g: Graph, chunk: number, maxBindings: number): { graph: Graph; store: number[] } {
  const m = findHead(g, chunk);
  if (m === null) return { graph: g, store: [] };
  return rewrite(g, m, Math.max(2, maxBindings - 2));
}

function findHead(g: Graph, chunk: number): HeadMatch | null {
  const outputs = new Set(g.outputs.values());
  const consumers: number[][] = g.nodes.map(() => []);
  for (const n of g.nodes) for (const i of new Set(n.inputs)) consumers[i]!.push(n.id);
  for (const n of g.nodes) {
    if (n.op.kind !== 'contract' || outputs.has(n.id) || n.inputs[0] === n.inputs[1] || numelOf(n) <= chunk) continue;
    const top = consumers[n.id]!.map((u) => g.nodes[u]!).find((u) => u.op.kind === 'reduce' && u.op.fn === 'max');
    if (top === undefined || top.op.kind !== 'reduce') continue;
    const cls = top.op.axis;
    const owners = n.inputs.filter((i) => names(g.nodes[i]!).includes(cls));
    if (owners.length !== 1) continue;
    // the longest row axis (the last of equals: L before B)
    const rows = names(n).filter((a) => a !== cls);
    const axis = rows.reduce<string | undefined>((best, a) => (best === undefined || sizeOf(n, a) >= sizeOf(n, best) ? a : best), undefined);
    if (axis === undefined) continue;
    const per = Math.max(1, Math.floor(chunk / (numelOf(n) / sizeOf(n, axis))));
    if (per >= sizeOf(n, axis)) continue;
    const m = regionOf(g, consumers, outputs, n.id, axis, cls);
    if (m !== null) return { ...m, logits: n.id, axis, per };
  }
  return null;
}

/** Whether node `u`, reading region values, keeps the positions of `axis` apart. */
function rowWise(g: Graph, u: Node, axis: string, region: ReadonlySet<number>): boolean {
  if (!ROW_WISE.has(u.op.kind) || !names(u).includes(axis)) return false;
  if (u.op.kind === 'reduce') return u.op.axis !== axis;
  // a gather of a region table at outside indices (the target logit)
  if (u.op.kind === 'gather') return u.op.axis !== axis && region.has(u.inputs[0]!) && !region.has(u.inputs[1]!);
  return true;
}

function regionOf(g: Graph, consumers: readonly number[][], outputs: ReadonlySet<number>, logits: number, axis: string, cls: string): Omit<HeadMatch, 'logits' | 'axis' | 'per'> | null {
  const region = new Set([logits]);
  const exits = new Set<number>();
  const streams = new Set<number>();
  let picked = false;
  // node order is topological: a consumer comes after what it reads
  for (const n of g.nodes) {
    if (n.id <= logits || !n.inputs.some((i) => region.has(i))) continue;
    if (n.op.kind === 'contract') {
      if (n.inputs.every((i) => region.has(i))) return null;
      streams.add(n.id);
    } else if (rowWise(g, n, axis, region)) {
      region.add(n.id);
      if (n.op.kind === 'gather' && n.op.axis === cls) picked = true;
    } else for (const i of n.inputs) if (region.has(i)) exits.add(i);
  }
  for (const id of region) if (outputs.has(id)) exits.add(id);
  // cross-entropy's target logit; and nothing outside may need a value over the classes
  if (!picked || [...exits].some((id) => names(g.nodes[id]!).includes(cls) || id === logits)) return null;
  return { region, exits: [...exits].sort((a, b) => a - b), streams: [...streams].sort((a, b) => a - b) };
}

/** One chunk of the region: `clone(id)` is node id over positions [start, start + size) of A. */
class Chunk {
  private readonly done = new Map<number, number>();
  constructor(
    private readonly b: GraphBuilder,
    private readonly g: Graph,
    private readonly m: HeadMatch,
    readonly start: number,
    readonly size: number,
    /** The recomputation for the backward: the logits contraction with its operands swapped. */
    private readonly swapped: boolean,
  ) {}

  /** A node outside the region, cut to this chunk where it has A. */
  leaf(id: number): number {
    const n = this.g.nodes[id]!;
    return names(n).includes(this.m.axis) ? this.b.slice(id, this.m.axis, this.start, this.size) : id;
  }

  clone(id: number): number {
    const known = this.done.get(id);
    if (known !== undefined) return known;
    const n = this.g.nodes[id]!;
    const x = n.inputs.map((i) => (this.m.region.has(i) ? this.clone(i) : this.leaf(i)));
    const b = this.b;
    let out: number;
    switch (n.op.kind) {
      case 'contract': out = this.swapped ? b.contract(x[1]!, x[0]!, n.op.out) : b.contract(x[0]!, x[1]!, n.op.out); break;
      case 'unary': out = b.unary(n.op.fn, x[0]!); break;
      case 'binary': out = b.binary(n.op.fn, x[0]!, x[1]!); break;
      case 'select': out = b.select(x[0]!, x[1]!, x[2]!); break;
      case 'cast': out = b.cast(x[0]!, n.op.to); break;
      case 'reduce': out = b.reduce(n.op.fn, x[0]!, n.op.axis); break;
      case 'gather': out = b.gather(x[0]!, x[1]!, n.op.axis); break;
      case 'permute': out = b.permute(x[0]!, n.op.order); break;
      case 'expand': out = b.expand(x[0]!, n.op.to.map((a) => (a.name === this.m.axis ? { name: a.name, size: this.size } : a))); break;
      default: throw new Error(`chunkClassifier: internal error: %${id} (${n.op.kind}) is not row-wise`);
    }
    if (n.label !== undefined && b.node(out).label === undefined) b.label(out, `${n.label}@${this.start}`);
    this.done.set(id, out);
    return out;
  }
}

function rewrite(g: Graph, m: HeadMatch, every: number): { graph: Graph; store: number[] } {
  const b = GraphBuilder.from(g);
  const full = sizeOf(g.nodes[m.logits]!, m.axis);
  const starts = Array.from({ length: Math.ceil(full / m.per) }, (_, i) => i * m.per);
  const chunks = (swapped: boolean) => starts.map((s) => new Chunk(b, g, m, s, Math.min(m.per, full - s), swapped));
  const replace = new Map<number, number>();
  /** Where each new node goes in node order: just before the first node that reads its result. */
  const placeAt = new Map<number, number>();
  const store: number[] = [];
  // ids only grow, and each block ends with a new node (the last add of its replacements)
  let next = g.nodes.length;
  const placed = (at: number) => {
    const last = Math.max(...replace.values());
    for (let id = next; id <= last; id++) placeAt.set(id, at);
    next = last + 1;
  };

  // exits: every chunk's values, chunk after chunk, then laid end to end along A
  if (m.exits.length > 0) {
    const parts = chunks(false).map((c) => m.exits.map((e) => ({ c, value: c.clone(e) })));
    m.exits.forEach((e, j) => replace.set(e, concat(b, parts.map((p) => p[j]!), m.axis, full, every, store)));
    placed(Math.min(...m.exits.map((e) => firstReader(g, m, e))));
  }
  // streams: each chunk's recomputed region feeds every stream before the next chunk starts
  if (m.streams.length > 0) {
    const running = new Map<number, { c: Chunk; value: number }[]>();
    for (const c of chunks(true)) {
      for (const s of m.streams) {
        const n = g.nodes[s]!;
        const [a, o] = n.inputs as [number, number];
        const value = m.region.has(a) ? b.contract(c.clone(a), c.leaf(o), names(n)) : b.contract(c.leaf(a), c.clone(o), names(n));
        (running.get(s) ?? running.set(s, []).get(s)!).push({ c, value });
      }
    }
    for (const s of m.streams) {
      const parts = running.get(s)!;
      replace.set(s, names(g.nodes[s]!).includes(m.axis) ? concat(b, parts, m.axis, full, every, store) : sum(b, parts, store));
    }
    placed(m.streams[0]!);
  }
  return reorder(b.build(), replace, placeAt, store);
}

/** The first node outside the region that reads `id` (or the end, for an output). */
function firstReader(g: Graph, m: HeadMatch, id: number): number {
  const r = g.nodes.find((n) => n.id > id && !m.region.has(n.id) && !m.streams.includes(n.id) && n.inputs.includes(id));
  return r?.id ?? g.nodes.length;
}

/** Chunks laid end to end along `axis` (each padded to the full size, then added); every
 *  `every`-th running value is stored so no kernel reads every chunk. */
function concat(b: GraphBuilder, parts: { c: Chunk; value: number }[], axis: string, full: number, every: number, store: number[]): number {
  let acc = -1;
  parts.forEach(({ c, value }, i) => {
    const padded = b.pad(value, axis, c.start, full);
    acc = acc < 0 ? padded : b.add(acc, padded);
    if (i % every === every - 1 && i < parts.length - 1) store.push(acc);
  });
  return acc;
}

/** Chunks summed: each running sum is stored, so it is the epilogue of its chunk's contraction. */
function sum(b: GraphBuilder, parts: { value: number }[], store: number[]): number {
  let acc = -1;
  for (const { value } of parts) {
    acc = acc < 0 ? value : b.add(acc, value);
    if (acc !== value) store.push(acc);
  }
  return acc;
}

/**
 * The rewritten graph in node order: readers of a replaced node read its replacement, each new
 * node sits before its place (`placeAt`), and nodes nothing needs any more are dropped.
 */
function reorder(g: Graph, replace: ReadonlyMap<number, number>, placeAt: ReadonlyMap<number, number>, store: number[]): { graph: Graph; store: number[] } {
  const to = (i: number) => replace.get(i) ?? i;
  const inputsOf = (n: Node) => n.inputs.map(to);
  const keep = g.nodes.map((n) => n.op.kind === 'input' || n.op.kind === 'param');
  const stack = [...g.outputs.values()].map(to);
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (keep[id] && g.nodes[id]!.inputs.length > 0) continue;
    keep[id] = true;
    stack.push(...inputsOf(g.nodes[id]!));
  }
  // new nodes go just before their place, in creation order
  const key = (n: Node) => (placeAt.has(n.id) ? placeAt.get(n.id)! - 0.5 : n.id);
  const order = g.nodes.filter((n) => keep[n.id]).sort((a, b) => key(a) - key(b) || a.id - b.id);
  const renum = new Map<number, number>();
  const nodes: Node[] = [];
  const visit = (n: Node): void => {
    if (renum.has(n.id)) return;
    for (const i of inputsOf(n)) visit(g.nodes[i]!);
    renum.set(n.id, nodes.length);
    nodes.push({ ...n, id: nodes.length, inputs: inputsOf(n).map((i) => renum.get(i)!) });
  };
  for (const n of order) visit(n);
  const re = (map: ReadonlyMap<string, number>) => new Map([...map].map(([k, v]) => [k, renum.get(to(v))!]));
  return {
    graph: { nodes, inputs: re(g.inputs), params: re(g.params), outputs: re(g.outputs) },
    store: store.filter((id) => renum.has(id)).map((id) => renum.get(id)!),
  };
}
