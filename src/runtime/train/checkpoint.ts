// Training checkpoints: one safetensors file with the weights under their parameter names (so
// `arch eval --weights` and `arch sample --weights` read it as it is), the optimizer's moments
// under optimizer.m.* / optimizer.v.*, and in the metadata everything needed to resume or to
// rebuild the model: step, data RNG state, tokenizer, the model's source and its --set values.
import { CheckpointError, parseSafetensors, safetensorsPieces, serializeSafetensors, type StFile, type StInput, type StTensor } from '../safetensors.js';
import { isGpt2Buffer, isGpt2Checkpoint, sameShape } from '../weights.js';
import type { OptimizerState, Weights } from './backend.js';
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, parseCheckpointMeta } from './checkpoint-meta.js';

export { CHECKPOINT_FORMAT, CHECKPOINT_VERSION };
const M = 'optimizer.m.';
const V = 'optimizer.v.';

export interface CheckpointMeta {
  step: number;
  elapsedS: number;
  rng: unknown; // the data RNG's state
  tokenizer: unknown; // Tokenizer.toJSON()
  modelFile: string;
  modelSource: string;
  sets: Record<string, string>;
  data: string;
  options: Record<string, unknown>; // the training flags
}

/** A checkpoint as pieces of bytes (header, then views of each tensor), for a host that writes a
 *  file without joining them (src/host/node/safetensors-file.ts's saveCheckpoint). */
export function checkpointPieces(weights: Weights, shapes: Map<string, number[]>, opt: OptimizerState | null, meta: CheckpointMeta, where?: string): Uint8Array[] {
  const { tensors, metadata } = checkpointContents(weights, shapes, opt, meta);
  return safetensorsPieces(tensors, metadata, where);
}

/** A checkpoint as one array of bytes, the same as checkpointPieces joined (the playground downloads them). */
export function checkpointBytes(weights: Weights, shapes: Map<string, number[]>, opt: OptimizerState | null, meta: CheckpointMeta): Uint8Array {
  const { tensors, metadata } = checkpointContents(weights, shapes, opt, meta);
  return serializeSafetensors(tensors, metadata);
}

function checkpointContents(weights: Weights, shapes: Map<string, number[]>, opt: OptimizerState | null, meta: CheckpointMeta): { tensors: Map<string, StInput>; metadata: Record<string, string> } {
  const tensors = new Map<string, StInput>();
  for (const [k, w] of weights) tensors.set(k, { shape: shapes.get(k)!, data: w });
  if (opt) {
    for (const [k, w] of opt.m) tensors.set(M + k, { shape: shapes.get(k)!, data: w });
    for (const [k, w] of opt.v) tensors.set(V + k, { shape: shapes.get(k)!, data: w });
  }
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    step: String(meta.step),
    elapsed_s: String(meta.elapsedS),
    rng: JSON.stringify(meta.rng),
    tokenizer: JSON.stringify(meta.tokenizer),
    model_file: meta.modelFile,
    model_source: meta.modelSource,
    sets: JSON.stringify(meta.sets),
    data: meta.data,
    options: JSON.stringify(meta.options),
  };
  return { tensors, metadata };
}

export interface LoadedCheckpoint {
  file: string;
  weights: Map<string, { shape: number[]; data: Float32Array }>;
  optimizer: OptimizerState | null;
  meta: CheckpointMeta | null; // null: a plain weights file (not written by arch train)
}

/**
 * A checkpoint from its bytes, with everything it holds checked that needs no model: the layout
 * (parseSafetensors), every tensor's dtype and values, the optimizer's moments against the
 * weights, and each field of arch's metadata. GPT-2's attention-mask buffers are dropped here.
 * What is checked against a model (names, shapes, dims) is fitCheckpoint's job. `where` names
 * the file (or upload) in errors.
 */
export function parseCheckpoint(bytes: Uint8Array, where: string): LoadedCheckpoint {
  return checkpointFrom(parseSafetensors(bytes, where), where);
}

function checkpointFrom(st: StFile, path: string): LoadedCheckpoint {
  const gpt2 = isGpt2Checkpoint(st.tensors);
  const tensors = new Map([...st.tensors].filter(([k]) => !(gpt2 && isGpt2Buffer(k))));
  checkValues(path, tensors);
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  const m = new Map<string, { shape: number[]; data: Float32Array }>();
  const v = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, t] of tensors) {
    const entry = { shape: t.shape, data: t.data as Float32Array };
    if (k.startsWith(M)) m.set(k.slice(M.length), entry);
    else if (k.startsWith(V)) v.set(k.slice(V.length), entry);
    else weights.set(k, entry);
  }
  if (m.size || v.size) checkMoments(path, weights, m, v);
  const data = (x: typeof m): Weights => new Map([...x].map(([k, t]) => [k, t.data]));
  return { file: path, weights, optimizer: m.size ? { m: data(m), v: data(v) } : null, meta: parseCheckpointMeta(path, st.metadata) };
}

const SHOWN = 4;
const count = (n: number): string => n.toLocaleString('en-US');

function listed(lines: string[]): string {
  const more = lines.length > SHOWN ? [`... and ${lines.length - SHOWN} more`] : [];
  return [...lines.slice(0, SHOWN), ...more].map((l) => `\n    ${l}`).join('');
}

/** Floats only, every one finite: a NaN weight would silently poison every output. */
function checkValues(path: string, tensors: Map<string, StTensor>): void {
  const ints = [...tensors].filter(([, t]) => !(t.data instanceof Float32Array)).map(([k, t]) => `${k}: ${t.dtype} integers`);
  if (ints.length) {
    throw new CheckpointError(path, `holds integers where weights must be floats:${listed(ints)}`, 'weights are F32, F64, F16 or BF16; convert the checkpoint to one of those');
  }
  const bad: string[] = [];
  for (const [k, t] of tensors) {
    const x = t.data as Float32Array;
    let nan = 0;
    let inf = 0;
    for (let i = 0; i < x.length; i++) {
      const e = x[i]!;
      if (e - e !== 0) {
        if (Number.isNaN(e)) nan++;
        else inf++;
      }
    }
    if (nan || inf) bad.push(`${k}: ${describeNonFinite(nan, inf, x.length)}`);
  }
  if (bad.length) {
    throw new CheckpointError(path, `holds values that are not finite numbers:${listed(bad)}`, 'the run that wrote it diverged, or the file is damaged; use an earlier checkpoint, or train again (with a lower --lr if the loss diverged)');
  }
}

/** "3 of 1,040 values are NaN", "1 of 16 values is infinite", "2 of 9 values are NaN and 1 is infinite". */
export function describeNonFinite(nan: number, inf: number, total: number): string {
  const verb = (n: number) => (n === 1 ? 'is' : 'are');
  const first = nan ? [nan, 'NaN'] as const : [inf, 'infinite'] as const;
  const head = `${count(first[0])} of ${count(total)} values ${verb(first[0])} ${first[1]}`;
  return nan && inf ? `${head} and ${count(inf)} ${verb(inf)} infinite` : head;
}

/** AdamW's two moments: one of each for every weight, of the weight's shape. */
function checkMoments(path: string, weights: Map<string, { shape: number[] }>, m: Map<string, { shape: number[] }>, v: Map<string, { shape: number[] }>): void {
  const problems: string[] = [];
  for (const [prefix, moments] of [[M, m], [V, v]] as const) {
    for (const [k, w] of weights) {
      const t = moments.get(k);
      if (!t) problems.push(`${prefix}${k} is missing (${k} has no optimizer state)`);
      else if (!sameShape(t.shape, w.shape)) problems.push(`${prefix}${k} is [${t.shape.join(', ')}] but ${k} is [${w.shape.join(', ')}]`);
    }
    for (const k of moments.keys()) if (!weights.has(k)) problems.push(`${prefix}${k} belongs to no weight`);
  }
  if (problems.length) throw new CheckpointError(path, `its optimizer state does not fit its weights:${listed(problems)}`, 'the checkpoint was edited or damaged; use another checkpoint of the run, or start again with --init-from it (the weights without the optimizer state)');
}
