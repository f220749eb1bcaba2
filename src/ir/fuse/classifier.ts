// The LM head fused with its loss, in chunks of positions: a graph rewrite before fusion, so that
// training and eval never store the B x L x V logits (GPT-2's are 1.65 GB at B = 8, L = 1024).
//
// The match is the head's contraction (logits = x . w, the class axis V owned by w) read by a max
// over V and, downstream, a gather on V (cross-entropy's target logit), with nothing reading the
// logits as a whole (sampling asks for them: no match). Its **region** is every node computed from
// the logits position by position along one row axis A (the longest, L in a GPT): elementwise ops,
// broadcasts, reductions and gathers over other axes. Every such node has A, and one chunk of A
// (a slice of the positions) needs only that chunk of the logits. A region value read outside it
// is an **exit** (the loss's per-position terms); a contraction reading one is a **stream** (the
// backward's dx = dlogits . w and dw = dlogits . x).
//
// Per chunk, one logits contraction feeds the chunk's exits and its part of every stream (so the
// forward's chunks need not be kept for the backward); exits and dx are laid end to end along A
// (pad + add), dw is summed (each chunk's contraction adds the running sum in its epilogue). The
// new nodes go where the first stream was, chunk after chunk, and kernels run in node order, so
// one chunk's tensors are dead before the next chunk's are written: the memory plan holds a few
// chunks (`classifierChunk` elements each, default 2^24), not B x L x V. Each row keeps its whole
// softmax in one chunk (no online rescaling), the contractions are the register-blocked template
// and the row kernels over V are cross-entropy's own: rows are chunked rather than V, like
// Liger's fused linear cross-entropy.

import { GraphBuilder } from '../builder.js';
import type { Graph, Node } from '../types.js';
import { numelOf, sizeOf } from './resolve.js';

/** The most logits one chunk holds, and the most elements of one running sum (64 MiB of f32:
 *  half of WebGPU's smallest binding limit), unless `FuseOptions.classifierChunk` says. */
export const CLASSIFIER_CHUNK = 1 << 24;

interface HeadMatch {
  logits: number;
  /** The row axis cut into chunks, and how many of its positions one chunk takes. */
  axis: string;
  per: number;
  /** The most elements of a chunk (FuseOptions.classifierChunk). */
  chunk: number;
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
 * The graph itself when nothing matches or the logits fit in one chunk. `from` gives each node's
 * id in `g`, or -1 for a node the rewrite made (a chunk's, a running value's).
 */
export function chunkClassifier(g: Graph, chunk: number, maxBindings: number): Chunked {
  const m = findHead(g, chunk);
  if (m === null) return { graph: g, store: [], from: g.nodes.map((n) => n.id) };
  return rewrite(g, m, Math.max(2, maxBindings - 2));
}

type Chunked = { graph: Graph; store: number[]; from: number[] };

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
    const m = regionOf(g, outputs, n.id, axis, cls);
    if (m !== null) return { ...m, logits: n.id, axis, per, chunk };
  }
  return null;
}

/** Whether node `u`, reading region values, keeps the positions of `axis` apart. */
function rowWise(u: Node, axis: string, region: ReadonlySet<number>): boolean {
  if (!ROW_WISE.has(u.op.kind) || !names(u).includes(axis)) return false;
  if (u.op.kind === 'reduce') return u.op.axis !== axis;
  // a gather of a region table at outside indices (the target logit)
  if (u.op.kind === 'gather') return u.op.axis !== axis && region.has(u.inputs[0]!) && !region.has(u.inputs[1]!);
  return true;
}

/** The region of the logits (see the top), its exits and streams; null if it does not qualify. */
function regionOf(g: Graph, outputs: ReadonlySet<number>, logits: number, axis: string, cls: string): Omit<HeadMatch, 'logits' | 'axis' | 'per' | 'chunk'> | null {
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
    } else if (rowWise(n, axis, region)) {
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
      case 'contract': out = b.contract(x[0]!, x[1]!, n.op.out); break;
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

function rewrite(g: Graph, m: HeadMatch, every: number): Chunked {
  const b = GraphBuilder.from(g);
  const full = sizeOf(g.nodes[m.logits]!, m.axis);
  const chunks = Array.from({ length: Math.ceil(full / m.per) }, (_, i) => new Chunk(b, g, m, i * m.per, Math.min(m.per, full - i * m.per)));
  const store: number[] = [];
  // per chunk: its exits' values and every stream's part, from one logits contraction, each
  // added to its running value at once (so the chunk's tensors are dead before the next chunk's):
  // laid end to end along A (exits, dx) or summed (dw)
  const along = (axis: string, size: number, k: number) => new Running(b, chunks.length, store, { axis, size }, k);
  const exits = m.exits.map(() => along(m.axis, full, every));
  const cuts = new Map(m.streams.map((s) => [s, sumPieces(g.nodes[s]!, m.axis, m.chunk)]));
  // each chunk of dx is added in as soon as it is made: one kept longer would pin the buffer it
  // shares with a chunk of logits, and the next chunk's would need a buffer of its own
  const streams = new Map(m.streams.map((s) => [s, cuts.get(s)!.map(() => (names(g.nodes[s]!).includes(m.axis) ? along(m.axis, full, 1) : new Running(b, chunks.length, store)))]));
  for (const c of chunks) {
    m.exits.forEach((e, j) => exits[j]!.push(c.start, c.clone(e)));
    for (const s of m.streams) {
      const n = g.nodes[s]!;
      const [a, o] = (n.inputs as [number, number]).map((i) => (m.region.has(i) ? c.clone(i) : c.leaf(i))) as [number, number];
      cuts.get(s)!.forEach((piece, j) => {
        const cut = (x: number) => (piece.axis !== undefined && names(b.node(x)).includes(piece.axis) ? b.slice(x, piece.axis, piece.start, piece.size) : x);
        streams.get(s)![j]!.push(c.start, b.contract(cut(a), cut(o), names(n)));
      });
    }
  }
  const replace = new Map<number, number>();
  m.exits.forEach((e, j) => replace.set(e, exits[j]!.value));
  for (const s of m.streams) {
    const pieces = cuts.get(s)!;
    const axis = pieces[0]!.axis;
    if (axis === undefined) replace.set(s, streams.get(s)![0]!.value);
    else {
      const whole = along(axis, sizeOf(g.nodes[s]!, axis), every);
      pieces.forEach((piece, j) => whole.push(piece.start, streams.get(s)![j]!.value));
      replace.set(s, whole.value);
    }
  }
  // The new nodes go where the first stream was (the backward's gradient of the logits exists
  // there), or for a forward alone before the first reader of an exit; what reads an exit (the
  // loss) moves after them, so no chunk waits for another's to be done.
  const at = m.streams[0] ?? Math.min(...m.exits.map((e) => firstReader(g, m, e)));
  const after = downstream(g, m, at);
  const built = b.build();
  const added = built.nodes.length - g.nodes.length;
  const key = (id: number): number => (id >= g.nodes.length ? at - 1 + (id - g.nodes.length + 1) / (added + 1) : after.has(id) ? at + id / g.nodes.length : id);
  const out = reorder(built, replace, key, store);
  return { ...out, from: out.from.map((id) => (id < g.nodes.length ? id : -1)) };
}

/** The first node outside the region that reads `id` (or the end, for an output). */
function firstReader(g: Graph, m: HeadMatch, id: number): number {
  const r = g.nodes.find((n) => n.id > id && !m.region.has(n.id) && !m.streams.includes(n.id) && n.inputs.includes(id));
  return r?.id ?? g.nodes.length;
}

/** Nodes before `at` that read an exit, and everything that reads them: outside the region. */
function downstream(g: Graph, m: HeadMatch, at: number): Set<number> {
  const out = new Set<number>();
  for (const n of g.nodes.slice(m.logits + 1, at)) {
    if (m.region.has(n.id) || m.streams.includes(n.id)) continue;
    if (n.inputs.some((i) => out.has(i) || m.exits.includes(i))) out.add(n.id);
  }
  return out;
}

/**
 * A value built up part by part: laid end to end along an axis (each part padded to the full size,
 * then added; every `every`-th running value stored, so no kernel reads every part), or summed
 * (each running sum stored: the epilogue of the contraction that makes its part).
 */
class Running {
  private acc = -1;
  private parts = 0;
  constructor(
    private readonly b: GraphBuilder,
    private readonly count: number,
    private readonly store: number[],
    private readonly along?: { axis: string; size: number },
    private readonly every = 1,
  ) {}

  push(start: number, value: number): void {
    const term = this.along ? this.b.pad(value, this.along.axis, start, this.along.size) : value;
    const first = this.acc < 0;
    this.acc = first ? term : this.b.add(this.acc, term);
    this.parts++;
    if (first) return;
    if (!this.along || (this.parts % this.every === 0 && this.parts < this.count)) this.store.push(this.acc);
  }

  get value(): number {
    return this.acc;
  }
}

/**
 * A summed stream (dw) is accumulated over the chunks by its contractions' epilogues, which bind
 * the running sum as one storage buffer: one larger than a chunk is kept in pieces along its
 * longest axis (GPT-2's 50257 x 768 in three), each its own running sum.
 */
function sumPieces(n: Node, axis: string, chunk: number): { axis?: string; start: number; size: number }[] {
  if (names(n).includes(axis) || numelOf(n) <= chunk) return [{ start: 0, size: 0 }];
  const longest = names(n).reduce((a, x) => (sizeOf(n, x) > sizeOf(n, a) ? x : a));
  const per = Math.max(1, Math.floor(chunk / (numelOf(n) / sizeOf(n, longest))));
  const size = sizeOf(n, longest);
  return Array.from({ length: Math.ceil(size / per) }, (_, i) => ({ axis: longest, start: i * per, size: Math.min(per, size - i * per) }));
}

/**
 * The rewritten graph in node order: readers of a replaced node read its replacement, nodes go in
 * the order of `key` (and after what they read), and nodes nothing needs any more are dropped;
 * `from` gives each node's id in `g`.
 */
function reorder(g: Graph, replace: ReadonlyMap<number, number>, key: (id: number) => number, store: number[]): Chunked {
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
  const order = g.nodes.filter((n) => keep[n.id]).sort((a, b) => key(a.id) - key(b.id));
  const renum = new Map<number, number>();
  const nodes: Node[] = [];
  const from: number[] = [];
  const visit = (n: Node): void => {
    if (renum.has(n.id)) return;
    for (const i of inputsOf(n)) visit(g.nodes[i]!);
    renum.set(n.id, nodes.length);
    from.push(n.id);
    nodes.push({ ...n, id: nodes.length, inputs: inputsOf(n).map((i) => renum.get(i)!) });
  };
  for (const n of order) visit(n);
  const re = (map: ReadonlyMap<string, number>) => new Map([...map].map(([k, v]) => [k, renum.get(to(v))!]));
  return {
    graph: { nodes, inputs: re(g.inputs), params: re(g.params), outputs: re(g.outputs) },
    store: store.filter((id) => renum.has(id)).map((id) => renum.get(id)!),
    from,
  };
}
