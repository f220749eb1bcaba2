// Sampling: the token chooser's rules, and `arch sample` end to end on a model trained on a task.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { argmax, chooseToken, filteredProbs } from '../src/runtime/sample/choose.js';
import { Rng } from '../src/data/index.js';

describe('choosing the next token', () => {
  const logits = Float32Array.of(0.5, 2.0, -1.0, 1.5, 0.0);
  it('temperature 0 and top-k 1 are greedy', () => {
    const r = new Rng(1);
    expect(chooseToken(logits, { temperature: 0, topK: 0, topP: 1 }, r)).toBe(1);
    for (let i = 0; i < 20; i++) expect(chooseToken(logits, { temperature: 1, topK: 1, topP: 1 }, r)).toBe(argmax(logits));
  });
  it('top-k keeps the k most likely; top-p the smallest set reaching p', () => {
    const k2 = filteredProbs(logits, { temperature: 1, topK: 2, topP: 1 });
    expect([...k2].map((p) => p > 0)).toEqual([false, true, false, true, false]);
    expect(k2.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    const full = filteredProbs(logits, { temperature: 1, topK: 0, topP: 1 });
    const p = full[1]! * 0.999; // the top token alone reaches p
    const top = filteredProbs(logits, { temperature: 1, topK: 0, topP: p });
    expect([...top].filter((x) => x > 0)).toHaveLength(1);
    const two = filteredProbs(logits, { temperature: 1, topK: 0, topP: full[1]! + full[3]! * 0.5 });
    expect([...two].map((x) => x > 0)).toEqual([false, true, false, true, false]);
  });
  it('samples follow the probabilities, and the same seed gives the same tokens', () => {
    const probs = filteredProbs(logits, { temperature: 0.7, topK: 0, topP: 1 });
    const r = new Rng(5);
    const counts = new Array(5).fill(0);
    const n = 20000;
    for (let i = 0; i < n; i++) counts[chooseToken(logits, { temperature: 0.7, topK: 0, topP: 1 }, r)]++;
    for (let i = 0; i < 5; i++) expect(Math.abs(counts[i] / n - probs[i]!)).toBeLessThan(0.015);
    const draw = (seed: number) => {
      const q = new Rng(seed);
      return Array.from({ length: 30 }, () => chooseToken(logits, { temperature: 1, topK: 0, topP: 0.9 }, q));
    };
    expect(draw(3)).toEqual(draw(3));
    expect(draw(3)).not.toEqual(draw(4));
  });
});

describe('arch sample', () => {
  const dir = mkdtempSync(join(tmpdir(), 'arch-sample-'));
  const ckpt = join(dir, 'reverse', 'checkpoint.safetensors');
  const arch = (...args: string[]) => {
    const r = spawnSync('node', ['bin/arch.js', ...args], { encoding: 'utf8', timeout: 300_000 });
    return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
  };
  beforeAll(() => {
    const r = arch('train', 'models/gpt-nano.arch', '--data', 'task:reverse', '--steps', '250', '--lr', '3e-3', '--set', 'D=48', '--set', 'N=2', '--eval-every', '0', '--out', join(dir, 'reverse'));
    expect(r.code, r.err).toBe(0);
  }, 300_000);

  it('a model trained on reverse answers fresh examples correctly (KV cache on WebGPU)', () => {
    const r = arch('sample', 'models/gpt-nano.arch', '--weights', ckpt, '--greedy', '--examples', '8', '--json');
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(r.out);
    expect(res.task).toBe('reverse');
    expect(res.accuracy).toBeGreaterThanOrEqual(0.75);
  });

  it('greedy with and without the cache, and on the interpreter, give identical tokens', () => {
    const run = (...extra: string[]) => JSON.parse(arch('sample', 'models/gpt-nano.arch', '--weights', ckpt, '--prompt', '1234567|', '--tokens', '24', '--json', ...extra).out).tokens;
    const cached = run('--greedy');
    expect(cached).toHaveLength(24);
    expect(run('--greedy', '--no-cache')).toEqual(cached);
    expect(run('--greedy', '--backend', 'interpreter')).toEqual(cached);
    expect(run('--temperature', '0')).toEqual(cached);
    expect(run('--top-k', '1', '--seed', '9')).toEqual(cached);
    // Sampled: the seed decides, and the cache does not change what is drawn.
    expect(run('--seed', '3', '--top-p', '0.9')).toEqual(run('--seed', '3', '--top-p', '0.9', '--no-cache'));
    // the JSON also says how long generating took: within the process's own lifetime
    const t0 = performance.now();
    const timed = JSON.parse(arch('sample', 'models/gpt-nano.arch', '--weights', ckpt, '--prompt', '12|', '--tokens', '5', '--json').out);
    const wall = (performance.now() - t0) / 1000;
    expect(timed.tokens).toHaveLength(5);
    expect(timed.elapsed_s).toBeGreaterThan(0);
    expect(timed.elapsed_s).toBeLessThan(wall);
    expect(timed.tokens_per_s * timed.elapsed_s).toBeCloseTo(5, 6);
  });

  it('past the context, the cache slides its window exactly as the full forward pass does', () => {
    // 8 prompt tokens + 70 generated > the context of 64: both paths drop the oldest tokens.
    const run = (...extra: string[]) => JSON.parse(arch('sample', 'models/gpt-nano.arch', '--weights', ckpt, '--prompt', '1234567|', '--tokens', '70', '--greedy', '--json', ...extra).out).tokens;
    const cached = run();
    expect(cached).toHaveLength(70);
    expect(run('--no-cache')).toEqual(cached);
  });

  it('a prompt longer than the context is cut from the left with a warning', () => {
    const r = arch('sample', 'models/gpt-nano.arch', '--weights', ckpt, '--prompt', '1'.repeat(80), '--tokens', '2', '--greedy');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/more than the model's context of 64; keeping the last 64/);
  });
});
