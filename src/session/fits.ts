// The size check every command that builds weights or plans kernels runs first: the graph's
// runtime symbols bound at their largest (the batch given, every sequence at its declared length),
// then src/runtime/fits.ts against the adapter's limits and the host's memory.
import type { Built } from './pipeline.js';
import { checkFits, PARAM_COPIES } from '../runtime/fits.js';

export { PARAM_COPIES };

/** Batch symbols get `batch`, sequence symbols their declared maximum: the largest run the model allows. */
export function largestSymbols(built: Built, batch: number): Record<string, number> {
  const out: Record<string, number> = { seed: 0 };
  for (const [sym, info] of built.lowered.symbols) out[sym] = info.max ?? batch;
  return out;
}

/** Refuses (PlanLimitError, exit 2) a model or batch that cannot fit, before anything is allocated. */
export function checkModelFits(built: Built, o: { batch?: number; symbols?: Record<string, number>; paramCopies: number; limits?: { maxBufferSize?: number }; memoryBytes?: number }): void {
  const symbols = o.symbols ?? (o.batch !== undefined ? largestSymbols(built, o.batch) : undefined);
  checkFits(built.graph, { symbols, paramCopies: o.paramCopies, limits: o.limits, memoryBytes: o.memoryBytes });
}
