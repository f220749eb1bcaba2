// Contractions through the contraction template (contraction.ts: register blocks for a CPU
// adapter, workgroup tiles for a GPU, CodegenOptions.kernels): the fusion pass chose the
// batch / m / n / k groups and strided views of A and B; this file turns them into a
// ContractionSpec and the fused epilogue (bias, activation, residual) into its WGSL hook.

import type { ContractKernel, FusedGraph, StridedView } from '../../ir/fuse/types.js';
import { layoutStrides, sizeOf } from '../../ir/fuse/resolve.js';
import { mergedStride } from '../../ir/fuse/views.js';
import { contractionGroup, contractionKernel, type ContractionSpec, type Source } from './contraction.js';
import { kernelEnv, type KernelBinding, type KernelCode, type KernelVariant } from './common.js';
import { rangeUnits, splitRanges } from './ranges.js';
import { Sizes } from './sizes.js';
import { Emitter, unflatten, type Coords } from './expr.js';

export interface ContractCodegenOptions {
  /** Where the template reads A and B: textures (fast on llvmpipe) or storage buffers. */
  source?: Source;
  /** Device limit: a C larger than this is bound as several ranges of its buffer. */
  maxStorageBufferBindingSize?: number;
  /** Sizes and strides from a uniform (default true; CodegenOptions.uniformSizes). */
  uniformSizes?: boolean;
  /** The template's variant (CodegenOptions.kernels; default 'cpu'). */
  kernels?: KernelVariant;
}

/**
 * Textures by default; but a texture of anything other than a parameter is refilled every run (a
 * copy, and a break in the compute pass), which only pays when each texel serves several rows.
 * An operand with fewer than four rows or columns (a vector, as in decoding) is read in place.
 */
function sourceOf(fg: FusedGraph, view: StridedView, extent: number, opts: ContractCodegenOptions): Source {
  const source = opts.source ?? 'texture';
  return source === 'texture' && fg.tensors[view.tensor]!.role !== 'param' && extent < 4 ? 'buffer' : source;
}

/**
 * A contraction, or a group of siblings (ContractKernel.siblings). With uniform sizes, a group of
 * full 8-row blocks runs as one dispatch per part, each its own kernel: parts of one structure are
 * one pipeline, where three parts in one module took ~5x one part's LLVM compile time on llvmpipe
 * (2-2.9 s cold for q, k and v, against ~0.4 s) to save two ~50 us dispatches. A group of
 * matrix-vector products (decoding: fewer than 4 rows) stays one dispatch, cheap to compile and
 * run where dispatches are the cost; so does any group with literal sizes. The gpu variant
 * always runs parts apart: a tiled part needs its whole workgroup at each barrier.
 */
export function contractKernel(fg: FusedGraph, k: ContractKernel, opts: ContractCodegenOptions = {}): KernelCode {
  const members = [k, ...(k.siblings ?? [])];
  const c = fg.graph.nodes[k.node]!;
  const rows = k.m.reduce((p, x) => p * sizeOf(c, x), 1);
  if (members.length > 1 && ((rows >= 4 && (opts.uniformSizes ?? true)) || opts.kernels === 'gpu')) {
    const parts = members.map((m) => contractKernel(fg, { ...m, siblings: undefined }, opts));
    const code = parts.map((p, j) => `// part ${j + 1} of ${parts.length} (a dispatch of its own)\n${p.code}`).join('\n');
    const loopIterations = Math.max(...parts.map((p) => p.loopIterations ?? 0));
    return { name: k.name, code, workgroups: parts[0]!.workgroups, bindings: parts.flatMap((p) => p.bindings), parts, loopIterations };
  }
  // one uniform for the group's parts and their epilogues
  const sizes = new Sizes(opts.uniformSizes ?? true);
  const parts = members.map((m, j) => partSpec(fg, m, opts, members.length === 1 ? '' : `_${j}`, sizes));
  const kernel = parts.length === 1 ? contractionKernel(parts[0]!.spec) : contractionGroup(parts.map((p) => p.spec));
  const byName: Record<string, number> = Object.assign({}, ...parts.map((p) => p.byName));
  const bindings: KernelBinding[] = kernel.bindings.map((x) => {
    if (x.kind === 'uniform') return { kind: 'uniform', binding: x.binding, what: 'sizes' };
    const tensor = byName[x.name];
    if (tensor === undefined) throw new Error(`codegen: ${k.name}: no tensor for binding ${x.name}`);
    if (x.kind === 'texture') {
      const { name: _name, ...rest } = x;
      return { ...rest, tensor };
    }
    if (x.range) {
      const r = splitRanges(numel(fg, tensor), x.range.elements)[x.range.index]!;
      return { kind: 'storage', binding: x.binding, tensor, access: x.access, range: { offset: r.first * 4, size: r.count * 4 } };
    }
    return { kind: 'storage', binding: x.binding, tensor, access: x.access };
  });
  return { name: k.name, code: kernel.code, workgroups: kernel.workgroups, bindings, loopIterations: kernel.loopIterations, ...(kernel.sizes ? { sizes: kernel.sizes } : {}) };
}

function numel(fg: FusedGraph, t: number): number {
  return fg.graph.nodes[fg.tensors[t]!.node]!.type.axes.reduce((p, a) => p * (a.size as number), 1);
}

/** The template's spec for one contraction, its module-scope names ending in `suffix`, and the
 *  tensor behind each binding name. */
function partSpec(fg: FusedGraph, k: ContractKernel, opts: ContractCodegenOptions, suffix: string, sizes: Sizes): { spec: ContractionSpec; byName: Record<string, number> } {
  const g = fg.graph;
  const c = g.nodes[k.node]!;
  const an = g.nodes[k.aNode]!;
  const bn = g.nodes[k.bNode]!;
  const size = (names: string[]) => names.reduce((p, x) => p * sizeOf(c.type.axes.some((y) => y.name === x) ? c : an, x), 1);
  // sizes are the contraction's (an updated state is larger than C along the updated axis)
  const stride = (view: StridedView, names: string[], node = an): number => {
    const s = mergedStride(names.map((x) => ({ size: sizeOf(node, x), stride: view.strides[x]! })));
    if (s === null) throw new Error(`codegen: ${k.name}: axes [${names.join(', ')}] are not evenly strided`);
    return s;
  };
  // the gpu variant reads storage buffers: an operand over the binding limit (GPT-2's token
  // table on llvmpipe) makes the kernel the cpu variant's, reading that operand through a texture
  const limit = opts.maxStorageBufferBindingSize ?? Infinity;
  const oversize = (view: StridedView) => numel(fg, view.tensor) * 4 > limit;
  const tiled = opts.kernels === 'gpu' && !oversize(k.a) && !oversize(k.b);
  const source = (view: StridedView, extent: number): Source => (opts.kernels === 'gpu' && oversize(view) ? 'texture' : sourceOf(fg, view, extent, opts));
  const out = fg.tensors[k.out]!;
  const outNode = g.nodes[out.node]!;
  // C's strides by C's own axis names (the written tensor may name some otherwise: outNames)
  const written = layoutStrides(outNode, out.layout);
  const cs: Record<string, number> = { ...written };
  for (const [cName, name] of Object.entries(k.outNames ?? {})) cs[cName] = written[name]!;
  const cView: StridedView = { tensor: k.out, offset: 0, strides: cs };
  const spec: ContractionSpec = {
    batch: size(k.batch),
    m: size(k.m),
    n: size(k.n),
    k: size(k.k),
    a: { offset: k.a.offset, batchStride: stride(k.a, k.batch), mStride: stride(k.a, k.m), kStride: stride(k.a, k.k) },
    b: { offset: k.b.offset, batchStride: stride(k.b, k.batch, bn), kStride: stride(k.b, k.k, bn), nStride: stride(k.b, k.n, bn) },
    c: { offset: 0, batchStride: stride(cView, k.batch, c), mStride: stride(cView, k.m, c), nStride: stride(cView, k.n, c) },
    source: { A: source(k.a, size(k.m)), B: source(k.b, size(k.n)) },
    sizes,
    variant: tiled ? 'gpu' : 'cpu',
  };
  // C over the binding limit (GPT-2's logits at a long context on llvmpipe): bound in ranges
  if (numel(fg, k.out) * 4 > limit && !k.update) {
    const elements = rangeUnits(limit, 4);
    spec.cRanges = { count: splitRanges(numel(fg, k.out), elements).length, elements };
  }
  // 8x8 at most: 16-wide blocks measured no faster on llvmpipe but took ~4 s each to compile
  // (8x8: ~0.2 s; docs/llvmpipe.md). 4 for tiny matrices: less wasted work and code.
  const blk = (x: number) => (x <= 4 ? 4 : 8);
  spec.tile = { tm: blk(spec.m), tn: blk(spec.n) };
  const inputTensors: number[] = [];
  if (k.epilogue !== k.node) {
    const inputs = k.epilogueReads;
    const env = kernelEnv(fg, k, undefined, sizes);
    const input = (i: number) => (suffix ? `e${suffix}_${i}` : `e${i}`);
    inputs.forEach((t, i) => env.bound.set(t, input(i)));
    const e = new Emitter(env);
    const axes = (names: string[]) => names.map((name) => ({ name, size: sizeOf(c, name) }));
    const coords: Coords = {
      ...unflatten(e, 'i32(b)', axes(k.batch), 'cb'),
      ...unflatten(e, 'i32(m)', axes(k.m), 'cm'),
      ...unflatten(e, 'i32(n)', axes(k.n), 'cn'),
    };
    for (const [cName, name] of Object.entries(k.outNames ?? {})) coords[name] = coords[cName]!;
    (env.provided as Map<number, { value: string; coords: Coords }>).set(k.node, { value: 'v', coords });
    const value = e.value(k.epilogue, coords);
    const functions = [`fn fused_epilogue${suffix}(v: f32, b: u32, m: u32, n: u32) -> f32 {`, ...e.lines.map((l) => '  ' + l), `  return ${value};`, '}'];
    if (k.update) {
      // C is the state: its row at the index, which the kernel reads once
      const r = new Emitter(env);
      const index = r.value(k.update.index, {});
      functions.push(`fn row_index${suffix}() -> f32 {`, ...r.lines.map((l) => '  ' + l), `  return ${index};`, '}');
      spec.cRow = { index: `row_index${suffix}()`, stride: cs[k.update.axis]!, size: sizeOf(outNode, k.update.axis) };
    }
    spec.epilogue = {
      expr: `fused_epilogue${suffix}(v, b, m, n)`,
      inputs: inputs.map((_, i) => input(i)),
      functions: functions.join('\n'),
      shared: [...env.helpers.values()],
    };
    inputTensors.push(...inputs);
  }
  const byName: Record<string, number> = { [`A${suffix}`]: k.a.tensor, [`B${suffix}`]: k.b.tensor, [`C${suffix}`]: k.out };
  for (let r = 1; r < (spec.cRanges?.count ?? 1); r++) byName[`C${suffix}_r${r}`] = k.out;
  inputTensors.forEach((t, i) => (byName[suffix ? `e${suffix}_${i}` : `e${i}`] = t));
  return { spec, byName };
}
