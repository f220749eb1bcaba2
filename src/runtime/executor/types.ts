// The executor's public types: what compiling is asked for, what it plans, and the compiled graph
// a caller runs. No device code here (and nothing that imports one): src/runtime/executor*
// imports no Node module and not the `webgpu` package, so it runs wherever WebGPU does.

import type { Data } from '../../ir/interpret.js';
import type { AdapterSummary, KernelChoice } from '../device.js';
import type { FuseOptions, FusedGraph, Kernel } from '../../ir/fuse/types.js';

/** What compileGraph runs on: a GPUDevice, or an opened device that also holds its GPU (whose
 *  WGSL language features say whether contraction operands may be storage textures). */
export type ExecutorTarget =
  | GPUDevice
  | { readonly gpu: GPU; readonly device: GPUDevice; readonly info?: Pick<AdapterSummary, 'isFallbackCpu'>; readonly kernels?: KernelChoice; readonly hostMemoryBytes?: number };

export interface CompileOptions extends FuseOptions {
  /** Where contractions read their operands (default 'texture', fastest on llvmpipe). */
  contractionSource?: 'texture' | 'buffer';
  /** Parameters to place, in this order, in one buffer (and their `grad:` outputs in another, at
   *  the same offsets), so an optimizer updates them all with one dispatch. */
  slab?: string[];
  /** Another compiled graph's slab (CompiledGraph.slab) whose parameter buffer this graph's slab
   *  binds instead of one of its own: the same parameters in the same order, so the same layout
   *  (the training graph beside the evaluation graph: no second copy of the weights). Its
   *  gradient slab, if it has gradients, is its own. */
  sharedSlab?: SlabLayout;
  /** Bytes the run holds beside this graph on the same memory (another graph, an optimizer's
   *  moments, the host's copy of the weights): counted with the plan against the host's memory
   *  where the adapter keeps its buffers there (PlanLimits.hostMemoryBytes). */
  reservedBytes?: number;
  /** Plan under tighter limits than the device's (to test what a larger model meets). */
  limits?: Partial<PlanLimits>;
  /** Kernels read their sizes from a uniform (default true), so one pipeline serves every shape
   *  of a kernel; false writes them into the WGSL (a pipeline per shape; for A/B measurements). */
  uniformSizes?: boolean;
  /** Kernel templates: 'cpu' (tuned for llvmpipe), 'gpu' (workgroup tiles), or 'auto' (default:
   *  the target's own choice, else by its adapter; chooseKernels in src/runtime/device.ts). */
  kernels?: KernelChoice;
}

/** The device limits that compiling depends on. */
export interface PlanLimits {
  maxStorageBuffersPerShaderStage: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBufferBindingSize: number;
  maxStorageTexturesPerShaderStage: number;
  /** The largest buffer: a tensor bound in ranges still needs one buffer. */
  maxBufferSize: number;
  /** The most loop iterations one invocation may run, where the driver stops there (Mesa's
   *  llvmpipe and lavapipe: 65535 in all, then every loop runs once, silently: docs/llvmpipe.md). */
  maxLoopIterations?: number;
  /** The machine's memory, where the adapter keeps its buffers and textures there (a CPU adapter:
   *  ArchDevice.hostMemoryBytes): a plan of more than a run may use of it (hostBudget) is refused
   *  before anything is allocated. */
  hostMemoryBytes?: number;
}

/** WebGPU's default limits: what every adapter offers, so a plan made with them runs anywhere. */
export const DEFAULT_LIMITS: PlanLimits = {
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBufferBindingSize: 128 * 1024 * 1024,
  maxStorageTexturesPerShaderStage: 4,
  maxBufferSize: 256 * 1024 * 1024,
};

/** A tensor that does not fit the device's limits (exit code 2 in the CLI: a smaller batch helps). */
export class PlanLimitError extends Error {
  override name = 'PlanLimitError';
}

/** Where each slab member lives: byte offsets shared by the parameter and gradient buffers. */
export interface SlabLayout {
  params: GPUBuffer;
  grads: GPUBuffer | null; // null when the graph has no gradients
  bytes: number;
  members: { name: string; offset: number; length: number }[];
}

export interface KernelInfo {
  name: string;
  kind: Kernel['kind'];
  /** The IR ops it fused, one `%id = op` line each. */
  ops: string[];
  /** Where each fused op comes from in the model (ir/origins.ts), in the order of `ops`. */
  origins: string[];
  /** The fused ops' own labels and parameter names (those not inherited from their inputs). */
  labels: string[];
  bindings: { binding: number; kind: string; tensor?: string; access?: string }[];
  workgroups: [number, number, number];
  wgsl: string;
}

export interface BufferInfo {
  index: number;
  bytes: number;
  tensors: string[];
  persistent: boolean;
}

export interface ExecPlan {
  kernels: KernelInfo[];
  buffers: BufferInfo[];
  /** Compute dispatches per run (texture fills of contractions are copies, not dispatches). */
  dispatchesPerRun: number;
  /** Bytes of the buffers. */
  totalBytes: number;
  /** The textures kernels read through (a CPU adapter's templates; none for the gpu ones),
   *  shared by tensors whose fills do not overlap in the run (executor/textures.ts). */
  textures: { index: number; format: string; width: number; height: number; bytes: number; tensors: string[] }[];
  /** Bytes of the textures: the device holds totalBytes + textureBytes. */
  textureBytes: number;
}

export interface RunFeeds {
  inputs: Record<string, Data>;
  params?: Record<string, Float32Array | Float64Array>;
  /** The value of the runtime symbol 'seed' for random ops (default: symbols.seed, else 0). */
  seed?: number;
  /** Appends more work (an optimizer step) to the run's command encoder, before the readback. */
  after?: (encoder: GPUCommandEncoder) => void;
}

export interface KernelTiming {
  name: string;
  /** Mean milliseconds per dispatch, timed from the CPU (submit, then onSubmittedWorkDone). */
  ms: number;
  /** The first dispatch, which on llvmpipe includes compiling the shader (cached on disk by Mesa). */
  firstMs: number;
}

export interface CompiledGraph {
  /** Bytes of the device memory it holds: its buffers, textures, slab (not a shared slab) and
   *  kernels' scratch. */
  readonly deviceBytes: number;
  readonly fused: FusedGraph;
  readonly plan: ExecPlan;
  /** Uploads, records and submits before it returns; the promise is the readback of `want`, so a
   *  caller may submit more runs before awaiting it (the queue never waits for the host). */
  run(feeds: RunFeeds, want: readonly string[]): Promise<Record<string, Float32Array | Int32Array>>;
  /** Records one run into the caller's encoder: every kernel, then the state update; nothing is
   *  uploaded or read back, so several runs (and the caller's own kernels, which may write the
   *  inputs through inputBuffer) can share one submit. */
  encode(encoder: GPUCommandEncoder): void;
  /** The buffer holding an input (at offset 0). */
  inputBuffer(name: string): GPUBuffer;
  setParams(values: Record<string, Float32Array | Float64Array>): void;
  getParam(name: string): Promise<Float32Array>;
  paramBuffer(name: string): GPUBuffer;
  /** The parameter slab (CompileOptions.slab), if one was asked for. */
  readonly slab: SlabLayout | null;
  /** The buffer holding a graph output after a run (e.g. 'grad:w'); it is not reused by other tensors. */
  outputBuffer(name: string): GPUBuffer;
  timeKernels(reps?: number): Promise<KernelTiming[]>;
  /** Zeroes the state inputs (CompileOptions.state). */
  resetState(): void;
  destroy(): void;
}
