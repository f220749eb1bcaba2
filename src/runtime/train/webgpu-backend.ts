// Training on a WebGPU device: the fused forward+backward graph, then the optimizer's passes
// (optimizer-passes.ts: gradient norm, clip scale, AdamW over the parameter slab), recorded into
// the same command encoder and submitted once per step; only the loss and the gradient norm come
// back. `step` submits everything before it returns its promise, so the trainer can submit the
// next step before it reads this one's loss: the queue never drains while the host waits.
import type { Graph } from '../../ir/index.js';
import type { ArchDevice } from '../device.js';
import { compileGraph, type CompiledGraph, type SlabLayout } from '../executor.js';
import { StagingPool } from '../staging.js';
import { decays, type StepHyper } from './adamw.js';
import type { Feeds, OptimizerState, StepResult, TrainBackend, Weights } from './backend.js';
import { OptimizerPasses } from './optimizer-passes.js';

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
  const { train, evalG, slab, decayEndBytes } = await compileBoth(dev, trainGraph, evalGraph, o);
  const opt = new OptimizerPasses(device, slab, { maxBindingBytes: Math.min(o.maxBindingBytes ?? Infinity, device.limits.maxStorageBufferBindingSize), decayEndBytes });
  // a step's gradient norm is read back while the next step runs
  const normOuts = new StagingPool(device, 'gradient norm readback');
  const io = slabIO(device, slab);

  train.setParams(Object.fromEntries(o.weights));
  if (o.state) {
    io.write(opt.m, o.state.m);
    io.write(opt.v, o.state.v);
  }
  const check = (f: Feeds) => {
    for (const [k, x] of Object.entries(o.symbols)) if (k !== 'seed' && f.symbols[k] !== undefined && f.symbols[k] !== x) throw new Error(`this backend was compiled for ${k} = ${x}, the batch has ${f.symbols[k]}`);
  };

  return {
    name: `webgpu (${dev.info.adapterName || dev.info.backend})`,
    /** Ranges the optimizer sweeps the slab in (one unless it is larger than a binding). */
    optimizerRanges: opt.ranges.length,
    step(micro: Feeds[], hp: StepHyper): Promise<StepResult> {
      opt.writeHyper(hp);
      const out = normOuts.take(16);
      // every micro-batch is submitted here, in order (queue writes between submits stay ordered)
      const losses = micro.map((f, i) => {
        check(f);
        return train.run({ inputs: f.inputs, seed: f.symbols.seed, after: (enc) => {
          if (micro.length > 1) opt.accumulate(enc, i, micro.length);
          if (i === micro.length - 1) opt.update(enc, micro.length > 1, out);
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
      const out = await evalG.run({ inputs: f.inputs, seed: f.symbols.seed }, ['loss']);
      return out.loss![0]!;
    },
    weights: () => io.read(slab.params),
    async optimizerState() {
      return { m: await io.read(opt.m), v: await io.read(opt.v) };
    },
    dispose() {
      train.destroy();
      evalG.destroy();
      opt.destroy();
      normOuts.destroy();
    },
  };
}

/** The graphs as the trainer compiles them: each with only the outputs a step reads (the logits,
 *  an output, would be stored whole), and the parameter slab's order, matrices first (weight decay
 *  applies to the slab up to the first vector); `weightBytes`, the parameters' f32 bytes. */
export function trainerGraphs(trainGraph: Graph, evalGraph: Graph) {
  const shapes = new Map([...trainGraph.params].map(([k, id]) => [k, trainGraph.nodes[id]!.type.axes.map((a) => a.size as number)]));
  const slab = [...shapes.keys()].sort((a, b) => Number(decays(shapes.get(b)!)) - Number(decays(shapes.get(a)!)));
  return {
    train: readOnly(trainGraph, (k) => k === 'loss' || k.startsWith('grad:')),
    eval: readOnly(evalGraph, (k) => k === 'loss'),
    slab,
    shapes,
    weightBytes: [...shapes.values()].reduce((n, s) => n + 4 * s.reduce((p, x) => p * x, 1), 0),
  };
}

/** The evaluation graph, then the training graph on its parameter slab, so that a training graph
 *  too large for the machine is refused before it is allocated (the smaller graph counted beside
 *  it); the slab from `decayEndBytes` on is not decayed. */
async function compileBoth(dev: ArchDevice, trainGraph: Graph, evalGraph: Graph, o: WebGPUBackendOptions) {
  const g = trainerGraphs(trainGraph, evalGraph);
  // the executor lays out the slab and refuses one over the largest buffer before allocating
  const compileOpts = { slab: g.slab, ...(o.maxBufferBytes ? { limits: { maxBufferSize: o.maxBufferBytes } } : {}) };
  // beside the graphs the run holds AdamW's two moments and the host's copy of the weights: on a
  // CPU adapter all of it is the machine's memory, which each graph's plan is checked against
  const beside = 3 * g.weightBytes;
  const evalG = await compileGraph(dev, g.eval, o.symbols, { ...compileOpts, reservedBytes: beside });
  let train: CompiledGraph;
  try {
    train = await compileGraph(dev, g.train, o.symbols, { ...compileOpts, sharedSlab: evalG.slab!, reservedBytes: beside + evalG.deviceBytes });
  } catch (e) {
    evalG.destroy();
    throw e;
  }
  const slab = train.slab!;
  const grads = slab.grads;
  if (!grads) throw new Error('the training graph has no gradients');
  const firstVector = slab.members.find((m) => !decays(g.shapes.get(m.name)!));
  return { train, evalG, slab: { ...slab, grads }, decayEndBytes: firstVector ? firstVector.offset : slab.bytes };
}

/** Weights in and out of a slab-sized buffer (the parameters, or AdamW's moments), by member. */
function slabIO(device: GPUDevice, slab: SlabLayout) {
  return {
    write(target: GPUBuffer, values: Weights): void {
      for (const mem of slab.members) {
        const w = values.get(mem.name);
        if (!w) continue;
        device.queue.writeBuffer(target, mem.offset, w.buffer, w.byteOffset, w.byteLength);
      }
    },
    async read(source: GPUBuffer): Promise<Weights> {
      const staging = device.createBuffer({ size: slab.bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const enc = device.createCommandEncoder();
      enc.copyBufferToBuffer(source, 0, staging, 0, slab.bytes);
      device.queue.submit([enc.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const all = new Float32Array(staging.getMappedRange().slice(0));
      staging.unmap();
      staging.destroy();
      // views of one copy: a second copy of GPT-2's slab, per slab read for a checkpoint, was 0.5 GB
      return new Map(slab.members.map((mem) => [mem.name, all.subarray(mem.offset / 4, mem.offset / 4 + mem.length)]));
    },
  };
}

/** The graph with only the outputs a step reads (its nodes stay; fusion computes what those need). */
function readOnly(g: Graph, keep: (name: string) => boolean): Graph {
  return { ...g, outputs: new Map([...g.outputs].filter(([k]) => keep(k))) };
}
