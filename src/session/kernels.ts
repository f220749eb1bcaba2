// What the session says about a compiled graph's kernels and sizes: the runtime symbols bound for
// a plan or a profile, a fused kernel's ops in a few words, and the optimizer's dispatches.
import { UsageError } from './errors.js';
import type { Built } from './pipeline.js';

/** The optimizer's dispatches in a training step, beyond the forward + backward graph. */
export const OPTIMIZER_DISPATCHES = 3;

/** "contract + add + gelu": the op kinds a kernel fused, in order, repeats collapsed. */
export function fusedSummary(ops: readonly string[]): string {
  const kinds: string[] = [];
  for (const line of ops) {
    const kind = /^%\d+ = ([A-Za-z_]+)/.exec(line)?.[1] ?? '?';
    if (kinds.at(-1) !== kind) kinds.push(kind);
  }
  const shown = kinds.slice(0, 8).join(' + ');
  return kinds.length > 8 ? `${shown} + ... (${kinds.length - 8} more)` : shown;
}

/** One value per runtime symbol: batch symbols get --batch (default 8), sequence symbols --length
 *  (default: their declared maximum), and the random seed 0. */
export function bindSymbols(built: Built, sizes: { batch?: number; length?: number }): Record<string, number> {
  const out: Record<string, number> = { seed: 0 };
  for (const [sym, info] of built.lowered.symbols) {
    if (info.max === undefined) out[sym] = sizes.batch ?? 8;
    else {
      if (sizes.length !== undefined && sizes.length > info.max)
        throw new UsageError(`--length ${sizes.length}: the model's ${info.letter} is at most ${info.max}`);
      out[sym] = sizes.length ?? info.max;
    }
  }
  return out;
}
