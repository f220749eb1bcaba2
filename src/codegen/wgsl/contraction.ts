// The contraction kernel: C[b, m, n] = epilogue(sum_k A[b, m, k] * B[b, k, n]) (or C += that).
//
// One template, specialised per structure (tile, which operand dimension is read four at a time,
// epilogue, K's remainder mod 4): with ContractionSpec.sizes, sizes and strides are read from the
// kernel's uniform (sizes.ts), so contractions that differ only in shape share one pipeline
// (pipelines are cached by the runtime); without, they are WGSL constants. Two variants share
// its setup and stores (contraction-setup.ts) and differ in the loop: this file's, for CPU
// adapters such as llvmpipe (`variant: 'cpu'`, the default), and workgroup tiles in shared memory
// for GPUs (`variant: 'gpu'`, contraction-tiled.ts; docs/kernels.md, "Two variants").
//
// In the cpu variant each invocation computes a TM x TN block of C in registers (TN as TN/4 vec4 accumulators along n)
// and walks k four at a time. What made it fast on llvmpipe (docs/llvmpipe.md has the numbers):
// - llvmpipe runs a workgroup's invocations as SIMD lanes and turns every storage-buffer load into
//   a scalar loop over the lanes with a bounds check per component, so loads, not FMAs, are the
//   cost. Texel loads are gathered without that loop and are ~4x cheaper, so by default A and B
//   are read through textures that the runtime fills with copyBufferToTexture (`source:
//   'buffer'` reads the storage buffers directly). Read-only *storage* textures
//   (`texture_storage_2d<rgba32float, read>`): llvmpipe's image loads cost ~30-40 % less than the
//   sampler's texel fetches (docs/llvmpipe.md).
// - Operands are read four elements per load (one rgba32f texel or vec4) along whichever of their
//   two dimensions is contiguous; an operand contiguous along neither falls back to scalar loads.
// - Edges cost nothing in the inner loop: row/column indices are clamped to the last valid one
//   (the extra lanes compute duplicates), K's remainder is an unrolled tail, and only stores are
//   guarded.

import type { KernelVariant } from './common.js';
import { localLines, partFunctions, setupPart, storeLines, storeLoops, u, type Operand, type PartSetup } from './contraction-setup.js';
import { TILED, tiledBody, tiledDecl, tiledLoops, tiledWorkgroups } from './contraction-tiled.js';
import type { Sizes } from './sizes.js';
import { texelLoad, type TextureBinding } from './texture.js';

export type { TextureBinding } from './texture.js';

export interface ALayout {
  offset: number;
  batchStride: number;
  mStride: number;
  kStride: number;
}
export interface BLayout {
  offset: number;
  batchStride: number;
  kStride: number;
  nStride: number;
}
export interface CLayout {
  offset: number;
  batchStride: number;
  mStride: number;
  nStride: number;
}

export interface Tile {
  /** Rows of C per invocation (multiple of 4). */
  tm: number;
  /** Columns of C per invocation (multiple of 4). */
  tn: number;
  /** Workgroup size along n and along m. */
  wx: number;
  wy: number;
}

export interface ContractionSpec {
  batch: number;
  m: number;
  n: number;
  k: number;
  /** A stored as [batch, k, m] instead of [batch, m, k] (ignored where `a` gives strides). */
  transposeA?: boolean;
  /** B stored as [batch, n, k] instead of [batch, k, n] (ignored where `b` gives strides). */
  transposeB?: boolean;
  /** Element strides; batchStride 0 broadcasts one matrix over the batch. Defaults: contiguous. */
  a?: Partial<ALayout>;
  b?: Partial<BLayout>;
  c?: Partial<CLayout>;
  /** C += result (gradient accumulation); the epilogue applies to the product before the add. */
  accumulate?: boolean;
  /**
   * A WGSL expression for each output value: it sees `v: f32` (the sum over k), `b`, `m`, `n`
   * (u32 indices) and the `inputs` by name, each bound as `array<f32>` (read-only storage).
   * Example: bias + gelu: `gelu(v + bias[n])` with helper functions in `functions`.
   */
  epilogue?: { expr: string; inputs?: string[]; functions?: string; shared?: string[] };
  /**
   * C is one row of a larger tensor, at a row given at run time: `index` (a WGSL f32 expression,
   * usually a function in epilogue.functions) times `stride` elements is added to C's offset, and
   * nothing is stored unless the index is an integer in [0, size) (a KV cache's write).
   */
  cRow?: { index: string; stride: number; size: number };
  /** Where A and B are read from; default 'texture' (see the top of this file). */
  source?: Source | Record<'A' | 'B', Source>;
  /**
   * C is larger than one storage binding may hold: it is bound as consecutive ranges of its
   * buffer, each `elements` f32 long (a multiple of 64), the last one shorter; a store goes to the
   * range its index falls in. Binding names: C, then C_r1, C_r2, ...
   */
  cRanges?: { count: number; elements: number };
  tile?: Partial<Tile>;
  /** Where sizes and strides go: a uniform Sizes (shared with the epilogue's code, and by the parts
   *  of a group) makes the text shape-free; absent, they are literals. */
  sizes?: Sizes;
  /** 'cpu' (default): the register-blocked template above, reading `source`; 'gpu': workgroup
   *  tiles in shared memory, reading storage buffers (contraction-tiled.ts; `tile` and `source`
   *  are ignored). */
  variant?: KernelVariant;
}

export type Source = 'texture' | 'buffer';

export interface BufferBinding {
  kind: 'buffer';
  binding: number;
  name: string;
  access: 'read' | 'read_write';
  /** Range `index` of a buffer bound as several (ContractionSpec.cRanges), each `elements` f32. */
  range?: { index: number; elements: number };
}

/** The sizes uniform (ContractionKernel.sizes holds its words). */
export interface UniformBinding {
  kind: 'uniform';
  binding: number;
  name: string;
}

export type ContractionBinding = TextureBinding | BufferBinding | UniformBinding;

export interface ContractionKernel {
  code: string;
  /** dispatchWorkgroups(x, y, z): the kernel is specialised to the spec's sizes. */
  workgroups: [number, number, number];
  /** In binding order: A, B, C, then the epilogue inputs, then the sizes uniform if any. */
  bindings: ContractionBinding[];
  tile: Tile;
  /** The words of the sizes uniform, where the kernel reads one. */
  sizes?: number[];
  /** An invocation's loop iterations (KernelCode.loopIterations): the sweep over K and the stores. */
  loopIterations: number;
}

// 8x8 per invocation, 8 invocations (one SIMD row): as fast as 16x16 on llvmpipe (the loads
// per FMA stop mattering once reads come from textures) and ~10x quicker to compile.
const DEFAULT_TILE: Tile = { tm: 8, tn: 8, wx: 8, wy: 1 };

/** One contraction's share of a kernel: module-scope declarations and functions, and the body of
 *  its entry point (which reads the builtins in `params`). Its module-scope names end in `suffix`
 *  and its bindings start at `firstBinding`, so that several can share a module (contractionGroup). */
interface Part {
  decl: string[];
  functions: string[];
  /** Helper functions the epilogue shares with other parts (deduplicated by text). */
  shared: string[];
  body: string[];
  /** The entry point's parameters (builtins) the body reads. */
  params: string;
  bindings: ContractionBinding[];
  workgroups: [number, number, number];
  tile: Tile;
  comment: string;
  /** An invocation's loop iterations (KernelCode.loopIterations). */
  loops: number;
}

const GID = '@builtin(global_invocation_id) gid: vec3u';

/** `sharedA`: the A of an earlier part in the same module (same tensor, view and extents), read
 *  through its binding instead of one of this part's own. */
function contractionPart(spec: ContractionSpec, suffix: string, firstBinding: number, sharedA?: string): Part {
  const tiled = spec.variant === 'gpu';
  const s = setupPart(spec, suffix, firstBinding, sharedA, tiled);
  const ranged = s.ranges.count > 1 ? ` C in ${s.ranges.count} ranges` : '';
  const what = `contraction b=${s.batch} m=${s.M} n=${s.N} k=${s.K}`;
  if (tiled) {
    const body = [...tiledBody(s), ...storeLines(s, TILED.tm, 1)];
    return {
      decl: [...s.decl, ...tiledDecl(s)],
      functions: partFunctions(s),
      shared: spec.epilogue?.shared ?? [],
      body: [...localLines(s), ...body],
      params: '@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u',
      bindings: s.bindings,
      workgroups: tiledWorkgroups(s),
      tile: TILED,
      loops: tiledLoops(s.K) + storeLoops(TILED.tm, 1),
      comment: `${what} workgroup tile ${TILED.tm * TILED.wy}x${TILED.tn * TILED.wx} (gpu variant)${ranged}`,
    };
  }
  const asked: Tile = { ...DEFAULT_TILE, ...spec.tile };
  if (asked.tm % 4 !== 0 || asked.tn % 4 !== 0) throw new Error(`tile tm and tn must be multiples of 4: ${asked.tm}x${asked.tn}`);
  // A block larger than C only costs compile time.
  const roundUp4 = (x: number) => Math.ceil(x / 4) * 4;
  const tm = s.M < 4 && s.A.vec !== 'out' ? s.M : Math.min(asked.tm, roundUp4(s.M));
  const tile: Tile = { ...asked, tm, tn: Math.min(asked.tn, roundUp4(s.N)) };
  const body = [...registerBody(s, tile), ...storeLines(s, tile.tm, tile.tn / 4)];
  return {
    decl: s.decl,
    functions: partFunctions(s),
    shared: spec.epilogue?.shared ?? [],
    body: [...localLines(s), `let n0 = gid.x * ${u(tile.tn)};`, `let m0 = gid.y * ${u(tile.tm)};`, 'let bz = gid.z;', ...body],
    params: GID,
    bindings: s.bindings,
    workgroups: [Math.ceil(s.N / (tile.tn * tile.wx)), Math.ceil(s.M / (tile.tm * tile.wy)), s.batch],
    tile,
    loops: Math.floor(s.K / kStep(s)) + storeLoops(tile.tm, tile.tn / 4),
    comment: `${what} A:${s.A.vec} B:${s.B.vec} tile ${tile.tm}x${tile.tn} wg ${tile.wx}x${tile.wy} A:${s.sources.A} B:${s.sources.B}${ranged}`,
  };
}

/** Loads of operands, textures or buffers, as WGSL expressions; the statements a texel load
 *  needs first collect in `pre`. */
class Loader {
  pre: string[] = [];
  private tmp = 0;
  constructor(private readonly s: PartSetup) {}

  /** A load of the element (or group of four) at element index `e`. */
  load(o: Operand, e: string): string {
    const idx = o.vec === 'none' ? e : `(${e}) >> 2u`;
    if (this.s.sources[o.name] === 'buffer') return `${o.id}[${idx}]`;
    const t = `${o.name}_t${this.tmp++}`;
    this.pre.push(`let ${t} = ${idx};`);
    const texel = texelLoad(o.id, t, this.s.shifts.get(o.name));
    return o.vec === 'none' ? `${texel}.x` : texel;
  }
}

/** Per-invocation bases: the first element of each row (A) / column (B) it reads, clamped. */
function bases(s: PartSetup, o: Operand, T: number, first: string): string[] {
  const { z } = s;
  const lines: string[] = [];
  const base = `${s.sources[o.name] === 'texture' ? '0u' : z(`${o.name}off`, o.offset)} + bz * ${z(`${o.name}sb`, o.sBatch)}`;
  if (o.vec === 'out') {
    // Groups of four along out: clamp the group start, which stays a multiple of 4.
    const lastGroup = Math.floor((o.extentOut - 1) / 4) * 4;
    for (let g = 0; g < T / 4; g++) lines.push(`let ${o.name}r${g} = ${base} + min(${first} + ${u(4 * g)}, ${z(`${o.name}lastg`, lastGroup)}) * ${z(`${o.name}so`, o.sOut)};`);
  } else {
    for (let r = 0; r < T; r++) lines.push(`let ${o.name}r${r} = ${base} + min(${first} + ${u(r)}, ${z(`${o.name}last`, o.extentOut - 1)}) * ${z(`${o.name}so`, o.sOut)};`);
  }
  return lines;
}

/** An operand's offset of element k0 + kk along k (for loads one k at a time). */
function alongK(s: PartSetup, o: Operand, kk: number): string {
  const sK = s.z(`${o.name}sk`, o.sK);
  if (!s.sizes.uniform) return `(k0 + ${u(kk)}) * ${sK}`;
  return kk === 0 ? `${o.name}k` : `${o.name}k + ${u(kk)} * ${sK}`;
}

/** The loads of one chunk of k (k0 .. k0 + count - 1), and value(o, r, kk): element (row r of the
 *  block, k0 + kk) as an f32 expression. */
function chunkLoads(s: PartSetup, loader: Loader, tile: Tile, count: number): { lets: string[]; value: Map<string, string> } {
  const lets: string[] = [];
  const value = new Map<string, string>();
  for (const [o, T] of [[s.A, tile.tm], [s.B, tile.tn]] as const) {
    if (o.vec === 'k') {
      for (let r = 0; r < T; r++) {
        lets.push(`let ${o.name}v${r} = ${loader.load(o, `${o.name}r${r} + k0`)};`);
        for (let kk = 0; kk < count; kk++) value.set(`${o.name}${r},${kk}`, `${o.name}v${r}[${kk}]`);
      }
    } else if (o.vec === 'out') {
      for (let kk = 0; kk < count; kk++) {
        for (let g = 0; g < T / 4; g++) {
          lets.push(`let ${o.name}v${kk}_${g} = ${loader.load(o, `${o.name}r${g} + ${alongK(s, o, kk)}`)};`);
          for (let c = 0; c < 4; c++) value.set(`${o.name}${4 * g + c},${kk}`, `${o.name}v${kk}_${g}[${c}]`);
        }
      }
    } else {
      for (let kk = 0; kk < count; kk++) {
        for (let r = 0; r < T; r++) {
          lets.push(`let ${o.name}v${kk}_${r} = ${loader.load(o, `${o.name}r${r} + ${alongK(s, o, kk)}`)};`);
          value.set(`${o.name}${r},${kk}`, `${o.name}v${kk}_${r}`);
        }
      }
    }
  }
  return { lets, value };
}

/** Statements for one chunk of k: its loads, then the FMAs into the block's accumulators. */
function chunk(s: PartSetup, tile: Tile, count: number): string[] {
  const loader = new Loader(s);
  const { lets, value } = chunkLoads(s, loader, tile, count);
  const stmts = [...loader.pre, ...lets];
  const at = (key: string) => value.get(key) ?? '0.0';
  const JV = tile.tn / 4;
  for (let kk = 0; kk < count; kk++) {
    const bRow: string[] = [];
    for (let j = 0; j < JV; j++) {
      // B read as groups of four along n is already the vec4 the accumulator wants.
      const bVec = s.B.vec === 'out' ? `Bv${kk}_${j}` : `vec4f(${[0, 1, 2, 3].map((c) => at(`B${4 * j + c},${kk}`)).join(', ')})`;
      if (s.B.vec === 'out') bRow.push(bVec);
      else {
        stmts.push(`let b${kk}_${j} = ${bVec};`);
        bRow.push(`b${kk}_${j}`);
      }
    }
    for (let i = 0; i < tile.tm; i++) {
      for (let j = 0; j < JV; j++) stmts.push(`c${i}_${j} = fma(vec4f(${at(`A${i},${kk}`)}), ${bRow[j]}, c${i}_${j});`);
    }
  }
  return stmts;
}

/** k per iteration of the CPU variant's loop. */
function kStep(s: PartSetup): number {
  return s.A.vec === 'k' || s.B.vec === 'k' ? 4 : 1;
}

/** The CPU variant's loop: a TM x TN block per invocation in registers, k four at a time where
 *  an operand is read four-along-k (else one: same loads, less code), K's remainder unrolled. */
function registerBody(s: PartSetup, tile: Tile): string[] {
  const { A, B, K, z } = s;
  const body = [...bases(s, A, tile.tm, 'm0'), ...bases(s, B, tile.tn, 'n0')];
  for (let i = 0; i < tile.tm; i++) for (let j = 0; j < tile.tn / 4; j++) body.push(`var c${i}_${j} = vec4f(0.0);`);
  const step = kStep(s);
  // an operand read one k at a time: with its k stride from the uniform, its offset along k is a
  // running sum (a multiply by a non-constant per load and step cost ~1.8x in a weight
  // gradient's loop on llvmpipe); with literal strides LLVM does that itself
  const running = s.sizes.uniform ? [A, B].filter((o) => o.vec !== 'k') : [];
  for (const o of running) body.push(`var ${o.name}k = 0u;`);
  const advance = running.map((o) => `${o.name}k += ${step === 1 ? z(`${o.name}sk`, o.sK) : `${u(step)} * ${z(`${o.name}sk`, o.sK)}`};`);
  const kFull = K - (K % step);
  if (kFull > 0) {
    body.push(`for (var k0 = 0u; k0 < ${z('kfull', kFull)}; k0 += ${u(step)}) {`, ...[...chunk(s, tile, step), ...advance].map((l) => '  ' + l), '}');
  }
  if (K % step !== 0) body.push('{', `  let k0 = ${z('kfull', kFull)};`, ...chunk(s, tile, K % step).map((l) => '  ' + l), '}');
  return body;
}

/** The sizes uniform, bound after the parts' bindings (none when every size is a literal). */
function sizesUniform(sizes: Sizes | undefined, bindings: ContractionBinding[]): { decl: string[]; bindings: ContractionBinding[]; sizes?: number[] } {
  if (!sizes || sizes.empty) return { decl: [], bindings };
  const binding = bindings.length;
  return { decl: sizes.decl(binding), bindings: [...bindings, { kind: 'uniform', binding, name: sizes.name }], sizes: sizes.values() };
}

export function contractionKernel(spec: ContractionSpec): ContractionKernel {
  const p = contractionPart(spec, '', 0);
  const uniform = sizesUniform(spec.sizes, p.bindings);
  const code = [
    `// ${p.comment}`,
    ...p.decl,
    ...uniform.decl,
    ...p.shared,
    ...p.functions,
    `@compute @workgroup_size(${p.tile.wx}, ${p.tile.wy})`,
    `fn main(${p.params}) {`,
    ...p.body.map((s) => '  ' + s),
    '}',
    '',
  ].join('\n');
  return { code, workgroups: p.workgroups, bindings: uniform.bindings, tile: p.tile, loopIterations: p.loops, ...(uniform.sizes ? { sizes: uniform.sizes } : {}) };
}

/**
 * Several independent contractions in one dispatch (horizontal fusion: a projection's q, k and v
 * read one activation). Part j is specs[j] with suffix `_j` on its module-scope names (the
 * caller names epilogue inputs and functions to match): its workgroups follow the previous
 * parts' along x, and each invocation runs the part its workgroup falls in. The parts must share
 * the workgroup size and the y and z extents (rows and batch).
 */
export function contractionGroup(specs: ContractionSpec[]): ContractionKernel {
  if (specs.length === 1) return contractionKernel(specs[0]!);
  // the tiled variant's parts would each need the whole workgroup at every barrier
  if (specs.some((x) => x.variant === 'gpu')) throw new Error('contraction group: the gpu variant runs each part as a dispatch of its own');
  const parts: Part[] = [];
  // one A for all: the parts read the same operand (siblings.ts checks it)
  for (const [j, spec] of specs.entries()) parts.push(contractionPart(spec, `_${j}`, parts.reduce((n, p) => n + p.bindings.length, 0), j === 0 ? undefined : 'A_0'));
  const [first] = parts as [Part];
  for (const p of parts) {
    if (p.tile.wx !== first.tile.wx || p.tile.wy !== first.tile.wy || p.workgroups[1] !== first.workgroups[1] || p.workgroups[2] !== first.workgroups[2]) {
      throw new Error(`contraction group: parts differ in workgroup shape (${p.comment} vs ${first.comment})`);
    }
  }
  const dispatch: string[] = [];
  // where each part's invocations start along x (from the parts' shapes: a size like any other)
  const sizes = specs[0]!.sizes;
  const lit = (key: string, v: number) => (sizes ? sizes.ref(key, v, 'u32') : u(v));
  let x = 0;
  for (const [j, p] of parts.entries()) {
    const at = x === 0 ? 'gid' : `vec3u(gid.x - ${lit(`x_${j}`, x * first.tile.wx)}, gid.y, gid.z)`;
    const last = j === parts.length - 1;
    dispatch.push(`${j === 0 ? '' : '} else '}${last ? '{' : `if (gid.x < ${lit(`x_${j + 1}`, (x + p.workgroups[0]) * first.tile.wx)}) {`}`, `  part_${j}(${at});`);
    x += p.workgroups[0];
  }
  const uniform = sizesUniform(sizes, parts.flatMap((p) => p.bindings));
  dispatch.push('}');
  const code = [
    ...parts.map((p) => `// ${p.comment}`),
    ...parts.flatMap((p) => p.decl),
    ...uniform.decl,
    ...new Set(parts.flatMap((p) => p.shared)),
    ...parts.flatMap((p) => p.functions),
    ...parts.flatMap((p, j) => [`fn part_${j}(gid: vec3u) {`, ...p.body.map((s) => '  ' + s), '}']),
    `@compute @workgroup_size(${first.tile.wx}, ${first.tile.wy})`,
    `fn main(@builtin(global_invocation_id) gid: vec3u) {`,
    ...dispatch.map((s) => '  ' + s),
    '}',
    '',
  ].join('\n');
  const loopIterations = Math.max(...parts.map((p) => p.loops));
  return { code, workgroups: [x, first.workgroups[1], first.workgroups[2]], bindings: uniform.bindings, tile: first.tile, loopIterations, ...(uniform.sizes ? { sizes: uniform.sizes } : {}) };
}
