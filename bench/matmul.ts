// Matmul (contraction kernel) and elementwise throughput on the current adapter, timed from the CPU
// (llvmpipe has no timestamp queries): N dispatches in one encoder, then onSubmittedWorkDone.
//
//   npx tsc -p tsconfig.json && node dist/bench/matmul.js [--quick] [--size 512] [--reps 3]
//
// Besides wall-clock GFLOP/s it prints a CPU-time figure (flops / (process CPU time / cores)):
// llvmpipe's threads live in this process, so that figure is what the kernel would reach on an
// otherwise idle machine even when other work shares the cores.
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { contractionKernel, type ContractionKernel, type ContractionSpec, type Tile } from '../src/codegen/wgsl/contraction.js';
import { openDevice } from '../src/host/node/device.js';

export interface PreparedContraction {
  kernel: ContractionKernel;
  pipeline: GPUComputePipeline;
  /** Records the texture fills (if any) and the dispatch; `buffers` by binding name (A, B, C, inputs). */
  encode(encoder: GPUCommandEncoder, buffers: Record<string, GPUBuffer>, repeat?: number): void;
}

// The runtime's executor does this for real graphs; kept here so that the bench and the tests run
// the kernel exactly the way it is meant to be bound.
export function prepareContraction(device: GPUDevice, kernel: ContractionKernel): PreparedContraction {
  const module = device.createShaderModule({ code: kernel.code });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const textures = new Map<number, GPUTexture>();
  for (const b of kernel.bindings) {
    if (b.kind !== 'texture') continue;
    textures.set(
      b.binding,
      device.createTexture({
        size: [b.width, b.height],
        format: b.format,
        usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST | GPUTextureUsage.STORAGE_BINDING,
      }),
    );
  }
  let cached: { key: Record<string, GPUBuffer>; group: GPUBindGroup } | undefined;
  return {
    kernel,
    pipeline,
    encode(encoder, buffers, repeat = 1) {
      const buffer = (name: string): GPUBuffer => {
        const found = buffers[name];
        if (found === undefined) throw new Error(`contraction: no buffer for binding ${name}`);
        return found;
      };
      for (const b of kernel.bindings) {
        if (b.kind !== 'texture') continue;
        const texture = textures.get(b.binding)!;
        for (const c of b.copies) {
          encoder.copyBufferToTexture(
            { buffer: buffer(b.name), offset: c.bufferOffset, bytesPerRow: c.bytesPerRow },
            { texture, origin: [0, c.originY] },
            [c.width, c.height],
          );
        }
      }
      if (cached?.key !== buffers) {
        const entries: GPUBindGroupEntry[] = kernel.bindings.map((b) =>
          b.kind === 'texture'
            ? { binding: b.binding, resource: textures.get(b.binding)!.createView() }
            : { binding: b.binding, resource: { buffer: buffer(b.name) } },
        );
        cached = { key: buffers, group: device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }) };
      }
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, cached.group);
      for (let i = 0; i < repeat; i++) pass.dispatchWorkgroups(...kernel.workgroups);
      pass.end();
    },
  };
}

interface Timing {
  /** Best wall-clock milliseconds per repetition. */
  ms: number;
  /** Best process CPU milliseconds per repetition. */
  cpuMs: number;
}

async function timeIt(device: GPUDevice, record: (e: GPUCommandEncoder) => void, reps: number): Promise<Timing> {
  let ms = Infinity;
  let cpuMs = Infinity;
  for (let r = 0; r < reps; r++) {
    const encoder = device.createCommandEncoder();
    record(encoder);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    const t = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    ms = Math.min(ms, t);
    cpuMs = Math.min(cpuMs, (cpu.user + cpu.system) / 1000);
  }
  return { ms, cpuMs };
}

function randomBuffer(device: GPUDevice, count: number): GPUBuffer {
  const data = new Float32Array(Math.ceil(count / 4) * 4);
  for (let i = 0; i < count; i++) data[i] = Math.random() * 2 - 1;
  const buf = device.createBuffer({
    size: data.byteLength,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(buf, 0, data);
  return buf;
}

export interface MatmulResult {
  label: string;
  size: number;
  gflops: number;
  cpuGflops: number;
  pipelineMs: number;
}

export async function benchContraction(
  device: GPUDevice,
  label: string,
  size: number,
  spec: Partial<ContractionSpec>,
  reps: number,
): Promise<MatmulResult> {
  const kernel = contractionKernel({ batch: 1, m: size, n: size, k: size, ...spec });
  const t0 = performance.now();
  const prepared = prepareContraction(device, kernel);
  const a = randomBuffer(device, size * size);
  const b = randomBuffer(device, size * size);
  const c = randomBuffer(device, size * size);
  const buffers = { A: a, B: b, C: c };
  // The first dispatch compiles the shader in llvmpipe: count it as pipeline cost.
  await timeIt(device, (e) => prepared.encode(e, buffers), 1);
  const pipelineMs = performance.now() - t0;
  // Enough dispatches per submit that the ~50 us per-dispatch overhead does not dominate small sizes.
  const repeat = Math.max(1, Math.round((64 * 2 ** 20) / size ** 3));
  const t = await timeIt(device, (e) => prepared.encode(e, buffers, repeat), reps);
  for (const x of [a, b, c]) x.destroy();
  const flops = 2 * size ** 3 * repeat;
  const cores = availableParallelism();
  return { label, size, gflops: flops / t.ms / 1e6, cpuGflops: flops / (t.cpuMs / cores) / 1e6, pipelineMs };
}

export async function benchElementwise(device: GPUDevice, width: 1 | 4, reps: number): Promise<{ gbs: number; cpuGbs: number }> {
  const count = 4 * 2 ** 20;
  const type = width === 4 ? 'vec4f' : 'f32';
  const code = `
@group(0) @binding(0) var<storage, read> x: array<${type}>;
@group(0) @binding(1) var<storage, read> y: array<${type}>;
@group(0) @binding(2) var<storage, read_write> z: array<${type}>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = g.x + g.y * nw.x * 64u;
  if (i < ${count / width}u) { z[i] = x[i] + y[i]; }
}`;
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
  const bufs = [0, 1, 2].map(() => randomBuffer(device, count));
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: bufs.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const groups = count / width / 64;
  const gx = Math.min(groups, 32768);
  const record = (e: GPUCommandEncoder) => {
    const pass = e.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(gx, Math.ceil(groups / gx));
    pass.end();
  };
  await timeIt(device, record, 1);
  const t = await timeIt(device, record, reps);
  for (const b of bufs) b.destroy();
  const bytes = 3 * 4 * count;
  return { gbs: bytes / t.ms / 1e6, cpuGbs: bytes / (t.cpuMs / availableParallelism()) / 1e6 };
}

/** The variants compared in docs/llvmpipe.md. */
export const VARIANTS: { label: string; spec: Partial<ContractionSpec> }[] = [];
for (const source of ['texture', 'buffer'] as const) {
  const tiles: [number, number, number][] = [
    [4, 4, 8],
    [8, 8, 8],
    [8, 16, 8],
    [16, 8, 8],
    [16, 16, 8],
  ];
  for (const [tm, tn, wx] of tiles) {
    const tile: Partial<Tile> = { tm, tn, wx, wy: 1 };
    VARIANTS.push({ label: `${source} ${tm}x${tn} wg ${wx}x1`, spec: { source, tile } });
  }
}
VARIANTS.push({ label: 'texture 8x8 wg 8x1, A transposed', spec: { source: 'texture', transposeA: true } });
VARIANTS.push({ label: 'texture 8x8 wg 8x1, B transposed', spec: { source: 'texture', transposeB: true } });

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, def: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : def;
  };
  const quick = args.includes('--quick');
  const reps = opt('reps', 3);
  const only = args.includes('--size') ? [opt('size', 512)] : [512, 128];
  const filter = args.includes('--only') ? args[args.indexOf('--only') + 1] ?? '' : '';
  const d = await openDevice();
  try {
    console.log(`adapter: ${d.info.adapterName} (${d.info.backend}), ${availableParallelism()} cores`);
    console.log('variant'.padEnd(40) + 'size   GFLOP/s  (CPU-time based)  pipeline+1st ms');
    const variants = VARIANTS.filter((v) => v.label.includes(filter)).slice(0, quick ? 2 : undefined);
    for (const size of only) {
      for (const v of variants) {
        const r = await benchContraction(d.device, v.label, size, v.spec, reps);
        console.log(
          `${r.label.padEnd(40)}${String(size).padEnd(7)}${r.gflops.toFixed(2).padStart(7)}  ${r.cpuGflops.toFixed(2).padStart(16)}  ${r.pipelineMs.toFixed(0).padStart(15)}`,
        );
      }
    }
    for (const width of [1, 4] as const) {
      const r = await benchElementwise(d.device, width, reps);
      console.log(`elementwise add, 4M f32, ${width === 4 ? 'vec4  ' : 'scalar'}: ${r.gbs.toFixed(2)} GB/s (CPU-time based ${r.cpuGbs.toFixed(2)})`);
    }
  } finally {
    d.destroy();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
