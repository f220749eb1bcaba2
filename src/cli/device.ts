// Choosing where a command runs: `--backend interpreter` (the reference, on the CPU), `webgpu`
// (Dawn's best adapter: a GPU, else OpenGL ES over llvmpipe), or a Dawn backend by name.
import { openDevice, type ArchDevice, type OpenDeviceOptions } from '../host/node/device.js';
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

/** The device for a WebGPU backend; NoAdapterError (exit 3) when none answers. */
export async function deviceFor(backend: string, verbose = false, workload?: OpenDeviceOptions['workload']): Promise<ArchDevice> {
  return openDevice({ backend: backend === 'webgpu' ? undefined : backend, verbose, workload });
}
