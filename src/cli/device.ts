// Choosing where a command runs: `--backend interpreter` (the reference, on the CPU), `webgpu`
// (Dawn's best adapter: a GPU, else OpenGL ES over llvmpipe), or a Dawn backend by name.
import { openDevice, type ArchDevice, type OpenDeviceOptions } from '../host/node/device.js';
import type { KernelChoice } from '../runtime/device.js';
import { UsageError } from './args.js';

export const BACKEND_CHOICES = ['webgpu', 'interpreter', 'vulkan', 'opengles'] as const;
export const BACKEND_HELP: [string, string] = ['--backend NAME', 'webgpu (default: a GPU, else the CPU through llvmpipe), interpreter (the reference), or a Dawn backend: vulkan, opengles'];

/** `arch info` also names the Dawn backends of other platforms, to ask whether they answer here. */
export const INFO_BACKEND_CHOICES = [...BACKEND_CHOICES, 'metal', 'd3d12'] as const;

export function parseBackend<T extends string = (typeof BACKEND_CHOICES)[number]>(value: unknown, choices: readonly T[] = BACKEND_CHOICES as unknown as readonly T[]): T {
  const v = String(value ?? 'webgpu');
  if (!(choices as readonly string[]).includes(v)) throw new UsageError(`--backend ${v}: expected one of ${choices.join(', ')}`);
  return v as T;
}

export const KERNELS_HELP: [string, string] = ['--kernels auto|gpu|cpu', 'WGSL kernel templates: auto (default) picks by adapter, cpu for a CPU adapter such as llvmpipe, gpu (workgroup tiles) for any other'];

export function parseKernels(value: unknown): KernelChoice {
  const v = String(value ?? 'auto');
  if (v !== 'auto' && v !== 'gpu' && v !== 'cpu') throw new UsageError(`--kernels ${v}: expected auto, gpu or cpu`);
  return v;
}

/** The device for a WebGPU backend; NoAdapterError (exit 3) when none answers. */
export async function deviceFor(backend: string, verbose = false, workload?: OpenDeviceOptions['workload'], kernels?: KernelChoice): Promise<ArchDevice> {
  return openDevice({ backend: backend === 'webgpu' ? undefined : backend, verbose, workload, kernels });
}
