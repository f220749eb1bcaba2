// Acquiring a WebGPU device from Dawn (dawn.node, the `webgpu` package): the Node host's device.
//
// Order: a real GPU first (Vulkan on Linux, the platform default elsewhere), then Dawn's OpenGL ES
// backend, which over Mesa's llvmpipe gives a CPU "GPU" on headless Linux machines.
//
// Two dawn.node facts shape this file:
// - The object `create()` returns must stay referenced for the device's whole life; if it is
//   garbage-collected while the device is in use, dawn.node segfaults. ArchDevice keeps it.
// - Dawn's own warnings ("Couldn't load Vulkan", "maxDynamic... artificially reduced") are written
//   by native code straight to file descriptor 2 (C stdio), not through process.stderr, so nothing
//   in JS can catch them and Dawn has no toggle for its log level. We avoid the avoidable one (we
//   do not ask Dawn for Vulkan when libvulkan is not installed) and export `isDawnNoise` so a
//   caller that runs arch in a child process can filter the rest out of stderr.
import { existsSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { create, globals } from 'webgpu';
import { isCpuAdapter, numericLimits, type AdapterSummary, type ArchDevice, type OpenDeviceOptions } from '../../runtime/device.js';

export type { ArchDevice, OpenDeviceOptions };

/** One backend that was tried and what it answered. */
export interface Attempt {
  backend: string;
  outcome: string;
}

export class NoAdapterError extends Error {
  readonly attempts: Attempt[];
  constructor(attempts: Attempt[]) {
    super(explainNoAdapter(attempts));
    this.name = 'NoAdapterError';
    this.attempts = attempts;
  }
}

/** Dawn's native stderr lines, for callers that filter a child process's stderr. */
export function isDawnNoise(line: string): boolean {
  return /^Warning: /.test(line) || /^\s+at operator\(\) \(.*third_party\/dawn\//.test(line);
}

let globalsInstalled = false;
function installGlobals(): void {
  // GPUBufferUsage, GPUShaderStage, GPUMapMode, ... are used as globals by WebGPU code.
  if (!globalsInstalled) Object.assign(globalThis, globals);
  globalsInstalled = true;
}

interface Candidate {
  backend: string;
  flags: string[];
  adapterOptions: GPURequestAdapterOptions;
  /** Why the candidate is skipped without asking Dawn (its library is missing), or undefined. */
  skip?: string;
}

const VULKAN_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/lib64',
  '/usr/local/lib',
];

function vulkanLoaderPresent(): boolean {
  const extra = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d !== '');
  return [...extra, ...VULKAN_DIRS].some((d) => existsSync(`${d}/libvulkan.so.1`));
}

function candidates(opts: OpenDeviceOptions): Candidate[] {
  const highPerf: GPURequestAdapterOptions = { powerPreference: 'high-performance' };
  const compat: GPURequestAdapterOptions = { featureLevel: 'compatibility' };
  if (opts.backend !== undefined) {
    const gl = opts.backend === 'opengles' || opts.backend === 'opengl';
    return [{ backend: opts.backend, flags: [`backend=${opts.backend}`], adapterOptions: gl ? compat : highPerf }];
  }
  const gpuFirst: Candidate =
    process.platform === 'linux'
      ? {
          backend: 'vulkan',
          flags: ['backend=vulkan'],
          adapterOptions: highPerf,
          skip: vulkanLoaderPresent() || opts.verbose ? undefined : 'libvulkan.so.1 not found (no Vulkan driver installed)',
        }
      : { backend: 'default', flags: [], adapterOptions: highPerf };
  const cpu: Candidate = { backend: 'opengles', flags: ['backend=opengles'], adapterOptions: compat };
  return process.platform === 'linux' ? [gpuFirst, cpu] : [gpuFirst];
}

function summarise(backend: string, adapter: GPUAdapter): AdapterSummary {
  const i = adapter.info;
  const adapterName = i.device || i.description || 'unknown adapter';
  const isFallbackCpu = isCpuAdapter(i);
  return {
    backend,
    adapterName,
    vendor: i.vendor,
    architecture: i.architecture,
    description: i.description,
    isFallbackCpu,
  };
}

function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0] ?? msg;
}

/**
 * Mesa's llvmpipe splits each dispatch's workgroups into equal shares, one per thread of its pool,
 * fixed up front (lp_cs_tpool.c), and the dispatch waits for the slowest share: with one thread a
 * core, a thread that is preempted or draws the costlier workgroups (causal attention's later
 * rows) leaves the other cores idle. Three threads a core make the shares smaller and let the
 * kernel's scheduler even them out (docs/llvmpipe.md, Threads); Mesa 22.3 takes at most 32, and
 * a machine with more cores keeps one a core. Decoding's tiny dispatches run on the calling
 * thread instead: waking a pool costs more than they do.
 */
function llvmpipeThreads(workload: NonNullable<OpenDeviceOptions['workload']>): string {
  const cores = availableParallelism();
  // never fewer than a core each (Mesa's own default), three where Mesa's cap allows
  return workload === 'latency' ? '0' : String(Math.max(cores, Math.min(32, 3 * cores)));
}

export async function openDevice(opts: OpenDeviceOptions = {}): Promise<ArchDevice> {
  installGlobals();
  // Mesa's EGL must not look for an X or Wayland display on a headless machine.
  process.env.EGL_PLATFORM ??= 'surfaceless';
  if (opts.workload !== undefined) process.env.LP_NUM_THREADS ??= llvmpipeThreads(opts.workload);
  const attempts: Attempt[] = [];
  for (const c of candidates(opts)) {
    if (c.skip !== undefined) {
      attempts.push({ backend: c.backend, outcome: `skipped: ${c.skip}` });
      continue;
    }
    let gpu: GPU;
    let adapter: GPUAdapter | null;
    try {
      gpu = create(c.flags);
      adapter = await gpu.requestAdapter(c.adapterOptions);
    } catch (e) {
      attempts.push({ backend: c.backend, outcome: `error: ${errorText(e)}` });
      continue;
    }
    if (adapter === null) {
      attempts.push({ backend: c.backend, outcome: 'no adapter' });
      continue;
    }
    const limits = numericLimits(adapter.limits);
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({ requiredLimits: limits });
    } catch (e) {
      attempts.push({ backend: c.backend, outcome: `adapter found but requestDevice failed: ${errorText(e)}` });
      continue;
    }
    const info = summarise(c.backend, adapter);
    const features = [...device.features].map(String).sort();
    const deviceLimits = numericLimits(device.limits);
    let destroyed = false;
    return {
      gpu,
      adapter,
      device,
      info,
      limits: deviceLimits,
      features,
      ...(opts.kernels ? { kernels: opts.kernels } : {}),
      ...(info.isFallbackCpu ? { hostMemoryBytes: totalmem() } : {}),
      destroy() {
        if (destroyed) return;
        destroyed = true;
        device.destroy();
      },
    };
  }
  throw new NoAdapterError(attempts);
}

/** Mesa's EGL, GLES and llvmpipe on Debian/Ubuntu, for Dawn's OpenGL ES backend on the CPU: the
 *  one list that this hint, the README and .ci/run give (test/device.test.ts keeps them agreeing). */
export const MESA_PACKAGES = 'libegl1 libegl-dev libegl-mesa0 libgles2 libgl1-mesa-dri';

function explainNoAdapter(attempts: Attempt[]): string {
  const tried = attempts.map((a) => `${a.backend} (${a.outcome})`).join('; ');
  return (
    `No WebGPU adapter could be opened. Tried: ${tried}. ` +
    'To run models on a GPU, install its driver with Vulkan support (on Debian/Ubuntu: the vendor driver ' +
    'plus libvulkan1). To run on the CPU instead, install Mesa\'s EGL and llvmpipe, which Dawn\'s OpenGL ES ' +
    `backend uses headless: on Debian/Ubuntu \`apt-get install ${MESA_PACKAGES}\` ` +
    '(Dawn loads libEGL.so by that unversioned name, which libegl-dev provides). ' +
    'Choose a backend with --backend (vulkan, opengles, ...). Commands that only compile or check a model ' +
    '(no kernels run) still work without an adapter.'
  );
}
