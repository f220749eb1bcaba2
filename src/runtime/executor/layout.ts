// Compiling's second phase: the limits of the device the graph will run on, where contraction
// operands are read from, and the parameter slab's layout, all before anything is allocated.

import type { KernelVariant } from '../../codegen/wgsl/common.js';
import type { FusedGraph } from '../../ir/fuse/types.js';
import { chooseKernels, type KernelChoice } from '../device.js';
import { align16, tensorNumel } from './tensors.js';
import { PlanLimitError, type ExecutorTarget, type PlanLimits, type SlabLayout } from './types.js';

/** The limits compiling uses. */
export interface DeviceLimits extends PlanLimits {
  minStorageBufferOffsetAlignment: number;
}

export function deviceOf(target: ExecutorTarget): GPUDevice {
  return 'gpu' in target && 'device' in target ? target.device : (target as GPUDevice);
}

/** The device's own limits (from the GPUDevice itself), or tighter ones if asked (tests plan
 *  what a larger model meets). */
export function deviceLimits(device: GPUDevice, tighter: Partial<PlanLimits> = {}): DeviceLimits {
  const l = device.limits;
  return {
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxStorageTexturesPerShaderStage: l.maxStorageTexturesPerShaderStage,
    maxBufferSize: l.maxBufferSize,
    minStorageBufferOffsetAlignment: l.minStorageBufferOffsetAlignment,
    ...tighter,
  };
}

/** Contraction operands are read-only storage textures, a WGSL language feature Dawn has; where
 *  it is missing, they are read from their buffers. */
export function contractionSource(target: ExecutorTarget): 'texture' | 'buffer' {
  const features = 'gpu' in target ? (target.gpu as GPU & { wgslLanguageFeatures?: ReadonlySet<string> }).wgslLanguageFeatures : undefined;
  return (features?.has('readonly_and_readwrite_storage_textures') ?? true) ? 'texture' : 'buffer';
}

/** Mesa's CPU drivers (llvmpipe, lavapipe) stop an invocation's loops after this many iterations
 *  in all, whatever the shader says (measured: docs/llvmpipe.md, Loops). */
const MESA_LOOP_LIMIT = 65535;

/** The most loop iterations an invocation runs on the target's adapter: Mesa's limit on a CPU
 *  adapter (taken for any: the page cannot tell llvmpipe from SwiftShader), none on a GPU. */
export function loopLimit(target: ExecutorTarget): number | undefined {
  return 'gpu' in target && target.info?.isFallbackCpu ? MESA_LOOP_LIMIT : undefined;
}

/** The host's memory, for PlanLimits.hostMemoryBytes, where the host says the adapter keeps its
 *  buffers there (ArchDevice.hostMemoryBytes: the Node host, for a CPU adapter); else no limit
 *  beyond the adapter's own. */
export function hostMemory(target: ExecutorTarget): number | undefined {
  return 'gpu' in target ? target.hostMemoryBytes : undefined;
}

/** The kernel templates for a target: asked for (CompileOptions.kernels), else the device's own
 *  choice (OpenDeviceOptions.kernels), else by its adapter. */
export function kernelsFor(target: ExecutorTarget, asked: KernelChoice | undefined): KernelVariant {
  const own = 'gpu' in target ? target : undefined;
  return chooseKernels(asked && asked !== 'auto' ? asked : own?.kernels, own?.info, deviceOf(target).limits);
}

/** The slab's layout: each member's offset, and the fused tensors placed there. */
export interface SlabPlan {
  bytes: number;
  members: SlabLayout['members'];
  /** The parameter tensor of each member. */
  params: number[];
  /** The gradient tensor of each member; null when some member has no gradient. */
  grads: number[] | null;
}

/** Slab members live at an offset in one shared buffer instead of their own (every member
 *  aligned for binding); a slab over the largest buffer is refused here, before any allocation. */
export function layoutSlab(fg: FusedGraph, bytes: number[], names: readonly string[] | undefined, limits: DeviceLimits): SlabPlan | null {
  if (!names?.length) return null;
  const align = Math.max(256, limits.minStorageBufferOffsetAlignment);
  const aligned = (t: number) => Math.ceil(align16(bytes[t]!) / align) * align;
  const members: SlabLayout['members'] = [];
  const params: number[] = [];
  let at = 0;
  for (const name of names) {
    const t = fg.params.get(name);
    if (t === undefined) throw new Error(`slab: no param '${name}'`);
    members.push({ name, offset: at, length: tensorNumel(fg, t) });
    params.push(t);
    at += aligned(t);
    const g = fg.outputs.get(`grad:${name}`);
    if (g !== undefined) at = Math.max(at, members.at(-1)!.offset + aligned(g));
  }
  if (at > limits.maxBufferSize) {
    throw new PlanLimitError(`the parameters need ${at} bytes in one buffer, more than this adapter's largest buffer (maxBufferSize: ${limits.maxBufferSize} bytes); train a smaller model here, or on a GPU`);
  }
  const hasGrads = names.every((n) => fg.outputs.has(`grad:${n}`));
  const grads = hasGrads ? names.map((n) => fg.outputs.get(`grad:${n}`)!) : null;
  // Two gradients computed as one tensor can't sit at two offsets: keep slabs exact.
  grads?.forEach((g, i) => {
    if (grads.indexOf(g) !== i || params.includes(g)) throw new Error(`slab: grad:${names[i]} is shared with another tensor`);
  });
  return { bytes: at, members, params, grads };
}
