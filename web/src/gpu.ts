// The page's WebGPU device, from navigator.gpu, as the core's ArchDevice: the adapter pickAdapter
// chooses (`?adapter=compat|core` to choose it by hand); `?kernels=cpu|gpu` chooses the kernel
// templates; `?nogpu` hides WebGPU, to see the page as a browser without it does.
import { isCpuAdapter, numericLimits, type ArchDevice, type KernelChoice } from './core.js';

export type GpuStatus = { ok: true; device: ArchDevice } | { ok: false; why: string; fix: string };

const ENABLE_FIX =
  'Use a browser with WebGPU: Chrome or Edge 113+ (on Linux start it with --enable-unsafe-webgpu, or enable chrome://flags/#enable-unsafe-webgpu), ' +
  'Firefox 141+ on Windows (elsewhere set dom.webgpu.enabled in about:config), or Safari 26+. Editing, checking and the model view work without it.';

function params(): URLSearchParams {
  return new URLSearchParams(location.search);
}

/** `?kernels=cpu|gpu` picks the kernel templates as `arch train --kernels` does; default by adapter. */
function kernelsAsked(): KernelChoice {
  const k = params().get('kernels');
  return k === 'cpu' || k === 'gpu' ? k : 'auto';
}

type Picked = { adapter: GPUAdapter | null; compat: boolean };

/**
 * The adapter: `?adapter=compat` asks for the compatibility feature level, `?adapter=core` for the
 * core level only; by default the core level, unless that is the fallback adapter (SwiftShader)
 * and the compatibility level offers one that is not: Chromium's OpenGL ES adapter, which on a
 * machine without a GPU is Mesa's llvmpipe, trains the speed config ~10x faster than SwiftShader
 * (docs/playground.md, "Speed").
 */
async function pickAdapter(gpu: GPU, asked: string | null): Promise<Picked> {
  const compatLevel = (): Promise<GPUAdapter | null> => gpu.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
  if (asked === 'compat') return { adapter: await compatLevel(), compat: true };
  const core = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (asked === 'core' || (core && !core.info.isFallbackAdapter)) return { adapter: core, compat: false };
  const other = await compatLevel();
  return other && !other.info.isFallbackAdapter ? { adapter: other, compat: true } : { adapter: core, compat: false };
}

export async function openBrowserDevice(): Promise<GpuStatus> {
  const gpu = params().has('nogpu') ? undefined : (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return { ok: false, why: 'This browser does not expose WebGPU (navigator.gpu is missing), so training and sampling are off.', fix: ENABLE_FIX };
  let picked: Picked;
  try {
    picked = await pickAdapter(gpu, params().get('adapter'));
  } catch (e) {
    return { ok: false, why: `Asking for a WebGPU adapter failed: ${(e as Error).message}`, fix: ENABLE_FIX };
  }
  const { adapter, compat } = picked;
  if (!adapter) {
    return {
      ok: false,
      why: 'WebGPU is present but no adapter answered (headless Chromium without a GPU does this unless told which to use).',
      fix: 'Start Chromium with --enable-unsafe-webgpu (SwiftShader), or add --use-webgpu-adapter=opengles --use-angle=gl-egl (llvmpipe, ten times faster; without --disable-gpu, which turns it into SwiftShader too). ' + ENABLE_FIX,
    };
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits: numericLimits(adapter.limits) });
  } catch {
    device = await adapter.requestDevice();
  }
  const i = adapter.info;
  const info = {
    backend: compat ? 'compat' : 'webgpu',
    adapterName: i.description || i.device || i.architecture || i.vendor || 'WebGPU adapter',
    vendor: i.vendor,
    architecture: i.architecture,
    description: i.description,
    isFallbackCpu: isCpuAdapter(i),
  };
  return {
    ok: true,
    device: {
      gpu,
      adapter,
      device,
      info,
      limits: numericLimits(device.limits),
      features: [...device.features].map(String).sort(),
      kernels: kernelsAsked(),
      destroy: () => device.destroy(),
    },
  };
}
