// The optimizer's uniform is one record (src/codegen/wgsl/hyper.ts): the WGSL struct the kernels
// declare and the bytes the backend writes come from one field list. On the real device, a kernel
// reading the generated struct must see every packed field where the packing put it, and the
// AdamW and norm kernels, fed a packed StepHyper, must do what adamw.ts's reference does.
import { afterAll, describe, expect, it } from 'vitest';
import { HYPER_BYTES, HYPER_FIELDS, hyperStruct, packHyper, type Hyper } from '../src/codegen/wgsl/hyper.js';
import { adamwKernel, normKernel, SUMSQ_WORKGROUPS } from '../src/codegen/wgsl/optimizer.js';
import { ADAMW_DEFAULTS, adamwUpdate, hyperUniform, type StepHyper } from '../src/runtime/train/adamw.js';
import { device } from './executor-helpers.js';
import { rng } from './ir-helpers.js';

afterAll(async () => (await device()).destroy());

/** Runs one kernel over `buffers` (bound 0, 1, ... in order). */
async function dispatch(code: string, buffers: GPUBuffer[]): Promise<void> {
  const d = (await device()).device;
  const module = d.createShaderModule({ code });
  const errors = (await module.getCompilationInfo()).messages.filter((m) => m.type === 'error');
  expect(errors.map((m) => m.message)).toEqual([]);
  const pipeline = d.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const group = d.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })) });
  const enc = d.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(1);
  pass.end();
  d.queue.submit([enc.finish()]);
}

async function read(b: GPUBuffer): Promise<ArrayBuffer> {
  const d = (await device()).device;
  const staging = d.createBuffer({ size: b.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = d.createCommandEncoder();
  enc.copyBufferToBuffer(b, 0, staging, 0, b.size);
  d.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = staging.getMappedRange().slice(0);
  staging.destroy();
  return out;
}

/** A storage buffer (or, with `uniform`, a uniform one) holding `data`. */
async function buffer(data: ArrayBuffer | ArrayBufferView, uniform = false): Promise<GPUBuffer> {
  const d = (await device()).device; // (WebGPU's globals exist once a device is open)
  const usage = uniform ? GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST : GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const b = d.createBuffer({ size: Math.max(16, data.byteLength), usage });
  d.queue.writeBuffer(b, 0, data instanceof ArrayBuffer ? data : data.buffer, data instanceof ArrayBuffer ? 0 : data.byteOffset, data.byteLength);
  return b;
}

const uniform = (h: Hyper) => buffer(packHyper(h), true);

describe('the optimizer uniform', () => {
  it('declares the fields in the packing order, padded to the packed size', () => {
    const fields = /struct Hyper \{ (.*) \}/.exec(hyperStruct())![1]!.split(', ').map((f) => f.split(': '));
    expect(fields.slice(0, HYPER_FIELDS.length)).toEqual(HYPER_FIELDS.map(([n, t]) => [n, t]));
    expect(fields.length * 4).toBe(HYPER_BYTES);
    expect(HYPER_BYTES % 16).toBe(0);
    for (const code of [normKernel(), adamwKernel()]) expect(code).toContain(hyperStruct());
  });

  it('is read by WGSL exactly as packed, field by field', async () => {
    // distinct values, so a swapped or shifted field shows
    const h = Object.fromEntries(HYPER_FIELDS.map(([name, type], i) => [name, type === 'f32' ? 0.5 + i * 1.25 : 1000 + i * 7])) as Hyper;
    const code = `${hyperStruct()}
@group(0) @binding(0) var<uniform> h: Hyper;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(1)
fn main() {
${HYPER_FIELDS.map(([name, type], i) => `  out[${i}] = ${type === 'f32' ? `bitcast<u32>(h.${name})` : `h.${name}`};`).join('\n')}
}`;
    const out = await buffer(new Uint32Array(HYPER_FIELDS.length));
    await dispatch(code, [await uniform(h), out]);
    const got = new Uint32Array(await read(out));
    const packed = new Uint32Array(packHyper(h));
    expect(Array.from(got)).toEqual(Array.from(packed.slice(0, HYPER_FIELDS.length)));
    const f32 = new Float32Array(got.buffer);
    HYPER_FIELDS.forEach(([name, type], i) => expect(type === 'f32' ? f32[i] : got[i], name).toBe(h[name]));
  });
});

describe('the AdamW and norm kernels, given a packed StepHyper', () => {
  const n4 = 8; // 32 parameters; weight decay on the first 4 vec4s (a matrix), not the rest
  const decayEnd = 4;

  it('clip the gradient norm to gradClip', async () => {
    const partials = Float32Array.from({ length: SUMSQ_WORKGROUPS }, (_, i) => (i % 3) * 0.25);
    const total = Math.sqrt(partials.reduce((s, x) => s + x, 0));
    for (const gradClip of [0, 2, 100]) {
      const hp: StepHyper = { lr: 1e-2, step: 1, gradClip, adamw: ADAMW_DEFAULTS };
      const norm = await buffer(new Float32Array(4));
      await dispatch(normKernel(), [await buffer(partials), norm, await uniform(hyperUniform(hp, decayEnd, n4))]);
      const got = new Float32Array(await read(norm));
      expect(got[0]).toBeCloseTo(total, 5);
      expect(got[1], `gradClip ${gradClip}`).toBeCloseTo(gradClip > 0 && total > gradClip ? gradClip / total : 1, 6);
    }
  });

  it('update the parameters, m and v as adamwUpdate does, over two steps', async () => {
    const r = rng(5);
    const rand = () => Float32Array.from({ length: n4 * 4 }, () => r() * 2 - 1);
    const [p, m, v] = [rand(), new Float32Array(n4 * 4), new Float32Array(n4 * 4)];
    const gpu = await Promise.all([p, m, v].map((x) => buffer(x)));
    const scale = 0.5; // the clipping scale, as the norm kernel leaves it
    const norm = await buffer(Float32Array.of(3, scale, 0, 0));
    for (const step of [1, 2]) {
      const hp: StepHyper = { lr: 3e-2, step, gradClip: 1, adamw: { beta1: 0.8, beta2: 0.9, eps: 1e-6, weightDecay: 0.25 } };
      const g = rand();
      const half = decayEnd * 4;
      adamwUpdate(p.subarray(0, half), g.subarray(0, half), m.subarray(0, half), v.subarray(0, half), hp, scale, true);
      adamwUpdate(p.subarray(half), g.subarray(half), m.subarray(half), v.subarray(half), hp, scale, false);
      // one workgroup of 64 covers the 8 vec4s; m and v stay on the GPU from step to step
      await dispatch(adamwKernel(), [gpu[0]!, await buffer(g), gpu[1]!, gpu[2]!, norm, await uniform(hyperUniform(hp, decayEnd, n4))]);
      const [gp, gm, gv] = await Promise.all(gpu.map(async (b) => new Float32Array(await read(b))));
      for (const [what, want, got] of [['p', p, gp], ['m', m, gm], ['v', v, gv]] as const) {
        for (let i = 0; i < want.length; i++) expect(got![i], `${what}, step ${step}, element ${i}`).toBeCloseTo(want[i]!, 6);
      }
    }
  });
});
