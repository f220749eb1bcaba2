// The parts of the contraction template that both variants share (contraction.ts: registers and
// textures, for llvmpipe; contraction-tiled.ts: workgroup tiles, for GPUs): operand layouts,
// sizes read from the uniform, the bindings of A, B, C and the epilogue's inputs, and the stores
// (epilogue, accumulation, a KV cache's row, C in ranges).

import { validRow } from './common.js';
import { Sizes } from './sizes.js';
import { rangeAccessors } from './ranges.js';
import { linearTexture, textureDecl, textureShift, type TextureBinding } from './texture.js';
import type { ALayout, BLayout, CLayout, ContractionBinding, ContractionSpec, Source } from './contraction.js';

/** How an operand is read: four elements per load along k, along its output dim, or one. */
export type VecAxis = 'k' | 'out' | 'none';

/** A or B seen the same way: `out` is m for A and n for B. */
export interface Operand {
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

export const u = (x: number) => `${x}u`;

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

function operand(name: 'A' | 'B', suffix: string, offset: number, sBatch: number, sOut: number, sK: number, extentOut: number, scalar: boolean): Operand {
  return { name, id: name + suffix, offset, sBatch, sOut, sK, extentOut, vec: scalar ? 'none' : vecAxis(sOut, sK, sBatch, offset) };
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

/** One contraction's template state, whichever variant writes its loop. */
export interface PartSetup {
  spec: ContractionSpec;
  suffix: string;
  batch: number;
  M: number;
  N: number;
  K: number;
  A: Operand;
  B: Operand;
  C: CLayout;
  sources: Record<'A' | 'B', Source>;
  sizes: Sizes;
  /** A size or stride: a literal, or a local copy of the uniform's field (`locals`). */
  z: (key: string, x: number) => string;
  /** The locals `z` asked for, made at the body's top: local name -> the uniform's field. */
  locals: Map<string, string>;
  /** Texture row shifts from the uniform, by operand. */
  shifts: Map<string, string>;
  /** C is stored as vec4s (contiguous along n, every offset a multiple of 4). */
  cVec: boolean;
  ranges: { count: number; elements: number };
  bindings: ContractionBinding[];
  decl: string[];
}

/** `scalar`: A and B are read one f32 at a time from storage buffers (the tiled variant). */
export function setupPart(spec: ContractionSpec, suffix: string, firstBinding: number, sharedA: string | undefined, scalar: boolean): PartSetup {
  const { batch, m: M, n: N, k: K } = spec;
  if (![batch, M, N, K].every((x) => Number.isInteger(x) && x >= 1)) {
    throw new Error(`contraction sizes must be positive integers: batch=${batch} m=${M} n=${N} k=${K}`);
  }
  const { a: la, b: lb, c: lc } = defaultLayouts(spec);
  const A = operand('A', suffix, la.offset, la.batchStride, la.mStride, la.kStride, M, scalar);
  if (sharedA !== undefined) A.id = sharedA;
  const B = operand('B', suffix, lb.offset, lb.batchStride, lb.nStride, lb.kStride, N, scalar);
  const asked = typeof spec.source === 'object' ? spec.source : { A: spec.source ?? 'texture', B: spec.source ?? 'texture' };
  const sources: Record<'A' | 'B', Source> = scalar ? { A: 'buffer', B: 'buffer' } : asked;
  const sizes = spec.sizes ?? new Sizes(false);
  const locals = new Map<string, string>();
  const z = (key: string, x: number): string => {
    const r = sizes.ref(`${key}${suffix}`, x, 'u32');
    if (!sizes.uniform) return r;
    const local = `z${r.slice(sizes.name.length + 2)}`;
    locals.set(local, r);
    return local;
  };
  const cVec = lc.nStride === 1 && [lc.mStride, lc.batchStride, lc.offset, N, spec.cRow?.stride ?? 0].every((x) => x % 4 === 0);
  const ranges = spec.cRanges ?? { count: 1, elements: 0 };
  if (ranges.count > 1 && (spec.cRow || ranges.elements % 64 !== 0)) throw new Error('contraction: C in ranges needs whole 64-element ranges and no cRow');
  const s: PartSetup = { spec, suffix, batch, M, N, K, A, B, C: lc, sources, sizes, z, locals, shifts: new Map(), cVec, ranges, bindings: [], decl: [] };
  declareBindings(s, firstBinding, sharedA !== undefined);
  return s;
}

const cName = (s: PartSetup, r: number) => (r === 0 ? `C${s.suffix}` : `C${s.suffix}_r${r}`);

/** A and B (textures or buffers), C (in ranges where asked), then the epilogue's inputs. */
function declareBindings(s: PartSetup, first: number, sharedA: boolean): void {
  let next = first;
  for (const o of sharedA ? [s.B] : [s.A, s.B]) {
    const i = next++;
    if (s.sources[o.name] === 'texture') {
      const t = textureBinding(o, i, s.batch, s.K);
      s.bindings.push(t);
      s.decl.push(...textureDecl(t, s.sizes.uniform));
      if (s.sizes.uniform) s.shifts.set(o.name, s.z(`${o.name}shift`, textureShift(t)));
    } else {
      s.bindings.push({ kind: 'buffer', binding: i, name: o.id, access: 'read' });
      s.decl.push(`@group(0) @binding(${i}) var<storage, read> ${o.id}: array<${o.vec === 'none' ? 'f32' : 'vec4f'}>;`);
    }
  }
  for (let r = 0; r < s.ranges.count; r++) {
    const at = next++;
    s.bindings.push({ kind: 'buffer', binding: at, name: cName(s, r), access: 'read_write', ...(s.ranges.count > 1 ? { range: { index: r, elements: s.ranges.elements } } : {}) });
    s.decl.push(`@group(0) @binding(${at}) var<storage, read_write> ${cName(s, r)}: array<${s.cVec ? 'vec4f' : 'f32'}>;`);
  }
  for (const name of s.spec.epilogue?.inputs ?? []) {
    const at = next++;
    s.bindings.push({ kind: 'buffer', binding: at, name, access: 'read' });
    s.decl.push(`@group(0) @binding(${at}) var<storage, read> ${name}: array<f32>;`);
  }
}

/** The loop iterations of storeLines at most: a row's texel each, and the epilogue's 4 lanes. */
export function storeLoops(TM: number, JV: number): number {
  return TM * JV * 5;
}

/**
 * The stores of a TM x (4·JV) block of C whose first row and column are `m0` and `n0` (u32 lets
 * of the body), from accumulators c{i}_{j} (vec4 along n). They go to a local array once, then
 * one loop stores them, so the epilogue and the store guards are emitted once instead of TM x TN
 * times (that kept pipeline creation to a fraction of a second on llvmpipe).
 */
export function storeLines(s: PartSetup, TM: number, JV: number): string[] {
  const { spec, z, suffix, C: lc } = s;
  const body: string[] = [];
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
  // With an epilogue, the loop runs to the rows left rather than to a constant: Mesa unrolls a
  // constant loop, 16 copies of the epilogue's loads, and its LLVM took ~2x the time to compile
  // (docs/llvmpipe.md, Cold start). Without one, the unrolled stores compile faster.
  const M = z('M', s.M);
  const rows = spec.epilogue ? `min(${u(TM * JV)}, select(0u, (${M} - m0) * ${u(JV)}, ${M} > m0))` : u(TM * JV);
  body.push(`for (var t = 0u; t < ${rows}; t++) {`);
  body.push(`  let m = m0 + t / ${u(JV)};`);
  body.push(`  let n = n0 + (t % ${u(JV)}) * 4u;`);
  body.push(`  let v = acc[t];`);
  body.push(`  if (m >= ${M}) { break; }`);
  // C[i] as a value, and the statement storing x there: the element, or in ranges the range's
  // element (functions c_get / c_set choose the range)
  const C = cName(s, 0);
  const get = (i: string) => (s.ranges.count > 1 ? `c_get${suffix}(${i})` : `${C}[${i}]`);
  const set = (i: string, x: string) => (s.ranges.count > 1 ? `c_set${suffix}(${i}, ${x});` : `${C}[${i}] = ${x};`);
  if (s.cVec && spec.epilogue) {
    // the epilogue once, in a loop over the 4 lanes of the texel: 4 inlined copies of its loads
    // cost LLVM several times the compile time (docs/llvmpipe.md, Cold start)
    const i = `(${cBase} + m * ${z('Csm', lc.mStride)} + n) >> 2u`;
    body.push(`  if (n < ${z('N', s.N)}) {`);
    if (spec.accumulate) body.push(`    let old = ${get(i)};`);
    // (N is a multiple of 4 here, so the bound is 4, but not one Mesa unrolls)
    body.push(`    var o: vec4f;`, `    for (var c = 0u; c < min(4u, ${z('N', s.N)} - n); c++) { o[c] = ${finish('v[c]', 'n + c', 'old[c]')}; }`, `    ${set(i, 'o')}`, '  }');
  } else if (s.cVec) {
    const i = `(${cBase} + m * ${z('Csm', lc.mStride)} + n) >> 2u`;
    body.push(`  if (n < ${z('N', s.N)}) { ${set(i, spec.accumulate ? `${get(i)} + v` : 'v')} }`);
  } else {
    for (let c = 0; c < 4; c++) {
      const nc = `n + ${u(c)}`;
      const i = `${cBase} + m * ${z('Csm', lc.mStride)} + (${nc}) * ${z('Csn', lc.nStride)}`;
      body.push(`  if (${nc} < ${z('N', s.N)}) { ${set(i, finish(`v[${c}]`, nc, get(i)))} }`);
    }
  }
  body.push('}');
  return body;
}

/** The epilogue's function and, for C in ranges, the range accessors. */
export function partFunctions(s: PartSetup): string[] {
  const { spec, suffix } = s;
  const unit = s.cVec ? 'vec4f' : 'f32';
  const per = s.cVec ? s.ranges.elements / 4 : s.ranges.elements;
  return [
    ...(spec.epilogue ? [spec.epilogue.functions ?? '', `fn epilogue${suffix}(v: f32, b: u32, m: u32, n: u32) -> f32 { return ${spec.epilogue.expr}; }`] : []),
    ...(s.ranges.count > 1 ? rangeAccessors({ get: `c_get${suffix}`, set: `c_set${suffix}`, part: (r) => cName(s, r), count: s.ranges.count, per, unit, index: 'u32' }) : []),
  ];
}

/** The body's first lines: the local copies of the uniform's fields `z` asked for. */
export function localLines(s: PartSetup): string[] {
  return [...s.locals].map(([local, field]) => `let ${local} = ${field};`);
}
