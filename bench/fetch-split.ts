// Where the default contraction kernel's time goes on this adapter: the kernel as generated, and
// the same kernel with A's or B's texel fetches replaced by values computed in registers (the
// other operand, the loop and the FMAs unchanged; one fetch of the dropped texture stays, outside
// the loop, so that the binding layout does not change). Results are wrong by design; only the
// time is read. Variants are timed in interleaved rounds, CPU time / cores (see matmul.ts).
// One more variant asks what half the fetches would give: each 32-bit word holds two bf16 values
// (A's two along k, B's two k-rows of one column), so a texel holds 8 values, unpacked by a shift
// or a mask; the loop steps k by 8 with the same 8 + 8 fetches (the operands are filled with words
// whose halves are both sane bf16 values, so every variant multiplies ordinary numbers).
//
//   npm run build && node dist/bench/fetch-split.js [M,N,K ...] [--rounds 10]
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { contractionKernel, type ContractionKernel } from '../src/codegen/wgsl/contraction.js';
import { openDevice } from '../src/host/node/device.js';
import { prepareContraction, type PreparedContraction } from './matmul.js';

/** A variant: the loads it replaces (the loop's fetches of one operand) and their replacement. */
type Variant = { loads: RegExp; replace: (code: string, k: number, n: number) => string };

/** Keeps one fetch of `t` before the loop, so that the pipeline's layout still binds it. */
const keepBinding = (code: string, t: 'A' | 'B'): string => code.replace('var c0_0 = vec4f(0.0);', `var c0_0 = textureLoad(${t}, vec2u(0u, 0u)) * 1e-30;`);

const A_LOADS = /let Av(\d+) = textureLoad\(A,[^;]*;/g;
const B_LOADS = /let Bv(\d+)_(\d+) = textureLoad\(B,[^;]*;/g;
/** The loop over k, to its closing brace (the only one indented by two). */
const K_LOOP = /for \(var k0 = 0u;[\s\S]*?\n {2}\}\n/;

export const VARIANTS: Record<string, Variant | null> = {
  'as generated': null,
  'no A fetches': { loads: A_LOADS, replace: (c) => keepBinding(c, 'A').replace(A_LOADS, (_, i: string) => `let Av${i} = vec4f(f32(k0 + ${i}u));`) },
  'no B fetches': { loads: B_LOADS, replace: (c) => keepBinding(c, 'B').replace(B_LOADS, (_, i: string, j: string) => `let Bv${i}_${j} = vec4f(f32(k0) * ${i}.${j});`) },
  'bf16 pairs': { loads: K_LOOP, replace: (c, k, n) => c.replace(K_LOOP, bf16Loop(c, k, n)) },
};

/** The 8x8 block's loop over k for operands of bf16 pairs (A row-major along k, B along n):
 *  the same 16 fetches an iteration, 8 values of k instead of 4. */
function bf16Loop(code: string, k: number, n: number): string {
  // (other layouts, or a tail of k, would be timed with the wrong addresses)
  if (!/ A:k B:out /.test(code) || k % 8 !== 0) throw new Error(`fetch-split: 'bf16 pairs' needs A along k, B along n and k a multiple of 8 (k = ${k})`);
  const rows = [0, 1, 2, 3, 4, 5, 6, 7];
  const xy = (t: string, s: string) => `vec2u(${t} & ((1u << ${s}_SHIFT) - 1u), ${t} >> ${s}_SHIFT)`;
  const body = [
    ...rows.map((i) => `let Au${i} = bitcast<vec4u>(textureLoad(A, ${xy(`((Ar${i} + k0) >> 3u)`, 'A')}));`),
    ...[0, 1, 2, 3].flatMap((p) =>
      [0, 1].flatMap((j) => [
        `let Bu${p}_${j} = bitcast<vec4u>(textureLoad(B, ${xy(`((Br${j} + (k0 / 2u + ${p}u) * ${n}u) >> 2u)`, 'B')}));`,
        `let Blo${p}_${j} = bitcast<vec4f>(Bu${p}_${j} << vec4u(16u));`,
        `let Bhi${p}_${j} = bitcast<vec4f>(Bu${p}_${j} & vec4u(0xffff0000u));`,
      ]),
    ),
    ...rows.flatMap((i) =>
      [0, 1, 2, 3].flatMap((p) => [
        `let a${i}_${p}l = vec4f(bitcast<f32>(Au${i}[${p}] << 16u));`,
        `let a${i}_${p}h = vec4f(bitcast<f32>(Au${i}[${p}] & 0xffff0000u));`,
        ...[0, 1].flatMap((j) => [`c${i}_${j} = fma(a${i}_${p}l, Blo${p}_${j}, c${i}_${j});`, `c${i}_${j} = fma(a${i}_${p}h, Bhi${p}_${j}, c${i}_${j});`]),
      ]),
    ),
  ];
  return `for (var k0 = 0u; k0 < ${k}u; k0 += 8u) {\n${body.map((l) => `    ${l}`).join('\n')}\n  }\n`;
}

/** Random words whose high and low halves are the same bf16 value in (-1, 1): as f32, about that
 *  value; as a bf16 pair, it twice. */
function rnd(device: GPUDevice, count: number): GPUBuffer {
  const f = new Float32Array(1);
  const bits = new Uint32Array(f.buffer);
  const data = Uint32Array.from({ length: count }, () => {
    f[0] = Math.random() * 2 - 1;
    const h = bits[0]! >>> 16;
    return ((h << 16) | h) >>> 0;
  });
  const b = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(b, 0, data);
  return b;
}

async function run(device: GPUDevice, p: PreparedContraction, buffers: Record<string, GPUBuffer>, repeat: number): Promise<number> {
  const enc = device.createCommandEncoder();
  p.encode(enc, buffers, repeat);
  const c0 = process.cpuUsage();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / availableParallelism();
}

/** GFLOP/s of CPU time per variant, one figure a round. */
export async function fetchSplit(device: GPUDevice, m: number, n: number, k: number, rounds: number): Promise<Record<string, number[]>> {
  const base: ContractionKernel = contractionKernel({ batch: 1, m, n, k });
  const prepared = Object.entries(VARIANTS).map(([name, v]) => {
    // a template that names its loads otherwise would time the kernel as generated under another name
    if (v && base.code.match(v.loads) === null) throw new Error(`fetch-split: '${name}' found no loads to replace in the ${m}x${n}x${k} kernel`);
    return [name, prepareContraction(device, { ...base, code: v ? v.replace(base.code, k, n) : base.code })] as const;
  });
  const buffers = { A: rnd(device, m * k), B: rnd(device, k * n), C: rnd(device, m * n) };
  const repeat = Math.max(1, Math.round((64 * 2 ** 20) / (m * n * k)));
  const out: Record<string, number[]> = {};
  for (const [, p] of prepared) await run(device, p, buffers, 1); // the driver's compile
  for (let r = 0; r < rounds; r++) {
    for (const [name, p] of prepared) (out[name] ??= []).push((2 * m * n * k * repeat) / ((await run(device, p, buffers, repeat)) * 1e6));
  }
  for (const b of Object.values(buffers)) b.destroy();
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf('--rounds');
  const rounds = at >= 0 ? Number(args[at + 1]) : 10;
  const shapes = args.filter((a) => /^\d+,\d+,\d+$/.test(a));
  const dev = await openDevice({ workload: 'throughput' });
  console.log(`adapter: ${dev.info.adapterName} (${dev.info.backend}); GFLOP/s of CPU time, median of ${rounds} interleaved rounds (range)`);
  for (const shape of shapes.length ? shapes : ['512,512,512', '512,128,128']) {
    const [m, n, k] = shape.split(',').map(Number) as [number, number, number];
    const r = await fetchSplit(dev.device, m, n, k, rounds);
    const base = median(r['as generated']!);
    console.log(`\nm=${m} n=${n} k=${k}`);
    for (const [name, xs] of Object.entries(r)) {
      const ratio = median(xs) / base;
      const share = name === 'as generated' ? '' : name.startsWith('no ') ? `  (these fetches: ${Math.round((1 - 1 / ratio) * 100)} % of the kernel's time)` : `  (${ratio.toFixed(2)}x)`;
      console.log(`  ${name.padEnd(13)} ${median(xs).toFixed(1).padStart(6)} (${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)})${share}`);
    }
  }
  dev.device.destroy();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main().catch((e: Error) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  });
}
