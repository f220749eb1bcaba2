// Join rules of the elementwise kernel: a value joins, as an epilogue, the latest kernel whose
// registers it reads, by that kernel kind's epilogue rule (row.ts, contract.ts); or, over the
// same space, the elementwise kernel that computes a value it reads (one kernel writing both:
// GELU and the tanh its gradient keeps); otherwise it is an elementwise kernel of its own, one
// thread per element. The last rule: it places any node.

import type { Draft } from '../draft.js';
import { sameSet, type EpilogueRule, type JoinRule, type Partition } from '../partition.js';
import { sizeOf } from '../resolve.js';
import { MAX_INLINE_DEPTH } from '../types.js';
import { contractEpilogue } from './contract.js';
import { rowEpilogue } from './row.js';

const EPILOGUE_RULES: readonly EpilogueRule[] = [rowEpilogue, contractEpilogue];

const epilogue: JoinRule = (p, e) => {
  if (p.opts.unfused) return false;
  const dag = p.dag(e.id);
  const candidates = [...new Set(dag.reads.map((r) => p.kernelOf.get(r.node)).filter((d): d is Draft => d !== undefined && d.provided.size > 0))];
  candidates.sort((x, y) => y.index - x.index);
  return candidates.some((d) => EPILOGUE_RULES.some((rule) => rule(p, d, e, dag)));
};

/** Whether `e` has exactly the axes (names and sizes) of `d`'s first member. */
function sameSpace(p: Partition, d: Draft, e: number): boolean {
  const first = p.g.nodes[d.members[0]!]!;
  const node = p.g.nodes[e]!;
  return sameSet(p.logical(e), p.logical(first.id)) && node.type.axes.every((a) => sizeOf(node, a.name) === sizeOf(first, a.name));
}

/** The elementwise kernel just made, when it writes a value `e` reads over e's own space, computes
 *  e too: the value is inlined (still in registers) rather than read back, and the two are one
 *  pipeline. Only the latest kernel: joining an earlier one would compute e earlier than its
 *  place, and keep its tensor alive across the kernels between (chunks of logits, say). */
const sibling: JoinRule = (p, e) => {
  const d = p.drafts.at(-1);
  if (p.opts.unfused || d?.kind !== 'elementwise' || d.members.length === 0 || !sameSpace(p, d, e.id)) return false;
  if (!p.dag(e.id).reads.some((r) => p.kernelOf.get(r.node) === d)) return false;
  const mr = p.memberReads(d, e.id);
  // a chain cut every MAX_INLINE_DEPTH steps (materialise.ts) stays cut: joined, each part would
  // inline the one before it, and the kernel's expression would be the whole chain again
  if (mr === null || mr.fused.length > MAX_INLINE_DEPTH || !p.fits(d, mr.reads)) return false;
  p.addMember(d, e.id, mr.reads, false);
  return true;
};

const own: JoinRule = (p, e) => {
  const d = p.newDraft({ kind: 'elementwise' });
  p.addMember(d, e.id, p.memberReads(undefined, e.id)!.reads, false);
  p.checkAlone(d, e.id);
  return true;
};

/** In the order they are tried. */
export const ELEMENTWISE_RULES: readonly JoinRule[] = [epilogue, sibling, own];
