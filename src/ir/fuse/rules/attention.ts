// Join rule of the attention kernel: a contraction that attention.ts matched (the forward, or a
// backward contraction over the region) is one streaming kernel reading the region's roots; its
// L x M operand is recomputed inside, never stored. The forward also writes its running max and
// sum when the backward reads them.

import type { JoinRule } from '../partition.js';

const stream: JoinRule = (p, o) => {
  const m = p.m.attention.get(o.id);
  if (m === undefined) return false;
  const reads = new Set<number>();
  for (const root of [m.softmax?.scores ?? m.pairs, m.x]) {
    if (p.isMat(root)) reads.add(p.tensorOf(root));
    else for (const r of p.dag(root).reads) reads.add(p.tensorOf(r.node));
  }
  const t = p.newTensor(o.id, p.logical(o.id));
  p.primary.set(o.id, t);
  const d = p.newDraft({ kind: 'attention', attention: { ...m, tensor: t } });
  p.addReads(d, reads);
  p.addMember(d, o.id, [], true, t);
  if (m.softmax?.written) for (const r of [m.softmax.max, m.softmax.sum]) p.addMember(d, r, [], true);
  if (reads.size + d.writes.size > p.opts.maxBindings) {
    throw new Error(`fuse: the attention kernel for %${o.id} reads ${reads.size} tensors, more than the binding limit allows`);
  }
  return true;
};

/** In the order they are tried. */
export const ATTENTION_RULES: readonly JoinRule[] = [stream];
