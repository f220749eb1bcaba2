// The data layer: tokenizers, text datasets, batching, synthetic tasks.
export { DataError, type DataErrorParts } from './errors.js';
export {
  CharTokenizer,
  Gpt2Tokenizer,
  TaskTokenizer,
  GPT2_VOCAB_SIZE,
  GPT2_END_OF_TEXT,
  makeTokenizer,
  tokenizerFromJSON,
  type Tokenizer,
  type TokenizerJSON,
  type TokenizerKind,
} from './tokenizer.js';
export { loadTextDataset, type TextDataOptions, type TextDataset } from './text.js';
export { Rng, type RngState } from './rng.js';
export { sampleBatch, evalBatches, windowCount, type Batch } from './batches.js';
export { getTask, taskFromSpec, describeTasks, TASK_NAMES, type Task, type TaskKind, type TaskExample } from './tasks.js';
export { openData, isTaskSpec, type DataSource, type OpenDataOptions } from './source.js';
export { firstInvalidUtf8 } from './utf8.js';
