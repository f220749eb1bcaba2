// What every kernel template shares: the generated kernel's shape, bindings and dispatch geometry.

import type { FusedGraph, Kernel, Tensor } from '../../ir/fuse/types.js';
import { linearTexture, textureDecl, textureShift, type TextureBinding } from './texture.js';
import { newEnv, type EmitEnv } from './expr.js';
import { rangeAccessors, rangeUnits, splitRanges } from './ranges.js';
import { Sizes } from './sizes.js';

export type KernelBinding =
  /** `range`: bytes of the tensor this binding covers, where one binding cannot hold it all
   *  (a contraction's C in ranges); else the whole tensor. */
  | { kind: 'storage'; binding: number; tensor: number; access: 'read' | 'read_write'; range?: { offset: number; size: number } }
  | (Omit<TextureBinding, 'name'> & { tensor: number })
  /** `seed`: the run's seed (written every run); `sizes`: the kernel's own sizes (sizes.ts),
   *  KernelCode.sizes, written once. */
  | { kind: 'uniform'; binding: number; what: 'seed' | 'sizes' }
  /** Working memory of the kernel's own (`words` i32), shared by its parts and kept between runs:
   *  a scatter's index lists (scatter.ts). */
  | { kind: 'scratch'; binding: number; words: number; access: 'read' | 'read_write' };

export interface KernelCode {
  name: string;
  code: string;
  /** dispatchWorkgroups(x, y, z). */
  workgroups: [number, number, number];
  bindings: KernelBinding[];
  /** The words of the `sizes` uniform, if the kernel binds one. */
  sizes?: number[];
  /** The loop iterations one invocation runs, at most, where they grow with a size (a scatter's
   *  sweep over the index positions, a contraction's over K, attention's over the keys): a plan
   *  is refused over PlanLimits.maxLoopIterations. */
  loopIterations?: number;
  /**
   * The kernel runs as these dispatches, in order, instead of one (then `code` and `bindings` are
   * all of theirs, for a reader and the memory plan): a group of sibling contractions whose parts
   * share one pipeline apart, where as one module they took ~5x one part's compile time.
   */
  parts?: KernelPart[];
}

/** One dispatch of a kernel. */
export type KernelPart = Pick<KernelCode, 'code' | 'workgroups' | 'bindings' | 'sizes'>;

/** The dispatches a kernel runs. */
export function dispatchesOf(k: KernelCode): KernelPart[] {
  return k.parts ?? [k];
}

/** Which templates a kernel comes from: 'cpu' for a CPU adapter such as llvmpipe (registers,
 *  textures, rows blocked per invocation), 'gpu' for a real GPU (workgroup tiles in shared
 *  memory, storage buffers). docs/kernels.md, "Two variants". */
export type KernelVariant = 'cpu' | 'gpu';

export interface CodegenOptions {
  /** The templates' variant (default 'cpu'; the executor picks it by adapter). */
  kernels?: KernelVariant;
  /** Device limit: workgroups per dispatch dimension. */
  maxWorkgroupsPerDimension?: number;
  /** Device limit: bytes one storage binding may hold. A tensor only read, and larger, is read
   *  through a texture instead (which has no such limit: GPT-2's 154 MB token table on llvmpipe). */
  maxStorageBufferBindingSize?: number;
  /** Read-only f32 tensors a kernel reads through storage textures rather than storage buffers
   *  (the largest first; the device's maxStorageTexturesPerShaderStage). On llvmpipe a texel
   *  load is several times cheaper than a storage-buffer load (docs/llvmpipe.md). 0: none. */
  textureReads?: number;
  /** Sizes and strides read from a uniform (default), so kernels differing only in sizes share a
   *  pipeline; false: literals (each shape its own pipeline). */
  uniformSizes?: boolean;
}

/** What makes two kernels one pipeline: their text less its comment lines (headers name the
 *  sizes, which the kernel itself reads from its uniform). */
export function pipelineKey(code: string): string {
  return code.split('\n').filter((l) => !l.trimStart().startsWith('//')).join('\n');
}

/** Workgroups for `count` groups, folded into a second dimension past the per-dimension limit. */
export function grid(count: number, limit: number): { workgroups: [number, number, number]; nx: number } {
  if (count <= limit) return { workgroups: [Math.max(1, count), 1, 1], nx: Math.max(1, count) };
  const ny = Math.ceil(count / limit);
  const nx = Math.ceil(count / ny);
  return { workgroups: [nx, ny, 1], nx };
}

/** Kernels touching fewer elements than this read through storage buffers (decoding's tiny
 *  kernels: the copies into textures cost more than they save). */
const TEXTURE_MIN_WORK = 16384;

/** Declarations for a kernel's tensors: reads first, then writes; names t<binding>. Storage
 *  buffers, except reads bound as read-only r32float textures read as linear arrays
 *  (EmitEnv.textured): those too large for a storage binding, and, in a kernel that touches at
 *  least TEXTURE_MIN_WORK elements (or for a parameter, filled once), the largest f32 reads up to
 *  the `textureReads` budget. Where `texel4` holds for a textured tensor (and env.texel4 is
 *  given), its texels are rgba32float, 4 elements each (EmitEnv.texel4). */
export function storageBindings(fg: FusedGraph, k: Kernel, env: { bound: Map<number, string>; textured: Set<number>; ranged: Set<number>; helpers: Map<string, string>; shifts: Map<number, string>; sizes: Sizes; texel4?: Set<number> }, opts: Pick<CodegenOptions, 'maxStorageBufferBindingSize' | 'textureReads'> = {}, texel4?: (t: number) => boolean): { decls: string[]; bindings: KernelBinding[] } {
  const decls: string[] = [];
  const bindings: KernelBinding[] = [];
  const floatsOf = (t: number): number => fg.graph.nodes[fg.tensors[t]!.node]!.type.axes.reduce((p, a) => p * (a.size as number), 1);
  const isF32 = (t: number): boolean => fg.graph.nodes[fg.tensors[t]!.node]!.type.dtype === 'f32';
  // oversized reads must be textures; then the largest others, up to the budget
  const oversized = (t: number): boolean => floatsOf(t) * 4 > (opts.maxStorageBufferBindingSize ?? Infinity);
  // A texture is filled by a copy every run (a parameter's once): that pays in a kernel that
  // does enough loads, whatever the size of each tensor (a layernorm reads its row's mean once per
  // element).
  const work = Math.max(...[...k.reads, ...k.writes].map(floatsOf));
  const worth = (t: number): boolean => oversized(t) || work >= TEXTURE_MIN_WORK || fg.tensors[t]!.role === 'param';
  const byTexture = new Set(
    k.reads.filter((t) => isF32(t) && worth(t)).sort((a, b) => Number(oversized(b)) - Number(oversized(a)) || floatsOf(b) - floatsOf(a)).slice(0, Math.max(opts.textureReads ?? 0, k.reads.filter(oversized).length)),
  );
  const add = (t: number, access: 'read' | 'read_write'): void => {
    const b = bindings.length;
    const tensor = fg.tensors[t]!;
    const node = fg.graph.nodes[tensor.node]!;
    const floats = floatsOf(t);
    if (access === 'read' && byTexture.has(t)) {
      const quad = floats % 4 === 0 && env.texel4 !== undefined && texel4?.(t) === true;
      const { name: _name, ...texture } = quad ? linearTexture(b, `t${b}`, floats / 4, 4, 0) : linearTexture(b, `t${b}`, floats, 1, 0);
      if (quad) env.texel4!.add(t);
      decls.push(...textureDecl({ ...texture, name: `t${b}` }, env.sizes.uniform));
      if (env.sizes.uniform) env.shifts.set(t, env.sizes.ref(`shift:t${b}`, textureShift(texture), 'u32'));
      bindings.push({ ...texture, tensor: t });
      env.bound.set(t, `t${b}`);
      env.textured.add(t);
      return;
    }
    const ty = node.type.dtype === 'i32' ? 'i32' : 'f32';
    if (access === 'read_write' && oversized(t)) {
      // larger than one binding: ranges of its buffer (ranges.ts), reached through get_/set_
      const per = rangeUnits(opts.maxStorageBufferBindingSize ?? Infinity, 4);
      const ranges = splitRanges(floats, per);
      const name = `t${b}`;
      const part = (r: number) => (r === 0 ? name : `${name}_r${r}`);
      ranges.forEach((r, i) => {
        const at = bindings.length;
        decls.push(`@group(0) @binding(${at}) var<storage, read_write> ${part(i)}: array<${ty}>;`);
        bindings.push({ kind: 'storage', binding: at, tensor: t, access, range: { offset: r.first * 4, size: r.count * 4 } });
      });
      const [get, set] = rangeAccessors({ get: `get_${name}`, set: `set_${name}`, part, count: ranges.length, per, unit: ty, index: 'i32' });
      env.helpers.set(`get_${name}`, get!);
      env.helpers.set(`set_${name}`, set!);
      env.bound.set(t, name);
      env.ranged.add(t);
      return;
    }
    decls.push(`@group(0) @binding(${b}) var<storage, ${access}> t${b}: array<${ty}>;`);
    bindings.push({ kind: 'storage', binding: b, tensor: t, access });
    env.bound.set(t, `t${b}`);
  };
  for (const t of k.reads) add(t, 'read');
  for (const t of k.writes) add(t, 'read_write');
  return { decls, bindings };
}

/** The seed and sizes uniforms and helper functions, appended once the body is emitted (every
 *  size the kernel reads must have been asked for by then). */
export function preamble(env: EmitEnv, decls: string[], bindings: KernelBinding[]): string[] {
  const out = [...decls];
  if (env.usesRandom) {
    const b = bindings.length;
    out.push(`@group(0) @binding(${b}) var<uniform> run_seed: vec4<u32>;`);
    bindings.push({ kind: 'uniform', binding: b, what: 'seed' });
  }
  out.push(...sizesBinding(env.sizes, bindings));
  for (const h of env.helpers.values()) out.push(h);
  return out;
}

/** The sizes uniform's declaration, bound after `bindings` (nothing if the kernel reads no size). */
function sizesBinding(sizes: Sizes, bindings: KernelBinding[]): string[] {
  if (sizes.empty) return [];
  const b = bindings.length;
  bindings.push({ kind: 'uniform', binding: b, what: 'sizes' });
  return sizes.decl(b);
}

/** The words of a kernel's sizes uniform, where it has one. */
export function sizeWords(sizes: Sizes): { sizes?: number[] } {
  return sizes.empty ? {} : { sizes: sizes.values() };
}

/** An emitter's environment for kernel k. Sizes are literals unless the template passes a uniform
 *  Sizes (then its KernelCode carries the words, sizeWords, and its entry point the prologue). */
export function kernelEnv(fg: FusedGraph, k: Kernel, provided: EmitEnv['provided'] = new Map(), sizes = new Sizes(false)): EmitEnv & { bound: Map<number, string>; textured: Set<number>; ranged: Set<number>; shifts: Map<number, string> } {
  const bound = new Map<number, string>();
  return newEnv({ g: fg.graph, tensors: fg.tensors, primary: fg.primary, bound, inline: new Set(k.members), provided, textured: new Set(), ranged: new Set(), sizes, shifts: new Map() }) as EmitEnv & {
    bound: Map<number, string>;
    textured: Set<number>;
    ranged: Set<number>;
    shifts: Map<number, string>;
  };
}

/** The statement storing `value` at element `offset` of tensor t (through its range when it is
 *  bound in ranges). */
export function storeTo(env: EmitEnv, t: number, offset: string, value: string): string {
  const name = env.bound.get(t);
  if (name === undefined) throw new Error(`codegen: tensor ${t} is written but not bound`);
  return env.ranged.has(t) ? `set_${name}(${offset}, ${value});` : `${name}[${offset}] = ${value};`;
}

export function axesOf(fg: FusedGraph, t: Tensor | number, names?: readonly string[]): { name: string; size: number }[] {
  const tensor = typeof t === 'number' ? fg.tensors[t]! : t;
  const node = fg.graph.nodes[tensor.node]!;
  return (names ?? tensor.layout).map((n) => ({ name: n, size: node.type.axes.find((a) => a.name === n)!.size as number }));
}

/** Whether an f32 position is a row of a state `size` rows long (a WGSL integer expression): an integer in [0, size). Where it
 *  is not, the IR's select keeps the whole state, so an in-place update stores nothing. */
export function validRow(p: string, size: string): string {
  return `${p} == floor(${p}) && ${p} >= 0.0 && ${p} < f32(${size})`;
}

export function indent(lines: readonly string[], by = '  '): string[] {
  return lines.map((l) => by + l);
}

/** The flat index of an invocation on a 2-D grid of workgroups of `wg` (grid()): the grid's width
 *  comes from `num_workgroups`, so the text does not depend on it. */
export function flatInvocation(wg: number): string {
  return `gid.x + gid.y * nw.x * ${wg}u`;
}

/** main's parameters for flatInvocation. */
export const GRID_PARAMS = '@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u';

/** A kernel whose invocations each own one "row" (an index below `invocations`, a WGSL i32
 *  expression), laid out on a 2-D grid of workgroups of `wg`: the shape attention and scatter
 *  kernels share. `prologue` comes first (Sizes.prologue). */
export function perRowKernel(header: string, pre: string[], wg: number, invocations: string, body: readonly string[], prologue: readonly string[] = []): string {
  return [
    `// ${header}`,
    ...pre,
    `@compute @workgroup_size(${wg})`,
    `fn main(${GRID_PARAMS}) {`,
    ...indent(prologue),
    `  let row = i32(${flatInvocation(wg)});`,
    `  if (row >= ${invocations}) { return; }`,
    ...indent(body),
    '}',
    '',
  ].join('\n');
}
