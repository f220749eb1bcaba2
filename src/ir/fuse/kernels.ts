// The last step of fusion: from a partition's drafts to the kernels codegen reads. Graph outputs
// get a copy where their tensor is stored in another axis order; writes nobody reads are dropped
// (softmax's max stays in a register); kernels are ordered, and contractions that read the same A
// run in one dispatch (siblings.ts).

import type { Graph } from '../types.js';
import { LAYOUT_KINDS } from '../types.js';
import { formatOp } from '../print.js';
import type { Draft } from './draft.js';
import type { Partition } from './partition.js';
import { groupSiblings } from './siblings.js';
import type { FusedGraph, Kernel, Tensor } from './types.js';
import { dagOf } from './views.js';

export function finish(p: Partition): Omit<FusedGraph, 'sourceIds'> {
  const { g, tensors, primary } = p;
  const outputs = new Map<string, number>();
  for (const [name, id] of g.outputs) {
    const t = p.tensorOf(id);
    const want = p.logical(id);
    outputs.set(name, tensors[t]!.layout.join(',') === want.join(',') ? t : p.copyTensor(id, want));
  }
  dropUnread(p.drafts, new Set(outputs.values()));
  // an updated state is stored (in its input's tensor): readers do not compute it
  const stored = new Set([...tensors.map((t) => t.node), ...p.m.updates.keys()]);
  const each: Kernel[] = p.ordered().map((d, i) => toKernel(g, d, i, tensors, stored, p.termOf));
  const kernels = p.opts.unfused ? each : groupSiblings(g, each, p.opts.maxBindings);
  const inputs = new Map<string, number>();
  for (const [name, id] of g.inputs) if (primary.has(id)) inputs.set(name, primary.get(id)!);
  const params = new Map<string, number>();
  for (const [name, id] of g.params) params.set(name, primary.get(id)!);
  return { graph: g, tensors, kernels, primary, outputs, inputs, params };
}

/** Drops every write that no other kernel reads and no output keeps; a contraction always stores C. */
function dropUnread(drafts: readonly Draft[], kept: ReadonlySet<number>): void {
  const readBy = new Map<number, Set<Draft>>();
  for (const d of drafts) for (const t of d.reads) (readBy.get(t) ?? readBy.set(t, new Set()).get(t)!).add(d);
  for (const d of drafts) {
    for (const t of [...d.writes]) {
      const others = [...(readBy.get(t) ?? [])].some((r) => r !== d);
      if (!others && !kept.has(t)) d.writes.delete(t);
    }
  }
  for (const d of drafts) if (d.kind === 'contract') d.writes.add(d.contract.out); // the template always stores C
}

/** Every node a kernel computes (inlined or written), for its name and `fused`. */
function fusedNodes(g: Graph, d: Draft, tensors: Tensor[], stored: ReadonlySet<number>): number[] {
  const fused = new Set<number>();
  for (const m of d.members) for (const id of dagOf(g, m, (x) => d.provided.has(x) || stored.has(x)).inlined) fused.add(id);
  if (d.kind === 'elementwise' && d.members.length === 0) {
    // a copy into another layout: of a stored value, or of a view computed in place
    const t = tensors[[...d.writes][0]!]!;
    const storedElsewhere = tensors.some((x) => x.node === t.node && x.id !== t.id);
    if (!storedElsewhere) for (const id of dagOf(g, t.node, (x) => stored.has(x) && x !== t.node).inlined) fused.add(id);
  }
  return [...fused].sort((a, b) => a - b);
}

function kernelName(g: Graph, d: Draft, index: number, fused: readonly number[]): string {
  const ops = fused.map((id) => g.nodes[id]!).filter((n) => !LAYOUT_KINDS.has(n.op.kind));
  const words = ops.map((n) => (n.op.kind === 'unary' || n.op.kind === 'binary' || n.op.kind === 'reduce' ? n.op.fn : n.op.kind));
  const label = d.members.map((m) => g.nodes[m]!.label).find((l) => l !== undefined);
  const summary = words.length === 0 ? 'copy' : words.length > 6 ? `${words.slice(0, 6).join(',')},+${words.length - 6}` : words.join(',');
  const kind = d.kind === 'attention' && !d.attention.softmax ? 'attention_grad' : d.kind;
  return `k${index}_${kind}${label ? `_${label.replace(/[^A-Za-z0-9_]/g, '_')}` : ''}(${summary})`;
}

function toKernel(g: Graph, d: Draft, index: number, tensors: Tensor[], stored: ReadonlySet<number>, termOf: (id: number) => number): Kernel {
  const fused = fusedNodes(g, d, tensors, stored);
  const base = {
    name: kernelName(g, d, index, fused),
    reads: [...d.reads].sort((a, b) => a - b),
    writes: [...d.writes].sort((a, b) => a - b),
    members: [...d.members],
    fused,
  };
  switch (d.kind) {
    case 'row': {
      const nested = new Set(d.inner?.reductions ?? []);
      const reductions = d.members.filter((m) => d.provided.has(m) && !nested.has(m));
      const inner = d.inner && { redAxes: d.inner.redAxes, reductions: d.inner.reductions, terms: d.inner.reductions.map(termOf) };
      return { ...base, kind: 'row', rowAxes: d.rowAxes, redAxes: d.redAxes, reductions, terms: reductions.map(termOf), ...(inner ? { inner } : {}) };
    }
    case 'contract':
      return { ...base, kind: 'contract', ...d.contract };
    case 'attention': {
      const a = d.attention;
      const softmax = a.softmax && { scores: a.softmax.scores, max: a.softmax.max, sum: a.softmax.sum };
      return { ...base, kind: 'attention', node: a.out, out: a.tensor, pairs: a.pairs, x: a.x, stream: a.stream, rowAxes: a.rowAxes, dots: a.dots, softmax, keyBound: a.keyBound };
    }
    case 'update':
      return { ...base, kind: 'elementwise', space: d.space, update: { axis: d.update.axis, index: d.update.index, value: d.update.value } };
    case 'elementwise':
      return { ...base, kind: 'elementwise', space: tensors[base.writes[0]!]!.layout };
  }
}

/** One line per kernel, for dumps and `arch compile --emit plan`. */
export function describeKernel(g: Graph, k: Kernel): string {
  const ops = k.fused.map((id) => `%${id} = ${formatOp(g.nodes[id]!.op, g.nodes[id]!.inputs)}`);
  return `${k.name}: reads [${k.reads.join(', ')}] writes [${k.writes.join(', ')}]\n    ${ops.join('\n    ')}`;
}
