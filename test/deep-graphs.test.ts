// Past the checker, on graphs deeper and wider than any real model (generated here): lowering,
// autodiff, fusion and codegen answer in seconds, never with a stack overflow, `internal error` or
// a hang; and the walks made iterative for it fuse the real models exactly as before. Time bounds
// are hang guards only: the real speed is measured by hand (docs/reliability.md).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { differentiate } from '../src/ir/autodiff.js';
import { GraphBuilder } from '../src/ir/builder.js';
import { fuse } from '../src/ir/fuse/fuse.js';
import { MAX_INLINE_DEPTH } from '../src/ir/fuse/types.js';
import { dagOf } from '../src/ir/fuse/views.js';
import { postOrder } from '../src/ir/walk.js';
import { tinyGpt } from './ir-helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'arch-deep-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEAD = ['model gen', '', 'dims', '  B', '  L = 8', '  M = L', '  D = 16', '  V = 16', '', 'input tokens_BLV : onehot', 'param wte_VD ~ normal(0.02)', 'embedded_BLD = tokens_BLV @ wte_VD'];
const tail = (x: string) => [`logits_BLV = ${x} @ wte_VD`, 'loss = cross_entropy(logits_BLV, next(tokens_BLV))'];

function arch(name: string, lines: string[], args: string[]) {
  writeFileSync(join(dir, name), lines.join('\n') + '\n');
  return spawnSync(process.execPath, [join(ROOT, 'bin/arch.js'), ...args.map((a) => (a === 'FILE' ? name : a))], {
    cwd: dir, encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28, env: { ...process.env, NO_COLOR: '1' },
  });
}

function expectAnswer(r: ReturnType<typeof arch>): void {
  expect(r.error, 'no hang').toBeUndefined();
  expect(r.stderr).not.toContain('internal error');
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.status, r.stderr.slice(0, 400)).toBe(0);
}

/** The kernel count `compile --emit plan` reports. */
const kernels = (out: string): number => Number(/^(\d+) kernels, /m.exec(out)![1]);

describe('long chains through every command', () => {
  const n = 20_000;
  const chain = [...HEAD, 'x0_BLD = embedded_BLD', ...Array.from({ length: n }, (_, i) => `x${i + 1}_BLD = x${i}_BLD + 1`), ...tail(`x${n}_BLD`)];

  it(`${n.toLocaleString('en')} chained statements: plan forward and training, cut every ${MAX_INLINE_DEPTH} steps`, () => {
    const fwd = arch('chain.arch', chain, ['compile', 'FILE', '--emit', 'plan']);
    expectAnswer(fwd);
    // the gather, then n adds in kernels of at most MAX_INLINE_DEPTH inlined steps, then the head
    expect(kernels(fwd.stdout)).toBeGreaterThanOrEqual(Math.ceil(n / MAX_INLINE_DEPTH));
    expect(kernels(fwd.stdout)).toBeLessThan(Math.ceil(n / MAX_INLINE_DEPTH) + 10);
    const train = arch('chain.arch', chain, ['compile', 'FILE', '--emit', 'plan', '--grad', '--train']);
    expectAnswer(train);
    expect(train.stdout).toContain('d wte_VD');
  }, 120_000);

  it('check, inspect, the IR and WGSL of the same chain', () => {
    for (const args of [['check', 'FILE'], ['inspect', 'FILE'], ['compile', 'FILE', '--emit', 'ir']]) expectAnswer(arch('chain.arch', chain, args));
    const wgsl = arch('chain.arch', chain, ['compile', 'FILE', '--emit', 'wgsl']);
    expectAnswer(wgsl);
    expect(wgsl.stdout.match(/@compute/g)!.length).toBe(kernels(arch('chain.arch', chain, ['compile', 'FILE', '--emit', 'plan']).stdout));
  }, 180_000);

  it('a chain of 5,000 steps on attention scores: too deep for an attention kernel, fused the ordinary way', () => {
    const m = 5000;
    const lines = [...HEAD, 'k_BMD = embedded_BLD[L -> M]', 's0_BLM = embedded_BLD @ k_BMD', ...Array.from({ length: m }, (_, i) => `s${i + 1}_BLM = s${i}_BLM * 0.999`),
      `w_BLM = softmax(causal(s${m}_BLM, L, M), M)`, 'mixed_BLD = w_BLM @ k_BMD', ...tail('mixed_BLD')];
    const r = arch('scores.arch', lines, ['compile', 'FILE', '--emit', 'wgsl', '--grad', '--train']);
    expectAnswer(r);
    // a region this deep is no attention kernel: the ordinary fusion, its chain cut
    expect(r.stdout).not.toContain('_attention_');
  }, 60_000);

  it('a chain whose every step is read twice (stored every few steps) after a row reduction', () => {
    const m = 5000;
    const lines = [...HEAD, 'x0_BLD = softmax(embedded_BLD, D)', ...Array.from({ length: m }, (_, i) => `x${i + 1}_BLD = x${i}_BLD * 0.999 + x${i}_BLD`), ...tail(`x${m}_BLD`)];
    expectAnswer(arch('twice.arch', lines, ['compile', 'FILE', '--emit', 'plan', '--grad', '--train']));
  }, 60_000);
});

describe('wide and nested graphs', () => {
  it('one tensor read 45,000 times across 100 nested blocks lowers, fuses and emits', () => {
    const blocks = Array.from({ length: 100 }, (_, i) => ['', `block b${i + 1}(x_BLD) -> BLD`, `  out_BLD = ${i < 99 ? `b${i + 2}(x_BLD)` : 'x_BLD'}${' + x_BLD'.repeat(450)}`]).flat();
    const lines = [...HEAD, 'stream_BLD = b1(embedded_BLD)', ...tail('stream_BLD'), ...blocks];
    expectAnswer(arch('nested.arch', lines, ['compile', 'FILE', '--emit', 'ir']));
    expectAnswer(arch('nested.arch', lines, ['compile', 'FILE', '--emit', 'wgsl', '--grad', '--train']));
  }, 120_000);

  it('5,000 tensors summed into one (wide fan-in)', () => {
    const ys = Array.from({ length: 5000 }, (_, i) => `y${i}_BLD = embedded_BLD * ${i + 1}`);
    const sums = ['s0_BLD = y0_BLD', ...Array.from({ length: 4999 }, (_, i) => `s${i + 1}_BLD = s${i}_BLD + y${i + 1}_BLD`)];
    expectAnswer(arch('wide.arch', [...HEAD, ...ys, ...sums, ...tail('s4999_BLD')], ['compile', 'FILE', '--emit', 'plan', '--grad', '--train']));
  }, 60_000);
});

describe('the iterative walks give what the recursive ones gave', () => {
  it('postOrder lists inputs before their readers, each node once, in a recursive walk\'s order', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [{ name: 'A', size: 4 }]);
    const e = b.unary('exp', x);
    const s = b.binary('add', e, x);
    const t = b.binary('mul', s, e);
    const g = b.build();
    expect(postOrder(g, t, () => true)).toEqual([x, e, s, t]);
    expect(postOrder(g, t, (id) => id !== s)).toEqual([s, x, e, t]);
  });

  it('a 12-layer GPT forward + backward fuses into as many kernels as before, as many of them attention', () => {
    const b = new GraphBuilder();
    const { loss } = tinyGpt(b, { B: 'B', L: 64, V: 65, D: 64, H: 4, layers: 12 });
    b.output('loss', loss);
    const fwd = b.build();
    const g = differentiate(fwd, 'loss', [...fwd.params.keys()]);
    const f = fuse(g, { B: 2 });
    // measured before the walks were made iterative (2026-12-03)
    expect(f.kernels.length).toBe(GPT12_KERNELS);
    expect(f.kernels.filter((k) => k.name.includes('attention')).length).toBe(GPT12_ATTENTION);
    // dagOf's inlined nodes come back sorted and its reads each once
    for (const k of f.kernels.slice(0, 50)) {
      const d = dagOf(g, f.tensors[k.writes[0]!]!.node, (id) => id !== f.tensors[k.writes[0]!]!.node && f.primary.has(id));
      expect(d.inlined).toEqual([...d.inlined].sort((p, q) => p - q));
      expect(new Set(d.reads.map((r) => r.node)).size).toBe(d.reads.length);
    }
  });
});

// 518 until the residual stream was stored and elementwise siblings joined (2026-12-03); 456
// until a shared term inside GELU's gradient stopped being stored under fuse's defaults (the gpu
// templates' plan: the gradient is its contraction's epilogue, one kernel fewer a layer)
const GPT12_KERNELS = 444;
const GPT12_ATTENTION = 48;
