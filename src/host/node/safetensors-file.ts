// Safetensors files and arch's checkpoints on Node's file system: the bytes are read with the
// host's bounded reader and parsed by the core (src/runtime/safetensors.ts), and written in pieces
// through an atomic write, so a crash mid-save leaves the previous checkpoint intact.
import { CheckpointError, MAX_SAFETENSORS_BYTES, parseSafetensors, safetensorsPieces, safetensorsReadError, type StFile, type StInputs } from '../../runtime/safetensors.js';
import { checkpointPieces, type CheckpointMeta, type LoadedCheckpoint } from '../../runtime/train/checkpoint.js';
import { loadCheckpoint as loadWith } from '../../session/checkpoint-model.js';
import { fitCheckpoint, type Fitted, type ModelSettings } from '../../runtime/checkpoint-fit.js';
import type { OptimizerState, Weights } from '../../runtime/train/backend.js';
import type { ParamShape } from '../../runtime/weights.js';
import { readRegularFile } from './files.js';
import { writeAtomic, type FileContents } from './write.js';

/** The whole of a safetensors file, parsed; every problem is a CheckpointError naming the file. */
export function readSafetensors(file: string): StFile {
  return parseSafetensors(readCheckpointBytes(file), file);
}

/** A checkpoint file's bytes (at most 2 GiB, a regular file), or a CheckpointError. */
export function readCheckpointBytes(file: string): Uint8Array {
  return readRegularFile(file, MAX_SAFETENSORS_BYTES, (p) => safetensorsReadError(file, p));
}

function writeCheckpointFile(file: string, pieces: FileContents): void {
  try {
    writeAtomic(file, pieces);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    // the cause keeps the system's code (ENOSPC, EACCES) for callers that explain it
    throw Object.assign(new CheckpointError(file, `cannot write checkpoint (${code ?? (err as Error)?.message ?? String(err)})`,
      'check that the directory exists, is writable and has free space'), { cause: err });
  }
}

/** Writes a safetensors file atomically: temporary file, fsync, rename. */
export function writeSafetensors(file: string, inputs: StInputs, metadata?: Record<string, string>): void {
  writeCheckpointFile(file, safetensorsPieces(inputs, metadata, file));
}

/** Reads a checkpoint and checks everything it holds that needs no model (parseCheckpoint). */
export function loadCheckpoint(file: string): LoadedCheckpoint {
  return loadWith(readRegularFile, file);
}

/** Saves a training checkpoint atomically: exactly the bytes checkpointBytes gives. */
export function saveCheckpoint(file: string, weights: Weights, shapes: Map<string, number[]>, opt: OptimizerState | null, meta: CheckpointMeta): void {
  writeCheckpointFile(file, checkpointPieces(weights, shapes, opt, meta, file));
}

/** Reads `file` and fits it to `params`: the whole check, for a command that knows its model. */
export function loadWeights(file: string, params: ParamShape[], model?: ModelSettings): Fitted {
  return fitCheckpoint(loadCheckpoint(file), params, model);
}
