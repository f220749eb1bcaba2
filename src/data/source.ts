// One front door for training data: `--data PATH` (a UTF-8 text file) or `--data task:NAME[:k=v,...]`
// (a synthetic task). The trainer asks a DataSource for batches and never cares which it is.
import { evalBatches, sampleBatch, type Batch } from './batches.js';
import { Rng } from './rng.js';
import { taskFromSpec, type Task } from './tasks.js';
import { loadTextDataset, type TextDataOptions, type TextDataset } from './text.js';
import type { Tokenizer } from './tokenizer.js';

export interface DataSource {
  /** The spec it was opened from: a path or task:NAME. */
  name: string;
  kind: 'text' | 'task';
  tokenizer: Tokenizer;
  vocabSize: number;
  task?: Task;
  text?: TextDataset;
  /** A random training batch; draws only from `rng`, so saving rng.state() makes resuming exact. */
  trainBatch(rng: Rng, batch: number, length: number): Batch;
  /** The same batches on every call: fixed windows of the validation split, or for a task
   *  `maxBatches` batches drawn from a generator seeded with `evalSeed`. */
  evalBatches(batch: number, length: number, maxBatches?: number): Batch[];
  /** The loss floor, for tasks; text has none we can know. */
  idealLoss?(length: number): number;
}

export interface OpenDataOptions extends TextDataOptions {
  /** Seed of a task's evaluation batches (default 1234). */
  evalSeed?: number;
}

const TASK_PREFIX = 'task:';
const DEFAULT_TASK_EVAL_BATCHES = 8;

export function isTaskSpec(spec: string): boolean {
  return spec.startsWith(TASK_PREFIX);
}

export function openData(spec: string, options: OpenDataOptions = {}): DataSource {
  if (isTaskSpec(spec)) return taskSource(spec, taskFromSpec(spec.slice(TASK_PREFIX.length)), options.evalSeed ?? 1234);
  const text = loadTextDataset(spec, options);
  return {
    name: spec,
    kind: 'text',
    tokenizer: text.tokenizer,
    vocabSize: text.tokenizer.vocabSize,
    text,
    trainBatch: (rng, batch, length) => sampleBatch(text.train, batch, length, rng),
    evalBatches: (batch, length, maxBatches) => evalBatches(text.val.length > 0 ? text.val : text.train, batch, length, maxBatches),
  };
}

function taskSource(spec: string, task: Task, evalSeed: number): DataSource {
  return {
    name: spec,
    kind: 'task',
    tokenizer: task.tokenizer,
    vocabSize: task.vocabSize,
    task,
    trainBatch: (rng, batch, length) => task.sample(rng, batch, length),
    evalBatches(batch, length, maxBatches = DEFAULT_TASK_EVAL_BATCHES) {
      const rng = new Rng(evalSeed);
      return Array.from({ length: Math.min(maxBatches, 1000) }, () => task.sample(rng, batch, length));
    },
    idealLoss: (length) => task.idealLoss(length),
  };
}
