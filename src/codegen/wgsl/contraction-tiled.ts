// The contraction template's GPU variant: workgroup tiles in shared memory.
//
// A workgroup of 16 x 16 invocations computes a 64 x 64 tile of C, each invocation a 4 x 4 block
// in registers (four vec4 accumulators along n: 16 floats, no spill). K is walked 16 at a time:
// the workgroup loads the 64 x 16 tile of A and the 16 x 64 tile of B cooperatively into
// `var<workgroup>` arrays (four elements per invocation and operand, consecutive invocations
// reading consecutive addresses along whichever of the operand's dimensions has stride 1, so the
// loads coalesce), waits at a barrier, and each invocation reads its 4 rows and 4 columns from
// there 16 times. Operands are storage buffers read one f32 at a time at any strides (views,
// broadcast batches): edges (M, N, K not multiples of the tile) load zeros, and only stores are
// guarded, by the stores every variant shares (contraction-setup.ts: epilogue, accumulation, a
// KV cache's row, C in ranges).
//
// Why these sizes: 64 x 64 with 4 x 4 per invocation is the classic shape whose two 4 KiB tiles
// fit any adapter's 16 KiB of workgroup memory and whose 256 invocations are WebGPU's default
// limit; it has not been measured on a GPU (none where it was written), only checked for
// correctness, on llvmpipe.

import { u, type Operand, type PartSetup } from './contraction-setup.js';
import type { Tile } from './contraction.js';

/** 16 x 16 invocations of 4 x 4 each: 64 x 64 of C per workgroup. */
export const TILED: Tile = { tm: 4, tn: 4, wx: 16, wy: 16 };
/** K per step: one tile of A and of B in workgroup memory. */
const TK = 16;
const TILE_M = TILED.tm * TILED.wy;
const TILE_N = TILED.tn * TILED.wx;
const THREADS = TILED.wx * TILED.wy;

/** The workgroup arrays, `[k][out]` so an invocation's 4 rows (or columns) are adjacent. */
export function tiledDecl(s: PartSetup): string[] {
  return [`var<workgroup> As${s.suffix}: array<f32, ${TK * TILE_M}>;`, `var<workgroup> Bs${s.suffix}: array<f32, ${TK * TILE_N}>;`];
}

/** Statements loading operand `o`'s tile at k0 into its workgroup array. */
function loadTile(s: PartSetup, o: Operand, first: string): string[] {
  const { z } = s;
  const extent = o.name === 'A' ? s.M : s.N;
  const width = o.name === 'A' ? TILE_M : TILE_N;
  const perThread = (TK * width) / THREADS;
  // consecutive invocations walk the operand's contiguous dimension
  const alongK = o.sK === 1;
  const [kk, oo] = alongK ? [`e % ${u(TK)}`, `e / ${u(TK)}`] : [`e / ${u(width)}`, `e % ${u(width)}`];
  const n = o.name;
  const inside = `${n}o < ${z(`${n}ext`, extent)} && ${n}k < ${z('K', s.K)}`;
  const at = `${n}base + min(${n}o, ${z(`${n}last`, extent - 1)}) * ${z(`${n}so`, o.sOut)} + min(${n}k, ${z('Klast', s.K - 1)}) * ${z(`${n}sk`, o.sK)}`;
  return [
    `for (var l = 0u; l < ${u(perThread)}; l++) {`,
    `  let e = tid + l * ${u(THREADS)};`,
    `  let ${n}o = ${first} + ${oo};`,
    `  let ${n}k = k0 + ${kk};`,
    `  ${n}s${s.suffix}[(${kk}) * ${u(width)} + ${oo}] = select(0.0, ${o.id}[${at}], ${inside});`,
    '}',
  ];
}

/** The loop over K in tiles; leaves the block in c{i}_0 and sets m0, n0 and bz for the stores. */
export function tiledBody(s: PartSetup): string[] {
  const { z, A, B, suffix } = s;
  const base = (o: Operand) => `let ${o.name}base = ${z(`${o.name}off`, o.offset)} + bz * ${z(`${o.name}sb`, o.sBatch)};`;
  const body = [
    'let bz = wid.z;',
    `let mt = wid.y * ${u(TILE_M)};`,
    `let nt = wid.x * ${u(TILE_N)};`,
    `let tid = lid.y * ${u(TILED.wx)} + lid.x;`,
    `let m0 = mt + lid.y * ${u(TILED.tm)};`,
    `let n0 = nt + lid.x * ${u(TILED.tn)};`,
    base(A),
    base(B),
  ];
  for (let i = 0; i < TILED.tm; i++) body.push(`var c${i}_0 = vec4f(0.0);`);
  const inner = [`let bv = vec4f(${[0, 1, 2, 3].map((c) => `Bs${suffix}[kk * ${u(TILE_N)} + lid.x * 4u + ${u(c)}]`).join(', ')});`];
  for (let i = 0; i < TILED.tm; i++) inner.push(`c${i}_0 = fma(vec4f(As${suffix}[kk * ${u(TILE_M)} + lid.y * 4u + ${u(i)}]), bv, c${i}_0);`);
  body.push(
    `for (var k0 = 0u; k0 < ${z('K', s.K)}; k0 += ${u(TK)}) {`,
    ...[...loadTile(s, A, 'mt'), ...loadTile(s, B, 'nt')].map((l) => '  ' + l),
    '  workgroupBarrier();',
    `  for (var kk = 0u; kk < ${u(TK)}; kk++) {`,
    ...inner.map((l) => '    ' + l),
    '  }',
    '  workgroupBarrier();',
    '}',
  );
  return body;
}

/** An invocation's loop iterations (KernelCode.loopIterations): per tile of K, the two tile
 *  loads and the sweep over the tile. */
export function tiledLoops(K: number): number {
  const loads = (width: number) => (TK * width) / THREADS;
  return Math.ceil(K / TK) * (1 + loads(TILE_M) + loads(TILE_N) + TK);
}

export function tiledWorkgroups(s: PartSetup): [number, number, number] {
  return [Math.ceil(s.N / TILE_N), Math.ceil(s.M / TILE_M), s.batch];
}
