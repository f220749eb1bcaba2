// `arch sample --check-cache`, and a model without the causal mask sampled without the KV cache
// (a cache would read keys of positions not yet decoded).
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'arch-check-cache-'));
const arch = (...args: string[]) => {
  const r = spawnSync('node', ['bin/arch.js', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
};
const tiny = ['--set', 'D=16', '--set', 'N=1', '--set', 'L=8'];
const ckpt = (mask: string) => join(dir, mask, 'checkpoint.safetensors');
const sample = (mask: string, ...args: string[]) => arch('sample', 'models/gpt-nano.arch', '--weights', ckpt(mask), '--prompt-tokens', '1,2,3', ...args);

describe('arch sample --check-cache', () => {
  beforeAll(() => {
    for (const mask of ['causal', 'none']) {
      const r = arch('train', 'models/gpt-nano.arch', '--data', 'task:reverse', '--steps', '20', '--lr', '3e-3', ...tiny, '--set', `mask=${mask}`, '--eval-every', '0', '--out', join(dir, mask));
      expect(r.code, r.err).toBe(0);
    }
  }, 120_000);

  it('a causal model: the tokens with and without the cache are identical, and both speeds are given', () => {
    const r = sample('causal', '--check-cache', '--tokens', '10', '--json');
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(r.out);
    expect(res.identical).toBe(true);
    expect(res.first_difference).toBeNull();
    expect(res.cached.tokens).toHaveLength(10);
    expect(res.full.tokens).toEqual(res.cached.tokens);
    expect(res.cached.tokens_per_s).toBeGreaterThan(0);
    expect(res.full.tokens_per_s).toBeGreaterThan(0);
    expect(res.cache_unsafe).toBeUndefined();
    const text = sample('causal', '--check-cache', '--tokens', '4');
    expect(text.out).toMatch(/^identical: the 4 tokens .*\n {2}speed: \d+ tokens\/s with the cache, \d+ tokens\/s without/);
    // A task model with no prompt starts from token 0 (its tokenizer has no newline to default to).
    const bare = arch('sample', 'models/gpt-nano.arch', '--weights', ckpt('causal'), '--check-cache', '--tokens', '3', '--json');
    expect(bare.code, bare.err).toBe(0);
    expect(JSON.parse(bare.out)).toMatchObject({ prompt_tokens: [0], identical: true });
  });

  it('mask=none: the cache differs from the full pass (and says why); sampling uses the full pass, as the interpreter does', () => {
    const r = sample('none', '--check-cache', '--tokens', '6', '--greedy', '--json');
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(r.out);
    expect(res.cache_unsafe).toMatch(/attention over M has no causal mask/);
    // The check's full-pass tokens are the model's: the interpreter's, computed at each length.
    const interp = JSON.parse(sample('none', '--tokens', '6', '--greedy', '--json', '--backend', 'interpreter').out);
    expect(res.full.tokens).toEqual(interp.tokens);
    const gpu = sample('none', '--tokens', '6', '--greedy', '--json');
    expect(gpu.code, gpu.err).toBe(0);
    expect(JSON.parse(gpu.out).tokens).toEqual(interp.tokens);
    expect(gpu.err).toMatch(/note: .*no causal mask.*full forward pass/);
    if (!res.identical) expect(res.cached.tokens[res.first_difference]).not.toBe(res.full.tokens[res.first_difference]);
  });

  it('--check-cache with --no-cache, or on the interpreter, is refused (exit 2)', () => {
    const both = sample('causal', '--check-cache', '--no-cache');
    expect(both.code).toBe(2);
    expect(both.err).toMatch(/drop --no-cache/);
    const interp = sample('causal', '--check-cache', '--backend', 'interpreter');
    expect(interp.code).toBe(2);
    expect(interp.err).toMatch(/interpreter has no cache/);
  });
});
