// The gpu kernel variants (docs/kernels.md, "Two variants": workgroup-tiled contractions,
// FlashAttention-2's forward) forced on the real Dawn device here (llvmpipe), against the
// reference interpreter on random inputs at sizes that are not multiples of their tiles; the choice
// by adapter; and a training step of gpt-nano on them against the interpreter's.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { differentiate, initParams } from '../src/ir/index.js';
import { GraphBuilder } from '../src/ir/builder.js';
import type { Axis, Graph } from '../src/ir/types.js';
import { chooseKernels, isCpuAdapter } from '../src/runtime/device.js';
import { InterpreterBackend } from '../src/runtime/train/interpreter-backend.js';
import { createWebGPUBackend } from '../src/runtime/train/webgpu-backend.js';
import { ADAMW_DEFAULTS } from '../src/runtime/train/adamw.js';
import { NEXT_SUFFIX } from '../src/compiler/lower.js';
import { rng, softmax } from './ir-helpers.js';
import { compare, device, type Comparison } from './executor-helpers.js';
import { lowerModel } from './model-helpers.js';

afterAll(async () => (await device()).destroy());

const ax = (name: string, size: number | string): Axis => ({ name, size });
const TOL = { atol: 1e-4, rtol: 1e-3 };

function expectAllClose(r: Comparison, what: string): void {
  for (const [name, w] of Object.entries(r.worst)) expect(w, `${what}: ${name}`).toBeLessThanOrEqual(1);
}

/** The WGSL of the plan's kernels of one kind. */
function wgslOf(r: Comparison, kind: string): string[] {
  return r.compiled.plan.kernels.filter((k) => k.kind === kind).map((k) => k.wgsl);
}

/** y = tanh(x W + bias) + r with x [B, M, K] and W [K, N]; with `train`, loss = sum(y^2 * w) and
 *  its gradients instead (the backward's contractions read transposed views and sum the batch). */
function dense(M: number, K: number, N: number, train: boolean): Graph {
  const b = new GraphBuilder();
  const [B, Mx, Kx, Nx] = [ax('B', 2), ax('M', M), ax('K', K), ax('N', N)];
  const init = { kind: 'normal', std: 1 } as const;
  const x = b.param('x', [B, Mx, Kx], init);
  const w = b.param('W', [Kx, Nx], init);
  const bias = b.param('bias', [Nx], init);
  const y = b.add(b.unary('tanh', b.add(b.contract(x, w, ['B', 'M', 'N']), bias)), b.input('r', [B, Mx, Nx]));
  if (!train) {
    b.output('y', y);
    return b.build();
  }
  let loss = b.mul(b.mul(y, y), b.input('w', [B, Mx, Nx]));
  for (const a of ['N', 'M', 'B']) loss = b.reduce('sum', loss, a);
  b.output('loss', loss);
  return differentiate(b.build(), 'loss', ['x', 'W', 'bias']);
}

describe('contractions: the gpu variant (64 x 64 workgroup tiles)', () => {
  it('batched, with a fused epilogue (bias, tanh, residual), at sizes not multiples of the tile', async () => {
    const r = await compare(dense(70, 33, 67, false), {}, { kernels: 'gpu', tol: TOL });
    expectAllClose(r, 'gpu kernels');
    const [code, ...rest] = wgslOf(r, 'contract');
    expect(rest).toHaveLength(0);
    expect(code).toContain('workgroupBarrier()');
    expect(code).toContain('var<workgroup> As');
    expect(code).toContain('fused_epilogue');
    expect(code).not.toContain('texture');
    r.compiled.destroy();
  });

  it('the gradients: transposed views, a batch summed into k', async () => {
    const r = await compare(dense(70, 33, 67, true), {}, { kernels: 'gpu', tol: TOL });
    expect(Object.keys(r.worst).sort()).toEqual(['grad:W', 'grad:bias', 'grad:x', 'loss']);
    expectAllClose(r, 'gpu kernels');
    const contractions = wgslOf(r, 'contract');
    expect(contractions).toHaveLength(3);
    for (const code of contractions) expect(code).toContain('(gpu variant)');
    r.compiled.destroy();
  });
});

/** out[B, L, H, N] = softmax_M(mask(scale * q . k)) v. */
function attention(L: number, H: number, K: number, causal: boolean): Graph {
  const b = new GraphBuilder();
  const [B, Lx, Mx, Hx, Kx] = [ax('B', 'B'), ax('L', L), ax('M', L), ax('H', H), ax('K', K)];
  const q = b.input('q', [B, Lx, Hx, Kx]);
  const k = b.input('k', [B, Mx, Hx, Kx]);
  const v = b.input('v', [B, Mx, Hx, Kx]);
  let scores = b.scale(b.contract(q, k, ['B', 'H', 'L', 'M']), 0.3);
  if (causal) scores = b.select(b.binary('le', b.iota(Mx), b.iota(Lx)), scores, b.constant(-1e30));
  b.output('out', b.contract(softmax(b, scores, 'M'), v, ['B', 'L', 'H', 'K']));
  return b.build();
}

describe('attention: the gpu variant (after FlashAttention-2)', () => {
  for (const causal of [true, false]) {
    it(`${causal ? 'causal' : 'unmasked'}, 70 queries (a tile of 64 and a partial one), keys in tiles of 16`, async () => {
      const r = await compare(attention(70, 2, 8, causal), { B: 2 }, { kernels: 'gpu', tol: TOL });
      expectAllClose(r, 'flash attention');
      const [code] = wgslOf(r, 'attention');
      expect(code).toContain('rows per workgroup');
      expect(code).toContain('var<workgroup> dot_tile0');
      // a causal workgroup stops after the last tile its queries need
      expect(code?.includes('atomicMax(&wg_end')).toBe(causal);
      r.compiled.destroy();
    });
  }

  it('the backward (dq; dk and dv in one kernel) is tiled too, causal at 70 queries and keys, and matches', async () => {
    const b = new GraphBuilder();
    const [B, L, M, K] = [ax('B', 2), ax('L', 70), ax('M', 70), ax('K', 5)];
    const init = { kind: 'normal', std: 1 } as const;
    const q = b.param('q', [B, L, K], init);
    const k = b.param('k', [B, M, K], init);
    const v = b.param('v', [B, M, K], init);
    const scores = b.select(b.binary('le', b.iota(M), b.iota(L)), b.scale(b.contract(q, k, ['B', 'L', 'M']), 0.4), b.constant(-1e30));
    let loss = b.mul(b.contract(softmax(b, scores, 'M'), v, ['B', 'L', 'K']), b.input('w', [B, L, K]));
    for (const a of ['K', 'L', 'B']) loss = b.reduce('sum', loss, a);
    b.output('loss', loss);
    const r = await compare(differentiate(b.build(), 'loss', ['q', 'k', 'v']), {}, { kernels: 'gpu', tol: TOL });
    expect(Object.keys(r.worst).sort()).toEqual(['grad:k', 'grad:q', 'grad:v', 'loss']);
    expectAllClose(r, 'attention backward');
    const codes = wgslOf(r, 'attention');
    expect(codes.length).toBeGreaterThanOrEqual(3);
    for (const c of codes) expect(c).toContain('(gpu variant)');
    // dk and dv walk the queries from each key's causal bound: the workgroup starts at its least
    expect(codes.some((c) => c.includes('atomicMax(&wg_skip'))).toBe(true);
    r.compiled.destroy();
  });
});

describe('the choice of variant', () => {
  it('auto: a CPU adapter gets the cpu templates, any other the gpu ones; an explicit choice wins', () => {
    expect(chooseKernels('auto', { isFallbackCpu: true })).toBe('cpu');
    expect(chooseKernels(undefined, { isFallbackCpu: false })).toBe('gpu');
    expect(chooseKernels('auto', undefined)).toBe('cpu');
    expect(chooseKernels('gpu', { isFallbackCpu: true })).toBe('gpu');
    expect(chooseKernels('cpu', { isFallbackCpu: false })).toBe('cpu');
    // a device whose workgroups are smaller than the gpu templates' (compatibility mode)
    expect(chooseKernels('gpu', { isFallbackCpu: false }, { maxComputeInvocationsPerWorkgroup: 128, maxComputeWorkgroupStorageSize: 16384 })).toBe('cpu');
    expect(chooseKernels('auto', { isFallbackCpu: false }, { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupStorageSize: 16384 })).toBe('gpu');
  });

  it('a CPU adapter is known by its names, its fallback flag, or by naming nothing (llvmpipe in a browser)', () => {
    const none = { vendor: '', architecture: '', device: '', description: '' };
    // what dawn.node reports for llvmpipe, and Chromium with --enable-webgpu-developer-features
    expect(isCpuAdapter({ ...none, device: 'llvmpipe (LLVM 15.0.6, 256 bits)' })).toBe(true);
    expect(isCpuAdapter({ ...none, description: 'ANGLE (Mesa/X.org, llvmpipe (LLVM 15.0.6 256 bits), OpenGL ES 3.2 Mesa 22.3.6)' })).toBe(true);
    // Chromium's SwiftShader, and its llvmpipe without developer features: no names at all
    expect(isCpuAdapter({ ...none, vendor: 'google', architecture: 'swiftshader' })).toBe(true);
    expect(isCpuAdapter(none)).toBe(true);
    expect(isCpuAdapter({ ...none, isFallbackAdapter: true, vendor: 'google' })).toBe(true);
    // a real GPU in a browser names at least its vendor
    expect(isCpuAdapter({ ...none, vendor: 'nvidia', architecture: 'ampere' })).toBe(false);
    expect(isCpuAdapter({ ...none, vendor: 'apple', architecture: 'metal-3' })).toBe(false);
  });

  it('auto follows the adapter: llvmpipe gets the cpu variant (no workgroup tiles)', async () => {
    const cpu = (await device()).info.isFallbackCpu;
    const r = await compare(dense(9, 8, 12, false), {}, { tol: TOL });
    expect(wgslOf(r, 'contract').every((c) => c.includes('workgroupBarrier') !== cpu)).toBe(true);
    r.compiled.destroy();
  });
});

describe('training on the gpu variant', () => {
  it('two AdamW steps of gpt-nano match the interpreter backend (loss and weights)', async () => {
    const [B, L, V] = [2, 8, 13];
    const sets = { V, L, D: 16, H: 2, N: 1 };
    const l = lowerModel('models/gpt-nano.arch', sets, true);
    const g = differentiate(l.graph, 'loss', [...l.graph.params.keys()]);
    const evalGraph = lowerModel('models/gpt-nano.arch', sets, false).graph;
    const init = () => new Map(Object.entries(initParams(l.graph, {}, 5)).map(([k, v]) => [k, Float32Array.from(v)]));
    const cpu = new InterpreterBackend(g, evalGraph, init());
    // the device's own choice (OpenDeviceOptions.kernels), as `--kernels gpu` sets it
    const dev = { ...(await device()), kernels: 'gpu' as const };
    const gpu = await createWebGPUBackend(dev, g, evalGraph, { symbols: { B, L, seed: 0 }, weights: init() });
    const r = rng(3);
    for (let step = 1; step <= 2; step++) {
      const x = Int32Array.from({ length: B * L }, () => Math.floor(r() * V));
      const y = Int32Array.from({ length: B * L }, () => Math.floor(r() * V));
      const feeds = { inputs: { tokens_BLV: x, [`tokens_BLV${NEXT_SUFFIX}`]: y }, symbols: { B, L, seed: step } };
      const opts = { lr: 3e-3, step, gradClip: 0, adamw: ADAMW_DEFAULTS };
      const [a, b] = [await cpu.step([feeds], opts), await gpu.step([feeds], opts)];
      expect(Math.abs(a.loss - b.loss), `step ${step}: ${a.loss} vs ${b.loss}`).toBeLessThan(2e-4);
    }
    const [wa, wb] = [await cpu.weights(), await gpu.weights()];
    let worst = 0;
    for (const [k, x] of wa) for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - wb.get(k)![i]!));
    expect(worst).toBeLessThan(1e-4);
    gpu.dispose();
  });
});

function arch(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync('node', ['bin/arch.js', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('--kernels', () => {
  const model = ['models/gpt-nano.arch', '--set', 'D=16', '--set', 'N=1', '--set', 'L=8'];

  it('compile --emit wgsl shows the variant asked for (cpu without an adapter to pick by)', () => {
    const emit = (...more: string[]) => arch('compile', ...model, '--emit', 'wgsl', '--batch', '2', '--length', '8', ...more);
    const gpu = emit('--kernels', 'gpu');
    expect(gpu.code, gpu.err).toBe(0);
    expect(gpu.out).toMatch(/^\/\/ attention: .*rows per workgroup.*\(gpu variant\)$/m);
    expect(gpu.out).toMatch(/^\/\/ contraction .*workgroup tile 64x64 \(gpu variant\)$/m);
    const cpu = emit();
    expect(cpu.code, cpu.err).toBe(0);
    expect(cpu.out).not.toContain('(gpu variant)');
  });

  it('train --kernels gpu runs; a bad value is exit 2 with one line that says the choices', () => {
    const dir = mkdtempSync(join(tmpdir(), 'arch-kernels-'));
    const r = arch('train', ...model, '--data', 'task:reverse', '--steps', '3', '--batch', '4', '--eval-every', '0', '--out', join(dir, 'run'), '--kernels', 'gpu');
    expect(r.code, r.err).toBe(0);
    const losses = readFileSync(join(dir, 'run', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { loss?: number });
    expect(losses.filter((m) => Number.isFinite(m.loss)).length).toBeGreaterThanOrEqual(3);
    const bad = arch('profile', ...model, '--kernels', 'fast');
    expect(bad.code).toBe(2);
    expect(bad.err.trim()).toBe('arch profile: --kernels fast: expected auto, gpu or cpu');
  });
});
