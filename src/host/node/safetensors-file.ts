// Safetensors files and arch's checkpoints on Node's file system: the bytes are read with the
// host's bounded reader and parsed by the core (src/runtime/safetensors.ts), and written in pieces
// through an atomic write, so a crash mid-save leaves the previous checkpoint intact.
import { CheckpointError, parseSafetensors, safetensorsPieces, type StFile, type StInputs } from '../../runtime/safetensors.js';
import { checkpointPieces, parseCheckpoint, type CheckpointMeta, type LoadedCheckpoint } from '../../runtime/train/checkpoint.js';
import { fitCheckpoint, type Fitted, type ModelSettings } from '../../runtime/checkpoint-fit.js';
import type { OptimizerState, Weights } from '../../runtime/train/backend.js';
import type { ParamShape } from '../../runtime/weights.js';
import type { FileProblem } from '../../data/files.js';
import { readRegularFile } from './files.js';
import { writeAtomic, type FileContents } from './write.js';

/** Node's own limit on one read, and the most a checkpoint may be (larger ones ship in shards). */
const MAX_FILE_BYTES = 2 ** 31 - 1;

const SPECIAL: Record<NonNullable<FileProblem['special']>, string> = {
  fifo: 'a FIFO (named pipe)',
  'character device': 'a character device',
  'block device': 'a block device',
  socket: 'a socket',
  other: 'a special file',
};

function readFailure(file: string, p: FileProblem): CheckpointError {
  if (p.kind === 'missing') return new CheckpointError(file, 'file not found', 'check the path, or train and save a model first');
  if (p.kind === 'directory') return new CheckpointError(file, 'is a directory, not a file', 'pass the path of the .safetensors file itself');
  if (p.kind === 'not-file') return new CheckpointError(file, `is ${SPECIAL[p.special ?? 'other']}, not a regular file`, 'pass the path of the .safetensors file itself');
  if (p.kind === 'denied') return new CheckpointError(file, 'permission denied', 'check the file permissions');
  if (p.kind === 'too-large') return new CheckpointError(file, 'file is larger than 2 GiB, which this reader does not support', 'split the checkpoint into shards');
  return new CheckpointError(file, `cannot read file: ${p.message ?? p.text}`, 'check that the file is readable');
}

/** The whole of a safetensors file, parsed; every problem is a CheckpointError naming the file. */
export function readSafetensors(file: string): StFile {
  return parseSafetensors(readCheckpointBytes(file), file);
}

/** A checkpoint file's bytes (at most 2 GiB, a regular file), or a CheckpointError. */
export function readCheckpointBytes(file: string): Uint8Array {
  return readRegularFile(file, MAX_FILE_BYTES, (p) => readFailure(file, p));
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
  return parseCheckpoint(readCheckpointBytes(file), file);
}

/** Saves a training checkpoint atomically: exactly the bytes checkpointBytes gives. */
export function saveCheckpoint(file: string, weights: Weights, shapes: Map<string, number[]>, opt: OptimizerState | null, meta: CheckpointMeta): void {
  writeCheckpointFile(file, checkpointPieces(weights, shapes, opt, meta, file));
}

/** Reads `file` and fits it to `params`: the whole check, for a command that knows its model. */
export function loadWeights(file: string, params: ParamShape[], model?: ModelSettings): Fitted {
  return fitCheckpoint(loadCheckpoint(file), params, model);
}
