// The executor: an IR graph compiled for one binding of its runtime symbols and run on a WebGPU
// device. Compiling fuses the graph (src/ir/fuse), generates one WGSL kernel per fused kernel
// (src/codegen/wgsl), plans memory by liveness (src/ir/plan.ts) and creates every buffer,
// pipeline, texture and bind group once. A run writes the inputs, records the whole graph into one
// command encoder, submits once and reads back only the outputs asked for.
//
// Params (and their gradients, which are graph outputs) live on the GPU: setParams uploads,
// getParam downloads, paramBuffer / outputBuffer expose the GPUBuffers for an optimizer kernel.
//
// The phases live in src/runtime/executor/, one file each (compile.ts names them in order).

export { compileGraph } from './executor/compile.js';
export { pipelineCount } from './executor/pipelines.js';
export { describePlan, planGraph, type GraphPlan } from './executor/plan.js';
export {
  DEFAULT_LIMITS,
  PlanLimitError,
  type BufferInfo,
  type CompiledGraph,
  type CompileOptions,
  type ExecPlan,
  type ExecutorTarget,
  type KernelInfo,
  type KernelTiming,
  type PlanLimits,
  type RunFeeds,
  type SlabLayout,
} from './executor/types.js';
