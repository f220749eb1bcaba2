// Compiling's fourth phase: a compute pipeline per kernel (cached by WGSL text per device, so the
// same kernel in every layer, and a kernel at every batch size and length, compiles once: sizes
// are read from a uniform), the textures contractions read through, the kernels' size uniforms
// and each kernel's bind group. The result is the list of steps a run records.

import { dispatchesOf, pipelineKey, type KernelCode, type KernelPart } from '../../codegen/wgsl/index.js';
import type { Allocation } from './allocate.js';
import { align16 } from './tensors.js';
import type { FillLife, TextureBinding, TexturePlan } from './textures.js';

/** A tensor's copy into a texture (in one texel layout), shared by every kernel that reads it so;
 *  the texture may hold other tensors' copies at other times of the run (textures.ts). */
export interface Fill {
  texture: GPUTexture;
  binding: TextureBinding;
}

/** One dispatch of a kernel. */
export interface Dispatch {
  pipeline: GPUComputePipeline;
  group: GPUBindGroup;
  workgroups: [number, number, number];
}

/** One kernel, ready to dispatch (once, or once per part: KernelCode.parts) once its fills are copied. */
export interface Step {
  code: KernelCode;
  dispatches: Dispatch[];
  fills: Fill[];
}

const pipelineCache = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/** Distinct pipelines created on `device` so far (what a cold start compiles). */
export function pipelineCount(device: GPUDevice): number {
  return pipelineCache.get(device)?.size ?? 0;
}

/** One pipeline per dispatch of each kernel, in order; a kernel whose WGSL does not compile is an
 *  error with its text. */
export async function createPipelines(device: GPUDevice, codes: readonly KernelCode[]): Promise<GPUComputePipeline[][]> {
  const out: GPUComputePipeline[][] = [];
  for (const k of codes) out.push(await partPipelines(device, k.name, dispatchesOf(k)));
  return out;
}

async function partPipelines(device: GPUDevice, name: string, parts: readonly KernelPart[]): Promise<GPUComputePipeline[]> {
  let cache = pipelineCache.get(device);
  if (!cache) pipelineCache.set(device, (cache = new Map()));
  const pipelines: GPUComputePipeline[] = [];
  for (const c of parts) {
    const key = pipelineKey(c.code);
    let p = cache.get(key);
    if (!p) {
      const module = device.createShaderModule({ code: c.code, label: name });
      const info = await module.getCompilationInfo();
      const errors = info.messages.filter((m) => m.type === 'error');
      if (errors.length > 0) {
        throw new Error(`WGSL for kernel ${name} does not compile: ${errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ')}\n${c.code}`);
      }
      p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: name });
      cache.set(key, p);
    }
    pipelines.push(p);
  }
  return pipelines;
}

/** Every kernel's size uniform in one buffer, each at its own aligned offset (bound with a static
 *  offset: no dynamic offsets, of which an adapter allows few), written once. */
function sizeUniforms(device: GPUDevice, codes: readonly KernelPart[]): { buffer: GPUBuffer | null; offsets: number[] } {
  const align = Math.max(16, device.limits.minUniformBufferOffsetAlignment);
  const offsets: number[] = [];
  let at = 0;
  for (const c of codes) {
    offsets.push(at);
    if (c.sizes) at += Math.ceil((c.sizes.length * 4) / align) * align;
  }
  if (at === 0) return { buffer: null, offsets };
  const buffer = device.createBuffer({ size: at, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, mappedAtCreation: true, label: 'arch kernel sizes' });
  const words = new Uint32Array(buffer.getMappedRange());
  codes.forEach((c, i) => c.sizes && words.set(c.sizes, offsets[i]! / 4));
  buffer.unmap();
  return { buffer, offsets };
}

/** Each kernel's bind group over the allocation, the textures its reads need (as `texturePlan`
 *  shares them), the buffer of the kernels' size uniforms and the kernels' scratch buffers (the
 *  caller destroys them). */
export function bindSteps(device: GPUDevice, codes: readonly KernelCode[], pipelines: readonly GPUComputePipeline[][], alloc: Allocation, bytes: readonly number[], texturePlan: TexturePlan): { steps: Step[]; textures: GPUTexture[]; uniforms: GPUBuffer | null; scratch: GPUBuffer[] } {
  const parts = codes.map(dispatchesOf);
  const uniforms = sizeUniforms(device, parts.flat());
  const textures = texturePlan.slots.map((t) =>
    device.createTexture({ size: [t.width, t.height], format: t.format, usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST | GPUTextureUsage.STORAGE_BINDING }),
  );
  const scratch: GPUBuffer[] = [];
  const shared = new Map<FillLife, Fill>();
  const fillFor = (kernel: number, b: TextureBinding): Fill => {
    const life = texturePlan.lifeAt(kernel, b);
    let f = shared.get(life);
    if (!f) shared.set(life, (f = { texture: textures[life.slot]!, binding: b }));
    return f;
  };
  let at = 0; // the dispatch's index over all kernels' parts (its uniform's offset)
  const steps = codes.map((code, i): Step => {
    const fills: Fill[] = [];
    let own: GPUBuffer | undefined; // the kernel's scratch, one for all its parts
    const dispatches = parts[i]!.map((part, j): Dispatch => {
      const offset = uniforms.offsets[at++]!;
      const entries: GPUBindGroupEntry[] = part.bindings.map((b) => {
        if (b.kind === 'texture') {
          const f = fillFor(i, b);
          if (!fills.includes(f)) fills.push(f);
          return { binding: b.binding, resource: f.texture.createView() };
        }
        if (b.kind === 'scratch') {
          if (!own) scratch.push((own = device.createBuffer({ size: align16(b.words * 4), usage: GPUBufferUsage.STORAGE, label: `${code.name} scratch` })));
          return { binding: b.binding, resource: { buffer: own } };
        }
        if (b.kind === 'uniform') {
          if (b.what === 'seed') return { binding: b.binding, resource: { buffer: alloc.seed } };
          if (!part.sizes) throw new Error(`kernel ${code.name} binds a sizes uniform but gives no KernelCode.sizes`);
          return { binding: b.binding, resource: { buffer: uniforms.buffer!, offset, size: part.sizes!.length * 4 } };
        }
        // the tensor's own bytes, not its buffer's: a buffer reused after an oversized tensor may be
        // larger than one binding may hold
        const place = alloc.placeOf(b.tensor);
        return { binding: b.binding, resource: b.range ? { buffer: place.buffer, offset: place.offset + b.range.offset, size: b.range.size } : { buffer: place.buffer, offset: place.offset, size: align16(bytes[b.tensor]!) } };
      });
      const pipeline = pipelines[i]![j]!;
      return { pipeline, group: device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }), workgroups: part.workgroups };
    });
    return { code, dispatches, fills };
  });
  return { steps, textures, uniforms: uniforms.buffer, scratch };
}
