// The memory plan: which buffer holds which tensor. Persistent tensors (inputs, params, graph
// outputs) get buffers of their own; intermediates share buffers by liveness: a tensor lives from
// the kernel that writes it to the last kernel that reads it, and a buffer is reused once its
// tensor is dead (never by a kernel that still reads it). Best fit by size, growing a free buffer
// when none is large enough.

export interface PlanTensor {
  bytes: number;
  persistent: boolean;
}

export interface PlanStep {
  reads: readonly number[];
  writes: readonly number[];
}

export interface MemoryPlan {
  /** Size of each buffer in bytes. */
  buffers: number[];
  /** Tensor -> buffer index (-1 for a tensor no step touches). */
  bufferOf: number[];
}

export function planMemory(tensors: readonly PlanTensor[], steps: readonly PlanStep[]): MemoryPlan {
  const buffers: number[] = [];
  const bufferOf = new Array<number>(tensors.length).fill(-1);
  const lastUse = new Array<number>(tensors.length).fill(-1);
  steps.forEach((s, i) => {
    for (const t of [...s.reads, ...s.writes]) lastUse[t] = i;
  });
  tensors.forEach((t, i) => {
    if (t.persistent) {
      bufferOf[i] = buffers.length;
      buffers.push(t.bytes);
    }
  });
  const free = new Set<number>();
  steps.forEach((s, i) => {
    for (const t of s.writes) {
      if (bufferOf[t] !== -1) continue;
      const need = tensors[t]!.bytes;
      let best = -1;
      for (const b of free) if (buffers[b]! >= need && (best < 0 || buffers[b]! < buffers[best]!)) best = b;
      if (best < 0) for (const b of free) if (best < 0 || buffers[b]! > buffers[best]!) best = b;
      if (best < 0) {
        best = buffers.length;
        buffers.push(need);
      }
      buffers[best] = Math.max(buffers[best]!, need);
      free.delete(best);
      bufferOf[t] = best;
    }
    for (const t of new Set([...s.reads, ...s.writes])) {
      if (lastUse[t] === i && !tensors[t]!.persistent && bufferOf[t]! >= 0) free.add(bufferOf[t]!);
    }
  });
  return { buffers, bufferOf };
}
