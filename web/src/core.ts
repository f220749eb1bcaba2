// Every import of arch's core (grammar, compiler, IR, runtime) the page makes, in one place, so
// that moving to the language service (src/service) or to a core without Node imports is a
// change to this file alone.

// removed once the core has no Node imports: runtime/train/loop.ts yields with setImmediate, which
// browsers lack. A MessageChannel post is a macrotask without setTimeout's 4 ms clamp.
if (typeof (globalThis as { setImmediate?: unknown }).setImmediate !== 'function') {
  const channel = new MessageChannel();
  const queue: (() => void)[] = [];
  channel.port1.onmessage = () => queue.shift()?.();
  (globalThis as unknown as { setImmediate: (f: () => void) => void }).setImmediate = (f) => {
    queue.push(f);
    channel.port2.postMessage(0);
  };
}

export { parse } from '../../grammar/index.js';
export { compileSource, PRELUDE_FILE, type CompileResult } from '../../src/compiler/compile.js';
export { renderDiagnostic } from '../../src/compiler/diagnostics.js';
export type { Diagnostic } from '../../grammar/diagnostic.js';
export type { CheckedModel } from '../../src/compiler/graph.js';
export { modelStats, paramCount, paramKind, type ModelStats, type ParamKind } from '../../src/compiler/stats.js';
export { lower, ATTENTION_PREFIX, NEXT_SUFFIX, CACHE_PREFIX, POSITION_INPUT, type Lowered } from '../../src/compiler/lower.js';
export { differentiate, initParams, interpret, prune, type Graph, type Value } from '../../src/ir/index.js';
export { compileGraph } from '../../src/runtime/executor.js';
export { numericLimits, type ArchDevice } from '../../src/runtime/device.js';
export { createWebGPUBackend } from '../../src/runtime/train/webgpu-backend.js';
export { trainLoop, TRAIN_DEFAULTS, type StepMetrics, type TrainOptions } from '../../src/runtime/train/loop.js';
export type { TrainBackend, Weights } from '../../src/runtime/train/backend.js';
export { feedsFor, type InputSpec } from '../../src/runtime/train/feeds.js';
export { checkpointBytes, parseCheckpoint, type CheckpointMeta } from '../../src/runtime/train/checkpoint.js';
export { CheckpointError } from '../../src/runtime/safetensors.js';
export { paramShapes } from '../../src/runtime/weights.js';
export { fitCheckpoint } from '../../src/runtime/checkpoint-fit.js';
export { openData, makeTokenizer, tokenizerFromJSON, sampleBatch, evalBatches, Rng, DataError, type RngState, TASK_NAMES, type DataSource, type Tokenizer } from '../../src/data/index.js';
export { cachedDecoder } from '../../src/runtime/sample/decoders.js';
export { generate } from '../../src/runtime/sample/generate.js';
export { lineChart } from '../../src/report/line-chart.js';
export { sequentialColor } from '../../src/report/palette.js';
