// The attention weights of every head of every layer for one prompt: the forward pass on the
// interpreter with each softmax's weights as outputs, split into one [query, key] map per head.
// `arch attention` draws them; the playground shows them.
import { ATTENTION_PREFIX } from '../compiler/lower.js';
import type { Tokenizer } from '../data/index.js';
import { interpret, prune, type Value } from '../ir/index.js';
import { checkpointTokenizer, modelWithCheckpoint } from './checkpoint-model.js';
import type { SessionEnv } from './env.js';
import { UsageError } from './errors.js';
import { checkModelFits, PARAM_COPIES } from './fits.js';
import { tokenInput } from './pipeline.js';

export interface HeadMaps {
  /** One entry per attention (softmax) in the model, in forward order: its block instance and maps. */
  layers: { name: string; maps: Float32Array[] }[];
}

/**
 * Splits an `attention:*` output into one [query, key] map per head. The batch axis is the
 * token input's batch symbol (size 1 here); the query axis is the token input's length letter;
 * the key axis is the other axis that runs over positions; every remaining axis (G then R in
 * GPT-2) indexes heads, merged in order, so head = g * R + r as in q_BLHK[H -> G R].
 */
export function splitHeads(v: Value, batchSymbol: string, lengthSymbol: string, lengthAxis: string, n: number, sizes: readonly (string | number)[]): Float32Array[] {
  const axes = v.type.axes;
  const strides = axes.map((_, i) => axes.slice(i + 1).reduce((a, x) => a * (x.size as number), 1));
  const batch = sizes.indexOf(batchSymbol);
  const seq = sizes.map((s, i) => (s === lengthSymbol && i !== batch ? i : -1)).filter((i) => i >= 0);
  if (seq.length !== 2) throw new UsageError(`${axes.map((a) => a.name).join(' ')}: expected two position axes (queries and keys) in an attention map`);
  const q = seq.find((i) => axes[i]!.name === lengthAxis) ?? seq[0]!;
  const k = seq.find((i) => i !== q)!;
  const heads = axes.map((_, i) => i).filter((i) => i !== batch && i !== q && i !== k);
  const count = heads.reduce((a, i) => a * (axes[i]!.size as number), 1);
  const out: Float32Array[] = [];
  for (let h = 0; h < count; h++) {
    let base = 0;
    let rest = h;
    for (let j = heads.length - 1; j >= 0; j--) {
      const size = axes[heads[j]!]!.size as number;
      base += (rest % size) * strides[heads[j]!]!;
      rest = Math.floor(rest / size);
    }
    const m = new Float32Array(n * n);
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) m[a * n + b] = v.data[base + a * strides[q]! + b * strides[k]!]!;
    out.push(m);
  }
  return out;
}

export interface AttentionRequest {
  file: string;
  weights: string;
  prompt?: string;
  promptTokens?: number[];
  sets?: Map<string, string>;
}

/** The forward pass on the interpreter with every softmax's weights as outputs. */
export function attentionMaps(env: SessionEnv, req: AttentionRequest): { tokens: string[]; ids: number[]; layers: HeadMaps['layers']; model: string } {
  const { ckpt, model, built, fitted } = modelWithCheckpoint(env, req.file, req.weights, req.sets ?? new Map(), { attentionMaps: true });
  const weights = fitted.weights;
  const t = tokenInput(built.lowered, req.file);
  checkModelFits(built, { batch: 1, paramCopies: PARAM_COPIES.inference, memoryBytes: env.host.memoryBytes() });
  const names = [...built.graph.outputs.keys()].filter((k) => k.startsWith(ATTENTION_PREFIX));
  if (!names.length) throw new UsageError(`${req.file} has no softmax, so there is no attention to draw`);
  const tokenizer: Tokenizer | undefined = checkpointTokenizer(ckpt, t.classes);

  let ids: number[];
  if (req.promptTokens) {
    ids = req.promptTokens;
    const bad = ids.find((x) => !Number.isInteger(x) || x < 0 || x >= t.classes);
    if (bad !== undefined) throw new UsageError(`--prompt-tokens: ${bad} is not a token id of this model (0 .. ${t.classes - 1})`);
  } else {
    if (req.prompt === undefined) throw new UsageError('--prompt is required: the text whose attention to draw (or --prompt-tokens 1,2,3)');
    if (!tokenizer) throw new UsageError(`${req.weights} carries no tokenizer; give the prompt as ids with --prompt-tokens`);
    ids = tokenizer.encode(req.prompt);
  }
  if (ids.length === 0) throw new UsageError('the prompt is empty: give at least one token');
  const L = t.maxLength ?? ids.length;
  if (ids.length > L) {
    env.log(`warning: the prompt has ${ids.length} tokens, more than the model's context of ${L}; keeping the last ${L}\n`);
    ids = ids.slice(ids.length - L);
  }
  const n = ids.length;
  const graph = prune(built.graph, names);
  const out = interpret(graph, { inputs: { [t.name]: Int32Array.from(ids) }, params: Object.fromEntries(weights), symbols: { [t.batchSymbol]: 1, [t.lengthSymbol]: n, seed: 0 } });
  const lengthAxis = built.graph.nodes[built.graph.inputs.get(t.name)!]!.type.axes[1]!.name;
  const layers = names.map((name) => {
    const sizes = built.graph.nodes[built.graph.outputs.get(name)!]!.type.axes.map((a) => a.size);
    return { name: name.slice(ATTENTION_PREFIX.length), maps: splitHeads(out.get(name)!, t.batchSymbol, t.lengthSymbol, lengthAxis, n, sizes) };
  });
  const tokens = ids.map((id) => (tokenizer ? tokenizer.decode([id]) : String(id)));
  return { tokens, ids, layers, model: model.name };
}
