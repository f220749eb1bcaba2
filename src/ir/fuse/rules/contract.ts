// Join rules of the contraction kernel (the register-blocked template): a contraction is a kernel
// of its own, and takes as its epilogue an elementwise value over its own axes that reads its sum
// (bias, gelu, residual), when nothing else reads the raw sum.

import type { Node } from '../../types.js';
import { sameSet, type EpilogueRule, type JoinRule, type Partition } from '../partition.js';
import { layoutStrides, sizeOf } from '../resolve.js';
import { mergedStride } from '../views.js';

/** C[batch, m, n] = sum_k A[batch, m, k] B[batch, k, n]; A owns the output's first non-batch axis. */
const own: JoinRule = (p, c) => {
  if (c.op.kind !== 'contract') return false;
  const g = p.g;
  let [a, b] = c.inputs as [number, number];
  const out = p.logical(c.id);
  const has = (id: number, ax: string) => g.nodes[id]!.type.axes.some((x) => x.name === ax);
  const batch = out.filter((ax) => has(a, ax) && has(b, ax));
  const firstOwn = out.find((ax) => !batch.includes(ax));
  if (firstOwn !== undefined && !has(a, firstOwn)) [a, b] = [b, a];
  const m = out.filter((ax) => !batch.includes(ax) && has(a, ax));
  const n = out.filter((ax) => !batch.includes(ax) && has(b, ax));
  const k = p.logical(a).filter((ax) => has(b, ax) && !out.includes(ax));
  const av = p.contractOperand(a, [batch, m, k]);
  const bv = p.contractOperand(b, [batch, k, n]);
  // C is stored in the output's own order when each group has one stride there
  const strides = layoutStrides(c, out);
  const cFits = [batch, m, n].every((grp) => mergedStride(grp.map((ax) => ({ size: sizeOf(c, ax), stride: strides[ax]! }))) !== null);
  const t = p.newTensor(c.id, cFits ? out : [...batch, ...m, ...n]);
  p.primary.set(c.id, t);
  const d = p.newDraft({ kind: 'contract', contract: { node: c.id, batch, m, n, k, aNode: a, bNode: b, a: av, b: bv, out: t, epilogue: c.id, epilogueReads: [] } });
  p.addReads(d, [av.tensor, bv.tensor]);
  p.addMember(d, c.id, [], true, t);
  return true;
};

/** In the order they are tried. */
export const CONTRACT_RULES: readonly JoinRule[] = [own];

/** The epilogue: the template stores only its value, reading its inputs as array<f32>. */
export const contractEpilogue: EpilogueRule = (p, d, e: Node, dag) => {
  if (d.kind !== 'contract') return false;
  const g = p.g;
  const c = d.contract;
  if (c.epilogue !== c.node || p.m.outputNodes.has(c.node)) return false;
  const outNames = namesOfC(p, e, c.node, dag.inlined);
  if (outNames === null) return false;
  // nothing else may read the raw sum
  if (!p.onlyFeeds(c.node, e.id, dag.inlined)) return false;
  // the template binds epilogue inputs as array<f32> and has no seed uniform
  if (dag.reads.some((r) => g.nodes[r.node]!.type.dtype !== 'f32')) return false;
  if (dag.inlined.some((id) => g.nodes[id]!.op.kind === 'random')) return false;
  const mr = p.memberReads(d, e.id, new Set(Object.keys(outNames)));
  if (mr === null || !p.fits(d, mr.reads)) return false;
  const t = p.newTensor(e.id, p.tensors[c.out]!.layout.map((x) => outNames[x] ?? x));
  p.primary.set(e.id, t);
  p.addMember(d, e.id, mr.reads, false, t);
  Object.assign(c, { epilogue: e.id, epilogueReads: [...new Set(mr.reads)], out: t }, Object.keys(outNames).length > 0 ? { outNames } : {});
  return true;
};

/**
 * C's axis name -> e's, for the axes the renames between C and e change ({} when none do), or
 * null when e's axes are not C's under those renames. Renames on e's other inputs do not count.
 */
function namesOfC(p: Partition, e: Node, c: number, inlined: readonly number[]): Record<string, string> | null {
  const fromC = new Set<number>([c]);
  for (const id of inlined) if (p.g.nodes[id]!.inputs.some((i) => fromC.has(i))) fromC.add(id);
  // only renames may change C's coordinates on the way (a gather's would not be C's position)
  if ([...fromC].some((id) => p.g.nodes[id]!.op.kind === 'gather')) return null;
  // e's names walked back to C's: the rename nearest e first
  const toC = new Map(p.logical(e.id).map((x) => [x, x]));
  for (const id of [...fromC].sort((x, y) => y - x)) {
    const op = p.g.nodes[id]!.op;
    if (op.kind !== 'rename') continue;
    for (const [name, now] of toC) if (now === op.to) toC.set(name, op.from);
  }
  if (!sameSet([...toC.values()], p.logical(c))) return null;
  const out: Record<string, string> = {};
  for (const [name, cName] of toC) if (name !== cName) out[cName] = name;
  return out;
}
