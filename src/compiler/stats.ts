// What `arch inspect` reports about a checked model: parameter counts per parameter, per block
// and by kind (decided by structure: param-roles.ts), and forward FLOPs per token.
import type { CheckedModel, ParamEntry } from './graph.js';
import { inRepeatedBlock, paramRoles, type ParamKind } from './param-roles.js';

export type { ParamKind } from './param-roles.js';

export interface BlockStats {
  name: string; // instance path, e.g. stream.3
  block: string; // the block it instantiates, e.g. layer
  params: number;
  /** Forward FLOPs per token of the contractions inside this block instance. */
  flopsPerToken: number;
}

export interface ModelStats {
  params: number;
  byKind: Record<ParamKind, number>;
  /** The same over the parameters of repeated blocks only (the transformer's layers). */
  blocksByKind: Record<ParamKind, number>;
  /** Parameters in repeated blocks. */
  blockParams: number;
  /** Each parameter's kind, by path. */
  kinds: Map<string, ParamKind>;
  blocks: BlockStats[];
  flopsPerToken: number;
  /** The part of flopsPerToken in contractions of two activations (attention's scores and mixing), which grows with the context. */
  attentionFlopsPerToken: number;
  /** Bytes of every named tensor of the shape trace at batch 1 (f32), as a forward pass that kept them all would hold. */
  activationBytes: number;
  /** The part of activationBytes in attention's L x M matrices (the scores and weights of every softmax over key positions). */
  attentionMatrixBytes: number;
  /** The sizes used for runtime dims when counting FLOPs. */
  assumed: Record<string, number>;
}

export const paramCount = (p: ParamEntry): number => p.shape.reduce((a, b) => a * b, 1);

/**
 * Which part of a transformer a parameter belongs to, guessed from the names of the blocks it was
 * created in; modelStats decides by the graph's structure instead (paramRoles).
 */
export function paramKind(p: ParamEntry): ParamKind {
  const chain = p.blocks;
  if (chain.some((b) => b.includes('attention'))) return 'attention';
  if (chain.some((b) => b === 'mlp' || b.includes('mlp') || b.includes('feed_forward'))) return 'mlp';
  if (chain.some((b) => b.includes('norm'))) return 'norm';
  if (chain.length === 0 || chain.every((b) => b.includes('embed') || b.includes('position') || b === 'sinusoidal')) return 'embeddings';
  return 'other';
}

/** The top-level call is the block: "stream.3.causal_attention.q.w" -> "stream.3" (repeat index kept). */
const blockOf = (parts: string[]): string => (/^\d+$/.test(parts[1] ?? '') ? parts.slice(0, 2).join('.') : parts[0]!);

export function modelStats(m: CheckedModel): ModelStats {
  const none = (): Record<ParamKind, number> => ({ embeddings: 0, attention: 0, mlp: 0, norm: 0, head: 0, other: 0 });
  const byKind = none();
  const blocksByKind = none();
  const kinds = paramRoles(m);
  const blocks = new Map<string, BlockStats>();
  let params = 0;
  let blockParams = 0;
  for (const p of m.params) {
    const n = paramCount(p);
    params += n;
    byKind[kinds.get(p.path)!] += n;
    if (inRepeatedBlock(p)) {
      blockParams += n;
      blocksByKind[kinds.get(p.path)!] += n;
    }
    const parts = p.path.split('.');
    if (p.blocks.length) {
      const name = blockOf(parts);
      const b = blocks.get(name) ?? { name, block: p.blocks[0]!, params: 0, flopsPerToken: 0 };
      b.params += n;
      blocks.set(name, b);
    }
  }
  // FLOPs per token: 2 x multiply-adds of every contraction (one-hot ones are row lookups), at
  // batch 1 and the full context length, divided by the number of positions.
  const size = (a: string): number => m.axes.get(a)?.size ?? 1;
  const assumed: Record<string, number> = {};
  for (const info of m.axes.values()) if (info.size === null) assumed[info.letter] = 1;
  let flops = 0;
  let attentionFlops = 0;
  const blockFlops = new Map<string, number>();
  const onehot = (id: number): boolean => {
    const op = m.nodes[id]!.op;
    return (op.kind === 'input' && op.onehot) || op.kind === 'next';
  };
  for (const n of m.nodes) {
    if (n.op.kind !== 'contract' || n.args.some(onehot)) continue;
    const axes = new Set([...m.nodes[n.args[0]!]!.axes, ...m.nodes[n.args[1]!]!.axes]);
    let macs = 1;
    for (const a of axes) macs *= size(a);
    flops += 2 * macs;
    if (n.args.every((a) => m.nodes[a]!.op.kind !== 'param')) attentionFlops += 2 * macs;
    const key = n.scope ? blockOf(n.scope.split('.')) : '';
    if (key) blockFlops.set(key, (blockFlops.get(key) ?? 0) + 2 * macs);
  }
  let tokens = 1;
  const first = m.inputs.find((i) => i.onehot) ?? m.inputs[0];
  if (first) for (const a of first.onehot ? first.axes.slice(0, -1) : first.axes) tokens *= size(a);
  for (const b of blocks.values()) b.flopsPerToken = Math.round((blockFlops.get(b.name) ?? 0) / tokens);
  const memory = activationMemory(m, size);
  return {
    params,
    byKind,
    blocksByKind,
    blockParams,
    kinds,
    blocks: [...blocks.values()],
    flopsPerToken: Math.round(flops / tokens),
    attentionFlopsPerToken: Math.round(attentionFlops / tokens),
    ...memory,
    assumed,
  };
}

/** The named tensors' bytes at batch 1 (runtime dims at 1), and those of attention's score and weight matrices. */
function activationMemory(m: CheckedModel, size: (axis: string) => number): { activationBytes: number; attentionMatrixBytes: number } {
  const vocab = new Set(m.inputs.filter((i) => i.onehot).map((i) => i.axes.at(-1)!));
  const matrices = new Set(m.nodes.filter((n) => n.op.kind === 'softmax' && !vocab.has(n.op.over)).map((n) => [...n.axes].sort().join(' ')));
  let activationBytes = 0;
  let attentionMatrixBytes = 0;
  for (const t of m.trace) {
    const axes = m.nodes[t.node]!.axes;
    const bytes = 4 * axes.reduce((a, x) => a * size(x), 1);
    activationBytes += bytes;
    if (matrices.has([...axes].sort().join(' '))) attentionMatrixBytes += bytes;
  }
  return { activationBytes, attentionMatrixBytes };
}
