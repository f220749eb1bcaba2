// arch attention: a model trained briefly on task:induction (WebGPU, ~15 s) attends, in the
// repeated half, to the key right after the previous occurrence of the current token; the SVG
// shows it (rasterised and sampled); heads are split from any layout of the attention output.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Resvg } from '@resvg/resvg-js';
import { attentionMaps, splitHeads } from '../src/session/attention.js';
import { nodeEnv } from '../src/host/node/index.js';
import { heatmapLayout } from '../src/report/heatmap.js';
import type { Value } from '../src/ir/index.js';

const dir = mkdtempSync(join(tmpdir(), 'arch-attention-'));
const run = join(dir, 'induction');
const weights = join(run, 'checkpoint.safetensors');
// L = 16: rows are 9 random letters and the first 8 of them again, so the period is 9.
const L = 16;
const PERIOD = Math.ceil((L + 1) / 2);
const MODEL = ['models/gpt-nano.arch', '--set', `L=${L}`, '--set', 'D=32', '--set', 'H=2', '--set', 'N=1'];

function arch(...args: string[]) {
  const r = spawnSync('node', ['bin/arch.js', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

/** Mean weight, over the queries of the repeated half, on the key one after the previous occurrence. */
function inductionScore(map: Float32Array, n: number): number {
  let s = 0;
  for (let i = PERIOD; i < n; i++) s += map[i * n + i - PERIOD + 1]!;
  return s / (n - PERIOD);
}

const prompt = (seed: number) => {
  const letters = 'abcdefghijklmnopqrstuvwxyz'.split('');
  const pick: string[] = [];
  for (let x = seed; pick.length < PERIOD; ) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const c = letters[x % 26]!;
    if (!pick.includes(c)) pick.push(c);
  }
  return [...pick, ...pick].slice(0, L).join('');
};

describe('arch attention', () => {
  beforeAll(() => {
    const r = arch('train', ...MODEL, '--data', 'task:induction', '--steps', '150', '--lr', '5e-3', '--batch', '16', '--eval-every', '0', '--out', run,
      '--backend', process.env.ARCH_TEST_BACKEND ?? 'webgpu');
    expect(r.code, r.err).toBe(0);
  });

  it('a model trained on task:induction attends to the token after the previous occurrence', () => {
    const uniform = Array.from({ length: L - PERIOD }, (_, k) => 1 / (PERIOD + k + 1)).reduce((a, x) => a + x, 0) / (L - PERIOD);
    for (const seed of [1, 2, 3]) {
      const text = prompt(seed);
      const r = attentionMaps(nodeEnv(), { file: 'models/gpt-nano.arch', weights, prompt: text });
      expect(r.tokens.join('')).toBe(text);
      expect(r.layers).toHaveLength(1);
      expect(r.layers[0]!.maps).toHaveLength(2);
      const scores = r.layers[0]!.maps.map((m) => inductionScore(m, L));
      const best = Math.max(...scores);
      // Causal attention spread evenly would put ~0.08 there.
      expect(best, `scores ${scores.join(', ')} for ${text}`).toBeGreaterThan(0.5);
      expect(best).toBeGreaterThan(5 * uniform);
      // And in that head it is the key most attended to, for most queries of the repeated half.
      const m = r.layers[0]!.maps[scores.indexOf(best)]!;
      let argmaxHits = 0;
      for (let i = PERIOD; i < L; i++) {
        const row = Array.from(m.subarray(i * L, i * L + L));
        if (row.indexOf(Math.max(...row)) === i - PERIOD + 1) argmaxHits++;
      }
      expect(argmaxHits).toBeGreaterThanOrEqual(L - PERIOD - 1);
      // Every row is a distribution over the keys up to the query (causal).
      for (const map of r.layers[0]!.maps)
        for (let i = 0; i < L; i++) {
          const row = map.subarray(i * L, i * L + L);
          expect(row.reduce((a, x) => a + x, 0)).toBeCloseTo(1, 4);
          for (let j = i + 1; j < L; j++) expect(row[j]).toBe(0);
        }
    }
  });

  it('draws the maps as an SVG whose pixels show the pattern', () => {
    const text = prompt(4);
    const out = join(dir, 'attention.svg');
    const r = arch('attention', 'models/gpt-nano.arch', '--weights', weights, '--prompt', text, '--out', out);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/layer 0: stream\.0\.causal_attention, 2 heads/);
    const svg = readFileSync(out, 'utf8');
    const maps = attentionMaps(nodeEnv(), { file: 'models/gpt-nano.arch', weights, prompt: text });
    const head = maps.layers[0]!.maps.map((m) => inductionScore(m, L)).reduce((b, s, i, all) => (s > all[b]! ? i : b), 0);
    const layout = heatmapLayout({ title: '', tokens: maps.tokens, maps: maps.layers[0]!.maps.map((weights, h) => ({ layer: 0, head: h, weights })) });
    const img = new Resvg(svg).render();
    const lum = (q: number, k: number, h: number) => {
      const p = layout.panels.find((x) => x.head === h)!;
      const x = Math.floor(p.x + (k + 0.5) * layout.cell);
      const y = Math.floor(p.y + (q + 0.5) * layout.cell);
      const i = (y * img.width + x) * 4;
      return 0.299 * img.pixels[i]! + 0.587 * img.pixels[i + 1]! + 0.114 * img.pixels[i + 2]!;
    };
    // The first query sees only itself (weight 1: dark); keys after the query are 0 (pale).
    expect(lum(0, 0, head)).toBeLessThan(90);
    expect(lum(0, L - 1, head)).toBeGreaterThan(200);
    expect(lum(3, 10, head)).toBeGreaterThan(200);
    // The induction diagonal is dark, the cells beside it on the same row are pale.
    let dark = 0;
    for (let i = PERIOD; i < L; i++) if (lum(i, i - PERIOD + 1, head) < 130 && lum(i, i, head) > lum(i, i - PERIOD + 1, head) + 50) dark++;
    expect(dark).toBeGreaterThanOrEqual(L - PERIOD - 2);
    // Tokens label the axes.
    for (const c of new Set(text)) expect(svg).toContain(`>${c}<`);
  });

  it('writes beside the checkpoint by default, and says where', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'arch-attention-cwd-'));
    const r = spawnSync('node', [resolve('bin/arch.js'), 'attention', resolve('models/gpt-nano.arch'), '--weights', weights, '--prompt', 'abcab'], { encoding: 'utf8', cwd, timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`-> ${join(run, 'attention.svg')} (beside the checkpoint`);
    expect(readFileSync(join(run, 'attention.svg'), 'utf8')).toMatch(/<svg/);
    expect(existsSync(join(cwd, 'attention.svg'))).toBe(false);
  });

  it('needs --weights and a prompt', () => {
    expect(arch('attention', 'models/gpt-nano.arch', '--prompt', 'ab').code).toBe(2);
    const r = arch('attention', 'models/gpt-nano.arch', '--weights', weights);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--prompt is required/);
    const bad = arch('attention', 'models/gpt-nano.arch', '--weights', weights, '--prompt', 'ab!');
    expect(bad.code).toBe(2);
  });
});

describe('splitHeads', () => {
  it('finds queries, keys and heads in any layout; head = g * R + r', () => {
    // axes [L, G, B, M, R] (queries, keys and batch moved about), n = 3, G = 2, R = 3: value = 1000 g + 100 r + 10 l + m.
    const n = 3, G = 2, R = 3;
    const axes = [{ name: 'L', size: n }, { name: 'G', size: G }, { name: 'B', size: 1 }, { name: 'M', size: n }, { name: 'R', size: R }];
    const data = new Float32Array(n * G * n * R);
    let k = 0;
    for (let l = 0; l < n; l++) for (let g = 0; g < G; g++) for (let m = 0; m < n; m++) for (let r = 0; r < R; r++) data[k++] = 1000 * g + 100 * r + 10 * l + m;
    const v: Value = { type: { dtype: 'f32', axes }, data };
    const heads = splitHeads(v, 'B', 'L', 'L', n, ['L', G, 'B', 'L', R]);
    expect(heads).toHaveLength(G * R);
    heads.forEach((map, h) => {
      const g = Math.floor(h / R), r = h % R;
      for (let l = 0; l < n; l++) for (let m = 0; m < n; m++) expect(map[l * n + m]).toBe(1000 * g + 100 * r + 10 * l + m);
    });
  });
});
