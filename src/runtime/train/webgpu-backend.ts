// Training on a WebGPU device: the fused forward+backward graph, then the optimizer's three
// dispatches (gradient norm, clip scale, AdamW over the parameter slab), recorded into the same
// command encoder and submitted once per step; only the loss and the gradient norm come back.
// `step` submits everything before it returns its promise, so the trainer can submit the next
// step before it reads this one's loss: the queue never drains while the host waits.
import type { Graph } from '../../ir/index.js';
import { accumulateKernel, adamwKernel, elementGrid, normKernel, sumsqKernel, SUMSQ_WORKGROUPS } from '../../codegen/wgsl/optimizer.js';
import { HYPER_BYTES, packHyper } from '../../codegen/wgsl/hyper.js';
import type { ArchDevice } from '../device.js';
import { rangeUnits, splitRanges } from '../../codegen/wgsl/ranges.js';
import { compileGraph } from '../executor.js';
import { StagingPool } from '../staging.js';
import { decays, hyperUniform, type StepHyper } from './adamw.js';
import type { Feeds, OptimizerState, StepResult, TrainBackend, Weights } from './backend.js';


export interface WebGPUBackendOptions {
  symbols: Record<string, number>; // the batch and length every step uses
  weights: Weights;
  state?: OptimizerState;
  /** The most bytes one binding of the slab may cover (default: the device's
   *  maxStorageBufferBindingSize; tests set less to sweep a small slab in ranges). */
  maxBindingBytes?: number;
  /** The largest buffer (default: the device's maxBufferSize; tests set less). */
  maxBufferBytes?: number;
}

export async function createWebGPUBackend(dev: ArchDevice, trainGraph: Graph, evalGraph: Graph, o: WebGPUBackendOptions): Promise<TrainBackend & { optimizerRanges: number }> {
  const device = dev.device;
  // WebGPU's globals exist once a device is open, not at import.
  const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const shapes = new Map([...trainGraph.params].map(([k, id]) => [k, trainGraph.nodes[id]!.type.axes.map((a) => a.size as number)]));
  // Matrices first: weight decay applies to the slab up to the first vector.
  const order = [...shapes.keys()].sort((a, b) => Number(decays(shapes.get(b)!)) - Number(decays(shapes.get(a)!)));
  // the executor lays out the slab and refuses one over the largest buffer before allocating
  const compileOpts = { slab: order, ...(o.maxBufferBytes ? { limits: { maxBufferSize: o.maxBufferBytes } } : {}) };
  // only the loss and the gradients are read: other outputs (the logits) would be stored whole
  const train = await compileGraph(dev, readOnly(trainGraph, (k) => k === 'loss' || k.startsWith('grad:')), o.symbols, compileOpts);
  const evalG = await compileGraph(dev, readOnly(evalGraph, (k) => k === 'loss'), o.symbols, compileOpts);
  const slab = train.slab!;
  const slabGrads = slab.grads;
  if (!slabGrads) throw new Error('the training graph has no gradients');
  if (evalG.slab!.bytes !== slab.bytes) throw new Error('the training and evaluation graphs lay out their parameters differently');
  const n4 = slab.bytes / 16;
  const firstVector = slab.members.find((m) => !decays(shapes.get(m.name)!));
  const decayEnd = (firstVector ? firstVector.offset : slab.bytes) / 16;
  // The optimizer binds the slab (and the gradients, m, v) in ranges of vec4s (ranges.ts): one
  // range unless the model is larger than a binding (an 85M-parameter model on llvmpipe's
  // 128 MiB: 3 ranges).
  const perRange = rangeUnits(Math.min(o.maxBindingBytes ?? Infinity, device.limits.maxStorageBufferBindingSize), 16);
  const ranges = splitRanges(n4, perRange).map((r) => ({ ...r, decayEnd: Math.max(0, Math.min(decayEnd - r.first, r.count)) }));

  const buf = (size: number, label: string, usage = STORAGE) => device.createBuffer({ size, usage, label });
  const m = buf(slab.bytes, 'adam m');
  const v = buf(slab.bytes, 'adam v');
  const acc = buf(slab.bytes, 'gradient accumulator');
  // each range's 64 partial sums at a 256-byte boundary (a binding's offset alignment)
  const partials = buf(ranges.length * 256, 'gradient norm partials');
  const norm = buf(16, 'gradient norm');
  // per range: the hyperparameters with its length and decay end, and the accumulation's
  const hyper = ranges.map(() => buf(HYPER_BYTES, 'optimizer hyperparameters', GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST));
  const accU = ranges.map(() => buf(16, 'accumulation', GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST));
  // a step's gradient norm is read back while the next step runs
  const normOuts = new StagingPool(device, 'gradient norm readback');

  const pipeline = (code: string, label: string) => device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code, label }), entryPoint: 'main' }, label });
  /** A whole buffer, range r of a slab-sized one, or a binding as given. */
  type Bound = GPUBuffer | { buffer: GPUBuffer; range: number } | GPUBufferBinding;
  const resource = (b: Bound): GPUBufferBinding => {
    if (b instanceof GPUBuffer) return { buffer: b };
    if (!('range' in b)) return b;
    const r = ranges[b.range]!;
    return { buffer: b.buffer, offset: r.first * 16, size: r.count * 16 };
  };
  const group = (p: GPUComputePipeline, buffers: Bound[]) =>
    device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: buffers.map((b, i) => ({ binding: i, resource: resource(b) })) });
  // the sum-of-squares kernel is specialised to its range's length (at most two lengths)
  const sumsqPs = new Map([...new Set(ranges.map((r) => r.count))].map((count) => [count, pipeline(sumsqKernel(count), 'gradient sum of squares')]));
  const normP = pipeline(normKernel(ranges.length), 'gradient norm');
  const adamP = pipeline(adamwKernel(), 'adamw');
  const accP = pipeline(accumulateKernel(), 'accumulate gradients');
  const grids = ranges.map((r) => elementGrid(r.count, device.limits.maxComputeWorkgroupsPerDimension));
  const groupsFor = (grads: GPUBuffer) => ({
    sumsq: ranges.map((r, i) => group(sumsqPs.get(r.count)!, [{ buffer: grads, range: i }, partialsOf(i)])),
    norm: group(normP, [partials, norm, hyper[0]!]),
    adam: ranges.map((_, i) => group(adamP, [{ buffer: slab.params, range: i }, { buffer: grads, range: i }, { buffer: m, range: i }, { buffer: v, range: i }, norm, hyper[i]!])),
  });
  const partialsOf = (i: number): GPUBufferBinding => ({ buffer: partials, offset: i * 256, size: SUMSQ_WORKGROUPS * 4 });
  const direct = groupsFor(slabGrads);
  const accumulated = groupsFor(acc);
  const accGroups = ranges.map((_, i) => group(accP, [{ buffer: slabGrads, range: i }, { buffer: acc, range: i }, accU[i]!]));

  const dispatch = (enc: GPUCommandEncoder, p: GPUComputePipeline, g: GPUBindGroup, wg: [number, number, number]) => {
    const pass = enc.beginComputePass();
    pass.setPipeline(p);
    pass.setBindGroup(0, g);
    pass.dispatchWorkgroups(...wg);
    pass.end();
  };
  const update = (enc: GPUCommandEncoder, g: ReturnType<typeof groupsFor>, out: GPUBuffer) => {
    ranges.forEach((r, i) => dispatch(enc, sumsqPs.get(r.count)!, g.sumsq[i]!, [SUMSQ_WORKGROUPS, 1, 1]));
    dispatch(enc, normP, g.norm, [1, 1, 1]);
    ranges.forEach((_, i) => dispatch(enc, adamP, g.adam[i]!, grids[i]!));
    enc.copyBufferToBuffer(norm, 0, out, 0, 16);
  };

  const writeSlab = (target: GPUBuffer, values: Weights) => {
    for (const mem of slab.members) {
      const w = values.get(mem.name);
      if (!w) continue;
      device.queue.writeBuffer(target, mem.offset, w.buffer, w.byteOffset, w.byteLength);
    }
  };
  const readSlab = async (source: GPUBuffer): Promise<Weights> => {
    const staging = device.createBuffer({ size: slab.bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(source, 0, staging, 0, slab.bytes);
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const all = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    return new Map(slab.members.map((mem) => [mem.name, all.slice(mem.offset / 4, mem.offset / 4 + mem.length)]));
  };

  train.setParams(Object.fromEntries(o.weights));
  if (o.state) {
    writeSlab(m, o.state.m);
    writeSlab(v, o.state.v);
  }
  const check = (f: Feeds) => {
    for (const [k, x] of Object.entries(o.symbols)) if (k !== 'seed' && f.symbols[k] !== undefined && f.symbols[k] !== x) throw new Error(`this backend was compiled for ${k} = ${x}, the batch has ${f.symbols[k]}`);
  };

  return {
    name: `webgpu (${dev.info.adapterName || dev.info.backend})`,
    /** Ranges the optimizer sweeps the slab in (one unless it is larger than a binding). */
    optimizerRanges: ranges.length,
    step(micro: Feeds[], hp: StepHyper): Promise<StepResult> {
      ranges.forEach((r, i) => device.queue.writeBuffer(hyper[i]!, 0, packHyper(hyperUniform(hp, r.decayEnd, r.count))));
      const out = normOuts.take(16);
      // every micro-batch is submitted here, in order (queue writes between submits stay ordered)
      const losses = micro.map((f, i) => {
        check(f);
        const last = i === micro.length - 1;
        const scale = new Uint32Array(new Float32Array([1 / micro.length]).buffer)[0]!;
        if (micro.length > 1) ranges.forEach((r, j) => device.queue.writeBuffer(accU[j]!, 0, new Uint32Array([scale, i === 0 ? 1 : 0, r.count, 0])));
        return train.run({ inputs: f.inputs, seed: f.symbols.seed, after: (enc) => {
          if (micro.length > 1) ranges.forEach((_, j) => dispatch(enc, accP, accGroups[j]!, grids[j]!));
          if (last) update(enc, micro.length > 1 ? accumulated : direct, out);
        } }, ['loss']);
      });
      const normRead = out.mapAsync(GPUMapMode.READ); // now, so that no later step takes this buffer
      return (async () => {
        let loss = 0;
        for (const l of await Promise.all(losses)) loss += l.loss![0]! / micro.length;
        await normRead;
        const gradNorm = new Float32Array(out.getMappedRange().slice(0, 4))[0]!;
        out.unmap();
        return { loss, gradNorm };
      })();
    },
    async loss(f: Feeds): Promise<number> {
      check(f);
      const enc = device.createCommandEncoder();
      enc.copyBufferToBuffer(slab.params, 0, evalG.slab!.params, 0, slab.bytes);
      device.queue.submit([enc.finish()]);
      const out = await evalG.run({ inputs: f.inputs, seed: f.symbols.seed }, ['loss']);
      return out.loss![0]!;
    },
    weights: () => readSlab(slab.params),
    async optimizerState() {
      return { m: await readSlab(m), v: await readSlab(v) };
    },
    dispose() {
      train.destroy();
      evalG.destroy();
      for (const b of [m, v, acc, partials, norm, ...hyper, ...accU]) b.destroy();
      normOuts.destroy();
    },
  };
}

/** The graph with only the outputs a step reads (its nodes stay; fusion computes what those need). */
function readOnly(g: Graph, keep: (name: string) => boolean): Graph {
  return { ...g, outputs: new Map([...g.outputs].filter(([k]) => keep(k))) };
}
