// Join rules of the row kernel: rows over some axes, each reducing over others (reduce, or a
// scatterAdd that sums over index axes), then the values computed from those reductions.
// - nest: a scalar reduction over a small row kernel's rows takes that kernel into its sweep
//   (cross-entropy's mean over the rows' logsumexp);
// - join: a reduction joins a row kernel with the same rows and reduced axes when it reads the
//   kernel's results at the row's coordinates, or the tensors it reads (softmax's max and sum,
//   layernorm's mean and variance);
// - own: otherwise a row kernel of its own;
// - rowEpilogue: an elementwise value over the rows, or the rows and reduced axes, that reads the
//   kernel's results (softmax's divide, layernorm's normalise).

import type { Node } from '../../types.js';
import type { Draft, RowDraft } from '../draft.js';
import { isRowReduction } from '../materialise.js';
import { sameSet, type EpilogueRule, type JoinRule, type Partition } from '../partition.js';
import { sizeOf } from '../resolve.js';
import { dagOf } from '../views.js';

/** The most elements (rows x reduced) of a row kernel nested into a scalar reduction's sweep: the
 *  speed config's cross-entropy (512 rows of 65 classes) nests, GPT-2's (8192 x 50257) does not. */
const NEST_MAX = 1 << 16;

interface RowShape {
  rows: string[];
  red: string[];
  /** The node whose axes give the reduced axes' sizes. */
  src: Node;
  /** Rows and reduced axes with their sizes (RowDraft.rowKey). */
  key: string;
}

function rowShape(p: Partition, r: Node): RowShape {
  const red = p.redAxesOf(r);
  const rows = p.logical(r.id);
  const src = r.op.kind === 'scatterAdd' ? p.g.nodes[r.inputs[0]!]! : p.g.nodes[p.termOf(r.id)]!;
  const rowKey = [...rows].sort().map((a) => `${a}=${sizeOf(r, a)}`).join(',');
  return { rows, red, src, key: `${rowKey}|${red.map((a) => `${a}=${sizeOf(src, a)}`).sort().join(',')}` };
}

/**
 * A scalar reduction over the rows of a row kernel whose results it reads at its own sweep's
 * coordinates (cross-entropy's mean over B·L of the per-row logsumexp): the row kernel's
 * reductions run inside this one's sweep, so the whole is one kernel, one workgroup. Only
 * while the inner kernel's elements fit one workgroup's sweep (NEST_MAX): past that, two
 * kernels spread the rows over the machine.
 */
const nest: JoinRule = (p, r) => {
  if (p.opts.unfused || r.op.kind !== 'reduce' || p.logical(r.id).length > 0) return false;
  const { red, key, src } = rowShape(p, r);
  const inner = [...new Set(p.dag(r.id).reads.map((x) => p.kernelOf.get(x.node)))].find((d): d is RowDraft => d?.kind === 'row' && d.inner === undefined && sameSet(d.rowAxes, red));
  if (inner === undefined || inner.members.some((m) => !inner.provided.has(m) || p.g.nodes[m]!.op.kind !== 'reduce')) return false;
  if (red.some((a) => inner.axisSizes.get(a) !== sizeOf(src, a))) return false;
  const elements = [...inner.axisSizes.values()].reduce((n, x) => n * x, 1);
  if (elements > NEST_MAX) return false;
  const mr = p.memberReads(inner, r.id);
  if (mr === null || !p.fits(inner, mr.reads)) return false;
  inner.inner = { redAxes: inner.redAxes, reductions: [...inner.members] };
  inner.rowAxes = [];
  inner.redAxes = red;
  inner.rowKey = key;
  inner.axisSizes = new Map(red.map((a) => [a, sizeOf(src, a)] as const));
  p.addMember(inner, r.id, mr.reads, true);
  return true;
};

const join: JoinRule = (p, r) => {
  if (p.opts.unfused || !isRowReduction(p.g, r)) return false;
  const { key } = rowShape(p, r);
  // candidates: row kernels whose results this reduction reads, or that read what it reads
  const near = new Set<Draft>();
  for (const x of p.dag(r.id).reads) {
    const w = p.kernelOf.get(x.node);
    if (w) near.add(w);
    for (const u of p.readers.get(p.tensorOf(x.node)) ?? []) near.add(u);
  }
  const candidates = [...near].filter((d): d is RowDraft => d.kind === 'row' && d.rowKey === key).sort((x, y) => y.index - x.index);
  for (const d of candidates) {
    const mr = p.memberReads(d, r.id);
    if (mr === null) continue;
    const touches = dagOf(p.g, r.id, p.stopFor(d)).reads.some((x) => d.provided.has(x.node)) || mr.reads.some((t) => d.reads.has(t));
    if (!touches || !p.fits(d, mr.reads)) continue;
    p.addMember(d, r.id, mr.reads, true);
    return true;
  }
  return false;
};

const own: JoinRule = (p, r) => {
  if (!isRowReduction(p.g, r)) return false;
  const { rows, red, src, key } = rowShape(p, r);
  const axisSizes = new Map([...rows.map((a) => [a, sizeOf(r, a)] as const), ...red.map((a) => [a, sizeOf(src, a)] as const)]);
  const d = p.newDraft({ kind: 'row', rowAxes: rows, redAxes: red, axisSizes, rowKey: key });
  p.addMember(d, r.id, p.memberReads(undefined, r.id)!.reads, true);
  p.checkAlone(d, r.id);
  return true;
};

/** In the order they are tried. */
export const ROW_RULES: readonly JoinRule[] = [nest, join, own];

export const rowEpilogue: EpilogueRule = (p, d, e) => {
  if (d.kind !== 'row') return false;
  const axes = p.logical(e.id);
  if (!sameSet(axes, d.rowAxes) && (d.inner !== undefined || !sameSet(axes, [...d.rowAxes, ...d.redAxes]))) return false;
  if (axes.some((a) => d.axisSizes.get(a) !== sizeOf(e, a))) return false;
  const mr = p.memberReads(d, e.id);
  if (mr === null || !p.fits(d, mr.reads)) return false;
  p.addMember(d, e.id, mr.reads, false);
  return true;
};
