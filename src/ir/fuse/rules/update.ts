// Join rules of the in-place state update (update.ts finds them: the KV cache's one new row): the
// update joins, as its epilogue, the contraction that computes its row (the k / v projection), so
// the row goes from the contraction's registers straight into the state; otherwise it is a kernel
// of its own over the row.

import type { JoinRule } from '../partition.js';
import { sameSet } from '../partition.js';
import { sizeOf } from '../resolve.js';

const intoContraction: JoinRule = (p, n) => {
  const u = p.m.updates.get(n.id);
  if (u === undefined || p.opts.unfused) return false;
  const g = p.g;
  const dag = p.dag(u.value);
  for (const r of dag.reads) {
    const d = p.kernelOf.get(r.node);
    if (d?.kind !== 'contract') continue;
    const c = d.contract;
    if (c.node !== r.node || c.epilogue !== c.node || p.m.outputNodes.has(c.node) || !r.preserving) continue;
    const state = g.nodes[u.input]!;
    const cn = g.nodes[c.node]!;
    // the contraction's axes are the state's, with the updated axis of size 1
    const sameAxes = sameSet(p.logical(c.node), p.logical(u.input)) && cn.type.axes.every((a) => (a.name === u.axis ? a.size === 1 : a.size === sizeOf(state, a.name)));
    if (!sameAxes || !p.onlyFeeds(c.node, u.value, dag.inlined)) continue;
    const index = p.isMat(u.index) ? [u.index] : p.dag(u.index).reads.map((x) => x.node);
    const inner = [...dag.reads.filter((x) => x.node !== c.node).map((x) => x.node), ...index].map(p.tensorOf);
    if (inner.some((t) => g.nodes[p.tensors[t]!.node]!.type.dtype !== 'f32')) continue;
    if (dag.inlined.some((id) => g.nodes[id]!.op.kind === 'random')) continue;
    if (!p.fits(d, inner)) continue;
    const t = p.tensorOf(u.node);
    p.addMember(d, u.node, inner, false, t);
    Object.assign(c, { epilogue: u.value, epilogueReads: [...new Set(inner)], out: t, update: { axis: u.axis, index: u.index } });
    return true;
  }
  return false;
};

const own: JoinRule = (p, n) => {
  const u = p.m.updates.get(n.id);
  if (u === undefined) return false;
  const d = p.newDraft({ kind: 'update', update: u, space: p.logical(u.node).filter((a) => a !== u.axis) });
  const reads = p.dag(u.node).reads.filter((r) => r.node !== u.input).map((r) => p.tensorOf(r.node));
  p.addMember(d, u.node, reads, false);
  p.checkAlone(d, u.node);
  return true;
};

/** In the order they are tried. */
export const UPDATE_RULES: readonly JoinRule[] = [intoContraction, own];
