// Compiling's last phase, and running: the compiled graph a caller holds. A run writes its inputs,
// records every step into one command encoder (then the state copies and the caller's own work),
// copies the outputs asked for into mappable staging buffers, submits once and reads them back.

import type { Data } from '../../ir/interpret.js';
import type { FusedGraph } from '../../ir/fuse/types.js';
import { StagingPool } from '../staging.js';
import type { Allocation, Place } from './allocate.js';
import type { Step } from './pipelines.js';
import type { GraphPlan } from './plan.js';
import type { Recorder } from './record.js';
import { align16, tensorBytes, tensorNumel } from './tensors.js';
import type { CompileOptions, CompiledGraph, ExecPlan, KernelTiming, RunFeeds, SlabLayout } from './types.js';

type Readback = { key: string; tensor: number };

/** Host <-> device copies of tensors: writes, and reads through a staging pool per key (staging.ts). */
class Transfers {
  private readonly staging = new Map<string, StagingPool>();

  constructor(private readonly device: GPUDevice, private readonly fg: FusedGraph, private readonly alloc: Allocation) {}

  upload(t: number, data: Data, what: string): void {
    const node = this.fg.graph.nodes[this.fg.tensors[t]!.node]!;
    const n = tensorNumel(this.fg, t);
    if (data.length !== n) throw new Error(`${what} has ${data.length} elements, expected ${n} for [${node.type.axes.map((a) => `${a.name}=${a.size}`).join(', ')}]`);
    const typed = node.type.dtype === 'i32'
      ? (data instanceof Int32Array ? data : Int32Array.from(data))
      : (data instanceof Float32Array ? data : Float32Array.from(data));
    const at = this.alloc.placeOf(t);
    this.device.queue.writeBuffer(at.buffer, at.offset, typed.buffer, typed.byteOffset, typed.byteLength);
  }

  /** Copies tensors into their mappable staging buffers, in the caller's encoder. */
  stage(encoder: GPUCommandEncoder, entries: readonly Readback[]): GPUBuffer[] {
    return entries.map((e) => {
      const size = align16(tensorBytes(this.fg, e.tensor));
      let pool = this.staging.get(e.key);
      if (!pool) this.staging.set(e.key, (pool = new StagingPool(this.device, `readback of ${e.key}`)));
      const s = pool.take(size);
      const at = this.alloc.placeOf(e.tensor);
      encoder.copyBufferToBuffer(at.buffer, at.offset, s, 0, size);
      return s;
    });
  }

  async read(entries: readonly Readback[], stages: GPUBuffer[]): Promise<(Float32Array | Int32Array)[]> {
    await Promise.all(stages.map((s) => s.mapAsync(GPUMapMode.READ)));
    return entries.map((e, i) => {
      const n = tensorNumel(this.fg, e.tensor);
      const range = stages[i]!.getMappedRange();
      const i32 = this.fg.graph.nodes[this.fg.tensors[e.tensor]!.node]!.type.dtype === 'i32';
      const out = i32 ? new Int32Array(range.slice(0, n * 4)) : new Float32Array(range.slice(0, n * 4));
      stages[i]!.unmap();
      return out;
    });
  }

  async download(entries: readonly Readback[]): Promise<(Float32Array | Int32Array)[]> {
    const encoder = this.device.createCommandEncoder();
    const stages = this.stage(encoder, entries);
    this.device.queue.submit([encoder.finish()]);
    return this.read(entries, stages);
  }

  destroy(): void {
    for (const pool of this.staging.values()) pool.destroy();
  }
}

export interface Compiled {
  planned: GraphPlan;
  alloc: Allocation;
  steps: Step[];
  textures: GPUTexture[];
  /** The kernels' size uniforms, if any kernel reads one. */
  uniforms: GPUBuffer | null;
  /** Kernels' working memory (a scatter's index lists). */
  scratch: GPUBuffer[];
  recorder: Recorder;
}

export class ExecutableGraph implements CompiledGraph {
  readonly fused: FusedGraph;
  readonly plan: ExecPlan;
  readonly slab: SlabLayout | null;
  readonly deviceBytes: number;
  private readonly io: Transfers;
  /** State outputs copied back onto their inputs after each run (those not updated in place). */
  private readonly stateCopies: { from: Place; to: Place; bytes: number }[];

  constructor(
    private readonly device: GPUDevice,
    private readonly c: Compiled,
    private readonly symbols: Record<string, number>,
    private readonly opts: CompileOptions,
  ) {
    this.fused = c.planned.fused;
    this.plan = c.planned.plan;
    this.slab = c.alloc.slab;
    this.deviceBytes = c.planned.deviceBytes;
    this.io = new Transfers(device, this.fused, c.alloc);
    this.stateCopies = Object.keys(opts.state ?? {}).map((input) => {
      const t = this.stateInput(input);
      return { from: c.alloc.placeOf(this.outputTensor(opts.state![input]!)), to: c.alloc.placeOf(t), bytes: align16(tensorBytes(this.fused, t)) };
    }).filter((s) => s.from.buffer !== s.to.buffer || s.from.offset !== s.to.offset); // updated in place
  }

  private paramTensor(name: string): number {
    const t = this.fused.params.get(name);
    if (t === undefined) throw new Error(`no param '${name}' (params: ${[...this.fused.params.keys()].join(', ')})`);
    return t;
  }

  private outputTensor(name: string): number {
    const t = this.fused.outputs.get(name);
    if (t === undefined) throw new Error(`no output '${name}' (outputs: ${[...this.fused.outputs.keys()].join(', ')})`);
    return t;
  }

  private stateInput(input: string): number {
    const t = this.fused.inputs.get(input);
    if (t === undefined) throw new Error(`state: no input '${input}'`);
    return t;
  }

  setParams(values: Record<string, Float32Array | Float64Array>): void {
    for (const [name, v] of Object.entries(values)) {
      const t = this.paramTensor(name);
      this.io.upload(t, v, `param '${name}'`);
      this.c.recorder.invalidate(t);
    }
  }

  encode(encoder: GPUCommandEncoder): void {
    this.c.recorder.record(encoder, this.c.steps);
    for (const s of this.stateCopies) encoder.copyBufferToBuffer(s.from.buffer, s.from.offset, s.to.buffer, s.to.offset, s.bytes);
  }

  inputBuffer(name: string): GPUBuffer {
    const t = this.fused.inputs.get(name);
    if (t === undefined) throw new Error(`no input '${name}' (inputs: ${[...this.fused.inputs.keys()].join(', ')})`);
    return this.c.alloc.placeOf(t).buffer;
  }

  async getParam(name: string): Promise<Float32Array> {
    const [v] = await this.io.download([{ key: `param:${name}`, tensor: this.paramTensor(name) }]);
    return v as Float32Array;
  }

  paramBuffer(name: string): GPUBuffer {
    const t = this.paramTensor(name);
    this.c.recorder.expose(t);
    return this.c.alloc.placeOf(t).buffer;
  }

  outputBuffer(name: string): GPUBuffer {
    return this.c.alloc.placeOf(this.outputTensor(name)).buffer;
  }

  async run(feeds: RunFeeds, want: readonly string[]): Promise<Record<string, Float32Array | Int32Array>> {
    for (const [name, t] of this.fused.inputs) {
      const data = feeds.inputs[name];
      if (data === undefined) {
        if (this.opts.state?.[name]) continue;
        throw new Error(`run: no value for input '${name}'`);
      }
      this.io.upload(t, data, `input '${name}'`);
    }
    if (feeds.params) this.setParams(feeds.params);
    const seed = feeds.seed ?? this.symbols.seed ?? 0;
    this.device.queue.writeBuffer(this.c.alloc.seed, 0, new Uint32Array([seed >>> 0, 0, 0, 0]));
    const entries = want.map((name) => ({ key: `out:${name}`, tensor: this.outputTensor(name) }));
    const encoder = this.device.createCommandEncoder();
    this.encode(encoder);
    feeds.after?.(encoder);
    const stages = this.io.stage(encoder, entries);
    this.device.queue.submit([encoder.finish()]);
    // (submitted, and the staging buffers' maps requested, before this returns its promise)
    const values = await this.io.read(entries, stages);
    const out: Record<string, Float32Array | Int32Array> = {};
    want.forEach((name, i) => (out[name] = values[i]!));
    return out;
  }

  async timeKernels(reps = 10): Promise<KernelTiming[]> {
    const out: KernelTiming[] = [];
    for (const s of this.c.steps) {
      const warm = this.device.createCommandEncoder();
      this.c.recorder.record(warm, [s]);
      const w0 = performance.now();
      this.device.queue.submit([warm.finish()]);
      await this.device.queue.onSubmittedWorkDone();
      const firstMs = performance.now() - w0;
      const encoder = this.device.createCommandEncoder();
      this.c.recorder.record(encoder, [s], reps);
      const t0 = performance.now();
      this.device.queue.submit([encoder.finish()]);
      await this.device.queue.onSubmittedWorkDone();
      out.push({ name: s.code.name, ms: (performance.now() - t0) / reps, firstMs });
    }
    return out;
  }

  resetState(): void {
    for (const input of Object.keys(this.opts.state ?? {})) {
      const t = this.stateInput(input);
      const at = this.c.alloc.placeOf(t);
      this.device.queue.writeBuffer(at.buffer, at.offset, new Float32Array(tensorNumel(this.fused, t)));
    }
  }

  destroy(): void {
    this.c.alloc.destroy();
    this.io.destroy();
    for (const t of this.c.textures) t.destroy();
    this.c.uniforms?.destroy();
    for (const b of this.c.scratch) b.destroy();
  }
}
