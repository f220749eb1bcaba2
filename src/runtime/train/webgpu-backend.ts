// Training on a WebGPU device: the fused forward+backward graph, then the optimizer's three
// dispatches (gradient norm, clip scale, AdamW over the parameter slab), recorded into the same
// command encoder and submitted once per step; only the loss and the gradient norm come back.
// `step` submits everything before it returns its promise, so the trainer can submit the next
// step before it reads this one's loss: the queue never drains while the host waits.
import type { Graph } from '../../ir/index.js';
import { accumulateKernel, adamwKernel, elementGrid, normKernel, sumsqKernel, SUMSQ_WORKGROUPS } from '../../codegen/wgsl/optimizer.js';
import type { ArchDevice } from '../device.js';
import { compileGraph, PlanLimitError } from '../executor.js';
import { StagingPool } from '../staging.js';
import { decays } from './adamw.js';
import type { Feeds, OptimizerState, StepHyper, StepResult, TrainBackend, Weights } from './backend.js';


export interface WebGPUBackendOptions {
  symbols: Record<string, number>; // the batch and length every step uses
  weights: Weights;
  state?: OptimizerState;
}

export async function createWebGPUBackend(dev: ArchDevice, trainGraph: Graph, evalGraph: Graph, o: WebGPUBackendOptions): Promise<TrainBackend> {
  const device = dev.device;
  // WebGPU's globals exist once a device is open, not at import.
  const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const shapes = new Map([...trainGraph.params].map(([k, id]) => [k, trainGraph.nodes[id]!.type.axes.map((a) => a.size as number)]));
  // Matrices first: weight decay applies to the slab up to the first vector.
  const order = [...shapes.keys()].sort((a, b) => Number(decays(shapes.get(b)!)) - Number(decays(shapes.get(a)!)));
  const train = await compileGraph(dev, trainGraph, o.symbols, { slab: order });
  const evalG = await compileGraph(dev, evalGraph, o.symbols, { slab: order });
  const slab = train.slab!;
  if (!slab.grads) throw new Error('the training graph has no gradients');
  if (slab.bytes > device.limits.maxStorageBufferBindingSize) {
    // the optimizer reads and writes every parameter through one binding
    throw new PlanLimitError(
      `the parameters need ${slab.bytes} bytes in one buffer for the optimizer, more than one binding may hold on this adapter ` +
        `(maxStorageBufferBindingSize: ${device.limits.maxStorageBufferBindingSize} bytes); train a smaller model here, or on a GPU`,
    );
  }
  if (evalG.slab!.bytes !== slab.bytes) throw new Error('the training and evaluation graphs lay out their parameters differently');
  const n4 = slab.bytes / 16;
  const firstVector = slab.members.find((m) => !decays(shapes.get(m.name)!));
  const decayEnd = (firstVector ? firstVector.offset : slab.bytes) / 16;

  const buf = (size: number, label: string, usage = STORAGE) => device.createBuffer({ size, usage, label });
  const m = buf(slab.bytes, 'adam m');
  const v = buf(slab.bytes, 'adam v');
  const acc = buf(slab.bytes, 'gradient accumulator');
  const partials = buf(SUMSQ_WORKGROUPS * 4, 'gradient norm partials');
  const norm = buf(16, 'gradient norm');
  const hyper = buf(48, 'optimizer hyperparameters', GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  const accU = buf(16, 'accumulation', GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  // a step's gradient norm is read back while the next step runs
  const normOuts = new StagingPool(device, 'gradient norm readback');

  const pipeline = (code: string, label: string) => device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code, label }), entryPoint: 'main' }, label });
  const group = (p: GPUComputePipeline, buffers: GPUBuffer[]) =>
    device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: buffers.map((b, i) => ({ binding: i, resource: { buffer: b } })) });
  const sumsqP = pipeline(sumsqKernel(n4), 'gradient sum of squares');
  const normP = pipeline(normKernel(), 'gradient norm');
  const adamP = pipeline(adamwKernel(), 'adamw');
  const accP = pipeline(accumulateKernel(), 'accumulate gradients');
  const grid = elementGrid(n4, device.limits.maxComputeWorkgroupsPerDimension);
  const groupsFor = (grads: GPUBuffer) => ({
    sumsq: group(sumsqP, [grads, partials]),
    norm: group(normP, [partials, norm, hyper]),
    adam: group(adamP, [slab.params, grads, m, v, norm, hyper]),
  });
  const direct = groupsFor(slab.grads);
  const accumulated = groupsFor(acc);
  const accGroup = group(accP, [slab.grads, acc, accU]);

  const dispatch = (enc: GPUCommandEncoder, p: GPUComputePipeline, g: GPUBindGroup, wg: [number, number, number]) => {
    const pass = enc.beginComputePass();
    pass.setPipeline(p);
    pass.setBindGroup(0, g);
    pass.dispatchWorkgroups(...wg);
    pass.end();
  };
  const update = (enc: GPUCommandEncoder, g: ReturnType<typeof groupsFor>, out: GPUBuffer) => {
    dispatch(enc, sumsqP, g.sumsq, [SUMSQ_WORKGROUPS, 1, 1]);
    dispatch(enc, normP, g.norm, [1, 1, 1]);
    dispatch(enc, adamP, g.adam, grid);
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
    step(micro: Feeds[], hp: StepHyper): Promise<StepResult> {
      const c1 = 1 - hp.adamw.beta1 ** hp.step;
      const c2 = 1 - hp.adamw.beta2 ** hp.step;
      const h = new ArrayBuffer(48);
      new Float32Array(h, 0, 8).set([hp.lr, hp.adamw.beta1, hp.adamw.beta2, hp.adamw.eps, hp.adamw.weightDecay, c1, c2, hp.gradClip]);
      new Uint32Array(h, 32, 2).set([decayEnd, n4]);
      device.queue.writeBuffer(hyper, 0, h);
      const out = normOuts.take(16);
      // every micro-batch is submitted here, in order (queue writes between submits stay ordered)
      const losses = micro.map((f, i) => {
        check(f);
        const last = i === micro.length - 1;
        if (micro.length > 1) device.queue.writeBuffer(accU, 0, new Uint32Array([new Uint32Array(new Float32Array([1 / micro.length]).buffer)[0]!, i === 0 ? 1 : 0, n4, 0]));
        return train.run({ inputs: f.inputs, seed: f.symbols.seed, after: (enc) => {
          if (micro.length > 1) dispatch(enc, accP, accGroup, grid);
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
      for (const b of [m, v, acc, partials, norm, hyper, accU]) b.destroy();
      normOuts.destroy();
    },
  };
}

