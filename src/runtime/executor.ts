// The executor: an IR graph compiled for one binding of its runtime symbols and run on a WebGPU
// device. Compiling fuses the graph (src/ir/fuse), generates one WGSL kernel per fused kernel
// (src/codegen/wgsl), plans memory by liveness (src/ir/plan.ts) and creates every buffer,
// pipeline, texture and bind group once. A run writes the inputs, records the whole graph into one
// command encoder, submits once and reads back only the outputs asked for.
//
// Params (and their gradients, which are graph outputs) live on the GPU: setParams uploads,
// getParam downloads, paramBuffer / outputBuffer expose the GPUBuffers for an optimizer kernel.

import type { Data } from '../ir/interpret.js';
import type { Graph } from '../ir/types.js';
import { formatOp } from '../ir/print.js';
import { fuse } from '../ir/fuse/fuse.js';
import { numelOf } from '../ir/fuse/resolve.js';
import type { FuseOptions, FusedGraph, Kernel, Tensor } from '../ir/fuse/types.js';
import { planMemory, type MemoryPlan } from '../ir/plan.js';
import { generateKernel, type KernelBinding, type KernelCode } from '../codegen/wgsl/index.js';
import { MAX_TEXTURE_DIM } from '../codegen/wgsl/texture.js';
import { numericLimits, type ArchDevice } from './device.js';
import { StagingPool } from './staging.js';

export interface CompileOptions extends FuseOptions {
  /** Where contractions read their operands (default 'texture', fastest on llvmpipe). */
  contractionSource?: 'texture' | 'buffer';
  /** Parameters to place, in this order, in one buffer (and their `grad:` outputs in another, at
   *  the same offsets), so an optimizer updates them all with one dispatch. */
  slab?: string[];
  /** Plan under tighter limits than the device's (to test what a larger model meets). */
  limits?: Partial<PlanLimits>;
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
  totalBytes: number;
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

const pipelineCache = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

function tensorName(fg: FusedGraph, t: Tensor): string {
  const n = fg.graph.nodes[t.node]!;
  const output = [...fg.graph.outputs].find(([, id]) => id === n.id)?.[0];
  const base = n.op.kind === 'input' || n.op.kind === 'param' ? n.op.name : n.label ?? output ?? `%${n.id}`;
  const logical = n.type.axes.map((a) => a.name).join('');
  const layout = t.layout.join('');
  return layout === logical ? base : `${base} as ${layout}`;
}

/** tensorName, and for an unnamed intermediate the named value it is computed for (the nearest
 *  labelled node or output downstream): what an error can tell a user about it. */
function describeTensor(fg: FusedGraph, t: Tensor): string {
  const name = tensorName(fg, t);
  if (!name.startsWith('%')) return name;
  const g = fg.graph;
  const outputs = new Map([...g.outputs].map(([k, id]) => [id, k]));
  const consumers: number[][] = g.nodes.map(() => []);
  for (const n of g.nodes) for (const i of n.inputs) consumers[i]!.push(n.id);
  const seen = new Set([t.node]);
  for (let queue = [t.node]; queue.length > 0; ) {
    const next: number[] = [];
    for (const id of queue) {
      for (const c of consumers[id]!) {
        if (seen.has(c)) continue;
        seen.add(c);
        const named = outputs.get(c) ?? g.nodes[c]!.label;
        if (named !== undefined) return `${name} (part of ${named})`;
        next.push(c);
      }
    }
    queue = next;
  }
  return name;
}

function tensorBytes(fg: FusedGraph, t: Tensor): number {
  return numelOf(fg.graph.nodes[t.node]!) * 4;
}

/** Round up to 16 bytes: vec4 and texel reads may run to the end of a group of four. */
const align16 = (x: number) => Math.max(16, Math.ceil(x / 16) * 16);

/** The device limits that compiling depends on. */
export interface PlanLimits {
  maxStorageBuffersPerShaderStage: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBufferBindingSize: number;
  maxStorageTexturesPerShaderStage: number;
  /** The largest buffer: a tensor bound in ranges still needs one buffer. */
  maxBufferSize: number;
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

/** Everything compiling decides before a device is involved (`arch compile --emit wgsl|plan`). */
export interface GraphPlan {
  fused: FusedGraph;
  codes: KernelCode[];
  plan: ExecPlan;
  memory: MemoryPlan;
  /** Bytes each tensor needs (before the 16-byte rounding), texture fills included. */
  bytes: number[];
  persistent: Set<number>;
}

/** Fusion, WGSL generation and the memory plan: no GPUDevice needed. */
export function planGraph(graph: Graph, symbols: Record<string, number>, opts: CompileOptions = {}, limits: PlanLimits = DEFAULT_LIMITS): GraphPlan {
  const maxBindings = Math.min(opts.maxBindings ?? limits.maxStorageBuffersPerShaderStage, limits.maxStorageBuffersPerShaderStage);
  const fg = fuse(graph, symbols, { ...opts, maxBindings });
  const codes: KernelCode[] = fg.kernels.map((k) =>
    generateKernel(fg, k, {
      maxWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      // where contraction operands are textures, other kernels read through them too
      textureReads: (opts.contractionSource ?? 'texture') === 'texture' ? limits.maxStorageTexturesPerShaderStage : 0,
      source: opts.contractionSource,
    }),
  );

  const persistent = new Set<number>([...fg.inputs.values(), ...fg.params.values(), ...fg.outputs.values()]);
  const bytes = fg.tensors.map((t) => tensorBytes(fg, t));
  for (const c of codes) {
    for (const b of c.bindings) if (b.kind === 'texture') bytes[b.tensor] = Math.max(bytes[b.tensor]!, b.bufferBytesNeeded);
  }
  /** A tensor over a limit: its name, shape and size, and what to do (a smaller batch where its
   *  size depends on the batch or length, else a larger adapter). */
  const tooLarge = (i: number, what: string): PlanLimitError => {
    const t = fg.tensors[i]!;
    return new PlanLimitError(
      `tensor ${describeTensor(fg, t)} [${fg.graph.nodes[t.node]!.type.axes.map((a) => `${a.name}=${a.size}`).join(', ')}] needs ${bytes[i]} bytes, more than ${what}; ` +
        (graph.nodes[t.node]!.type.axes.some((a) => typeof a.size !== 'number')
          ? 'use a smaller batch or sequence length'
          : "its size does not depend on the batch or sequence length (the model's own size): use an adapter with a larger limit (a GPU: --backend vulkan)"),
    );
  };
  // A tensor only read through textures may be larger than a storage binding (up to a texture
  // 8192 texels wide); one bound as a storage buffer may not.
  // (a contraction's C over the limit is bound in ranges, each within it)
  const storageBound = new Set(codes.flatMap((c) => c.bindings.flatMap((b) => (b.kind === 'storage' && !b.range ? [b.tensor] : []))));
  for (const c of codes) {
    const storage = c.bindings.filter((b) => b.kind === 'storage').length;
    if (storage > limits.maxStorageBuffersPerShaderStage) {
      throw new PlanLimitError(`a kernel needs ${storage} storage bindings, more than the adapter's ${limits.maxStorageBuffersPerShaderStage}; use a smaller batch or sequence length`);
    }
  }
  for (const c of codes) {
    for (const b of c.bindings) {
      if (b.kind === 'texture' && b.width > MAX_TEXTURE_DIM) {
        throw tooLarge(b.tensor, `a texture of ${MAX_TEXTURE_DIM} x ${MAX_TEXTURE_DIM} texels holds (kernels read a tensor larger than one binding through one)`);
      }
    }
  }
  fg.tensors.forEach((t, i) => {
    if (bytes[i]! > limits.maxBufferSize) throw tooLarge(i, `the adapter's largest buffer (maxBufferSize: ${limits.maxBufferSize} bytes)`);
    // written tensors larger than a binding are bound in ranges; a read-only one goes through a
    // texture unless it is not f32
    if (storageBound.has(i) && bytes[i]! > limits.maxStorageBufferBindingSize) {
      throw tooLarge(i, `one binding may hold (maxStorageBufferBindingSize: ${limits.maxStorageBufferBindingSize} bytes)`);
    }
  });
  // Slab members get space in the slab, not a buffer of their own.
  const inSlab = new Set((opts.slab ?? []).flatMap((n) => [fg.params.get(n), fg.outputs.get(`grad:${n}`)].filter((t): t is number => t !== undefined)));
  const memory = planMemory(
    fg.tensors.map((t, i) => ({ bytes: inSlab.has(i) ? 16 : align16(bytes[i]!), persistent: persistent.has(i) })),
    codes.map((c) => ({
      reads: c.bindings.filter((b) => b.kind === 'texture' || (b.kind === 'storage' && b.access === 'read')).map((b) => (b as { tensor: number }).tensor),
      writes: c.bindings.filter((b) => b.kind === 'storage' && b.access === 'read_write').map((b) => (b as { tensor: number }).tensor),
    })),
  );
  const plan: ExecPlan = {
    kernels: fg.kernels.map((k, i) => ({
      name: k.name,
      kind: k.kind,
      ops: k.fused.map((id) => `%${id} = ${formatOp(fg.graph.nodes[id]!.op, fg.graph.nodes[id]!.inputs)}`),
      bindings: codes[i]!.bindings.map((b) =>
        b.kind === 'uniform'
          ? { binding: b.binding, kind: 'uniform', tensor: 'seed' }
          : { binding: b.binding, kind: b.kind, tensor: tensorName(fg, fg.tensors[b.tensor]!), access: b.kind === 'storage' ? b.access : 'read' },
      ),
      workgroups: codes[i]!.workgroups,
      wgsl: codes[i]!.code,
    })),
    buffers: memory.buffers.map((size, i) => ({
      index: i,
      bytes: size,
      tensors: fg.tensors.filter((t) => memory.bufferOf[t.id] === i).map((t) => tensorName(fg, t)),
      persistent: fg.tensors.some((t) => memory.bufferOf[t.id] === i && persistent.has(t.id)),
    })),
    dispatchesPerRun: codes.length,
    totalBytes: memory.buffers.reduce((s, b) => s + b, 0),
  };
  return { fused: fg, codes, plan, memory, bytes, persistent };
}

export async function compileGraph(
  target: ArchDevice | GPUDevice,
  graph: Graph,
  symbols: Record<string, number>,
  opts: CompileOptions = {},
): Promise<CompiledGraph> {
  const device: GPUDevice = 'device' in target && 'adapter' in target ? target.device : (target as GPUDevice);
  // tighter limits than the device's, if asked (tests run what a larger model meets)
  const limits: GPUSupportedLimits = opts.limits ? { ...numericLimits(device.limits), ...opts.limits } as unknown as GPUSupportedLimits : device.limits;
  // Contraction operands are read-only storage textures, a WGSL language feature Dawn has; where it
  // is missing, they are read from their buffers.
  const features = 'gpu' in target ? (target.gpu as GPU & { wgslLanguageFeatures?: ReadonlySet<string> }).wgslLanguageFeatures : undefined;
  const storageTextures = features?.has('readonly_and_readwrite_storage_textures') ?? true;
  const source = opts.contractionSource ?? (storageTextures ? 'texture' : 'buffer');
  const { fused: fg, codes, plan, memory: mem, bytes } = planGraph(graph, symbols, { ...opts, contractionSource: source }, limits);
  // Slab members live at an offset in one shared buffer instead of their own; its layout is
  // known before anything is allocated, so a slab over the largest buffer is refused first.
  const members: SlabLayout['members'] = [];
  let at = 0;
  if (opts.slab?.length) {
    const align = Math.max(256, limits.minStorageBufferOffsetAlignment);
    for (const name of opts.slab) {
      const t = fg.params.get(name);
      if (t === undefined) throw new Error(`slab: no param '${name}'`);
      members.push({ name, offset: at, length: numelOf(fg.graph.nodes[fg.tensors[t]!.node]!) });
      at += Math.ceil(align16(bytes[t]!) / align) * align;
      const g = fg.outputs.get(`grad:${name}`);
      if (g !== undefined) at = Math.max(at, members.at(-1)!.offset + Math.ceil(align16(bytes[g]!) / align) * align);
    }
    if (at > limits.maxBufferSize) {
      throw new PlanLimitError(`the parameters need ${at} bytes in one buffer, more than this adapter's largest buffer (maxBufferSize: ${limits.maxBufferSize} bytes); train a smaller model here, or on a GPU`);
    }
  }
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const buffers = mem.buffers.map((size, i) => device.createBuffer({ size, usage, label: `arch buffer ${i}` }));
  const placed = new Map<number, { buffer: GPUBuffer; offset: number }>();
  let slab: SlabLayout | null = null;
  if (opts.slab?.length) {
    const paramsBuf = device.createBuffer({ size: Math.max(16, at), usage, label: 'arch parameter slab' });
    const hasGrads = opts.slab.every((n) => fg.outputs.has(`grad:${n}`));
    const gradsBuf = hasGrads ? device.createBuffer({ size: Math.max(16, at), usage, label: 'arch gradient slab' }) : null;
    const gradTensors = new Set<number>();
    for (const m of members) {
      placed.set(fg.params.get(m.name)!, { buffer: paramsBuf, offset: m.offset });
      if (gradsBuf) {
        const g = fg.outputs.get(`grad:${m.name}`)!;
        // Two gradients computed as one tensor can't sit at two offsets: keep slabs exact.
        if (gradTensors.has(g) || placed.has(g)) throw new Error(`slab: grad:${m.name} is shared with another tensor`);
        gradTensors.add(g);
        placed.set(g, { buffer: gradsBuf, offset: m.offset });
      }
    }
    slab = { params: paramsBuf, grads: gradsBuf, bytes: at, members };
  }
  const locOf = (t: number): { buffer: GPUBuffer; offset: number } => {
    const p = placed.get(t);
    if (p) return p;
    const b = mem.bufferOf[t]!;
    if (b < 0) throw new Error(`executor: tensor ${tensorName(fg, fg.tensors[t]!)} has no buffer`);
    return { buffer: buffers[b]!, offset: 0 };
  };
  const bufferOfTensor = (t: number): GPUBuffer => locOf(t).buffer;
  const seedBuffer = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });

  // ---- pipelines, textures, bind groups ----
  let cache = pipelineCache.get(device);
  if (!cache) pipelineCache.set(device, (cache = new Map()));
  const pipelines: GPUComputePipeline[] = [];
  for (const c of codes) {
    let p = cache.get(c.code);
    if (!p) {
      const module = device.createShaderModule({ code: c.code, label: c.name });
      const info = await module.getCompilationInfo();
      const errors = info.messages.filter((m) => m.type === 'error');
      if (errors.length > 0) {
        throw new Error(`WGSL for kernel ${c.name} does not compile: ${errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ')}\n${c.code}`);
      }
      p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: c.name });
      cache.set(c.code, p);
    }
    pipelines.push(p);
  }
  const textures: GPUTexture[] = [];
  /** A texture holding a tensor (in one texel layout), shared by every kernel that reads it so. */
  interface Fill {
    texture: GPUTexture;
    binding: Extract<KernelBinding, { kind: 'texture' }>;
  }
  interface Step {
    code: KernelCode;
    pipeline: GPUComputePipeline;
    group: GPUBindGroup;
    fills: Fill[];
  }
  const shared = new Map<string, Fill>();
  const fillFor = (b: Extract<KernelBinding, { kind: 'texture' }>): Fill => {
    const key = JSON.stringify([b.tensor, b.format, b.width, b.height, b.copies]);
    let f = shared.get(key);
    if (!f) {
      const texture = device.createTexture({
        size: [b.width, b.height],
        format: b.format,
        usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST | GPUTextureUsage.STORAGE_BINDING,
      });
      textures.push(texture);
      f = { texture, binding: b };
      shared.set(key, f);
    }
    return f;
  };
  const steps: Step[] = codes.map((code, i) => {
    const fills: Step['fills'] = [];
    const entries: GPUBindGroupEntry[] = code.bindings.map((b) => {
      if (b.kind === 'texture') {
        const f = fillFor(b);
        if (!fills.includes(f)) fills.push(f);
        return { binding: b.binding, resource: f.texture.createView() };
      }
      if (b.kind === 'uniform') return { binding: b.binding, resource: { buffer: seedBuffer } };
      // the tensor's own bytes, not its buffer's: a buffer reused after an oversized tensor may be
      // larger than one binding may hold
      const loc = locOf(b.tensor);
      const base = placed.has(b.tensor) ? loc.offset : 0;
      return { binding: b.binding, resource: b.range ? { buffer: loc.buffer, offset: base + b.range.offset, size: b.range.size } : { buffer: loc.buffer, offset: base, size: align16(bytes[b.tensor]!) } };
    });
    const group = device.createBindGroup({ layout: pipelines[i]!.getBindGroupLayout(0), entries });
    return { code, pipeline: pipelines[i]!, group, fills };
  });

  // A parameter's texture holds its value until setParams changes it, so it is filled once, not
  // every run; unless the parameter's buffer is written behind the executor's back (a slab that an
  // optimizer updates, or a buffer handed out by paramBuffer), which refills it every run. Any
  // other texture is filled once a run, before the first kernel that reads it (a tensor is written
  // once a run, before its readers; the texture keeps its value even if the buffer is reused).
  const filled = new Set<Fill>();
  const exposed = new Set<number>([...placed.keys()]);
  const paramTensors = new Set(fg.params.values());
  const needsFill = (f: Step['fills'][number]): boolean =>
    !paramTensors.has(f.binding.tensor) || exposed.has(f.binding.tensor) || !filled.has(f);
  const record = (encoder: GPUCommandEncoder, which: readonly Step[], repeat = 1): void => {
    let pass: GPUComputePassEncoder | undefined;
    const thisRun = new Set<Fill>();
    for (const s of which) {
      // (encoding is on the critical path of decoding: no allocation where there is nothing to fill)
      const fills = s.fills.length === 0 ? s.fills : s.fills.filter((f) => !thisRun.has(f) && needsFill(f));
      if (fills.length > 0) {
        pass?.end();
        pass = undefined;
        for (const f of fills) {
          filled.add(f);
          thisRun.add(f);
          for (const c of f.binding.copies) {
            const loc = locOf(f.binding.tensor);
            encoder.copyBufferToTexture(
              { buffer: loc.buffer, offset: loc.offset + c.bufferOffset, bytesPerRow: c.bytesPerRow },
              { texture: f.texture, origin: [0, c.originY] },
              [c.width, c.height],
            );
          }
        }
      }
      pass ??= encoder.beginComputePass();
      pass.setPipeline(s.pipeline);
      pass.setBindGroup(0, s.group);
      const [x, y, z] = s.code.workgroups;
      for (let r = 0; r < repeat; r++) pass.dispatchWorkgroups(x, y, z);
    }
    pass?.end();
  };

  // ---- host side ----
  // Mappable copies of outputs, a pool per output (staging.ts)
  const staging = new Map<string, StagingPool>();
  const stagingFor = (key: string, size: number): GPUBuffer =>
    (staging.get(key) ?? staging.set(key, new StagingPool(device, `readback of ${key}`)).get(key)!).take(size);
  const upload = (t: number, data: Data, what: string): void => {
    const tensor = fg.tensors[t]!;
    const node = fg.graph.nodes[tensor.node]!;
    const n = numelOf(node);
    if (data.length !== n) throw new Error(`${what} has ${data.length} elements, expected ${n} for [${node.type.axes.map((a) => `${a.name}=${a.size}`).join(', ')}]`);
    const typed = node.type.dtype === 'i32'
      ? (data instanceof Int32Array ? data : Int32Array.from(data))
      : (data instanceof Float32Array ? data : Float32Array.from(data));
    const loc = locOf(t);
    device.queue.writeBuffer(loc.buffer, loc.offset, typed.buffer, typed.byteOffset, typed.byteLength);
  };
  /** Copies tensors into their mappable staging buffers, in the caller's encoder. */
  const stage = (encoder: GPUCommandEncoder, entries: { key: string; tensor: number }[]): GPUBuffer[] =>
    entries.map((e) => {
      const size = align16(tensorBytes(fg, fg.tensors[e.tensor]!));
      const s = stagingFor(e.key, size);
      const loc = locOf(e.tensor);
      encoder.copyBufferToBuffer(loc.buffer, loc.offset, s, 0, size);
      return s;
    });
  const download = async (entries: { key: string; tensor: number }[]): Promise<(Float32Array | Int32Array)[]> => {
    const encoder = device.createCommandEncoder();
    const stages = stage(encoder, entries);
    device.queue.submit([encoder.finish()]);
    return readStaged(entries, stages);
  };
  const readStaged = async (entries: { key: string; tensor: number }[], stages: GPUBuffer[]): Promise<(Float32Array | Int32Array)[]> => {
    await Promise.all(stages.map((s) => s.mapAsync(GPUMapMode.READ)));
    return entries.map((e, i) => {
      const node = fg.graph.nodes[fg.tensors[e.tensor]!.node]!;
      const n = numelOf(node);
      const range = stages[i]!.getMappedRange();
      const out = node.type.dtype === 'i32' ? new Int32Array(range.slice(0, n * 4)) : new Float32Array(range.slice(0, n * 4));
      stages[i]!.unmap();
      return out;
    });
  };
  const paramTensor = (name: string): number => {
    const t = fg.params.get(name);
    if (t === undefined) throw new Error(`no param '${name}' (params: ${[...fg.params.keys()].join(', ')})`);
    return t;
  };
  const outputTensor = (name: string): number => {
    const t = fg.outputs.get(name);
    if (t === undefined) throw new Error(`no output '${name}' (outputs: ${[...fg.outputs.keys()].join(', ')})`);
    return t;
  };
  const setParams = (values: Record<string, Float32Array | Float64Array>): void => {
    for (const [name, v] of Object.entries(values)) {
      const t = paramTensor(name);
      upload(t, v, `param '${name}'`);
      for (const f of filled) if (f.binding.tensor === t) filled.delete(f);
    }
  };

  const stateCopies = Object.entries(opts.state ?? {}).map(([input, output]) => {
    const t = fg.inputs.get(input);
    if (t === undefined) throw new Error(`state: no input '${input}'`);
    return { from: locOf(outputTensor(output)), to: locOf(t), bytes: align16(tensorBytes(fg, fg.tensors[t]!)) };
  }).filter((c) => c.from.buffer !== c.to.buffer || c.from.offset !== c.to.offset); // updated in place

  const encode = (encoder: GPUCommandEncoder): void => {
    record(encoder, steps);
    for (const c of stateCopies) encoder.copyBufferToBuffer(c.from.buffer, c.from.offset, c.to.buffer, c.to.offset, c.bytes);
  };

  return {
    fused: fg,
    plan,
    setParams,
    encode,
    inputBuffer(name) {
      const t = fg.inputs.get(name);
      if (t === undefined) throw new Error(`no input '${name}' (inputs: ${[...fg.inputs.keys()].join(', ')})`);
      return bufferOfTensor(t);
    },
    async getParam(name) {
      const [v] = await download([{ key: `param:${name}`, tensor: paramTensor(name) }]);
      return v as Float32Array;
    },
    paramBuffer: (name) => {
      const t = paramTensor(name);
      exposed.add(t);
      return bufferOfTensor(t);
    },
    slab,
    outputBuffer: (name) => bufferOfTensor(outputTensor(name)),
    async run(feeds, want) {
      for (const [name, t] of fg.inputs) {
        const data = feeds.inputs[name];
        if (data === undefined) {
          if (opts.state?.[name]) continue;
          throw new Error(`run: no value for input '${name}'`);
        }
        upload(t, data, `input '${name}'`);
      }
      if (feeds.params) setParams(feeds.params);
      const seed = feeds.seed ?? symbols.seed ?? 0;
      device.queue.writeBuffer(seedBuffer, 0, new Uint32Array([seed >>> 0, 0, 0, 0]));
      const entries = want.map((name) => ({ key: `out:${name}`, tensor: outputTensor(name) }));
      const encoder = device.createCommandEncoder();
      encode(encoder);
      feeds.after?.(encoder);
      const stages = stage(encoder, entries);
      device.queue.submit([encoder.finish()]);
      // (submitted, and the staging buffers' maps requested, before this returns its promise)
      const values = await readStaged(entries, stages);
      const out: Record<string, Float32Array | Int32Array> = {};
      want.forEach((name, i) => (out[name] = values[i]!));
      return out;
    },
    async timeKernels(reps = 10) {
      const out: KernelTiming[] = [];
      for (const s of steps) {
        const warm = device.createCommandEncoder();
        record(warm, [s]);
        const w0 = performance.now();
        device.queue.submit([warm.finish()]);
        await device.queue.onSubmittedWorkDone();
        const firstMs = performance.now() - w0;
        const encoder = device.createCommandEncoder();
        record(encoder, [s], reps);
        const t0 = performance.now();
        device.queue.submit([encoder.finish()]);
        await device.queue.onSubmittedWorkDone();
        out.push({ name: s.code.name, ms: (performance.now() - t0) / reps, firstMs });
      }
      return out;
    },
    resetState() {
      for (const input of Object.keys(opts.state ?? {})) {
        const t = fg.inputs.get(input);
        if (t === undefined) throw new Error(`state: no input '${input}'`);
        const loc = locOf(t);
        device.queue.writeBuffer(loc.buffer, loc.offset, new Float32Array(numelOf(fg.graph.nodes[fg.tensors[t]!.node]!)));
      }
    },
    destroy() {
      for (const b of buffers) b.destroy();
      for (const pool of staging.values()) pool.destroy();
      for (const t of textures) t.destroy();
      slab?.params.destroy();
      slab?.grads?.destroy();
      seedBuffer.destroy();
    },
  };
}

/** A readable account of a plan (`arch compile --emit plan`). */
export function describePlan(plan: ExecPlan): string {
  const lines = [`${plan.kernels.length} kernels, ${plan.dispatchesPerRun} dispatches per run, ${plan.buffers.length} buffers (${plan.totalBytes} bytes)`];
  for (const k of plan.kernels) {
    lines.push(`${k.name}  [${k.workgroups.join('x')} workgroups]`);
    for (const b of k.bindings) lines.push(`    @binding(${b.binding}) ${b.kind} ${b.access ?? ''} ${b.tensor ?? ''}`.trimEnd());
    for (const op of k.ops) lines.push(`    ${op}`);
  }
  lines.push('buffers:');
  for (const b of plan.buffers) lines.push(`  #${b.index} ${b.bytes} bytes${b.persistent ? ' (persistent)' : ''}: ${b.tensors.join(', ')}`);
  return lines.join('\n');
}
