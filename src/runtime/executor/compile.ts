// compileGraph: an IR graph compiled for one binding of its runtime symbols, on a WebGPU device,
// in named phases: plan (fusion, WGSL, memory plan; no device), layout (limits, the slab),
// allocate (buffers), pipelines (pipelines, textures, bind groups), then a graph that records
// and runs them.

import type { Graph } from '../../ir/types.js';
import { allocate } from './allocate.js';
import { contractionSource, deviceLimits, deviceOf, kernelsFor, layoutSlab, loopLimit, hostMemory } from './layout.js';
import { bindSteps, createPipelines } from './pipelines.js';
import { planGraph } from './plan.js';
import { Recorder } from './record.js';
import { ExecutableGraph } from './run.js';
import type { CompileOptions, CompiledGraph, ExecutorTarget } from './types.js';

export async function compileGraph(target: ExecutorTarget, graph: Graph, symbols: Record<string, number>, opts: CompileOptions = {}): Promise<CompiledGraph> {
  const device = deviceOf(target);
  const limits = deviceLimits(device, { maxLoopIterations: loopLimit(target), hostMemoryBytes: hostMemory(target), ...opts.limits });
  const kernels = kernelsFor(target, opts.kernels);
  const source = opts.contractionSource ?? contractionSource(target);
  const planned = planGraph(graph, symbols, { ...opts, kernels, contractionSource: source }, limits);
  const slab = layoutSlab(planned.fused, planned.bytes, opts.slab, limits);
  const alloc = allocate(device, planned.fused, planned.memory, slab, opts.sharedSlab);
  const pipelines = await createPipelines(device, planned.codes);
  const { steps, textures, uniforms, scratch } = bindSteps(device, planned.codes, pipelines, alloc, planned.bytes, planned.textures);
  const recorder = new Recorder(planned.fused, alloc);
  return new ExecutableGraph(device, { planned, alloc, steps, textures, uniforms, scratch, recorder }, symbols, opts);
}
