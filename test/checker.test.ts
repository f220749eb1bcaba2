// What the checker must get right on valid models: parameter counts that match the published
// GPT-2 sizes, every variant of gpt2.arch, clean checks of every shipped model, dim derivations
// and the shapes of traced tensors.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../src/compiler/compile.js';
import type { CheckedModel } from '../src/compiler/graph.js';
import { renderDiagnostics } from '../src/compiler/diagnostics.js';

const MODELS = fileURLToPath(new URL('../models/', import.meta.url));
const GPT2 = readFileSync(MODELS + 'gpt2.arch', 'utf8');

function checked(file: string, source: string, sets: Record<string, string> = {}): CheckedModel {
  const r = compileSource(file, source, new Map(Object.entries(sets)));
  // On failure, show the diagnostics themselves, not just "expected null".
  expect(renderDiagnostics(r.diagnostics, { sources: r.sources, color: false })).toBe('');
  expect(r.model).not.toBeNull();
  return r.model!;
}

const paramCount = (m: CheckedModel) => m.params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);

/** `name` in the block instance `scope` as [letter, size] pairs, in layout order. */
function shapeOf(m: CheckedModel, scope: string, name: string): [string, number | null][] {
  const t = m.trace.find((e) => e.scope === scope && e.name === name);
  expect(t, `${scope ? scope + '.' : ''}${name} is traced`).toBeDefined();
  return m.nodes[t!.node]!.axes.map((a) => [m.axes.get(a)!.letter, m.axes.get(a)!.size]);
}

describe('parameter counts', () => {
  it('GPT-2 small has 124,439,808 parameters (tied head)', () => {
    expect(paramCount(checked('models/gpt2.arch', GPT2))).toBe(124_439_808);
  });

  it('GPT-2 medium (N=24 D=1024 H=16) has 354,823,168 parameters', () => {
    expect(paramCount(checked('models/gpt2.arch', GPT2, { N: '24', D: '1024', H: '16' }))).toBe(354_823_168);
  });

  it('the untied head adds exactly one D x V matrix', () => {
    const tied = paramCount(checked('models/gpt2.arch', GPT2));
    expect(paramCount(checked('models/gpt2.arch', GPT2, { head: 'untied' }))).toBe(tied + 768 * 50257);
  });

  it('sinusoidal or no positions drop exactly the L x D position table', () => {
    const learned = paramCount(checked('models/gpt2.arch', GPT2));
    for (const pos of ['sinusoidal', 'none']) expect(paramCount(checked('models/gpt2.arch', GPT2, { pos }))).toBe(learned - 1024 * 768);
  });

  it('each parameter shape is the sizes of its letters', () => {
    const m = checked('models/gpt2.arch', GPT2);
    for (const p of m.params) expect(p.shape).toEqual(p.axes.map((a) => m.axes.get(a)!.size));
    expect(m.params.find((p) => p.path === 'wte')!.shape).toEqual([50257, 768]);
    expect(m.params.find((p) => p.path === 'stream.0.causal_attention.q.w')!.shape).toEqual([768, 12, 64]);
    expect(m.params.filter((p) => p.path.endsWith('causal_attention.q.w'))).toHaveLength(12);
  });
});

describe('variants of gpt2.arch', () => {
  const variants: Record<string, string>[] = [
    {},
    { act: 'relu' },
    { norm: 'post' },
    { pos: 'sinusoidal' },
    { pos: 'none' },
    { head: 'untied' },
    { G: '4' },
    { dropout: '0.1' },
    { mask: 'none' },
    { act: 'relu', norm: 'post', pos: 'none', head: 'untied', G: '4', dropout: '0.1' },
  ];
  for (const sets of variants) {
    it(`checks clean with ${Object.entries(sets).map(([k, v]) => `${k}=${v}`).join(' ') || 'the defaults'}`, () => {
      const m = checked('models/gpt2.arch', GPT2, sets);
      for (const [k, v] of Object.entries(sets)) {
        if (m.dims.has(k)) expect(m.dims.get(k)!.size).toBe(Number(v));
        else expect(String(m.variants.get(k))).toBe(v);
      }
    });
  }

  it('G=4 is grouped-query attention: 3 query heads per key/value head, smaller k and v', () => {
    const m = checked('models/gpt2.arch', GPT2, { G: '4' });
    expect(m.dims.get('R')).toEqual({ size: 3, derivation: 'R = H / G = 12 / 4 = 3' });
    expect(m.params.find((p) => p.path === 'stream.0.causal_attention.k.w')!.shape).toEqual([768, 4, 64]);
    expect(shapeOf(m, 'stream.0.causal_attention', 'scores_BGRLM')).toEqual([['B', null], ['G', 4], ['R', 3], ['L', 1024], ['M', 1024]]);
  });

  it('dropout=0.1 puts dropout in the graph; the default 0.0 leaves it out', () => {
    const count = (m: CheckedModel) => m.nodes.filter((n) => n.op.kind === 'dropout').length;
    expect(count(checked('models/gpt2.arch', GPT2))).toBe(0);
    // One on the embeddings, two per layer.
    expect(count(checked('models/gpt2.arch', GPT2, { dropout: '0.1' }))).toBe(1 + 2 * 12);
  });
});

describe('every shipped model', () => {
  const files = readdirSync(MODELS).filter((f) => f.endsWith('.arch')).sort();
  it('there are models to check', () => expect(files.length).toBeGreaterThanOrEqual(5));
  for (const f of files) {
    it(`${f} checks with no errors and no warnings`, () => {
      const r = compileSource(`models/${f}`, readFileSync(MODELS + f, 'utf8'));
      expect(renderDiagnostics(r.diagnostics, { sources: r.sources, color: false })).toBe('');
      expect(r.model).not.toBeNull();
      expect(r.model!.outputs.has('loss')).toBe(true);
      const loss = r.model!.nodes[r.model!.outputs.get('loss')!]!;
      expect(loss.axes).toEqual([]);
    });
  }
});

describe('dims', () => {
  it('say how they got their values', () => {
    const m = checked('models/gpt2.arch', GPT2);
    expect(m.dims.get('K')).toEqual({ size: 64, derivation: 'K = D / H = 768 / 12 = 64' });
    expect(m.dims.get('F')).toEqual({ size: 3072, derivation: 'F = 4 * D = 4 * 768 = 3072' });
    expect(m.dims.get('M')!.size).toBe(1024);
    expect(m.dims.get('B')!.size).toBeNull();
  });

  it('a --set dim flows into the dims computed from it', () => {
    const m = checked('models/gpt2.arch', GPT2, { D: '1024', H: '16' });
    expect(m.dims.get('K')).toEqual({ size: 64, derivation: 'K = D / H = 1024 / 16 = 64' });
    expect(m.dims.get('F')!.size).toBe(4096);
  });

  it('keep the parentheses a derivation needs', () => {
    const src = GPT2.replace(/^ {2}F = 4 \* D .*$/m, '  F = D * (H - 8)');
    expect(checked('models/gpt2.arch', src).dims.get('F')).toEqual({ size: 3072, derivation: 'F = D * (H - 8) = 768 * (12 - 8) = 3072' });
  });
});

describe('traced tensor shapes', () => {
  const m = checked('models/gpt2.arch', GPT2);
  it('top level', () => {
    expect(shapeOf(m, '', 'embedded_BLD')).toEqual([['B', null], ['L', 1024], ['D', 768]]);
    expect(shapeOf(m, '', 'logits_BLV')).toEqual([['B', null], ['L', 1024], ['V', 50257]]);
  });
  it('inside attention, with the caller’s sizes', () => {
    expect(shapeOf(m, 'stream.0.causal_attention', 'q_BLHK')).toEqual([['B', null], ['L', 1024], ['H', 12], ['K', 64]]);
    expect(shapeOf(m, 'stream.11.causal_attention', 'k_BMGK')).toEqual([['B', null], ['M', 1024], ['G', 12], ['K', 64]]);
    expect(shapeOf(m, 'stream.0.causal_attention', 'weights_BGRLM')).toEqual([['B', null], ['G', 12], ['R', 1], ['L', 1024], ['M', 1024]]);
  });
  it('a wildcard block binds * to the caller’s leading letters', () => {
    expect(shapeOf(m, 'stream.0.mlp', 'hidden_*F')).toEqual([['B', null], ['L', 1024], ['F', 3072]]);
    expect(shapeOf(m, 'stream.0.layernorm', 'mu_*')).toEqual([['B', null], ['L', 1024]]);
  });
  it('repeat N makes N instances', () => {
    const layers = new Set(m.trace.filter((t) => /^stream\.\d+$/.test(t.scope)).map((t) => t.scope));
    expect(layers.size).toBe(12);
  });
});
