// A profile's kernels grouped as a reader asks about them: by layer (the repeated block instance a
// kernel's ops come from, `stream.3`) and by kind (attention, MLP, norms, embeddings, the head and
// its loss), from the ops' origins in the model (ir/origins.ts) and the parameters' roles
// (compiler/param-roles.ts).
import type { ParamKind } from '../compiler/param-roles.js';

export type KernelGroupKind = Exclude<ParamKind, 'head'> | 'head+loss';

/** The origin most of a kernel's ops come from (ties: the most specific). */
export function kernelOrigin(origins: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const o of origins) counts.set(o, (counts.get(o) ?? 0) + 1);
  let best = '';
  let most = 0;
  for (const [o, n] of counts)
    if (n > most || (n === most && o.split('.').length > best.split('.').length)) [best, most] = [o, n];
  return best;
}

/** The repeated block instance of an origin (`stream.3` of `stream.3.mlp.hidden`), or undefined. */
export const layerOf = (origin: string): string | undefined => /^[^.]+\.\d+(?=\.|$)/.exec(origin)?.[0];

/** What an origin does: the one role of the parameters under its closest enclosing block that
 *  has any (`stream.3.mlp.active_out` -> the params of `stream.3.mlp`: mlp); `other` where they
 *  mix (a residual add in `stream.3`); the logits and loss are the head's. */
export function kindOf(origin: string, roles: ReadonlyMap<string, ParamKind>): KernelGroupKind {
  // A label is a tensor's name, axes included (`wte_VD`, `stream.0.mlp.hidden_out`); a parameter's path has none.
  const parts = origin.replace(/_[A-Z]+$/, '').split('.');
  for (let n = parts.length; n >= 1; n--) {
    const prefix = parts.slice(0, n).join('.');
    const under = [...roles].filter(([path]) => path === prefix || path.startsWith(`${prefix}.`)).map(([, k]) => k);
    if (under.length === 0) continue;
    const kinds = new Set(under);
    if (kinds.size > 1) return 'other';
    const k = under[0]!;
    return k === 'head' ? 'head+loss' : k;
  }
  return /^(loss|logits)/.test(origin) ? 'head+loss' : 'other';
}

export interface KernelGroup {
  name: string;
  ms: number;
  kernels: number;
  share: number;
}

/** Sums of median kernel times per key, largest first. */
export function groupKernels<K extends { ms: number }>(kernels: readonly K[], key: (k: K) => string, totalMs: number): KernelGroup[] {
  const groups = new Map<string, { ms: number; kernels: number }>();
  for (const k of kernels) {
    const g = groups.get(key(k)) ?? { ms: 0, kernels: 0 };
    groups.set(key(k), { ms: g.ms + k.ms, kernels: g.kernels + 1 });
  }
  return [...groups].map(([name, g]) => ({ name, ...g, share: totalMs > 0 ? g.ms / totalMs : 0 })).sort((a, b) => b.ms - a.ms);
}
