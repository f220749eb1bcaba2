// The contraction kernel: C[b, m, n] = epilogue(sum_k A[b, m, k] * B[b, k, n]) (or C += that).
//
// One template, specialised per structure (tile, which operand dimension is read four at a time,
// epilogue, K's remainder mod 4): with ContractionSpec.sizes, sizes and strides are read from the
// kernel's uniform (sizes.ts), so contractions that differ only in shape share one pipeline
// (pipelines are cached by the runtime); without, they are WGSL constants.
//
// Each invocation computes a TM x TN block of C in registers (TN as TN/4 vec4 accumulators along n)
// and walks k four at a time. What made it fast on llvmpipe (docs/llvmpipe.md has the numbers):
// - llvmpipe runs a workgroup's invocations as SIMD lanes and turns every storage-buffer load into
//   a scalar loop over the lanes with a bounds check per component, so loads, not FMAs, are the
//   cost. Texel loads are gathered without that loop and are ~4x cheaper, so by default A and B
//   are read through textures that the runtime fills with copyBufferToTexture (`source:
//   'buffer'` reads the storage buffers directly, for real GPUs). Read-only *storage* textures
//   (`texture_storage_2d<rgba32float, read>`): llvmpipe's image loads cost ~30-40 % less than the
//   sampler's texel fetches (docs/llvmpipe.md).
// - Operands are read four elements per load (one rgba32f texel or vec4) along whichever of their
//   two dimensions is contiguous; an operand contiguous along neither falls back to scalar loads.
// - Edges cost nothing in the inner loop: row/column indices are clamped to the last valid one
//   (the extra lanes compute duplicates), K's remainder is an unrolled tail, and only stores are
//   guarded.

import { validRow } from './common.js';
import { Sizes } from './sizes.js';
import { rangeAccessors } from './ranges.js';
import { linearTexture, texelLoad, textureDecl, textureShift, type TextureBinding } from './texture.js';

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
}

/** How an operand is read: four elements per load along k, along its output dim, or one. */
type VecAxis = 'k' | 'out' | 'none';

/** A or B seen the same way: `out` is m for A and n for B. */
interface Operand {
  name: 'A' | 'B';
  /** Its WGSL name: A, B, or with a part's suffix in a group (A_1). */
  id: string;
  offset: number;
  sBatch: number;
  sOut: number;
  sK: number;
  extentOut: number;
  vec: VecAxis;
}

// 8x8 per invocation, 8 invocations (one SIMD row): as fast as 16x16 on llvmpipe (the loads
// per FMA stop mattering once reads come from textures) and ~10x quicker to compile.
const DEFAULT_TILE: Tile = { tm: 8, tn: 8, wx: 8, wy: 1 };

function defaultLayouts(s: ContractionSpec): { a: ALayout; b: BLayout; c: CLayout } {
  const { m, n, k } = s;
  const a: ALayout = s.transposeA
    ? { offset: 0, batchStride: m * k, mStride: 1, kStride: m }
    : { offset: 0, batchStride: m * k, mStride: k, kStride: 1 };
  const b: BLayout = s.transposeB
    ? { offset: 0, batchStride: k * n, kStride: 1, nStride: k }
    : { offset: 0, batchStride: k * n, kStride: n, nStride: 1 };
  const c: CLayout = { offset: 0, batchStride: m * n, mStride: n, nStride: 1 };
  return { a: { ...a, ...s.a }, b: { ...b, ...s.b }, c: { ...c, ...s.c } };
}

function vecAxis(sOut: number, sK: number, sBatch: number, offset: number): VecAxis {
  const aligned = (x: number) => x % 4 === 0;
  if (!aligned(offset) || !aligned(sBatch)) return 'none';
  if (sK === 1 && aligned(sOut)) return 'k';
  if (sOut === 1 && aligned(sK)) return 'out';
  return 'none';
}

function operand(name: 'A' | 'B', suffix: string, offset: number, sBatch: number, sOut: number, sK: number, extentOut: number): Operand {
  return { name, id: name + suffix, offset, sBatch, sOut, sK, extentOut, vec: vecAxis(sOut, sK, sBatch, offset) };
}

/** The largest element index an operand reads, plus one. */
function span(o: Operand, batch: number, k: number): number {
  const last = (batch - 1) * o.sBatch + (o.extentOut - 1) * o.sOut + (k - 1) * o.sK + 1;
  // A vec4 read may run past the last element to the end of its group of four.
  return o.vec === 'none' ? last : Math.ceil(last / 4) * 4;
}

function textureBinding(o: Operand, binding: number, batch: number, k: number): TextureBinding {
  const perTexel = o.vec === 'none' ? 1 : 4;
  return linearTexture(binding, o.id, span(o, batch, k) / perTexel, perTexel, o.offset * 4);
}

const u = (x: number) => `${x}u`;

/** One contraction's share of a kernel: module-scope declarations and functions, and the body of
 *  its entry point (which reads `gid`). Its module-scope names end in `suffix` and its bindings
 *  start at `firstBinding`, so that several can share a module (contractionGroup). */
interface Part {
  decl: string[];
  functions: string[];
  /** Helper functions the epilogue shares with other parts (deduplicated by text). */
  shared: string[];
  body: string[];
  bindings: ContractionBinding[];
  workgroups: [number, number, number];
  tile: Tile;
  comment: string;
}

/** `sharedA`: the A of an earlier part in the same module (same tensor, view and extents), read
 *  through its binding instead of one of this part's own. */
function contractionPart(spec: ContractionSpec, suffix: string, firstBinding: number, sharedA?: string): Part {
  const { batch, m: M, n: N, k: K } = spec;
  if (![batch, M, N, K].every((x) => Number.isInteger(x) && x >= 1)) {
    throw new Error(`contraction sizes must be positive integers: batch=${batch} m=${M} n=${N} k=${K}`);
  }
  const asked: Tile = { ...DEFAULT_TILE, ...spec.tile };
  if (asked.tm % 4 !== 0 || asked.tn % 4 !== 0) throw new Error(`tile tm and tn must be multiples of 4: ${asked.tm}x${asked.tn}`);
  // A block larger than C only costs compile time.
  const roundUp4 = (x: number) => Math.ceil(x / 4) * 4;
  const { a: la, b: lb, c: lc } = defaultLayouts(spec);
  const A = operand('A', suffix, la.offset, la.batchStride, la.mStride, la.kStride, M);
  if (sharedA !== undefined) A.id = sharedA;
  const B = operand('B', suffix, lb.offset, lb.batchStride, lb.nStride, lb.kStride, N);
  const C = `C${suffix}`;
  const tm = M < 4 && A.vec !== 'out' ? M : Math.min(asked.tm, roundUp4(M));
  const tile: Tile = { ...asked, tm, tn: Math.min(asked.tn, roundUp4(N)) };
  const sources = typeof spec.source === 'object' ? spec.source : { A: spec.source ?? 'texture', B: spec.source ?? 'texture' };
  // a size or stride: a literal, or a local copy of the uniform's field made at the body's top
  const sizes = spec.sizes ?? new Sizes(false);
  const locals = new Map<string, string>();
  const shifts = new Map<string, string>();
  const z = (key: string, x: number): string => {
    const r = sizes.ref(`${key}${suffix}`, x, 'u32');
    if (!sizes.uniform) return r;
    const local = `z${r.slice(sizes.name.length + 2)}`;
    locals.set(local, r);
    return local;
  };
  const inputs = spec.epilogue?.inputs ?? [];
  const cVec = lc.nStride === 1 && [lc.mStride, lc.batchStride, lc.offset, N, spec.cRow?.stride ?? 0].every((x) => x % 4 === 0);

  const bindings: ContractionBinding[] = [];
  const decl: string[] = [];
  let next = firstBinding;
  for (const o of sharedA !== undefined ? [B] : [A, B]) {
    const i = next++;
    if (sources[o.name] === 'texture') {
      const t = textureBinding(o, i, batch, K);
      bindings.push(t);
      decl.push(...textureDecl(t, sizes.uniform));
      if (sizes.uniform) shifts.set(o.name, z(`${o.name}shift`, textureShift(t)));
    } else {
      bindings.push({ kind: 'buffer', binding: i, name: o.id, access: 'read' });
      decl.push(`@group(0) @binding(${i}) var<storage, read> ${o.id}: array<${o.vec === 'none' ? 'f32' : 'vec4f'}>;`);
    }
  }
  const ranges = spec.cRanges ?? { count: 1, elements: 0 };
  if (ranges.count > 1 && (spec.cRow || ranges.elements % 64 !== 0)) throw new Error('contraction: C in ranges needs whole 64-element ranges and no cRow');
  const cName = (r: number) => (r === 0 ? C : `${C}_r${r}`);
  for (let r = 0; r < ranges.count; r++) {
    const at = next++;
    bindings.push({ kind: 'buffer', binding: at, name: cName(r), access: 'read_write', ...(ranges.count > 1 ? { range: { index: r, elements: ranges.elements } } : {}) });
    decl.push(`@group(0) @binding(${at}) var<storage, read_write> ${cName(r)}: array<${cVec ? 'vec4f' : 'f32'}>;`);
  }
  inputs.forEach((name) => {
    const at = next++;
    bindings.push({ kind: 'buffer', binding: at, name, access: 'read' });
    decl.push(`@group(0) @binding(${at}) var<storage, read> ${name}: array<f32>;`);
  });

  /** A load of the element (or group of four) at element index `e`. */
  const load = (o: Operand, e: string): string => {
    const idx = o.vec === 'none' ? e : `(${e}) >> 2u`;
    if (sources[o.name] === 'buffer') return `${o.id}[${idx}]`;
    const t = `${o.name}_t${tmp++}`;
    pre.push(`let ${t} = ${idx};`);
    const texel = texelLoad(o.id, t, shifts.get(o.name));
    return o.vec === 'none' ? `${texel}.x` : texel;
  };
  let tmp = 0;
  let pre: string[] = [];

  const { tm: TM, tn: TN } = tile;
  const JV = TN / 4;
  const body: string[] = [];
  // Per-invocation bases: the first element of each row (A) / column (B) it reads, clamped.
  const bases = (o: Operand, T: number, first: string): string[] => {
    const lines: string[] = [];
    const base = `${sources[o.name] === 'texture' ? '0u' : z(`${o.name}off`, o.offset)} + bz * ${z(`${o.name}sb`, o.sBatch)}`;
    if (o.vec === 'out') {
      // Groups of four along out: clamp the group start, which stays a multiple of 4.
      const lastGroup = Math.floor((o.extentOut - 1) / 4) * 4;
      for (let g = 0; g < T / 4; g++) lines.push(`let ${o.name}r${g} = ${base} + min(${first} + ${u(4 * g)}, ${z(`${o.name}lastg`, lastGroup)}) * ${z(`${o.name}so`, o.sOut)};`);
    } else {
      for (let r = 0; r < T; r++) lines.push(`let ${o.name}r${r} = ${base} + min(${first} + ${u(r)}, ${z(`${o.name}last`, o.extentOut - 1)}) * ${z(`${o.name}so`, o.sOut)};`);
    }
    return lines;
  };
  body.push(...bases(A, TM, 'm0'), ...bases(B, TN, 'n0'));
  for (let i = 0; i < TM; i++) for (let j = 0; j < JV; j++) body.push(`var c${i}_${j} = vec4f(0.0);`);

  /** An operand's offset of element k0 + kk along k (for loads one k at a time). */
  const alongK = (o: Operand, kk: number): string => {
    const sK = z(`${o.name}sk`, o.sK);
    if (!sizes.uniform) return `(k0 + ${u(kk)}) * ${sK}`;
    return kk === 0 ? `${o.name}k` : `${o.name}k + ${u(kk)} * ${sK}`;
  };

  /** Statements for one chunk of k (k0 .. k0 + count - 1) and the value accessors they define. */
  const chunk = (count: number): string[] => {
    pre = [];
    const lets: string[] = [];
    // value(o, r, kk): element (row r of the block, k0 + kk) as an f32 expression.
    const value = new Map<string, string>();
    for (const [o, T] of [[A, TM], [B, TN]] as const) {
      if (o.vec === 'k') {
        for (let r = 0; r < T; r++) {
          lets.push(`let ${o.name}v${r} = ${load(o, `${o.name}r${r} + k0`)};`);
          for (let kk = 0; kk < count; kk++) value.set(`${o.name}${r},${kk}`, `${o.name}v${r}[${kk}]`);
        }
      } else if (o.vec === 'out') {
        for (let kk = 0; kk < count; kk++) {
          for (let g = 0; g < T / 4; g++) {
            lets.push(`let ${o.name}v${kk}_${g} = ${load(o, `${o.name}r${g} + ${alongK(o, kk)}`)};`);
            for (let c = 0; c < 4; c++) value.set(`${o.name}${4 * g + c},${kk}`, `${o.name}v${kk}_${g}[${c}]`);
          }
        }
      } else {
        for (let kk = 0; kk < count; kk++) {
          for (let r = 0; r < T; r++) {
            lets.push(`let ${o.name}v${kk}_${r} = ${load(o, `${o.name}r${r} + ${alongK(o, kk)}`)};`);
            value.set(`${o.name}${r},${kk}`, `${o.name}v${kk}_${r}`);
          }
        }
      }
    }
    const stmts = [...pre, ...lets];
    const at = (key: string) => value.get(key) ?? '0.0';
    for (let kk = 0; kk < count; kk++) {
      const bRow: string[] = [];
      for (let j = 0; j < JV; j++) {
        // B read as groups of four along n is already the vec4 the accumulator wants.
        const bVec = B.vec === 'out' ? `Bv${kk}_${j}` : `vec4f(${[0, 1, 2, 3].map((c) => at(`B${4 * j + c},${kk}`)).join(', ')})`;
        if (B.vec === 'out') bRow.push(bVec);
        else {
          stmts.push(`let b${kk}_${j} = ${bVec};`);
          bRow.push(`b${kk}_${j}`);
        }
      }
      for (let i = 0; i < TM; i++) {
        for (let j = 0; j < JV; j++) stmts.push(`c${i}_${j} = fma(vec4f(${at(`A${i},${kk}`)}), ${bRow[j]}, c${i}_${j});`);
      }
    }
    return stmts;
  };

  // Four k per step where an operand is read four-along-k; otherwise one (same loads, less code).
  const step = A.vec === 'k' || B.vec === 'k' ? 4 : 1;
  // an operand read one k at a time: with its k stride from the uniform, its offset along k is a
  // running sum (a multiply by a non-constant per load and step cost ~1.8x in a weight
  // gradient's loop on llvmpipe); with literal strides LLVM does that itself
  const running = sizes.uniform ? [A, B].filter((o) => o.vec !== 'k') : [];
  for (const o of running) body.push(`var ${o.name}k = 0u;`);
  const advance = running.map((o) => `${o.name}k += ${step === 1 ? z(`${o.name}sk`, o.sK) : `${u(step)} * ${z(`${o.name}sk`, o.sK)}`};`);
  const kFull = K - (K % step);
  if (kFull > 0) {
    body.push(`for (var k0 = 0u; k0 < ${z('kfull', kFull)}; k0 += ${u(step)}) {`, ...[...chunk(step), ...advance].map((s) => '  ' + s), '}');
  }
  if (K % step !== 0) body.push('{', `  let k0 = ${z('kfull', kFull)};`, ...chunk(K % step).map((s) => '  ' + s), '}');

  // Stores: the accumulators go to a local array once, then one loop stores them, so the epilogue
  // and the store guards are emitted once instead of TM x TN times (that kept pipeline creation to
  // a fraction of a second on llvmpipe). The hot loop above keeps the accumulators in registers.
  let cBase = `${z('Coff', lc.offset)} + bz * ${z('Csb', lc.batchStride)}`;
  if (spec.cRow) {
    const { index, stride, size } = spec.cRow;
    body.push(`let row_at = ${index};`, `if (!(${validRow('row_at', z('Crows', size))})) { return; }`);
    cBase += ` + u32(row_at) * ${z('Crow', stride)}`;
  }
  body.push(`var acc: array<vec4f, ${TM * JV}>;`);
  for (let i = 0; i < TM; i++) for (let j = 0; j < JV; j++) body.push(`acc[${i * JV + j}] = c${i}_${j};`);
  const finish = (v: string, ni: string, old: string): string => {
    let out = spec.epilogue ? `epilogue${suffix}(${v}, bz, m, ${ni})` : v;
    if (spec.accumulate) out = `${old} + ${out}`;
    return out;
  };
  body.push(`for (var t = 0u; t < ${u(TM * JV)}; t++) {`);
  body.push(`  let m = m0 + t / ${u(JV)};`);
  body.push(`  let n = n0 + (t % ${u(JV)}) * 4u;`);
  body.push(`  let v = acc[t];`);
  body.push(`  if (m >= ${z('M', M)}) { break; }`);
  // C[i] as a value, and the statement storing x there: the element, or in ranges the range's
  // element (functions c_get / c_set choose the range)
  const unit = cVec ? 'vec4f' : 'f32';
  const perRange = cVec ? ranges.elements / 4 : ranges.elements;
  const get = (i: string) => (ranges.count > 1 ? `c_get${suffix}(${i})` : `${C}[${i}]`);
  const set = (i: string, x: string) => (ranges.count > 1 ? `c_set${suffix}(${i}, ${x});` : `${C}[${i}] = ${x};`);
  const rangeFns = ranges.count > 1 ? rangeAccessors({ get: `c_get${suffix}`, set: `c_set${suffix}`, part: cName, count: ranges.count, per: perRange, unit, index: 'u32' }) : [];
  if (cVec) {
    const i = `(${cBase} + m * ${z('Csm', lc.mStride)} + n) >> 2u`;
    const value = spec.epilogue
      ? `vec4f(${[0, 1, 2, 3].map((c) => finish(`v[${c}]`, `n + ${u(c)}`, `${get(i)}[${c}]`)).join(', ')})`
      : spec.accumulate ? `${get(i)} + v` : 'v';
    body.push(`  if (n < ${z('N', N)}) { ${set(i, value)} }`);
  } else {
    for (let c = 0; c < 4; c++) {
      const nc = `n + ${u(c)}`;
      const i = `${cBase} + m * ${z('Csm', lc.mStride)} + (${nc}) * ${z('Csn', lc.nStride)}`;
      body.push(`  if (${nc} < ${z('N', N)}) { ${set(i, finish(`v[${c}]`, nc, get(i)))} }`);
    }
  }
  body.push('}');

  const functions = [
    ...(spec.epilogue ? [spec.epilogue.functions ?? '', `fn epilogue${suffix}(v: f32, b: u32, m: u32, n: u32) -> f32 { return ${spec.epilogue.expr}; }`] : []),
    ...rangeFns,
  ];
  return {
    decl,
    functions,
    shared: spec.epilogue?.shared ?? [],
    body: [...[...locals].map(([local, field]) => `let ${local} = ${field};`), `let n0 = gid.x * ${u(TN)};`, `let m0 = gid.y * ${u(TM)};`, 'let bz = gid.z;', ...body],
    bindings,
    workgroups: [Math.ceil(N / (TN * tile.wx)), Math.ceil(M / (TM * tile.wy)), batch],
    tile,
    comment: `contraction b=${batch} m=${M} n=${N} k=${K} A:${A.vec} B:${B.vec} tile ${TM}x${TN} wg ${tile.wx}x${tile.wy} A:${sources.A} B:${sources.B}${ranges.count > 1 ? ` C in ${ranges.count} ranges` : ''}`,
  };
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
    `fn main(@builtin(global_invocation_id) gid: vec3u) {`,
    ...p.body.map((s) => '  ' + s),
    '}',
    '',
  ].join('\n');
  return { code, workgroups: p.workgroups, bindings: uniform.bindings, tile: p.tile, ...(uniform.sizes ? { sizes: uniform.sizes } : {}) };
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
  return { code, workgroups: [x, first.workgroups[1], first.workgroups[2]], bindings: uniform.bindings, tile: first.tile, ...(uniform.sizes ? { sizes: uniform.sizes } : {}) };
}
