// Compiling's first phase, with no device: fusion, one WGSL kernel per fused kernel, the refusal
// of tensors over the limits, and the memory plan (`arch compile --emit wgsl|plan` stop here).

import type { Graph } from '../../ir/types.js';
import { formatOp } from '../../ir/print.js';
import { nodeOrigins } from '../../ir/origins.js';
import { fuse } from '../../ir/fuse/fuse.js';
import type { FusedGraph } from '../../ir/fuse/types.js';
import { planMemory, type MemoryPlan } from '../../ir/plan.js';
import { dispatchesOf, generateKernel, type KernelCode } from '../../codegen/wgsl/index.js';
import { MAX_TEXTURE_DIM } from '../../codegen/wgsl/texture.js';
import { align16, describeTensor, tensorBytes, tensorName } from './tensors.js';
import { planTextures, type TexturePlan } from './textures.js';
import { budgetText, fmtBytes, hostBudget } from '../host-memory.js';
import { DEFAULT_LIMITS, PlanLimitError, type CompileOptions, type ExecPlan, type PlanLimits } from './types.js';

/** Everything compiling decides before a device is involved. */
export interface GraphPlan {
  fused: FusedGraph;
  codes: KernelCode[];
  plan: ExecPlan;
  memory: MemoryPlan;
  /** Bytes each tensor needs (before the 16-byte rounding), texture fills included. */
  bytes: number[];
  persistent: Set<number>;
  /** The textures kernels read through, shared where their fills' lives allow. */
  textures: TexturePlan;
  /** Buffers, textures, the slab's own buffers and the kernels' scratch: what compiling allocates. */
  deviceBytes: number;
}

/** Fusion, WGSL generation and the memory plan: no GPUDevice needed. */
export function planGraph(graph: Graph, symbols: Record<string, number>, opts: CompileOptions = {}, limits: PlanLimits = DEFAULT_LIMITS): GraphPlan {
  const maxBindings = Math.min(opts.maxBindings ?? limits.maxStorageBuffersPerShaderStage, limits.maxStorageBuffersPerShaderStage);
  // the gpu templates read storage buffers; textures are llvmpipe's cheaper loads ('auto' without
  // a device: the cpu ones)
  const kernels = opts.kernels === 'gpu' ? 'gpu' : 'cpu';
  // the cpu templates' epilogues run element by element: a shared term stays stored there
  const fg = fuse(graph, symbols, { ...opts, maxBindings, inlineSharedTerms: opts.inlineSharedTerms ?? kernels === 'gpu' });
  const source = kernels === 'gpu' ? 'buffer' : (opts.contractionSource ?? 'texture');
  const codes: KernelCode[] = fg.kernels.map((k) =>
    generateKernel(fg, k, {
      maxWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      // where contraction operands are textures, other kernels read through them too
      textureReads: source === 'texture' ? limits.maxStorageTexturesPerShaderStage : 0,
      source,
      uniformSizes: opts.uniformSizes,
      kernels,
    }),
  );

  const persistent = new Set<number>([...fg.inputs.values(), ...fg.params.values(), ...fg.outputs.values()]);
  const bytes = fg.tensors.map((_, i) => tensorBytes(fg, i));
  for (const c of codes) {
    for (const b of c.bindings) if (b.kind === 'texture') bytes[b.tensor] = Math.max(bytes[b.tensor]!, b.bufferBytesNeeded);
  }
  refuseOverLimits(graph, fg, codes, bytes, limits);
  // Slab members get space in the slab, not a buffer of their own.
  const inSlab = new Set((opts.slab ?? []).flatMap((n) => [fg.params.get(n), fg.outputs.get(`grad:${n}`)].filter((t): t is number => t !== undefined)));
  const memory = planMemory(
    fg.tensors.map((_, i) => ({ bytes: inSlab.has(i) ? 16 : align16(bytes[i]!), persistent: persistent.has(i) })),
    codes.map((c) => ({
      reads: c.bindings.filter((b) => b.kind === 'texture' || (b.kind === 'storage' && b.access === 'read')).map((b) => (b as { tensor: number }).tensor),
      writes: c.bindings.filter((b) => b.kind === 'storage' && b.access === 'read_write').map((b) => (b as { tensor: number }).tensor),
    })),
  );
  // a parameter's texture keeps its value across runs, unless it is in the slab (an optimizer
  // writes it between runs): then it is refilled every run like any other (record.ts)
  const params = new Set(fg.params.values());
  const textures = planTextures(codes, (t) => params.has(t) && !inSlab.has(t));
  const plan = execPlan(fg, codes, memory, persistent, textures);
  // the slab's parameters are another graph's where it is shared; its gradients are this one's
  const slabBytes = [...inSlab].filter((t) => !(opts.sharedSlab && params.has(t))).reduce((n, t) => n + align16(bytes[t]!), 0);
  // a kernel's scratch (a scatter's index lists) is one buffer for all its parts (pipelines.ts)
  const scratchBytes = codes.reduce((n, c) => n + Math.max(0, ...c.bindings.map((b) => (b.kind === 'scratch' ? align16(b.words * 4) : 0))), 0);
  const deviceBytes = plan.totalBytes + plan.textureBytes + slabBytes + scratchBytes;
  refuseOverMemory(deviceBytes, opts.reservedBytes ?? 0, limits);
  return { fused: fg, codes, plan, memory, bytes, persistent, textures, deviceBytes };
}

/** A plan whose buffers and textures are more than a run may use of the host's memory, where
 *  they are host memory (a CPU adapter), would be killed by the system part way: refused before
 *  anything is allocated. */
function refuseOverMemory(planned: number, reserved: number, limits: PlanLimits): void {
  const memory = limits.hostMemoryBytes;
  if (memory === undefined || planned + reserved <= hostBudget(memory)) return;
  const what =
    reserved > 0
      ? `the run needs ${fmtBytes(planned + reserved)} of buffers and textures (this graph ${fmtBytes(planned)}, beside ${fmtBytes(reserved)} of another graph, the optimizer's state and the weights)`
      : `the plan needs ${fmtBytes(planned)} of buffers and textures`;
  throw new PlanLimitError(`${what}, more than ${budgetText(memory)}, where a CPU adapter such as llvmpipe keeps them; use a smaller batch or sequence length, or a GPU`);
}

/** Throws a PlanLimitError for the first kernel or tensor over the limits (`graph`, unresolved,
 *  tells whether a size depends on the batch, which says what to advise). */
function refuseOverLimits(graph: Graph, fg: FusedGraph, codes: KernelCode[], bytes: number[], limits: PlanLimits): void {
  // (a node that fusion made, such as a chunk of the LM head's, is not in `graph`: its axes named
  // as a runtime size's are)
  const runtimeAxes = new Set(graph.nodes.flatMap((n) => n.type.axes.filter((a) => typeof a.size !== 'number').map((a) => a.name)));
  const growsWithBatch = (node: number): boolean => {
    const source = graph.nodes[fg.sourceIds[node] ?? -1];
    return source ? source.type.axes.some((a) => typeof a.size !== 'number') : fg.graph.nodes[node]!.type.axes.some((a) => runtimeAxes.has(a.name));
  };
  /** A tensor over a limit: its name, shape and size, and what to do (a smaller batch where its
   *  size depends on the batch or length, else a larger adapter). */
  const tooLarge = (i: number, what: string): PlanLimitError => {
    const t = fg.tensors[i]!;
    return new PlanLimitError(
      `tensor ${describeTensor(fg, t)} [${fg.graph.nodes[t.node]!.type.axes.map((a) => `${a.name}=${a.size}`).join(', ')}] needs ${bytes[i]} bytes, more than ${what}; ` +
        (growsWithBatch(t.node)
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
  fg.tensors.forEach((_, i) => {
    if (bytes[i]! > limits.maxBufferSize) throw tooLarge(i, `the adapter's largest buffer (maxBufferSize: ${limits.maxBufferSize} bytes)`);
    // written tensors larger than a binding are bound in ranges; a read-only one goes through a
    // texture unless it is not f32
    if (storageBound.has(i) && bytes[i]! > limits.maxStorageBufferBindingSize) {
      throw tooLarge(i, `one binding may hold (maxStorageBufferBindingSize: ${limits.maxStorageBufferBindingSize} bytes)`);
    }
  });
  // what fits the adapter's memory may still loop longer than its driver runs an invocation
  for (const c of codes) {
    if (limits.maxLoopIterations !== undefined && (c.loopIterations ?? 0) > limits.maxLoopIterations) {
      throw new PlanLimitError(
        `kernel ${c.name} would run ${c.loopIterations} loop iterations in one invocation, more than this adapter runs (${limits.maxLoopIterations}: llvmpipe stops there, and the result would be silently wrong); use a smaller batch or sequence length, or a GPU`,
      );
    }
  }
}

/** The plan as a reader sees it: kernels with their ops and bindings, buffers with their tensors. */
function execPlan(fg: FusedGraph, codes: KernelCode[], memory: MemoryPlan, persistent: Set<number>, textures: TexturePlan): ExecPlan {
  const origins = nodeOrigins(fg.graph);
  return {
    kernels: fg.kernels.map((k, i) => ({
      name: k.name,
      kind: k.kind,
      ops: k.fused.map((id) => `%${id} = ${formatOp(fg.graph.nodes[id]!.op, fg.graph.nodes[id]!.inputs)}`),
      origins: k.fused.map((id) => origins.origin[id] ?? ''),
      labels: k.fused.filter((id) => origins.own[id]).map((id) => origins.origin[id]!),
      bindings: codes[i]!.bindings.map((b) =>
        b.kind === 'uniform'
          ? { binding: b.binding, kind: 'uniform', tensor: b.what }
          : b.kind === 'scratch'
          ? { binding: b.binding, kind: 'scratch', tensor: `${b.words} words`, access: b.access }
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
    dispatchesPerRun: codes.reduce((n, c) => n + dispatchesOf(c).length, 0),
    totalBytes: memory.buffers.reduce((s, b) => s + b, 0),
    textures: textures.slots.map((t, i) => ({
      index: i,
      format: t.format,
      width: t.width,
      height: t.height,
      bytes: t.bytes,
      tensors: [...new Set(textures.lives.filter((f) => f.slot === i).map((f) => tensorName(fg, fg.tensors[f.binding.tensor]!)))],
    })),
    textureBytes: textures.totalBytes,
  };
}

/** A readable account of a plan (`arch compile --emit plan`). */
export function describePlan(plan: ExecPlan): string {
  const textures = plan.textures.length > 0 ? `, ${plan.textures.length} textures (${plan.textureBytes} bytes)` : '';
  const lines = [`${plan.kernels.length} kernels, ${plan.dispatchesPerRun} dispatches per run, ${plan.buffers.length} buffers (${plan.totalBytes} bytes)${textures}`];
  for (const k of plan.kernels) {
    lines.push(`${k.name}  [${k.workgroups.join('x')} workgroups]`);
    for (const b of k.bindings) lines.push(`    @binding(${b.binding}) ${b.kind} ${b.access ?? ''} ${b.tensor ?? ''}`.trimEnd());
    for (const op of k.ops) lines.push(`    ${op}`);
  }
  lines.push('buffers:');
  for (const b of plan.buffers) lines.push(`  #${b.index} ${b.bytes} bytes${b.persistent ? ' (persistent)' : ''}: ${b.tensors.join(', ')}`);
  if (plan.textures.length > 0) lines.push('textures:');
  for (const t of plan.textures) lines.push(`  #${t.index} ${t.format} ${t.width}x${t.height}, ${t.bytes} bytes: ${t.tensors.join(', ')}`);
  return lines.join('\n');
}
