// The optimizer's passes over the parameter slab on a WebGPU device: gradient sum of squares,
// the norm and clip scale, AdamW (and, with micro-batches, the gradients' accumulation), each one
// dispatch per range of the slab, recorded into the caller's encoder after the step's graph.
import { accumulateKernel, adamwKernel, elementGrid, normKernel, sumsqKernel, SUMSQ_WORKGROUPS } from '../../codegen/wgsl/optimizer.js';
import { HYPER_BYTES, packHyper } from '../../codegen/wgsl/hyper.js';
import { rangeUnits, splitRanges } from '../../codegen/wgsl/ranges.js';
import type { SlabLayout } from '../executor.js';
import { hyperUniform, type StepHyper } from './adamw.js';

export interface OptimizerPassOptions {
  /** The most bytes one binding of the slab may cover. */
  maxBindingBytes: number;
  /** Where weight decay ends in the slab (bytes): matrices come first. */
  decayEndBytes: number;
}

type Range = { first: number; count: number; decayEnd: number };
/** A whole buffer, range r of a slab-sized one, or a binding as given. */
type Bound = GPUBuffer | { buffer: GPUBuffer; range: number } | GPUBufferBinding;

export class OptimizerPasses {
  /** Ranges the slab is swept in (vec4 units): one unless the model is larger than a binding
   *  (an 85M-parameter model on llvmpipe's 128 MiB: 3 ranges). */
  readonly ranges: Range[];
  readonly m: GPUBuffer;
  readonly v: GPUBuffer;
  private readonly acc: GPUBuffer;
  private readonly partials: GPUBuffer;
  private readonly norm: GPUBuffer;
  private readonly hyper: GPUBuffer[];
  private readonly accU: GPUBuffer[];
  private readonly sumsqPs: Map<number, GPUComputePipeline>;
  private readonly normP: GPUComputePipeline;
  private readonly adamP: GPUComputePipeline;
  private readonly accP: GPUComputePipeline;
  private readonly grids: [number, number, number][];
  private readonly direct: ReturnType<OptimizerPasses['groupsFor']>;
  private readonly accumulated: ReturnType<OptimizerPasses['groupsFor']>;
  private readonly accGroups: GPUBindGroup[];

  constructor(private readonly device: GPUDevice, private readonly slab: SlabLayout & { grads: GPUBuffer }, o: OptimizerPassOptions) {
    const perRange = rangeUnits(o.maxBindingBytes, 16);
    const decayEnd = o.decayEndBytes / 16;
    this.ranges = splitRanges(slab.bytes / 16, perRange).map((r) => ({ ...r, decayEnd: Math.max(0, Math.min(decayEnd - r.first, r.count)) }));
    // WebGPU's globals exist once a device is open, not at import.
    const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const UNIFORM = GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST;
    const buf = (size: number, label: string, usage = STORAGE) => device.createBuffer({ size, usage, label });
    this.m = buf(slab.bytes, 'adam m');
    this.v = buf(slab.bytes, 'adam v');
    this.acc = buf(slab.bytes, 'gradient accumulator');
    // each range's 64 partial sums at a 256-byte boundary (a binding's offset alignment)
    this.partials = buf(this.ranges.length * 256, 'gradient norm partials');
    this.norm = buf(16, 'gradient norm');
    // per range: the hyperparameters with its length and decay end, and the accumulation's
    this.hyper = this.ranges.map(() => buf(HYPER_BYTES, 'optimizer hyperparameters', UNIFORM));
    this.accU = this.ranges.map(() => buf(16, 'accumulation', UNIFORM));
    // the sum-of-squares kernel is specialised to its range's length (at most two lengths)
    this.sumsqPs = new Map([...new Set(this.ranges.map((r) => r.count))].map((count) => [count, this.pipeline(sumsqKernel(count), 'gradient sum of squares')]));
    this.normP = this.pipeline(normKernel(this.ranges.length), 'gradient norm');
    this.adamP = this.pipeline(adamwKernel(), 'adamw');
    this.accP = this.pipeline(accumulateKernel(), 'accumulate gradients');
    this.grids = this.ranges.map((r) => elementGrid(r.count, device.limits.maxComputeWorkgroupsPerDimension));
    this.direct = this.groupsFor(slab.grads);
    this.accumulated = this.groupsFor(this.acc);
    this.accGroups = this.ranges.map((_, i) => this.group(this.accP, [{ buffer: slab.grads, range: i }, { buffer: this.acc, range: i }, this.accU[i]!]));
  }

  private pipeline(code: string, label: string): GPUComputePipeline {
    return this.device.createComputePipeline({ layout: 'auto', compute: { module: this.device.createShaderModule({ code, label }), entryPoint: 'main' }, label });
  }

  private resource(b: Bound): GPUBufferBinding {
    if (b instanceof GPUBuffer) return { buffer: b };
    if (!('range' in b)) return b;
    const r = this.ranges[b.range]!;
    return { buffer: b.buffer, offset: r.first * 16, size: r.count * 16 };
  }

  private group(p: GPUComputePipeline, buffers: Bound[]): GPUBindGroup {
    return this.device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: buffers.map((b, i) => ({ binding: i, resource: this.resource(b) })) });
  }

  private groupsFor(grads: GPUBuffer) {
    const partialsOf = (i: number): GPUBufferBinding => ({ buffer: this.partials, offset: i * 256, size: SUMSQ_WORKGROUPS * 4 });
    return {
      sumsq: this.ranges.map((r, i) => this.group(this.sumsqPs.get(r.count)!, [{ buffer: grads, range: i }, partialsOf(i)])),
      norm: this.group(this.normP, [this.partials, this.norm, this.hyper[0]!]),
      adam: this.ranges.map((_, i) => this.group(this.adamP, [{ buffer: this.slab.params, range: i }, { buffer: grads, range: i }, { buffer: this.m, range: i }, { buffer: this.v, range: i }, this.norm, this.hyper[i]!])),
    };
  }

  private dispatch(enc: GPUCommandEncoder, p: GPUComputePipeline, g: GPUBindGroup, wg: [number, number, number]): void {
    const pass = enc.beginComputePass();
    pass.setPipeline(p);
    pass.setBindGroup(0, g);
    pass.dispatchWorkgroups(...wg);
    pass.end();
  }

  /** The step's hyperparameters, written before its submits. */
  writeHyper(hp: StepHyper): void {
    this.ranges.forEach((r, i) => this.device.queue.writeBuffer(this.hyper[i]!, 0, packHyper(hyperUniform(hp, r.decayEnd, r.count))));
  }

  /** Micro-batch `index` of `count`: its gradients scaled by 1 / count into the accumulator (the
   *  first overwrites it), written before its submit and recorded after its graph. */
  accumulate(enc: GPUCommandEncoder, index: number, count: number): void {
    const scale = new Uint32Array(new Float32Array([1 / count]).buffer)[0]!;
    this.ranges.forEach((r, j) => this.device.queue.writeBuffer(this.accU[j]!, 0, new Uint32Array([scale, index === 0 ? 1 : 0, r.count, 0])));
    this.ranges.forEach((_, j) => this.dispatch(enc, this.accP, this.accGroups[j]!, this.grids[j]!));
  }

  /** Norm, clip and AdamW over the slab from the gradients (or the accumulator); the gradient
   *  norm copied into `out`. */
  update(enc: GPUCommandEncoder, accumulated: boolean, out: GPUBuffer): void {
    const g = accumulated ? this.accumulated : this.direct;
    this.ranges.forEach((r, i) => this.dispatch(enc, this.sumsqPs.get(r.count)!, g.sumsq[i]!, [SUMSQ_WORKGROUPS, 1, 1]));
    this.dispatch(enc, this.normP, g.norm, [1, 1, 1]);
    this.ranges.forEach((_, i) => this.dispatch(enc, this.adamP, g.adam[i]!, this.grids[i]!));
    enc.copyBufferToBuffer(this.norm, 0, out, 0, 16);
  }

  destroy(): void {
    for (const b of [this.m, this.v, this.acc, this.partials, this.norm, ...this.hyper, ...this.accU]) b.destroy();
  }
}
