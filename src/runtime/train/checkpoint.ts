// Training checkpoints: one safetensors file with the weights under their parameter names (so
// `arch eval --weights` and `arch sample --weights` read it as it is), the optimizer's moments
// under optimizer.m.* / optimizer.v.*, and in the metadata everything needed to resume or to
// rebuild the model: step, data RNG state, tokenizer, the model's source and its --set values.
import { existsSync } from 'node:fs';
import { CheckpointError, parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors, type StFile, type StInput } from '../safetensors.js';
import type { OptimizerState, Weights } from './backend.js';

export const CHECKPOINT_FORMAT = 'arch-checkpoint';
export const CHECKPOINT_VERSION = '1';
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

export function saveCheckpoint(path: string, weights: Weights, shapes: Map<string, number[]>, opt: OptimizerState | null, meta: CheckpointMeta): void {
  const { tensors, metadata } = checkpointContents(weights, shapes, opt, meta);
  writeSafetensors(path, tensors, metadata); // atomic: write, fsync, rename
}

/** A checkpoint as bytes, exactly those saveCheckpoint writes (the playground downloads them). */
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
  weights: Map<string, { shape: number[]; data: Float32Array }>;
  optimizer: OptimizerState | null;
  meta: CheckpointMeta | null; // null: a plain weights file (not written by arch train)
}

export function loadCheckpoint(path: string): LoadedCheckpoint {
  if (!existsSync(path)) throw new CheckpointError(path, 'no such file', 'give the checkpoint written by `arch train` (DIR/checkpoint.safetensors), or a safetensors weights file');
  return checkpointFrom(readSafetensors(path), path);
}

/** A checkpoint from bytes already read (an upload in the playground); `where` names it in errors. */
export function parseCheckpoint(bytes: Uint8Array, where: string): LoadedCheckpoint {
  return checkpointFrom(parseSafetensors(bytes, where), where);
}

function checkpointFrom(st: StFile, path: string): LoadedCheckpoint {
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  const m: Weights = new Map();
  const v: Weights = new Map();
  for (const [k, t] of st.tensors) {
    if (!(t.data instanceof Float32Array)) throw new CheckpointError(path, `${k} holds integers, not weights`);
    if (k.startsWith(M)) m.set(k.slice(M.length), t.data);
    else if (k.startsWith(V)) v.set(k.slice(V.length), t.data);
    else weights.set(k, { shape: t.shape, data: t.data });
  }
  const md = st.metadata;
  let meta: CheckpointMeta | null = null;
  if (md.format === CHECKPOINT_FORMAT) {
    if (md.version !== CHECKPOINT_VERSION) throw new CheckpointError(path, `checkpoint version ${md.version}; this arch reads version ${CHECKPOINT_VERSION}`, 'train again with this version of arch');
    try {
      meta = {
        step: Number(md.step),
        elapsedS: Number(md.elapsed_s ?? 0),
        rng: JSON.parse(md.rng ?? 'null'),
        tokenizer: JSON.parse(md.tokenizer ?? 'null'),
        modelFile: md.model_file ?? '',
        modelSource: md.model_source ?? '',
        sets: JSON.parse(md.sets ?? '{}'),
        data: md.data ?? '',
        options: JSON.parse(md.options ?? '{}'),
      };
    } catch {
      throw new CheckpointError(path, 'its metadata is not valid JSON');
    }
    if (!Number.isInteger(meta.step) || meta.step < 0) throw new CheckpointError(path, `its step (${md.step}) is not a whole number`);
  }
  return { weights, optimizer: m.size ? { m, v } : null, meta };
}
