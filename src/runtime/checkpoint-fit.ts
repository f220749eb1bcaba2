// Whether a checkpoint fits a model: every parameter present under its name (arch's, or GPT-2's
// mapped by weights.ts), each of the model's shape, nothing unexpected. loadCheckpoint has
// already checked what the file holds by itself; this is the half that needs the model. When the
// shapes differ it says first which dims differ, in words, then a few tensors, not all of them.
import { CheckpointError } from './safetensors.js';
import type { CheckpointMeta, LoadedCheckpoint } from './train/checkpoint.js';
import type { OptimizerState } from './train/backend.js';
import { fromGpt2Names, isGpt2Checkpoint, sameShape, type ParamShape, type Weights } from './weights.js';

/** What a mismatch is explained against: the model's dims and variants as compiled (a CheckedModel
 *  is one; named by shape because the runtime does not know the language). */
export interface ModelSettings {
  dims: ReadonlyMap<string, { size: number | null }>;
  variants: ReadonlyMap<string, string | number>;
}

export interface Fitted {
  weights: Weights;
  format: 'arch' | 'gpt2';
  /** AdamW's moments, when the checkpoint has them (they fit the weights: loadCheckpoint checked). */
  optimizer: OptimizerState | null;
  meta: CheckpointMeta | null;
}

const SHOWN = 4;

/**
 * The checkpoint's weights for `params`, or one CheckpointError saying how they differ.
 * `recorded`: the model is the one the checkpoint's own metadata describes (a resumed run), so a
 * mismatch means the checkpoint contradicts itself, not that the user chose another model.
 */
export function fitCheckpoint(ckpt: LoadedCheckpoint, params: ParamShape[], model?: ModelSettings, recorded = false): Fitted {
  const gpt2 = isGpt2Checkpoint(ckpt.weights);
  const tensors: Map<string, { shape: number[]; data: Float32Array | Int32Array }> = gpt2 ? fromGpt2Names(ckpt.weights, params, ckpt.file) : ckpt.weights;
  const wrong: { p: ParamShape; shape: number[] }[] = [];
  const missing: ParamShape[] = [];
  const weights: Weights = new Map();
  for (const p of params) {
    const t = tensors.get(p.name);
    if (!t) missing.push(p);
    else if (!sameShape(t.shape, p.shape) || t.data.length !== numel(p.shape)) wrong.push({ p, shape: t.shape });
    else weights.set(p.name, t.data as Float32Array);
  }
  const wanted = new Set(params.map((p) => p.name));
  const extra = [...tensors].filter(([k]) => !wanted.has(k) && !k.startsWith('__'));
  const lines = [
    ...wrong.map(({ p, shape }) => `${p.name}: the model needs ${fmt(p.shape)}, the file has ${fmt(shape)}${transposed(p.shape, shape) ? ' (transposed)' : ''}`),
    ...missing.map((p) => `missing ${p.name} ${fmt(p.shape)}`),
    ...extra.map(([k, t]) => `unexpected ${k} ${fmt(t.shape)} (the model has no such parameter)`),
  ];
  if (lines.length) {
    const why = explainDims(ckpt.meta, model, wrong) ?? explainRepeats(params, [...tensors.keys()]);
    const n = `${lines.length} mismatch${lines.length === 1 ? '' : 'es'}`;
    const shown = lines.slice(0, SHOWN).concat(lines.length > SHOWN ? [`... and ${lines.length - SHOWN} more`] : []);
    const what = recorded ? 'its weights do not fit the model it records (metadata "model_source" and "sets")' : `the checkpoint (${gpt2 ? 'GPT-2' : 'arch'} names) does not match the model`;
    throw new CheckpointError(
      ckpt.file,
      `${what}: ${why ? `${why} (${n})` : n}:\n    ${shown.join('\n    ')}`,
      recorded ? 'the checkpoint was edited or damaged; use another checkpoint of the run, or train again' : trainedWith(ckpt.meta),
    );
  }
  return { weights, format: gpt2 ? 'gpt2' : 'arch', optimizer: gpt2 ? null : ckpt.optimizer, meta: ckpt.meta };
}

const numel = (s: number[]): number => s.reduce((a, b) => a * b, 1);
/** The same sizes in another order: a layout mistake, which says nothing about the dims. */
const transposed = (want: number[], got: number[]): boolean => !sameShape(want, got) && sameShape([...want].sort(), [...got].sort());
const fmt = (s: number[]): string => `[${s.join(', ')}]`;
const pairs = (xs: [string, string | number][]): string => xs.map(([k, v]) => `${k}=${v}`).join(', ');

/**
 * The dims (or variants) that differ, in words. From the checkpoint's own --set values when it
 * has them ("the checkpoint was trained with D=64; the model has D=128"); else read off the
 * shapes, axis by axis, where every differing tensor agrees on a dim's value in the file.
 */
function explainDims(meta: CheckpointMeta | null, model: ModelSettings | undefined, wrong: { p: ParamShape; shape: number[] }[]): string | undefined {
  if (meta && model) {
    const differ: [string, string, string | number][] = [];
    for (const [k, v] of Object.entries(meta.sets)) {
      const now = model.dims.has(k) ? model.dims.get(k)!.size : model.variants.get(k);
      if (now !== undefined && now !== null && String(now) !== v) differ.push([k, v, now]);
    }
    if (differ.length) {
      return `the checkpoint was trained with ${pairs(differ.map(([k, v]) => [k, v]))}; the model has ${pairs(differ.map(([k, , m]) => [k, m]))}`;
    }
  }
  const inFile = new Map<string, Set<number>>();
  const inModel = new Map<string, number>();
  for (const { p, shape } of wrong) {
    if (!p.axes || shape.length !== p.shape.length || transposed(p.shape, shape)) continue;
    p.shape.forEach((n, i) => {
      if (shape[i] === n) return;
      const letter = p.axes![i]!.replace(/_\d+$/, '');
      inModel.set(letter, n);
      inFile.set(letter, (inFile.get(letter) ?? new Set()).add(shape[i]!));
    });
  }
  const agreed = [...inFile].filter(([l, vs]) => vs.size === 1 && (!model || model.dims.has(l)));
  if (!agreed.length) return undefined;
  const order = model ? [...model.dims.keys()] : [];
  agreed.sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
  return `its tensors have ${pairs(agreed.map(([l, vs]) => [l, [...vs][0]!]))}; the model has ${pairs(agreed.map(([l]) => [l, inModel.get(l)!]))}`;
}

/** A repeat count that differs ("the checkpoint has 12 stream layers; the model has 2"). */
function explainRepeats(params: ParamShape[], names: string[]): string | undefined {
  const count = (xs: string[]) => {
    const out = new Map<string, number>();
    for (const x of xs) {
      const m = /^([A-Za-z_]\w*)\.(\d+)\./.exec(x);
      if (m) out.set(m[1]!, Math.max(out.get(m[1]!) ?? 0, Number(m[2]) + 1));
    }
    return out;
  };
  const file = count(names);
  for (const [prefix, n] of count(params.map((p) => p.name))) {
    const f = file.get(prefix);
    if (f !== undefined && f !== n) return `the checkpoint has ${f} ${prefix} layers; the model has ${n}`;
  }
  return undefined;
}

function trainedWith(meta: CheckpointMeta | null): string {
  const base = 'use the model file and the --set values (dims, variants) the checkpoint was trained with';
  if (!meta) return base;
  const sets = Object.entries(meta.sets).map(([k, v]) => ` --set ${k}=${v}`).join('');
  return `${base}: it was trained on ${meta.modelFile || 'a model'}${sets}`;
}
