// A model as Hugging Face's GPT-2 (transformers' GPT2LMHeadModel): which arch models it can
// express, its config.json, the tensors its state dict holds, and the tokenizer notes. Only
// variants GPT-2 computes exactly are exported; the rest are refused by name, never written wrong.
import { ExportError } from './error.js';

export interface ParamShapeLike {
  name: string;
  shape: number[];
}

/** Variant values GPT2LMHeadModel cannot compute, and why. `scale=off` is config (scale_attn_weights). */
const REFUSED: Record<string, Record<string, string>> = {
  norm: { post: 'GPT-2 normalises before attention and the MLP (ln_1, ln_2) and after the last block (ln_f); a post-norm block normalises after each sum and has no final norm' },
  pos: {
    sinusoidal: 'GPT-2 adds learned positions (wpe); it has no sinusoidal positions',
    none: 'GPT-2 always adds learned positions (wpe); a model without positions has no wpe to give it',
  },
  residual: { off: 'GPT-2 blocks add to the residual stream; blocks that replace it have no GPT-2 form' },
  mask: { none: 'GPT-2 attends causally (each position to those before it); a model without the mask would be exported as one with it' },
};
const ACTIVATIONS: Record<string, string> = { gelu: 'gelu_new', relu: 'relu' }; // arch's gelu is the tanh form

export interface Gpt2Dims {
  V: number;
  D: number;
  L: number;
  H: number;
  G: number;
  F: number;
  N: number;
  untied: boolean;
}

/** GPT-2's dims from arch's parameter shapes (wte_VD, wpe_LD, q.w [D, H, K], ...). */
export function gpt2Dims(params: ParamShapeLike[]): Gpt2Dims {
  const shape = (name: string) => params.find((p) => p.name === name)?.shape;
  const [wte, wpe, q, k, fc] = ['wte', 'wpe', 'stream.0.causal_attention.q.w', 'stream.0.causal_attention.k.w', 'stream.0.mlp.hidden.w'].map(shape);
  if (!wte || !wpe || !q || !k || !fc || q.length !== 3 || k.length !== 3)
    throw new ExportError(`its parameters are not GPT-2's: it needs wte, wpe and blocks stream.i with causal_attention.{q,k,v} [D, H, K] and mlp (as models/gpt2.arch has)`);
  let N = 0;
  while (shape(`stream.${N}.mlp.hidden.w`)) N++;
  return { V: wte[0]!, D: wte[1]!, L: wpe[0]!, H: q[1]!, G: k[1]!, F: fc[1]!, N, untied: Boolean(shape('logits.w')) };
}

/**
 * config.json for GPT2LMHeadModel, or an ExportError naming each variant GPT-2 cannot express.
 * `vocab` says whether the vocabulary is GPT-2's BPE (then <|endoftext|> is BOS and EOS).
 */
export function gpt2Config(variants: Map<string, string | number>, params: ParamShapeLike[], opts: { gpt2Vocab: boolean }): Record<string, unknown> {
  const reasons: string[] = [];
  const chosen: string[] = [];
  for (const [variant, values] of Object.entries(REFUSED)) {
    const v = String(variants.get(variant) ?? '');
    if (values[v]) {
      reasons.push(`${variant}=${v}: ${values[v]}`);
      chosen.push(`${variant}=${v}`);
    }
  }
  const act = String(variants.get('act') ?? 'gelu');
  if (!ACTIVATIONS[act]) reasons.push(`act=${act}: GPT-2's activations here are gelu (gelu_new) and relu`);
  let dims: Gpt2Dims | undefined;
  try {
    dims = gpt2Dims(params);
    if (dims.G !== dims.H) {
      reasons.push(`G=${dims.G} < H=${dims.H}: grouped-query attention; GPT-2 has as many key/value heads as query heads`);
      chosen.push(`G=${dims.G}`);
    }
  } catch (e) {
    reasons.push((e as Error).message);
  }
  if (reasons.length || !dims)
    throw new ExportError(
      `${chosen.length ? `the variant ${chosen.join(' ')}` : 'this model'} cannot be a Hugging Face GPT-2:\n    ${reasons.join('\n    ')}\n  hint: export it with --format onnx (any arch model), or choose GPT-2's variants (norm=pre pos=learned residual=on mask=causal G=H)`,
    );
  const dropout = Number(variants.get('dropout') ?? 0);
  const eos = opts.gpt2Vocab ? dims.V - 1 : null;
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: dims.V,
    n_positions: dims.L,
    n_ctx: dims.L,
    n_embd: dims.D,
    n_head: dims.H,
    n_layer: dims.N,
    n_inner: dims.F,
    activation_function: ACTIVATIONS[act],
    layer_norm_epsilon: 1e-5,
    // arch's dropout acts on the embeddings and on each block's two outputs, never on attention weights.
    embd_pdrop: dropout,
    resid_pdrop: dropout,
    attn_pdrop: 0,
    initializer_range: 0.02,
    scale_attn_weights: String(variants.get('scale') ?? 'on') !== 'off',
    scale_attn_by_inverse_layer_idx: false,
    reorder_and_upcast_attn: false,
    tie_word_embeddings: !dims.untied,
    bos_token_id: eos,
    eos_token_id: eos,
    use_cache: true,
  };
}

/** The tensors GPT2LMHeadModel's saved state dict holds (modeling_gpt2.py: Conv1D weights are [in, out]). */
export function gpt2StateShapes(d: Gpt2Dims): Map<string, number[]> {
  const m = new Map<string, number[]>([
    ['transformer.wte.weight', [d.V, d.D]],
    ['transformer.wpe.weight', [d.L, d.D]],
    ['transformer.ln_f.weight', [d.D]],
    ['transformer.ln_f.bias', [d.D]],
  ]);
  for (let i = 0; i < d.N; i++) {
    const h = `transformer.h.${i}.`;
    for (const ln of ['ln_1', 'ln_2']) for (const p of ['weight', 'bias']) m.set(`${h}${ln}.${p}`, [d.D]);
    m.set(`${h}attn.c_attn.weight`, [d.D, 3 * d.D]).set(`${h}attn.c_attn.bias`, [3 * d.D]);
    m.set(`${h}attn.c_proj.weight`, [d.D, d.D]).set(`${h}attn.c_proj.bias`, [d.D]);
    m.set(`${h}mlp.c_fc.weight`, [d.D, d.F]).set(`${h}mlp.c_fc.bias`, [d.F]);
    m.set(`${h}mlp.c_proj.weight`, [d.F, d.D]).set(`${h}mlp.c_proj.bias`, [d.D]);
  }
  if (d.untied) m.set('lm_head.weight', [d.V, d.D]);
  return m;
}

/** GPT-2 names (as toGpt2Names gives them) under GPT2LMHeadModel's keys: the body under `transformer.`. */
export function lmHeadKey(gpt2Name: string): string {
  return gpt2Name === 'lm_head.weight' ? gpt2Name : `transformer.${gpt2Name}`;
}

/** One line per problem where `have` differs from what GPT2LMHeadModel expects; empty when it fits. */
export function stateMismatches(have: Map<string, { shape: number[] }>, want: Map<string, number[]>): string[] {
  const out: string[] = [];
  for (const [k, s] of want) {
    const t = have.get(k);
    if (!t) out.push(`missing ${k} [${s.join(', ')}]`);
    else if (t.shape.join() !== s.join()) out.push(`${k}: GPT-2 has [${s.join(', ')}], the model [${t.shape.join(', ')}]`);
  }
  for (const [k, t] of have) if (!want.has(k)) out.push(`unexpected ${k} [${t.shape.join(', ')}]`);
  return out;
}

export type TokenizerLike = { kind: 'char'; chars: string[] } | { kind: 'task'; task: string; vocab: string[]; joiner: string } | { kind: 'gpt2' } | null;

/** vocab.json (token -> id) for a char or task vocabulary; null for GPT-2's BPE or no tokenizer. */
export function vocabJson(t: TokenizerLike): Record<string, number> | null {
  if (!t || t.kind === 'gpt2') return null;
  const list = t.kind === 'char' ? t.chars : t.vocab;
  return Object.fromEntries(list.map((s, i) => [s, i]));
}

/** The exported folder's README: what it is, how to load it, and what Hugging Face cannot say about the tokenizer. */
export function hfReadme(o: { model: string; weights: string; sets: Record<string, string>; tokenizer: TokenizerLike; gpt2Vocab: boolean; V: number }): string {
  const sets = Object.entries(o.sets).map(([k, v]) => ` --set ${k}=${v}`).join('');
  const lines = [
    `# ${o.model}, exported by arch`,
    '',
    `Exported with \`arch export ${o.model} --weights ${o.weights} --format hf${sets}\`. A Hugging Face GPT-2:`,
    '',
    '```python',
    'from transformers import GPT2LMHeadModel',
    'model = GPT2LMHeadModel.from_pretrained("THIS_FOLDER")',
    '```',
    '',
    '`model.safetensors` holds the weights in GPT-2\'s names and Conv1D layout ([in, out]); arch reads it back',
    'with `--weights THIS_FOLDER/model.safetensors`.',
    '',
    '## Tokenizer',
    '',
  ];
  if (o.gpt2Vocab) lines.push('The vocabulary is GPT-2\'s byte-level BPE: `GPT2TokenizerFast.from_pretrained("gpt2")` encodes and decodes for this model.');
  else if (o.tokenizer && o.tokenizer.kind !== 'gpt2') {
    const unit = o.tokenizer.kind === 'char' ? 'character' : 'token';
    lines.push(
      `\`vocab.json\` maps each ${unit} of the model's ${o.V}-entry vocabulary to its id.`,
      '',
      'What Hugging Face cannot represent: its GPT-2 tokenizers are byte-level BPE (vocab.json plus merges.txt over',
      'byte symbols), and this vocabulary is not. There are no merges, no byte fallback and no unknown token: a',
      `${unit} outside vocab.json has no id, and there is no end-of-text token (bos/eos are null in config.json).`,
      'So there is no tokenizer.json here; encode and decode with the map itself:',
      '',
      '```python',
      'import json',
      'vocab = json.load(open("THIS_FOLDER/vocab.json"))',
      'inverse = {i: s for s, i in vocab.items()}',
      `ids = [vocab[t] for t in ${o.tokenizer.kind === 'task' && o.tokenizer.joiner === ' ' ? 'text.split()' : 'text'}]`,
      `text = ${JSON.stringify(o.tokenizer.kind === 'task' ? o.tokenizer.joiner : '')}.join(inverse[i] for i in ids)`,
      '```',
    );
  } else lines.push(`The weights file carried no tokenizer; token ids are 0 .. ${o.V - 1} of whatever vocabulary the model was trained on.`);
  return lines.join('\n') + '\n';
}
