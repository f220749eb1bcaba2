// Horizontal fusion: contractions that read the same A (the same tensor through the same strides,
// the same batch / m / k extents) and do not depend on one another run in one dispatch: a
// projection's q, k and v (and, in the backward, their weight gradients) read one activation.
// Each keeps its own B, C and epilogue (src/codegen/wgsl/contraction.ts, contractionGroup); what
// is saved is the dispatch, which is most of the cost of a small kernel (decoding one token).
//
// Attention backward kernels over the same rows and steps, with the same loop bound, that share
// a dot product, are grouped the same way: dk and dv both stream over the queries for each key
// and both recompute q . k (src/codegen/wgsl/attention.ts computes it once for both).
//
// A later kernel joins an earlier one only if it can move up to it: it reads nothing that a
// kernel in between writes, and writes nothing that one in between reads or writes.

import type { Graph } from '../types.js';
import { sizeOf } from './resolve.js';
import type { AttentionKernel, ContractKernel, Kernel } from './types.js';
import { mergedStride } from './views.js';

/** Three is a projection's q, k, v; and the parts' operands are storage textures, one A shared
 *  and a B each: 4 is WebGPU's default maxStorageTexturesPerShaderStage. */
const MAX_PARTS = 3;

type Groupable = ContractKernel | AttentionKernel;

export function groupSiblings(g: Graph, kernels: Kernel[], maxBindings: number): Kernel[] {
  const joined = new Set<number>();
  /** Where a group runs (the position of its first member, or of a later one it moved down to). */
  const placed = new Map<number, Kernel>();
  for (let i = 0; i < kernels.length; i++) {
    if (joined.has(i)) continue;
    const k = kernels[i]!;
    const key = siblingKey(g, k);
    if (key === null) continue;
    const group: Groupable[] = [k as Groupable];
    let at = i;
    const written = new Set<number>(); // by kernels between the group's first and the candidate
    const read = new Set<number>();
    const touches = (ts: readonly number[], set: ReadonlySet<number>) => ts.some((t) => set.has(t));
    for (let j = i + 1; j < kernels.length && group.length < MAX_PARTS; j++) {
      const c = kernels[j]!;
      const candidate = !joined.has(j) && siblingKey(g, c) === key && bindingsOf([...group, c as Groupable]) <= maxBindings && sharesWork(group[0]!, c as Groupable);
      const independent = c.reads.every((t) => group.every((p) => !p.writes.includes(t))) && c.writes.every((t) => group.every((p) => !p.reads.includes(t) && !p.writes.includes(t)));
      // c moves up to the group, or the group moves down to c (dv waits for dk, which reads a
      // row kernel's output that dv does not)
      const up = !touches(c.reads, written) && !touches(c.writes, written) && !touches(c.writes, read);
      const groupReads = group.flatMap((p) => p.reads);
      const groupWrites = group.flatMap((p) => p.writes);
      const down = !touches(groupReads, written) && !touches(groupWrites, written) && !touches(groupWrites, read);
      if (candidate && independent && (up || down)) {
        group.push(c as Groupable);
        joined.add(j);
        if (!up) at = j;
      } else {
        for (const t of c.writes) written.add(t);
        for (const t of c.reads) read.add(t);
      }
    }
    if (group.length > 1) {
      joined.add(i);
      placed.set(at, merge(group));
    }
  }
  const out: Kernel[] = [];
  kernels.forEach((k, i) => {
    const group = placed.get(i);
    if (group) out.push(group);
    else if (!joined.has(i)) out.push(k);
  });
  // a guard on the moves: every tensor a kernel reads is written before it (or never)
  if (!ordered(out)) return kernels;
  // kernel names start with their position
  return out.map((k, i) => (k.name.startsWith(`k${i}_`) ? k : { ...k, name: k.name.replace(/^k\d+_/, `k${i}_`) }));
}

function ordered(kernels: readonly Kernel[]): boolean {
  const writers = new Set(kernels.flatMap((k) => k.writes));
  const done = new Set<number>();
  for (const k of kernels) {
    if (k.reads.some((t) => writers.has(t) && !done.has(t) && !k.writes.includes(t))) return false;
    for (const t of k.writes) done.add(t);
  }
  return true;
}

/** Kernels with equal keys may share a dispatch: contractions reading the same A, attention
 *  backward kernels over the same rows, steps and bound. Null: never grouped. */
function siblingKey(g: Graph, k: Kernel): string | null {
  if (k.kind === 'contract' && !k.siblings) return `contract|${operandKey(g, k)}`;
  if (k.kind !== 'attention' || k.softmax || k.siblings) return null;
  const pairs = g.nodes[k.pairs]!;
  const axes = (names: string[]) => [...names].sort().map((a) => `${a}=${sizeOf(pairs, a)}`).join(',');
  return `attention|${axes(k.rowAxes)}|${axes(k.stream)}|${JSON.stringify(k.keyBound ?? null)}`;
}

/** Contractions share A by their key; attention kernels must share a dot product to gain. */
function sharesWork(first: Groupable, c: Groupable): boolean {
  return first.kind === 'contract' || (c.kind === 'attention' && c.dots.some((d) => first.kind === 'attention' && first.dots.includes(d)));
}

function bindingsOf(group: Groupable[]): number {
  // A, B, C and the epilogue's inputs of each contraction, each a storage buffer at worst
  if (group[0]!.kind === 'contract') return group.reduce((n, k) => n + 3 + (k as ContractKernel).epilogueReads.length, 0);
  return new Set(group.flatMap((k) => [...k.reads, ...k.writes])).size;
}

/** What A is read as: the tensor, offset and flattened strides and extents (null: not a plain view). */
function operandKey(g: Graph, k: ContractKernel): string | null {
  const an = g.nodes[k.aNode]!;
  const group = (names: string[]) => {
    const stride = mergedStride(names.map((x) => ({ size: sizeOf(an, x), stride: k.a.strides[x]! })));
    return `${names.reduce((p, x) => p * sizeOf(an, x), 1)}@${stride}`;
  };
  return `${k.a.tensor}+${k.a.offset}|${group(k.batch)}|${group(k.m)}|${group(k.k)}`;
}

function merge<K extends Groupable>(group: K[]): K {
  const [first, ...rest] = group as [K, ...K[]];
  const union = (f: (k: K) => number[]) => [...new Set(group.flatMap(f))].sort((a, b) => a - b);
  return {
    ...first,
    name: `${first.name}+${rest.length}`,
    reads: union((k) => k.reads),
    writes: union((k) => k.writes),
    members: group.flatMap((k) => k.members),
    fused: union((k) => k.fused),
    siblings: rest,
  };
}
