// The contraction kernel against a plain JS matmul on random inputs, on the real adapter.
// Tolerance: |gpu - ref| <= 1e-5 * (1 + sum_k |a * b|) per element (fp32 summation error grows with
// the sum of magnitudes; the inputs are uniform in [-1, 1]).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rng } from './ir-helpers.js';
import { prepareContraction } from '../bench/matmul.js';
import { contractionGroup, contractionKernel, type ContractionSpec } from '../src/codegen/wgsl/contraction.js';
import { openDevice, type ArchDevice } from '../src/host/node/device.js';

let dev: ArchDevice;
beforeAll(async () => {
  dev = await openDevice();
});
afterAll(() => dev?.destroy());

/** A seeded generator of [-1, 1), so that a failure reproduces. */
function random(seed: number): () => number {
  const r = rng(seed);
  return () => r() * 2 - 1;
}

interface Strided {
  offset: number;
  batch: number;
  row: number;
  col: number;
}

interface Case {
  name: string;
  spec: ContractionSpec;
  /** Element strides of A (rows m, cols k), B (rows k, cols n), C (rows m, cols n). */
  a: Strided;
  b: Strided;
  c: Strided;
  inputs?: Record<string, Float32Array>;
  /** The epilogue in JS, to match spec.epilogue. */
  epilogue?: (v: number, b: number, m: number, n: number, inputs: Record<string, Float32Array>) => number;
}

function contiguous(rows: number, cols: number, transposed = false, broadcast = false): Strided {
  return {
    offset: 0,
    batch: broadcast ? 0 : rows * cols,
    row: transposed ? 1 : cols,
    col: transposed ? rows : 1,
  };
}

function makeCase(name: string, spec: ContractionSpec, extra: Partial<Case> = {}): Case {
  const { m, n, k } = spec;
  return {
    name,
    spec,
    a: contiguous(m, k, spec.transposeA, spec.a?.batchStride === 0),
    b: contiguous(k, n, spec.transposeB, spec.b?.batchStride === 0),
    c: contiguous(m, n),
    ...extra,
  };
}

function extent(s: Strided, batch: number, rows: number, cols: number): number {
  return s.offset + (batch - 1) * s.batch + (rows - 1) * s.row + (cols - 1) * s.col + 1;
}

function reference(t: Case, A: Float32Array, B: Float32Array, C0: Float32Array): { out: Float32Array; bound: Float32Array } {
  const { batch, m: M, n: N, k: K } = t.spec;
  const out = C0.slice();
  const bound = new Float32Array(out.length);
  for (let b = 0; b < batch; b++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let sum = 0;
        let mag = 0;
        for (let k = 0; k < K; k++) {
          const x = A[t.a.offset + b * t.a.batch + m * t.a.row + k * t.a.col]! * B[t.b.offset + b * t.b.batch + k * t.b.row + n * t.b.col]!;
          sum += x;
          mag += Math.abs(x);
        }
        const idx = t.c.offset + b * t.c.batch + m * t.c.row + n * t.c.col;
        const v = t.epilogue ? t.epilogue(sum, b, m, n, t.inputs ?? {}) : sum;
        out[idx] = t.spec.accumulate ? out[idx]! + v : v;
        bound[idx] = 1e-5 * (1 + mag + (t.spec.accumulate ? Math.abs(C0[idx]!) : 0));
      }
    }
  }
  return { out, bound };
}

function upload(device: GPUDevice, data: Float32Array, minBytes = 0): GPUBuffer {
  const size = Math.ceil(Math.max(data.byteLength, minBytes, 16) / 16) * 16;
  const buf = device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(buf, 0, data);
  return buf;
}

async function run(t: Case): Promise<{ got: Float32Array; want: Float32Array; bound: Float32Array }> {
  const { device } = dev;
  const { batch, m: M, n: N, k: K } = t.spec;
  const rnd = random(M * 1000003 + N * 1009 + K * 7 + batch);
  const fill = (len: number) => Float32Array.from({ length: len }, rnd);
  const A = fill(extent(t.a, batch, M, K));
  const B = fill(extent(t.b, batch, K, N));
  const C0 = t.spec.accumulate ? fill(extent(t.c, batch, M, N)) : new Float32Array(extent(t.c, batch, M, N));
  const kernel = contractionKernel(t.spec);
  const need = (name: string) => Math.max(0, ...kernel.bindings.map((b) => (b.kind === 'texture' && b.name === name ? b.bufferBytesNeeded : 0)));
  const buffers: Record<string, GPUBuffer> = { A: upload(device, A, need('A')), B: upload(device, B, need('B')), C: upload(device, C0) };
  for (const [name, data] of Object.entries(t.inputs ?? {})) buffers[name] = upload(device, data);
  device.pushErrorScope('validation');
  const prepared = prepareContraction(device, kernel);
  const encoder = device.createCommandEncoder();
  prepared.encode(encoder, buffers);
  const read = device.createBuffer({ size: buffers.C!.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  encoder.copyBufferToBuffer(buffers.C!, 0, read, 0, buffers.C!.size);
  device.queue.submit([encoder.finish()]);
  const error = await device.popErrorScope();
  if (error) throw new Error(`${error.message}\n${kernel.code}`);
  await read.mapAsync(GPUMapMode.READ);
  const got = new Float32Array(read.getMappedRange().slice(0)).subarray(0, C0.length);
  read.unmap();
  for (const b of [...Object.values(buffers), read]) b.destroy();
  const { out, bound } = reference(t, A, B, C0);
  return { got, want: out, bound };
}

function expectClose(r: { got: Float32Array; want: Float32Array; bound: Float32Array }): void {
  let worst = -Infinity;
  let at = -1;
  for (let i = 0; i < r.want.length; i++) {
    const excess = Math.abs(r.got[i]! - r.want[i]!) - r.bound[i]!;
    if (!(excess <= worst)) {
      worst = excess;
      at = i;
    }
  }
  expect(Number.isNaN(worst), 'NaN in result').toBe(false);
  expect(worst, `element ${at}: got ${r.got[at]}, want ${r.want[at]}`).toBeLessThanOrEqual(0);
}

const sizes: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 7],
  [17, 33, 65],
  [64, 64, 64],
  [20, 24, 36],
];

const cases: Case[] = [];
for (const source of ['texture', 'buffer'] as const) {
  // Storage-buffer reads (the real-GPU path) share all but the load code: fewer sizes.
  for (const [m, n, k] of source === 'texture' ? sizes : sizes.slice(1, 3)) {
    cases.push(makeCase(`${source} ${m}x${n}x${k}`, { batch: 1, m, n, k, source }));
    cases.push(makeCase(`${source} ${m}x${n}x${k} A transposed`, { batch: 1, m, n, k, source, transposeA: true }));
    cases.push(makeCase(`${source} ${m}x${n}x${k} B transposed`, { batch: 1, m, n, k, source, transposeB: true }));
  }
  cases.push(makeCase(`${source} 8x12x7 A transposed (K tail, A read along m)`, { batch: 1, m: 8, n: 12, k: 7, source, transposeA: true }));
  cases.push(
    makeCase(`${source} batch 3, B broadcast`, { batch: 3, m: 19, n: 24, k: 40, source, b: { batchStride: 0 } }),
  );
  cases.push(
    makeCase(`${source} batch 2, both transposed, odd sizes`, { batch: 2, m: 13, n: 9, k: 11, source, transposeA: true, transposeB: true }),
  );
  cases.push(makeCase(`${source} accumulate`, { batch: 2, m: 17, n: 20, k: 33, source, accumulate: true }));
}

// Matrix-vector products as decoding runs them: fewer than four rows (blocks of exactly M rows),
// the vector read in place from its buffer and the weights through a texture.
for (const [m, n, k] of [[1, 384, 128], [2, 20, 13], [3, 7, 33], [1, 65, 128]] as [number, number, number][]) {
  const source = { A: 'buffer', B: 'texture' } as const;
  cases.push(makeCase(`vector A from a buffer, B from a texture ${m}x${n}x${k}`, { batch: 1, m, n, k, source }));
  cases.push(makeCase(`vector A from a buffer, B from a texture ${m}x${n}x${k} B transposed`, { batch: 1, m, n, k, source, transposeB: true }));
  cases.push(makeCase(`vector A from a buffer, B from a texture ${m}x${n}x${k} A transposed`, { batch: 1, m, n, k, source, transposeA: true }));
}

// Bias + ReLU + residual, with indices: the fused-epilogue shape the compiler emits.
{
  const [batch, M, N, K] = [2, 18, 20, 24];
  const rnd = random(42);
  const bias = Float32Array.from({ length: N }, rnd);
  const residual = Float32Array.from({ length: batch * M * N }, rnd);
  for (const source of ['texture', 'buffer'] as const) {
    cases.push(
      makeCase(
        `${source} epilogue: relu(v + bias[n]) + residual`,
        {
          batch,
          m: M,
          n: N,
          k: K,
          source,
          epilogue: {
            expr: `relu(v + bias[n]) + residual[(b * ${M}u + m) * ${N}u + n]`,
            inputs: ['bias', 'residual'],
            functions: 'fn relu(x: f32) -> f32 { return max(x, 0.0); }',
          },
        },
        {
          inputs: { bias, residual },
          epilogue: (v, b, m, n, inp) => Math.max(v + inp.bias![n]!, 0) + inp.residual![(b * M + m) * N + n]!,
        },
      ),
    );
  }
}

// Strided views: A a slice at an offset with padded rows; C written with a row pitch.
cases.push({
  ...makeCase('texture strided A (offset 8, row pitch 12) and C (row pitch 16)', {
    batch: 1,
    m: 6,
    n: 10,
    k: 9,
    a: { offset: 8, mStride: 12, kStride: 1, batchStride: 72 },
    c: { offset: 4, mStride: 16, nStride: 1, batchStride: 96 },
  }),
  a: { offset: 8, batch: 72, row: 12, col: 1 },
  c: { offset: 4, batch: 96, row: 16, col: 1 },
});

// The gpu variant (workgroup tiles of 64 x 64, K in steps of 16): sizes that are not multiples of
// the tile, views, a broadcast batch, accumulation and an epilogue, as the fuser asks of it.
{
  const variant = 'gpu' as const;
  for (const [m, n, k] of [[3, 5, 7], [70, 66, 40], [64, 64, 16]] as [number, number, number][]) {
    cases.push(makeCase(`gpu ${m}x${n}x${k}`, { batch: 1, m, n, k, variant }));
    cases.push(makeCase(`gpu ${m}x${n}x${k} both transposed`, { batch: 1, m, n, k, variant, transposeA: true, transposeB: true }));
  }
  cases.push(makeCase('gpu batch 3, B broadcast', { batch: 3, m: 19, n: 24, k: 40, variant, b: { batchStride: 0 } }));
  cases.push(makeCase('gpu accumulate', { batch: 2, m: 17, n: 20, k: 33, variant, accumulate: true }));
  const [M, N] = [18, 20];
  const bias = Float32Array.from({ length: N }, random(43));
  cases.push(
    makeCase(
      'gpu epilogue: relu(v + bias[n]), C with an odd row pitch',
      { batch: 1, m: M, n: N, k: 24, variant, c: { mStride: 21, nStride: 1, batchStride: 21 * M }, epilogue: { expr: 'relu(v + bias[n])', inputs: ['bias'], functions: 'fn relu(x: f32) -> f32 { return max(x, 0.0); }' } },
      { c: { offset: 0, batch: 21 * M, row: 21, col: 1 }, inputs: { bias }, epilogue: (v, _b, _m, n, inp) => Math.max(v + inp.bias![n]!, 0) },
    ),
  );
  cases.push({
    ...makeCase('gpu strided A (offset 8, row pitch 12)', { batch: 1, m: 6, n: 10, k: 9, variant, a: { offset: 8, mStride: 12, kStride: 1, batchStride: 72 } }),
    a: { offset: 8, batch: 72, row: 12, col: 1 },
  });
}

describe('contractionKernel', () => {
  for (const t of cases) {
    it(t.name, async () => {
      expectClose(await run(t));
    });
  }

  it('specialises to the layout: vec4 reads where contiguous, scalar where not', () => {
    const head = (s: ContractionSpec) => contractionKernel(s).code.split('\n')[0];
    expect(head({ batch: 1, m: 8, n: 8, k: 8 })).toContain('A:k B:out');
    expect(head({ batch: 1, m: 8, n: 8, k: 8, transposeA: true, transposeB: true })).toContain('A:out B:k');
    expect(head({ batch: 1, m: 3, n: 5, k: 7 })).toContain('A:none B:none');
  });

  it('dispatches enough workgroups to cover C', () => {
    const k = contractionKernel({ batch: 5, m: 100, n: 300, k: 7, tile: { tm: 8, tn: 16, wx: 8, wy: 1 } });
    expect(k.workgroups).toEqual([Math.ceil(300 / 128), Math.ceil(100 / 8), 5]);
  });
});

// Horizontal fusion: three contractions reading one A in one dispatch, each with its own B, C and
// epilogue (a bias; a row of a larger C chosen at run time, as a KV cache's write).
describe('contractionGroup', () => {
  it('runs each part as its own contraction would', async () => {
    const { device } = dev;
    const [M, K] = [2, 13];
    const rnd = random(7);
    const fill = (n: number) => Float32Array.from({ length: n }, rnd);
    const A = fill(M * K);
    const parts = [
      { n: 7, B: fill(K * 7) },
      { n: 12, B: fill(K * 12), bias: fill(12) },
      { n: 5, B: fill(5 * K), transposeB: true, rows: 4, row: 2 },
    ];
    const specs: ContractionSpec[] = [
      { batch: 1, m: M, n: 7, k: K },
      { batch: 1, m: M, n: 12, k: K, epilogue: { expr: 'v + e_1_0[n]', inputs: ['e_1_0'] } },
      {
        batch: 1, m: M, n: 5, k: K, transposeB: true,
        epilogue: { expr: 'v', inputs: ['e_2_0'], functions: 'fn row_2() -> f32 { return e_2_0[0]; }' },
        cRow: { index: 'row_2()', stride: M * 5, size: 4 },
      },
    ];
    const kernel = contractionGroup(specs);
    expect(kernel.code.match(/fn part_\d/g)).toHaveLength(3);
    const buffers: Record<string, GPUBuffer> = {};
    const need = (name: string) => Math.max(0, ...kernel.bindings.map((b) => (b.kind === 'texture' && b.name === name ? b.bufferBytesNeeded : 0)));
    const outs = [M * 7, M * 12, 4 * M * 5];
    for (const [j, p] of parts.entries()) {
      buffers[`A_${j}`] = upload(device, A, need(`A_${j}`));
      buffers[`B_${j}`] = upload(device, p.B, need(`B_${j}`));
      buffers[`C_${j}`] = upload(device, new Float32Array(outs[j]!));
    }
    buffers.e_1_0 = upload(device, parts[1]!.bias!);
    buffers.e_2_0 = upload(device, Float32Array.of(2));
    const prepared = prepareContraction(device, kernel);
    const encoder = device.createCommandEncoder();
    prepared.encode(encoder, buffers);
    const reads = outs.map((n) => device.createBuffer({ size: Math.ceil((n * 4) / 16) * 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
    reads.forEach((r, j) => encoder.copyBufferToBuffer(buffers[`C_${j}`]!, 0, r, 0, r.size));
    device.queue.submit([encoder.finish()]);
    const got = await Promise.all(reads.map(async (r, j) => {
      await r.mapAsync(GPUMapMode.READ);
      const v = new Float32Array(r.getMappedRange().slice(0)).subarray(0, outs[j]!);
      r.unmap();
      return v;
    }));
    for (const b of [...Object.values(buffers), ...reads]) b.destroy();
    for (const [j, p] of parts.entries()) {
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < p.n; n++) {
          let want = 0;
          for (let k = 0; k < K; k++) want += A[m * K + k]! * p.B[p.transposeB ? n * K + k : k * p.n + n]!;
          want += p.bias?.[n] ?? 0;
          const at = (p.row ?? 0) * M * p.n + m * p.n + n;
          expect(Math.abs(got[j]![at]! - want), `part ${j} [${m}, ${n}]`).toBeLessThanOrEqual(1e-5 * (1 + K));
        }
      }
    }
    // the rows of part 2's C other than the chosen one are untouched
    expect([...got[2]!].filter((x, i) => Math.floor(i / (M * 5)) !== 2 && x !== 0)).toEqual([]);
  });
});
