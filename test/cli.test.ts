// The `arch` command as a user runs it: exit codes, outputs, and no stack traces.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeSafetensors } from '../src/host/node/safetensors-file.js';
import { initParams } from '../src/ir/index.js';
import { paramShapes } from '../src/runtime/weights.js';
import { lowerModel } from './model-helpers.js';

function arch(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync('node', ['bin/arch.js', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
const dir = mkdtempSync(join(tmpdir(), 'arch-cli-'));

describe('arch check / inspect', () => {
  it('check prints a one-line summary', () => {
    const r = arch('check', 'models/gpt2.arch');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ok: gpt2: \d+ tensors, 124,439,808 parameters/);
  });

  it('inspect --json reports GPT-2 small and medium exactly', () => {
    const small = JSON.parse(arch('inspect', 'models/gpt2.arch', '--json').out);
    expect(small.params).toBe(124_439_808);
    expect(small.tensors.find((t: { name: string }) => t.name === 'positioned_BLD').shape).toEqual(['B', 1024, 768]);
    expect(small.blocks.filter((b: { block: string }) => b.block === 'layer')).toHaveLength(12);
    expect(small.blocks.at(-1)).toMatchObject({ name: 'final', block: 'layernorm', params: 1536 });
    expect(small.blocks[0]).toMatchObject({ name: 'stream.0', block: 'layer', params: 7_087_872 });
    // 2 x (non-embedding matmul parameters + the tied head) + attention's L-dependent part
    const N = 12, D = 768, L = 1024, V = 50257;
    const matmul = N * (4 * D * D + 8 * D * D) + D * V;
    expect(small.flopsPerToken).toBe(2 * matmul + N * 2 * 2 * L * D);
    const medium = JSON.parse(arch('inspect', 'models/gpt2.arch', '--set', 'N=24', '--set', 'D=1024', '--set', 'H=16', '--json').out);
    expect(medium.params).toBe(354_823_168);
  });

  it('inspect prints the trace, per-block counts and shares', () => {
    const r = arch('inspect', 'models/gpt2.arch');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/positioned_BLD\s+\[B, 1024, 768\]/);
    expect(r.out).toMatch(/K = D \/ H = 768 \/ 12 = 64/);
    expect(r.out).toMatch(/stream\.0 \(layer\)\s+7,087,872/);
    expect(r.out).toMatch(/mlp\s+56,669,184\s+45\.5%/);
    expect(r.out).toMatch(/total: 124,439,808 parameters/);
  });

  it('a bad model exits 1 with a located diagnostic; a bad invocation exits 2', () => {
    const bad = join(dir, 'bad.arch');
    writeFileSync(bad, 'model m\ndims\n  B\n  D = 4\n  F = 6\ninput x_BD\nparam w_FD ~ normal(0.02)\ny_BF = x_BD @ w_DF\n');
    const r = arch('check', bad);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${bad}:8:`);
    expect(r.err).toMatch(/error\[name\]: `w_DF` is not defined/);
    expect(r.err).toMatch(/w_FD/);
    noStack(r.err);
    expect(arch('check').code).toBe(2);
    expect(arch('check', 'models/nope.arch').code).toBe(2);
    expect(arch('check', 'models/gpt2.arch', '--set', 'act=gleu').code).toBe(2);
    expect(arch('check', 'models/gpt2.arch', '--bogus').code).toBe(2);
    expect(arch('frobnicate').code).toBe(2);
    for (const c of ['check', 'inspect', 'compile', 'eval']) expect(arch(c, '--help').out).toContain(`arch ${c}`);
  });
});

describe('arch compile / eval', () => {
  it('compile --emit ir prints one op per line, and --grad adds the backward graph', () => {
    const fwd = arch('compile', 'models/gpt-nano.arch', '--emit', 'ir');
    expect(fwd.code).toBe(0);
    expect(fwd.out).toMatch(/%\d+ = gather %1 %0 on V -> \[B, L, D=64\] {2}# embedded_BLD/);
    expect(fwd.out).toMatch(/out loss = %\d+/);
    const bwd = arch('compile', 'models/gpt-nano.arch', '--emit', 'ir', '--grad');
    expect(bwd.out).toMatch(/out grad:wte = %\d+/);
    expect(bwd.out).toMatch(/scatterAdd/);
  });

  it('eval prints the loss of rows of tokens on the interpreter', () => {
    const sets = { V: 11, L: 8, D: 8, H: 2, N: 1 };
    const l = lowerModel('models/gpt-nano.arch', sets);
    const shapes = paramShapes(l.graph);
    const params = initParams(l.graph, {}, 1);
    const w = join(dir, 'nano.safetensors');
    writeSafetensors(w, new Map(Object.entries(params).map(([k, v]) => [k, { shape: shapes.find((s) => s.name === k)!.shape, data: Float32Array.from(v) }])));
    const rows = join(dir, 'rows.json');
    writeFileSync(rows, JSON.stringify([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]]));
    const setArgs = Object.entries(sets).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
    const r = arch('eval', 'models/gpt-nano.arch', '--weights', w, '--tokens', rows, '--json', ...setArgs);
    expect(r.code).toBe(0);
    const { loss } = JSON.parse(r.out);
    expect(Math.abs(loss - Math.log(11))).toBeLessThan(0.2);
    // The WebGPU backend (the default) and the interpreter agree.
    const ref = arch('eval', 'models/gpt-nano.arch', '--weights', w, '--tokens', rows, '--json', '--backend', 'interpreter', ...setArgs);
    expect(Math.abs(JSON.parse(ref.out).loss - loss)).toBeLessThan(1e-4);
    // Wrong vocabulary in the tokens file, and a checkpoint for other dims: clear errors.
    writeFileSync(rows, JSON.stringify([[1, 2, 99]]));
    const bad = arch('eval', 'models/gpt-nano.arch', '--weights', w, '--tokens', rows, ...setArgs);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('99 is not a token id of this model (0 .. 10)');
    writeFileSync(rows, JSON.stringify([[1, 2, 3]]));
    const mismatch = arch('eval', 'models/gpt-nano.arch', '--weights', w, '--tokens', rows, ...setArgs, '--set', 'D=12', '--set', 'H=3');
    expect(mismatch.code).toBe(1);
    expect(mismatch.err).toContain('does not match the model');
    noStack(mismatch.err);
  });
});
