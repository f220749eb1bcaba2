// Compiling's third phase: the GPU buffers. One per buffer of the memory plan, the parameter and
// gradient slabs, and the uniform that holds a run's seed; every tensor then has a place.

import type { FusedGraph } from '../../ir/fuse/types.js';
import type { MemoryPlan } from '../../ir/plan.js';
import type { SlabPlan } from './layout.js';
import { tensorName } from './tensors.js';
import type { SlabLayout } from './types.js';

/** Where a tensor's bytes start. */
export interface Place {
  buffer: GPUBuffer;
  offset: number;
}

export interface Allocation {
  /** The memory plan's buffers, by index. */
  buffers: GPUBuffer[];
  slab: SlabLayout | null;
  /** Tensors that live in the slab, at an offset; the parameter buffers an optimizer writes. */
  inSlab: ReadonlyMap<number, Place>;
  /** The uniform random ops read the seed from. */
  seed: GPUBuffer;
  placeOf(t: number): Place;
  destroy(): void;
}

/** `shared`: another graph's slab, whose parameter buffer the slab binds (its layout checked). */
export function allocate(device: GPUDevice, fg: FusedGraph, memory: MemoryPlan, slabPlan: SlabPlan | null, shared?: SlabLayout): Allocation {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  if (shared && !sameLayout(shared, slabPlan)) throw new Error('executor: the shared slab lays out its parameters differently from this graph');
  const buffers = memory.buffers.map((size, i) => device.createBuffer({ size, usage, label: `arch buffer ${i}` }));
  const inSlab = new Map<number, Place>();
  let slab: SlabLayout | null = null;
  if (slabPlan) {
    const size = Math.max(16, slabPlan.bytes);
    const params = shared?.params ?? device.createBuffer({ size, usage, label: 'arch parameter slab' });
    const grads = slabPlan.grads ? device.createBuffer({ size, usage, label: 'arch gradient slab' }) : null;
    slabPlan.members.forEach((m, i) => {
      inSlab.set(slabPlan.params[i]!, { buffer: params, offset: m.offset });
      if (grads) inSlab.set(slabPlan.grads![i]!, { buffer: grads, offset: m.offset });
    });
    slab = { params, grads, bytes: slabPlan.bytes, members: slabPlan.members };
  }
  const seed = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  return {
    buffers,
    slab,
    inSlab,
    seed,
    placeOf(t) {
      const p = inSlab.get(t);
      if (p) return p;
      const b = memory.bufferOf[t]!;
      if (b < 0) throw new Error(`executor: tensor ${tensorName(fg, fg.tensors[t]!)} has no buffer`);
      return { buffer: buffers[b]!, offset: 0 };
    },
    destroy() {
      for (const b of buffers) b.destroy();
      if (!shared) slab?.params.destroy();
      slab?.grads?.destroy();
      seed.destroy();
    },
  };
}

function sameLayout(shared: SlabLayout, plan: SlabPlan | null): boolean {
  return plan !== null && plan.bytes === shared.bytes && JSON.stringify(plan.members) === JSON.stringify(shared.members);
}
