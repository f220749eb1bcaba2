// Choosing where a command runs: `--backend interpreter` (the reference, on the CPU), `webgpu`
// (Dawn's best adapter: a GPU, else OpenGL ES over llvmpipe), or a Dawn backend by name.
import { openDevice, type ArchDevice, type OpenDeviceOptions } from '../runtime/device.js';
import { UsageError } from './args.js';

export const BACKEND_CHOICES = ['webgpu', 'interpreter', 'vulkan', 'opengles'] as const;
export const BACKEND_HELP: [string, string] = ['--backend NAME', 'webgpu (default: a GPU, else the CPU through llvmpipe), interpreter (the reference), or a Dawn backend: vulkan, opengles'];

export function parseBackend(value: unknown): (typeof BACKEND_CHOICES)[number] {
  const v = String(value ?? 'webgpu');
  if (!(BACKEND_CHOICES as readonly string[]).includes(v)) throw new UsageError(`--backend ${v}: expected one of ${BACKEND_CHOICES.join(', ')}`);
  return v as (typeof BACKEND_CHOICES)[number];
}

/** The device for a WebGPU backend; NoAdapterError (exit 3) when none answers. */
export async function deviceFor(backend: string, verbose = false, workload?: OpenDeviceOptions['workload']): Promise<ArchDevice> {
  return openDevice({ backend: backend === 'webgpu' ? undefined : backend, verbose, workload });
}
