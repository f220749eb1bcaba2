// Horizontal fusion: contractions that read the same A (the same tensor through the same strides,
// the same batch / m / k extents) and do not depend on one another run in one dispatch: a
// projection's q, k and v (and, in the backward, their weight gradients) read one activation.
// Each keeps its own B, C and epilogue (src/codegen/wgsl/contraction.ts, contractionGroup); what
// is saved is the dispatch, which is most of the cost of a small kernel (decoding one token).
//
// A later contraction joins an earlier one only if it can move up to it: it reads nothing that a
// kernel in between writes, and writes nothing that one in between reads or writes.

import type { Graph } from '../types.js';
import { sizeOf } from './resolve.js';
import type { ContractKernel, Kernel } from './types.js';
import { mergedStride } from './views.js';

/** Three is a projection's q, k, v; and the parts' operands are storage textures, one A shared
 *  and a B each: 4 is WebGPU's default maxStorageTexturesPerShaderStage. */
const MAX_PARTS = 3;

export function groupSiblings(g: Graph, kernels: Kernel[], maxBindings: number): Kernel[] {
  const out: Kernel[] = [];
  const joined = new Set<number>();
  for (let i = 0; i < kernels.length; i++) {
    if (joined.has(i)) continue;
    const k = kernels[i]!;
    const key = k.kind === 'contract' && !k.siblings ? operandKey(g, k) : null;
    if (k.kind !== 'contract' || key === null) {
      out.push(k);
      continue;
    }
    const group: ContractKernel[] = [k];
    let bindings = bindingsOf(k);
    const written = new Set<number>(); // by kernels between the group's first and the candidate
    const read = new Set<number>();
    for (let j = i + 1; j < kernels.length && group.length < MAX_PARTS; j++) {
      const c = kernels[j]!;
      const fits =
        !joined.has(j) && c.kind === 'contract' && !c.siblings && operandKey(g, c) === key && bindings + bindingsOf(c) <= maxBindings &&
        c.reads.every((t) => !written.has(t) && group.every((p) => !p.writes.includes(t))) &&
        c.writes.every((t) => !written.has(t) && !read.has(t) && group.every((p) => !p.reads.includes(t) && !p.writes.includes(t)));
      if (fits) {
        group.push(c as ContractKernel);
        bindings += bindingsOf(c as ContractKernel);
        joined.add(j);
      } else {
        for (const t of c.writes) written.add(t);
        for (const t of c.reads) read.add(t);
      }
    }
    out.push(group.length === 1 ? k : merge(group));
  }
  // kernel names start with their position
  return out.map((k, i) => (k.name.startsWith(`k${i}_`) ? k : { ...k, name: k.name.replace(/^k\d+_/, `k${i}_`) }));
}

/** A, B, C and the epilogue's inputs, each a storage buffer at worst. */
function bindingsOf(k: ContractKernel): number {
  return 3 + k.epilogueReads.length;
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

function merge(group: ContractKernel[]): ContractKernel {
  const [first, ...rest] = group as [ContractKernel, ...ContractKernel[]];
  const union = (f: (k: ContractKernel) => number[]) => [...new Set(group.flatMap(f))].sort((a, b) => a - b);
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
