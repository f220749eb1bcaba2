// Model weights in and out of safetensors files. arch's own files name each tensor by its
// parameter path (stream.3.causal_attention.q.w); GPT-2 checkpoints in Hugging Face's names and
// layouts (h.3.attn.c_attn.weight, ...) are recognised and mapped, so real GPT-2 weights load.
import type { Graph } from '../ir/index.js';
import { CheckpointError } from './safetensors.js';

export type Weights = Map<string, Float32Array>;

export interface ParamShape {
  name: string;
  shape: number[];
  /** Each axis's name in the IR (D, K, D_1 for a second D axis): what a mismatch is explained by. */
  axes?: string[];
}

export function paramShapes(graph: Graph): ParamShape[] {
  return [...graph.params].map(([name, id]) => {
    const axes = graph.nodes[id]!.type.axes;
    const shape = axes.map((a) => {
      if (typeof a.size !== 'number') throw new Error(`parameter ${name} has a runtime size ${a.size}`);
      return a.size;
    });
    return { name, shape, axes: axes.map((a) => a.name) };
  });
}

const numel = (s: number[]): number => s.reduce((a, b) => a * b, 1);

// ---------------------------------------------------------------- GPT-2 (Hugging Face) names

/** Buffers that GPT-2 files carry but that are not parameters (the causal mask, the mask value). */
const GPT2_BUFFERS = /\.attn\.(masked_)?bias$/;

export function isGpt2Buffer(name: string): boolean {
  return GPT2_BUFFERS.test(name);
}

export function isGpt2Checkpoint(tensors: Map<string, unknown>): boolean {
  for (const k of tensors.keys()) if (/^(transformer\.)?(wte\.weight|h\.\d+\.attn\.c_attn\.weight)$/.test(k)) return true;
  return false;
}

/** arch parameter path <- GPT-2 name, for the layer-independent ones. */
const GPT2_TOP: Record<string, string> = {
  'wte.weight': 'wte',
  'wpe.weight': 'wpe',
  'ln_f.weight': 'final.gain',
  'ln_f.bias': 'final.bias',
};
const GPT2_LAYER: Record<string, string> = {
  'attn.c_proj.weight': 'causal_attention.out.w',
  'attn.c_proj.bias': 'causal_attention.out.b',
  'mlp.c_fc.weight': 'mlp.hidden.w',
  'mlp.c_fc.bias': 'mlp.hidden.b',
  'mlp.c_proj.weight': 'mlp.out.w',
  'mlp.c_proj.bias': 'mlp.out.b',
};
/**
 * GPT-2's ln_1 and ln_2 are a block's first and second norm. Pre-norm, the norms before attention
 * and the MLP are named by their block (layernorm, layernorm_2); post-norm, the norms after them
 * are named by the tensors they produce (attended, out). Either way, their order in the block.
 */
const GPT2_NORMS = { pre: ['layernorm', 'layernorm_2'], post: ['attended', 'out'] } as const;

/** The GPT-2 -> arch table of one block, whose norms are named as `has` says. */
function gpt2LayerTable(prefix: string, has: (name: string) => boolean): Record<string, string> {
  const [ln1, ln2] = has(`${prefix}${GPT2_NORMS.post[0]}.gain`) ? GPT2_NORMS.post : GPT2_NORMS.pre;
  return { 'ln_1.weight': `${ln1}.gain`, 'ln_1.bias': `${ln1}.bias`, 'ln_2.weight': `${ln2}.gain`, 'ln_2.bias': `${ln2}.bias`, ...GPT2_LAYER };
}
const LAYER_PREFIX = 'stream';

function shapeOf(params: ParamShape[], name: string): number[] | undefined {
  return params.find((p) => p.name === name)?.shape;
}

function sameTensor(a: { shape: number[]; data: ArrayLike<number> }, b: { shape: number[]; data: ArrayLike<number> } | undefined): boolean {
  if (!b || !sameShape(a.shape, b.shape) || a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

/** Maps a GPT-2 checkpoint onto models/gpt2.arch's parameters (Conv1D layout: y = x W + b). */
export function fromGpt2Names(tensors: Map<string, { shape: number[]; data: Float32Array | Int32Array }>, params: ParamShape[], file: string): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  const put = (name: string, shape: number[], data: Float32Array | Int32Array) => {
    if (!(data instanceof Float32Array)) throw new CheckpointError(file, `${name} holds integers`, 'a GPT-2 checkpoint holds float weights');
    out.set(name, { shape, data });
  };
  for (const [raw, t] of tensors) {
    const name = raw.replace(/^transformer\./, '');
    if (GPT2_BUFFERS.test(name)) continue;
    if (GPT2_TOP[name]) {
      put(GPT2_TOP[name]!, t.shape, t.data);
      continue;
    }
    if (name === 'lm_head.weight' && t.shape.length === 2) {
      // A tied head saved under its own name as well (save_pretrained of an FSDP-wrapped model
      // writes both): the same numbers as wte, nothing of its own for a tied model to load.
      if (!shapeOf(params, 'logits.w') && sameTensor(t, tensors.get('transformer.wte.weight') ?? tensors.get('wte.weight'))) continue;
      // [V, D] in the file; the untied head is `project`: w_IO = [D, V].
      const [v, d] = t.shape as [number, number];
      put('logits.w', [d, v], transpose(t.data as Float32Array, v, d));
      continue;
    }
    const m = /^h\.(\d+)\.(.+)$/.exec(name);
    if (!m) {
      put(name, t.shape, t.data);
      continue;
    }
    const [, layer, rest] = m;
    const prefix = `${LAYER_PREFIX}.${layer}.`;
    if (rest === 'attn.c_attn.weight' || rest === 'attn.c_attn.bias') {
      // c_attn's columns are [q | k | v]; q is H*K wide, k and v G*K each.
      const q = shapeOf(params, `${prefix}causal_attention.q.w`);
      const k = shapeOf(params, `${prefix}causal_attention.k.w`);
      if (!q || !k) {
        put(name, t.shape, t.data);
        continue;
      }
      const qw = numel(q.slice(1));
      const kw = numel(k.slice(1));
      const rows = rest.endsWith('weight') ? t.shape[0]! : 1;
      const cols = t.shape[t.shape.length - 1]!;
      // Conv1D's layout: weight [D, q|k|v], bias [q|k|v]; anything else is left to be reported.
      const laidOut = rest.endsWith('weight') ? t.shape.length === 2 && rows === q[0] : t.shape.length === 1;
      if (!laidOut || cols !== qw + 2 * kw) {
        put(name, t.shape, t.data);
        continue;
      }
      const which = rest.endsWith('weight') ? 'w' : 'b';
      const sh = (p: number[]) => (which === 'w' ? p : p.slice(1));
      put(`${prefix}causal_attention.q.${which}`, sh(q), columns(t.data as Float32Array, rows, cols, 0, qw));
      put(`${prefix}causal_attention.k.${which}`, sh(k), columns(t.data as Float32Array, rows, cols, qw, kw));
      put(`${prefix}causal_attention.v.${which}`, sh(k), columns(t.data as Float32Array, rows, cols, qw + kw, kw));
      continue;
    }
    const mapped = gpt2LayerTable(prefix, (n) => shapeOf(params, n) !== undefined)[rest!];
    if (mapped) {
      const target = prefix + mapped;
      const want = shapeOf(params, target);
      // The file's shape must be the parameter's in GPT-2's layout, not merely as many numbers:
      // a transposed [F, D] for c_fc's [D, F] is a different matrix.
      put(target, want && sameShape(gpt2Layout(rest!, want), t.shape) ? want : t.shape, t.data);
    } else put(name, t.shape, t.data);
  }
  return out;
}

/** The inverse: models/gpt2.arch's parameters under GPT-2's names and layouts. */
export function toGpt2Names(weights: Weights, params: ParamShape[]): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  const get = (n: string) => {
    const w = weights.get(n);
    if (!w) throw new Error(`toGpt2Names: the model has no parameter ${n}`);
    return w;
  };
  for (const [hf, ours] of Object.entries(GPT2_TOP)) if (weights.has(ours)) out.set(hf, { shape: shapeOf(params, ours)!, data: get(ours) });
  if (weights.has('logits.w')) {
    const [d, v] = shapeOf(params, 'logits.w')!;
    out.set('lm_head.weight', { shape: [v!, d!], data: transpose(get('logits.w'), d!, v!) });
  }
  for (let i = 0; weights.has(`${LAYER_PREFIX}.${i}.mlp.hidden.w`); i++) {
    const prefix = `${LAYER_PREFIX}.${i}.`;
    for (const [hf, ours] of Object.entries(gpt2LayerTable(prefix, (n) => weights.has(n)))) {
      const shape = shapeOf(params, prefix + ours)!;
      const flat = hf.endsWith('weight') && shape.length > 2 ? [shape[0]!, numel(shape.slice(1))] : shape.length > 2 ? [numel(shape)] : shape;
      out.set(`h.${i}.${hf}`, { shape: hf.includes('c_proj.weight') ? [numel(shape.slice(0, -1)), shape.at(-1)!] : flat, data: get(prefix + ours) });
    }
    for (const which of ['w', 'b'] as const) {
      const parts = ['q', 'k', 'v'].map((x) => ({ data: get(`${prefix}causal_attention.${x}.${which}`), shape: shapeOf(params, `${prefix}causal_attention.${x}.${which}`)! }));
      const rows = which === 'w' ? parts[0]!.shape[0]! : 1;
      const widths = parts.map((p) => p.data.length / rows);
      const cols = widths.reduce((a, b) => a + b, 0);
      const data = new Float32Array(rows * cols);
      let at = 0;
      parts.forEach((p, j) => {
        for (let r = 0; r < rows; r++) data.set(p.data.subarray(r * widths[j]!, (r + 1) * widths[j]!), r * cols + at);
        at += widths[j]!;
      });
      out.set(`h.${i}.attn.c_attn.${which === 'w' ? 'weight' : 'bias'}`, { shape: which === 'w' ? [rows, cols] : [cols], data });
    }
  }
  return out;
}

/** A parameter's shape as GPT-2's Conv1D files hold it: weights [in, out], biases and gains flat. */
function gpt2Layout(hfName: string, shape: number[]): number[] {
  if (hfName.endsWith('c_proj.weight')) return [numel(shape.slice(0, -1)), shape.at(-1)!];
  if (shape.length <= 2) return shape;
  return hfName.endsWith('weight') ? [shape[0]!, numel(shape.slice(1))] : [numel(shape)];
}

export const sameShape = (a: number[], b: number[]): boolean => a.length === b.length && a.every((n, i) => n === b[i]);

function columns(data: Float32Array, rows: number, cols: number, from: number, width: number): Float32Array {
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * cols + from, r * cols + from + width), r * width);
  return out;
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}
