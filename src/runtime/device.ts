// What arch knows of a WebGPU device, whichever host opened it (dawn.node in Node, the browser's
// navigator.gpu on a page): the device, its adapter's summary and its limits. Opening one is the
// host's job (src/host/node/device.ts for Node).

import type { KernelVariant } from '../codegen/wgsl/common.js';
// WebGPU's default maxComputeWorkgroupStorageSize, which the gpu templates' workgroup memory fits
import { WORKGROUP_BYTES } from '../codegen/wgsl/attention-flash.js';

export interface AdapterSummary {
  backend: string;
  adapterName: string;
  vendor: string;
  architecture: string;
  description: string;
  isFallbackCpu: boolean;
}

/**
 * Whether an adapter is a CPU rasteriser (llvmpipe, lavapipe, SwiftShader): by its names, or the
 * adapter's own fallback flag. An adapter that names nothing counts as one too: a browser keeps
 * the device and description empty (Chromium fills them only with
 * --enable-webgpu-developer-features) but names a real GPU's vendor or architecture, which it
 * leaves empty for Mesa's llvmpipe; the gpu templates run ~15x slower there (docs/playground.md).
 */
export function isCpuAdapter(i: Pick<GPUAdapterInfo, 'vendor' | 'architecture' | 'device' | 'description'> & { isFallbackAdapter?: boolean }): boolean {
  if (i.isFallbackAdapter) return true;
  const text = `${i.device} ${i.description} ${i.vendor} ${i.architecture}`.toLowerCase();
  return /llvmpipe|lavapipe|swiftshader|softpipe|software/.test(text) || text.trim() === '';
}

/** Which kernel templates to use: 'auto' picks by adapter (chooseKernels). */
export type KernelChoice = KernelVariant | 'auto';

/** The limits the gpu templates' workgroups need. */
export type WorkgroupLimits = Pick<GPUSupportedLimits, 'maxComputeInvocationsPerWorkgroup' | 'maxComputeWorkgroupStorageSize'>;

/**
 * A CPU adapter (llvmpipe, lavapipe, SwiftShader) gets the templates tuned for it, any other the
 * GPU ones; unknown (a bare GPUDevice) counts as a CPU, today's templates. A device under WebGPU's
 * default 256 invocations or 16 KiB of workgroup memory a workgroup (a compatibility-mode device
 * may be), which the gpu templates' workgroups take, gets the cpu ones whatever was asked.
 */
export function chooseKernels(asked: KernelChoice | undefined, info: Pick<AdapterSummary, 'isFallbackCpu'> | undefined, limits?: WorkgroupLimits): KernelVariant {
  if (limits && (limits.maxComputeInvocationsPerWorkgroup < 256 || limits.maxComputeWorkgroupStorageSize < WORKGROUP_BYTES)) return 'cpu';
  if (asked !== undefined && asked !== 'auto') return asked;
  return info && !info.isFallbackCpu ? 'gpu' : 'cpu';
}

export interface ArchDevice {
  /** The dawn.node instance: held so that it lives as long as the device. */
  readonly gpu: GPU;
  readonly adapter: GPUAdapter;
  readonly device: GPUDevice;
  readonly info: AdapterSummary;
  readonly limits: Record<string, number>;
  readonly features: string[];
  /** The kernels asked for when it was opened (OpenDeviceOptions.kernels); absent: 'auto'. */
  readonly kernels?: KernelChoice;
  /** A CPU adapter keeps its buffers and textures in the host's memory: its bytes, where the host
   *  knows them (the Node host: the machine's), so that a plan larger is refused, not killed. */
  readonly hostMemoryBytes?: number;
  destroy(): void;
}

export interface OpenDeviceOptions {
  /** A Dawn backend name ('vulkan', 'opengles', 'metal', 'd3d12', ...); default: try them in order. */
  backend?: string;
  /** Ask Dawn's backends even where their library looks absent (they then print their own warnings). */
  verbose?: boolean;
  /**
   * What the work will be like, for a CPU adapter (Mesa's llvmpipe or lavapipe) that runs each
   * dispatch on a pool of threads: 'latency' (long chains of tiny dispatches, as decoding one
   * token at a time) runs them on the calling thread instead, since waking the pool costs more
   * than a tiny kernel (docs/llvmpipe.md); 'throughput' (training, evaluation: large dispatches,
   * one process on the machine) gives the pool three threads a core, so that its fixed equal shares
   * of a dispatch even out; unset, Mesa's own default of one a core (several processes at once, as
   * a test run). The Node host sets Mesa's LP_NUM_THREADS accordingly unless the user set it, so
   * the first device of a process decides. No effect on a real GPU.
   */
  workload?: 'throughput' | 'latency';
  /** The kernel templates graphs compiled for this device use (default 'auto': by adapter). */
  kernels?: KernelChoice;
}

export function numericLimits(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  // The limits object exposes its members as prototype getters: for..in sees them, Object.keys does not.
  for (const key in limits) {
    const value = (limits as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') out[key] = value;
  }
  return out;
}

/** A human-readable account of the device for `arch info`. */
export function describeDevice(d: ArchDevice): string {
  const i = d.info;
  const lines = [
    `adapter:      ${i.adapterName}${i.isFallbackCpu ? ' (CPU fallback: slow, fine for tests and tiny models)' : ''}`,
    `backend:      ${i.backend}`,
    `kernels:      ${chooseKernels(d.kernels, i, workgroupLimits(d.limits))} (${d.kernels && d.kernels !== 'auto' ? 'asked for' : 'auto: by adapter'}; docs/kernels.md, "Two variants")`,
  ];
  if (i.description !== '' && i.description !== i.adapterName) lines.push(`description:  ${i.description}`);
  if (i.vendor !== '') lines.push(`vendor:       ${i.vendor}`);
  if (i.architecture !== '') lines.push(`architecture: ${i.architecture}`);
  lines.push('limits:');
  const width = Math.max(...Object.keys(d.limits).map((k) => k.length));
  for (const key of Object.keys(d.limits).sort()) {
    lines.push(`  ${key.padEnd(width)}  ${formatLimit(key, d.limits[key] ?? 0)}`);
  }
  lines.push(`features:     ${d.features.length > 0 ? d.features.join(', ') : '(none)'}`);
  return lines.join('\n');
}

function workgroupLimits(l: Record<string, number>): WorkgroupLimits {
  return { maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup ?? 256, maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize ?? WORKGROUP_BYTES };
}

function formatLimit(key: string, value: number): string {
  if (/Size$/.test(key) && value >= 1 << 20) return `${value} (${(value / (1 << 20)).toFixed(0)} MiB)`;
  return String(value);
}
