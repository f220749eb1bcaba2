// arch inspect's parameters by role, decided by the graph's structure: GPT-2 small's shares of the
// blocks' parameters and of all (the "2/3 in the MLP" question), and a LLaMA-style model whose
// blocks say nothing by their names (a SwiGLU feed-forward, RMSNorm, attention written inline in
// the layer, an untied head) lands in the same roles. And --vary L=...: how FLOPs, attention's
// share and activation memory grow with the context, against counts worked out here, and with
// --profile a forward pass timed on the device.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function run(...args: string[]) {
  const r = spawnSync('node', ['bin/arch.js', 'inspect', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function inspect(...args: string[]) {
  const r = run(...args);
  expect(r.code, r.err).toBe(0);
  return r.out;
}

interface Inspected {
  params: number;
  blockParams: number;
  paramsByKind: Record<string, number>;
  paramsByKindInBlocks: Record<string, number>;
  shareByKind: Record<string, { ofAll: number; ofBlocks: number | null }>;
  parameters: { path: string; count: number; kind: string }[];
}

const LLAMA = `model llama_like

dims
  B
  L = 16
  M = L
  V = 32
  D = 32
  H = 4
  K = D / H
  F = 88
  N = 2

input tokens_BLV : onehot

param table_VD ~ normal(0.02)
x_BLD = tokens_BLV @ table_VD
stream_BLD = repeat N decoder(x_BLD)
logits_BLV = project(rms(stream_BLD))
loss = cross_entropy(logits_BLV, next(tokens_BLV))

block rms(x_*D) -> *D
  param scale_D ~ ones
  ms_* = mean(x_*D * x_*D, D)
  out_*D = x_*D / sqrt(ms_* + 0.00001) * scale_D

block swiglu(x_*D) -> *D
  param w1_DF ~ normal(0.02)
  param w3_DF ~ normal(0.02)
  param w2_FD ~ normal(0.02)
  a_*F = x_*D @ w1_DF
  h_*F = a_*F / (1 + exp(0 - a_*F)) * (x_*D @ w3_DF)
  out_*D = h_*F @ w2_FD

block decoder(x_BLD) -> BLD
  param wq_DHK ~ normal(0.02)
  param wk_DHK ~ normal(0.02)
  param wv_DHK ~ normal(0.02)
  param wo_HKD ~ normal(0.02)
  n_BLD = rms(x_BLD)
  q_BLHK = n_BLD @ wq_DHK
  k_BMHK = n_BLD[L -> M] @ wk_DHK
  v_BMHK = n_BLD[L -> M] @ wv_DHK
  s_BHLM = q_BLHK @ k_BMHK / sqrt(K)
  p_BHLM = softmax(causal(s_BHLM, L, M), M)
  o_BLHK = p_BHLM @ v_BMHK
  h_BLD = x_BLD + o_BLHK @ wo_HKD
  out_BLD = h_BLD + swiglu(rms(h_BLD))
`;

describe('arch inspect: parameters by role', () => {
  it("GPT-2 small: the MLP holds 2/3 of the blocks' parameters and 45.5% of all", () => {
    const [D, F, N, V, L] = [768, 3072, 12, 50257, 1024];
    const mlp = N * (D * F + F + F * D + D);
    const attention = N * (4 * D * D + 4 * D);
    const norms = N * 4 * D;
    const blocks = mlp + attention + norms;
    const all = blocks + V * D + L * D + 2 * D;
    const pct = (n: number, of: number) => `${((100 * n) / of).toFixed(1)}%`;
    expect(pct(mlp, blocks)).toBe('66.6%');
    const text = inspect('models/gpt2.arch');
    expect(text).toContain(`MLP: ${pct(mlp, blocks)} of the blocks' parameters, ${pct(mlp, all)} of all`);
    expect(text).toContain(`attention: ${pct(attention, blocks)} of the blocks' parameters, ${pct(attention, all)} of all`);
    const j = JSON.parse(inspect('models/gpt2.arch', '--json')) as Inspected;
    expect(j.params).toBe(all);
    expect(j.blockParams).toBe(blocks);
    expect(j.paramsByKind).toEqual({ embeddings: V * D + L * D, attention, mlp, norm: norms + 2 * D, head: 0, other: 0 });
    expect(j.paramsByKindInBlocks).toMatchObject({ attention, mlp, norm: norms, embeddings: 0 });
    expect(j.shareByKind.mlp!.ofBlocks).toBeCloseTo(mlp / blocks, 12);
    expect(j.shareByKind.mlp!.ofAll).toBeCloseTo(mlp / all, 12);
    expect(j.shareByKind.embeddings!.ofBlocks).toBe(0);
    // An untied head is its own role: D x V more, in none of the blocks.
    const untied = JSON.parse(inspect('models/gpt2.arch', '--set', 'head=untied', '--json')) as Inspected;
    expect(untied.paramsByKind.head).toBe(D * V);
  });

  it('folded copies of a repeat name a range, or the one copy when there is one', () => {
    const two = inspect('models/gpt-nano.arch', '--set', 'N=2', '--set', 'D=16');
    expect(two).toContain('  stream.1: 1 more copy, the same shapes as stream.0\n');
    expect(two).toContain('  stream.1: the same parameters as stream.0\n');
    expect(two).not.toContain('stream.1 .. stream.1');
    const three = inspect('models/gpt-nano.arch', '--set', 'N=3', '--set', 'D=16');
    expect(three).toContain('  stream.1 .. stream.2: 2 more copies, the same shapes as stream.0\n');
  });

  it('a LLaMA-style model (SwiGLU, RMSNorm, inline attention) gets the same roles from its structure', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'arch-roles-')), 'llama.arch');
    writeFileSync(file, LLAMA);
    const [D, F, N, V] = [32, 88, 2, 32];
    const j = JSON.parse(inspect(file, '--json')) as Inspected;
    const kinds = Object.fromEntries(j.parameters.map((p) => [p.path, p.kind]));
    expect(kinds).toEqual({
      table: 'embeddings',
      ...Object.fromEntries(
        [0, 1].flatMap((i) => [
          [`stream.${i}.n.scale`, 'norm'], // named after the tensor it makes
          ...['wq', 'wk', 'wv', 'wo'].map((w) => [`stream.${i}.${w}`, 'attention']),
          [`stream.${i}.rms.scale`, 'norm'],
          ...['w1', 'w3', 'w2'].map((w) => [`stream.${i}.swiglu.${w}`, 'mlp']),
        ]),
      ),
      'rms.scale': 'norm',
      'logits.w': 'head',
    });
    const mlp = N * 3 * D * F;
    const attention = N * 4 * D * D;
    const blocks = mlp + attention + N * 2 * D;
    expect(j.paramsByKindInBlocks).toMatchObject({ mlp, attention, norm: N * 2 * D });
    expect(j.paramsByKind).toEqual({ embeddings: V * D, attention, mlp, norm: (2 * N + 1) * D, head: D * V, other: 0 });
    const text = inspect(file);
    expect(text).toContain(`MLP: ${((100 * mlp) / blocks).toFixed(1)}% of the blocks' parameters, ${((100 * mlp) / j.params).toFixed(1)}% of all`);
  });

  it('--vary L: FLOPs per token, attention\'s share and the L x M matrices grow as counted by hand', () => {
    const [D, F, N, V, H] = [768, 3072, 12, 50257, 12];
    const Ls = [64, 256, 1024, 4096];
    const j = JSON.parse(inspect('models/gpt2.arch', '--vary', `L=${Ls.join(',')}`, '--json')) as {
      dim: string;
      rows: { value: number; flopsPerToken: number; attentionFlopsShare: number; activationBytes: number; attentionMatrixBytes: number; msPerToken?: number }[];
    };
    expect(j.dim).toBe('L');
    expect(j.rows.map((r) => r.value)).toEqual(Ls);
    for (const [i, L] of Ls.entries()) {
      // Per token: the weights' multiply-adds (q, k, v, out, the MLP's two, the tied head), and
      // attention's scores and mixing, D x L each per layer.
      const attention = 2 * N * 2 * D * L;
      const flops = 2 * (N * (4 * D * D + 2 * D * F) + D * V) + attention;
      const r = j.rows[i]!;
      expect(r.flopsPerToken).toBe(flops);
      expect(r.attentionFlopsShare).toBeCloseTo(attention / flops, 12);
      expect(r.attentionMatrixBytes).toBe(N * 2 * H * L * L * 4); // scores and weights, f32
      expect(r.msPerToken).toBeUndefined();
    }
    // Quadratic: 4x the context, 16x the matrices; the share of FLOPs climbs past a third by 4096.
    expect(j.rows[3]!.attentionMatrixBytes / j.rows[2]!.attentionMatrixBytes).toBe(16);
    expect(j.rows[3]!.attentionFlopsShare).toBeGreaterThan(0.35);
    const text = inspect('models/gpt2.arch', '--vary', 'L=64,1024');
    expect(text).toMatch(/^ {2}L +FLOPs\/token +attention +activations +of which L x M$/m);
    expect(text).toMatch(/^ {2}1024 +284,812,800 +13\.3% +2\.88 GB +1\.21 GB$/m);
  });

  it('--vary L --profile times a forward pass on the device; bad --vary is exit 2', () => {
    const tiny = ['models/gpt-nano.arch', '--set', 'D=16', '--set', 'N=1', '--vary', 'L=8,64'];
    const j = JSON.parse(inspect(...tiny, '--profile', '--steps', '2', '--json')) as { adapter: string; rows: { msPerToken: number }[] };
    expect(j.adapter).toBeTruthy();
    for (const r of j.rows) expect(r.msPerToken).toBeGreaterThan(0);
    const text = inspect(...tiny, '--profile', '--steps', '1');
    expect(text).toMatch(/^ {2}L +FLOPs\/token +attention +activations +of which L x M +ms\/token$/m);
    expect(text).toContain(`ms/token: the forward pass at batch 1 on ${j.adapter}`);
    for (const bad of [['--vary', 'act=gelu,relu'], ['--vary', 'L=8,x'], ['--vary', 'L=8', '--vary', 'D=8'], ['--profile']]) {
      const r = run('models/gpt-nano.arch', ...bad);
      expect(r.code, bad.join(' ')).toBe(2);
      expect(r.err).not.toMatch(/\n\s+at .*:\d+:\d+/);
    }
  });
});
