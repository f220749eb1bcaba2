// arch as a library: everything a host needs (the CLI, the language server, a page in a browser)
// to check, inspect, lower, compile, train, sample and export a model. Nothing reachable from here
// imports a Node module or dawn.node: a host brings the device and the files through
// session/host.ts's Host (src/host/node/ is Node's). Bundles for the browser as it is:
// `esbuild src/index.ts --bundle --platform=browser` (checked by test/library-imports.test.ts).

// Check and inspect: source -> checked model, with diagnostics.
export { parse } from '../grammar/index.js';
export type { Diagnostic } from '../grammar/diagnostic.js';
export { compileSource, preludeSource, PRELUDE_FILE, type CompileResult } from './compiler/compile.js';
export { renderDiagnostic, renderDiagnostics } from './compiler/diagnostics.js';
export type { CheckedModel } from './compiler/graph.js';
export { modelStats, paramCount, paramKind, type ModelStats, type ParamKind } from './compiler/stats.js';

// The language service: diagnostics, hovers, completion and colouring for an editor (`arch lsp`,
// the playground's CodeMirror).
export {
  archStreamParser,
  highlightLine,
  HIGHLIGHT_STYLES,
  LanguageService,
  shapeText,
  type Analysis as ServiceAnalysis,
  type CompletionEntry,
  type Completions,
  type HighlightKind,
  type HoverResult,
  type Position,
  type ServiceDiagnostic,
} from './service/index.js';

// Lower and differentiate: checked model -> tensor IR.
export { lower, ATTENTION_PREFIX, CACHE_PREFIX, NEXT_SUFFIX, POSITION_INPUT, type Lowered } from './compiler/lower.js';
export { differentiate, initParams, interpret, printGraph, prune, type Data, type Graph, type Value } from './ir/index.js';

// Compile and run on a WebGPU device (the host opens it).
export { numericLimits, describeDevice, isCpuAdapter, chooseKernels, type AdapterSummary, type KernelChoice, type ArchDevice, type OpenDeviceOptions } from './runtime/device.js';
export { compileGraph, describePlan, planGraph, DEFAULT_LIMITS, PlanLimitError, type CompiledGraph, type GraphPlan } from './runtime/executor.js';
export { checkFits, fmtBytes, PARAM_COPIES } from './runtime/fits.js';

// The session: what every host shares.
export type { Host, ReadFile } from './session/host.js';
export type { SessionEnv } from './session/env.js';
export { ModelError, UsageError } from './session/errors.js';
export { loadModel, readModelFile, type LoadOptions } from './session/model.js';
export { buildGraph, tokenFeeds, tokenInput, type Built } from './session/pipeline.js';
export { classLetters, inputRoles } from './session/model-io.js';
export { checkModelFits, largestSymbols } from './session/fits.js';
export { bindSymbols, fusedSummary, OPTIMIZER_DISPATCHES } from './session/kernels.js';
export { checkpointTokenizer, compileForCheckpoint, loadCheckpoint, modelWithCheckpoint, type WithCheckpoint } from './session/checkpoint-model.js';
export { attentionMaps, splitHeads, type AttentionRequest, type HeadMaps } from './session/attention.js';
export { checkClasses, dimsFromData, trainLength, trainSymbols } from './session/train-setup.js';
export { trainRun, type ClaimOptions, type RunStore, type TrainContext, type TrainOutcome, type TrainRequest, type TrainStart } from './session/train.js';
export { formatProfile, profileDecoding, profileTraining, randomInputs, timeSteps, type KernelProfile, type Profile } from './session/profile.js';

// Training pieces, for a host that drives the loop itself (the playground).
export { createWebGPUBackend } from './runtime/train/webgpu-backend.js';
export { InterpreterBackend } from './runtime/train/interpreter-backend.js';
export { trainLoop, TRAIN_DEFAULTS, type ResumeState, type StepMetrics, type TrainHooks, type TrainOptions } from './runtime/train/loop.js';
export type { OptimizerState, TrainBackend, Weights } from './runtime/train/backend.js';
export { feedsFor, type InputSpec } from './runtime/train/feeds.js';

// Checkpoints and weights as bytes.
export { checkpointBytes, checkpointPieces, parseCheckpoint, type CheckpointMeta, type LoadedCheckpoint } from './runtime/train/checkpoint.js';
export { CheckpointError, parseSafetensors, safetensorsPieces, serializeSafetensors, type StFile, type StInputs } from './runtime/safetensors.js';
export { fitCheckpoint, type Fitted } from './runtime/checkpoint-fit.js';
export { paramShapes, type ParamShape } from './runtime/weights.js';

// Sampling.
export { gradeTask, logitsSource, prepareSampling, promptIds, webgpuDecoder, type GradedExample, type PreparedSampling } from './session/sample.js';
export { cachedDecoder, fullDecoder, windowedDecoder } from './runtime/sample/decoders.js';
export { cacheUnsafeReason } from './compiler/decode-keys.js';
export { generate, WINDOWS, type LogitsSource, type WindowName } from './runtime/sample/generate.js';

// Data: tokenizers, tasks, batches.
export {
  DataError,
  evalBatches,
  isTaskSpec,
  makeTokenizer,
  openData,
  Rng,
  sampleBatch,
  taskFromSpec,
  tokenizerFromJSON,
  TASK_NAMES,
  type DataSource,
  type RngState,
  type Task,
  type Tokenizer,
} from './data/index.js';

// Reports: SVG charts.
export { heatmapGrid, lineChart, sequentialColor, type AttentionMap } from './report/index.js';
export { lossPlot } from './report/loss-plot.js';

// Export: ONNX and Hugging Face GPT-2.
export { forwardOutputs, toOnnx, type OnnxExportOptions } from './export/onnx.js';
export { encodeOnnx, type OnnxModel } from './export/onnx-proto.js';
export { gpt2Config, gpt2Dims, hfReadme } from './export/hf.js';
export { ExportError } from './export/error.js';
