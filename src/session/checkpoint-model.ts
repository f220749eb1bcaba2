// A checkpoint and the model it is used with, for every command that reads weights (sample,
// eval, attention, train --resume): the checkpoint read and checked as a whole, the model compiled
// with the checkpoint's --set values (the user's own --set flags win), and the weights fitted to
// the model's parameters. A --set value or model source that comes from the checkpoint and does
// not compile is the checkpoint's fault (CheckpointError, exit 1), never the user's flags'.
import { compileSource, type CompileResult } from '../compiler/compile.js';
import type { CheckedModel } from '../compiler/graph.js';
import { fitCheckpoint, type Fitted } from '../runtime/checkpoint-fit.js';
import { Gpt2Tokenizer, GPT2_VOCAB_SIZE, tokenizerFromJSON, type Tokenizer } from '../data/index.js';
import { CheckpointError, MAX_SAFETENSORS_BYTES, safetensorsReadError } from '../runtime/safetensors.js';
import { parseCheckpoint, type LoadedCheckpoint } from '../runtime/train/checkpoint.js';
import { paramShapes } from '../runtime/weights.js';
import type { ReadFile } from '../data/files.js';
import type { SessionEnv } from './env.js';
import { loadModel, readModelFile } from './model.js';
import { buildGraph, type Built } from './pipeline.js';
import { describeChange } from './source-diff.js';

export interface WithCheckpoint {
  ckpt: LoadedCheckpoint;
  model: CheckedModel;
  built: Built;
  fitted: Fitted;
}

/** A checkpoint file read through the host and checked as a whole (parseCheckpoint). */
export function loadCheckpoint(readFile: ReadFile, path: string): LoadedCheckpoint {
  return parseCheckpoint(readFile(path, MAX_SAFETENSORS_BYTES, (p) => safetensorsReadError(path, p)), path);
}

/** `file` compiled with the checkpoint at `weightsPath`'s --set values, and its weights fitted. */
export function modelWithCheckpoint(env: SessionEnv, file: string, weightsPath: string, userSets: Map<string, string>, build: Parameters<typeof buildGraph>[1] = {}): WithCheckpoint {
  const ckpt = loadCheckpoint(env.host.readFile, weightsPath);
  const model = compileForCheckpoint(env, file, ckpt, userSets);
  const built = buildGraph(model, build);
  return { ckpt, model, built, fitted: fitCheckpoint(ckpt, paramShapes(built.graph), model) };
}

/** The checkpoint's --set values under the user's, compiled; `source` is a resumed run's own. */
export function compileForCheckpoint(env: SessionEnv, file: string, ckpt: LoadedCheckpoint, userSets: Map<string, string>, source?: string): CheckedModel {
  const inherited = Object.entries(ckpt.meta?.sets ?? {}).filter(([k]) => !userSets.has(k));
  const sets = new Map([...inherited, ...userSets]);
  const onFailure = (result: CompileResult, src: string) => {
    const first = result.diagnostics.find((d) => d.severity === 'error')?.message ?? 'it does not compile';
    if (source !== undefined) {
      throw new CheckpointError(ckpt.file, `the model it records (metadata "model_source", with its "sets") does not compile: ${first}`, 'the checkpoint was edited or damaged; use another checkpoint of the run, or train again');
    }
    // The checkpoint's values are at fault when the model compiles without them.
    if (inherited.length && compileSource(file, src, userSets).model) {
      const given = inherited.map(([k, v]) => `${k}=${v}`).join(', ');
      const other = ckpt.meta?.modelFile && ckpt.meta.modelFile !== file ? ckpt.meta.modelFile : undefined;
      const hint = other ? `it was trained on ${other}; use that model file` : 'the checkpoint was edited or damaged, or the model file changed since it was trained; train again';
      throw new CheckpointError(ckpt.file, `its --set values (metadata "sets": ${given}) do not fit ${file}: ${first}`, hint);
    }
  };
  return loadModel(env, file, sets, { quietWarnings: true, source, onFailure }).model;
}

/** The tokenizer a checkpoint was trained with (GPT-2's for a 50257-token model without one). */
export function checkpointTokenizer(ckpt: LoadedCheckpoint, vocab: number): Tokenizer | undefined {
  const saved = ckpt.meta?.tokenizer;
  if (!saved) return vocab === GPT2_VOCAB_SIZE ? new Gpt2Tokenizer() : undefined;
  const tokenizer = tokenizerFromJSON(saved); // loadCheckpoint checked that it rebuilds
  if (tokenizer.vocabSize > vocab) {
    throw new CheckpointError(ckpt.file, `its tokenizer has ${tokenizer.vocabSize} tokens, more than the model's ${vocab}`, 'use the model file and --set values the checkpoint was trained with');
  }
  return tokenizer;
}

/** On resume: the model file as it is now against the source the run was trained with. */
export function resumeSourceNote(readFile: ReadFile, file: string, recorded: string): string | undefined {
  let now: string;
  try {
    now = readModelFile(readFile, file);
  } catch {
    return `note: ${file} cannot be read now; resuming with the model as the checkpoint records it\n`;
  }
  if (now === recorded) return undefined;
  return `note: ${file} has changed since the checkpoint (${describeChange(recorded, now)}); resuming with the model as it was then\n`;
}
