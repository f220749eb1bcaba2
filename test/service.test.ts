// The language service, called directly: UTF-16 positions past non-ASCII comments, and each feature
// answering from the checker's own results.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { preludeSource } from '../src/compiler/compile.js';
import { LanguageService, PRELUDE_FILE } from '../src/service/index.js';

const service = new LanguageService(preludeSource());
const gpt2 = readFileSync('models/gpt2.arch', 'utf8');

/** The position of the n-th occurrence of `needle` in `text` (0-based line, UTF-16 character). */
function at(text: string, needle: string, n = 0, into = 0): { line: number; character: number } {
  let i = -1;
  for (let k = 0; k <= n; k++) i = text.indexOf(needle, i + 1);
  if (i < 0) throw new Error(`${needle} not found`);
  const before = text.slice(0, i + into);
  const line = before.split('\n').length - 1;
  return { line, character: before.length - (before.lastIndexOf('\n') + 1) };
}

// Emoji (two UTF-16 units each) and CJK before the names on the same line.
const UNICODE = `# 模型 🚀🚀
model tiny  # 小さい 🧪

dims
  B
  L = 8   # 長さ 🔥
  D = 4
  V = 16
  H = 2
  K = D / H

input tokens_BLV : onehot
param wte_VD ~ normal(0.02)
x_BLD = tokens_BLV @ wte_VD
loss = mean(x_BLD @ wte_VD) + mean(x_BLD[D -> H K])  # 🎉 end
`;

describe('language service', () => {
  it('reports a shape error at its exact UTF-16 range after emoji and CJK', () => {
    const text = '# 😀😀\n' + UNICODE + 'y_BLH = x_BLD  # 😀\n';
    const a = service.analyze('u.arch', text);
    const ds = service.diagnostics(a);
    const d = ds.find((d) => d.code === 'shape');
    expect(d, JSON.stringify(ds)).toBeDefined();
    expect(d!.range.start).toEqual(at(text, 'x_BLD  # 😀'));
    expect(d!.range.end).toEqual(at(text, 'x_BLD  # 😀', 0, 'x_BLD'.length));
    expect(d!.message).toMatch(/help: /);
    expect(d!.related[0]!.location.range.start).toEqual(at(text, 'y_BLH'));
  });

  it('hovers, defines and references names on a line with a comment full of emoji', () => {
    const a = service.analyze('u.arch', UNICODE);
    expect(service.diagnostics(a)).toEqual([]);
    const h = service.hover(a, at(UNICODE, 'x_BLD[D', 0, 2))!;
    expect(h.contents).toContain('`[B, L=8, D=4]`');
    expect(h.range.start).toEqual(at(UNICODE, 'x_BLD[D'));
    const k = service.hover(a, at(UNICODE, 'K]'))!;
    expect(k.contents).toContain('K = D / H = 4 / 2 = 2');
    expect(service.definition(a, at(UNICODE, 'x_BLD @'))).toEqual([{ file: 'u.arch', range: { start: at(UNICODE, 'x_BLD ='), end: at(UNICODE, 'x_BLD =', 0, 5) } }]);
    expect(service.references(a, at(UNICODE, 'x_BLD =')).length).toBe(3);
  });

  it('hover on gpt2: shapes per instance, derivations, a block call as instantiated, dims and variants', () => {
    const a = service.analyze('models/gpt2.arch', gpt2);
    expect(a.model).not.toBeNull();
    expect(service.hover(a, at(gpt2, 'embedded_BLD ='))!.contents).toContain('`[B, L=1024, D=768]`');
    const v = service.hover(a, at(gpt2, 'v_BMGK ='))!.contents;
    expect(v).toContain('`[B, M=1024, G=12, K=64]` in 12 instances');
    expect(v).toContain('K = D / H = 768 / 12 = 64');
    const call = service.hover(a, at(gpt2, 'linear(x_BLD[L', 0, 1))!.contents;
    expect(call).toContain('block linear(x_*I) -> *O');
    expect(call).toContain('-> [B, M=1024, G=12, K=64]');
    expect(call).toContain('parameters: 7,087,104 in 12 instances'); // 12 x (768 x 768 + 768)
    expect(service.hover(a, at(gpt2, '  D = 768', 0, 2))!.contents).toMatch(/`D` = 768: a dim, declared at line 10/);
    expect(service.hover(a, at(gpt2, 'act ='))!.contents).toContain('`gelu` | `relu`');
  });

  it('--set values reach hover', () => {
    const a = service.analyze('models/gpt2.arch', gpt2, new Map([['D', '64'], ['H', '4']]));
    expect(service.hover(a, at(gpt2, 'embedded_BLD ='))!.contents).toContain('D=64');
    expect(service.hover(a, at(gpt2, 'K = D', 0))!.contents).toContain('K = D / H = 64 / 4 = 16');
  });

  it('goes to prelude blocks, dims, variants and values', () => {
    const a = service.analyze('models/gpt2.arch', gpt2);
    const [def] = service.definition(a, at(gpt2, 'layernorm(stream'));
    expect(def!.file).toBe(PRELUDE_FILE);
    expect(service.preludeText.split('\n')[def!.range.start.line]).toContain('block layernorm(');
    expect(service.definition(a, at(gpt2, 'layer(dropout'))[0]!.range.start).toEqual(at(gpt2, 'layer(x_BLD)'));
    expect(service.definition(a, at(gpt2, 'sqrt(K)', 2, 5))[0]!.range.start).toEqual(at(gpt2, 'K = D'));
    expect(service.definition(a, at(gpt2, 'residual == on'))[0]!.range.start).toEqual(at(gpt2, 'residual = on'));
    expect(service.definition(a, at(gpt2, 'pos == sinusoidal', 0, 8))[0]!.range.start).toEqual(at(gpt2, 'sinusoidal |'));
    const refs = service.references(a, at(gpt2, 'wte_VD ~'));
    expect(refs.map((r) => r.range.start)).toEqual([at(gpt2, 'wte_VD ~'), at(gpt2, 'wte_VD', 1), at(gpt2, 'wte_VD', 2)]);
  });

  it('completes suffix letters, variant values and names', () => {
    const text = gpt2 + '\ny_BL';
    const a = service.analyze('models/gpt2.arch', text);
    const end = a.lines.positionAt(text.length);
    const c = service.completion(a, end);
    expect(c.items.map((i) => i.label)).toContain('y_BLD');
    expect(c.items.map((i) => i.label)).not.toContain('y_BLL');
    expect(c.replace!.start.character).toBe(0);
    const v = gpt2 + '\nif norm == ';
    const b = service.analyze('models/gpt2.arch', v);
    expect(service.completion(b, b.lines.positionAt(v.length)).items.map((i) => i.label)).toEqual(['pre', 'post']);
    const all = service.completion(service.analyze('models/gpt2.arch', gpt2), at(gpt2, 'loss =')).items;
    expect(all.find((i) => i.label === 'mlp')?.detail).toBe('block mlp(x_*D) -> *D (prelude)');
    expect(all.map((i) => i.label)).toEqual(expect.arrayContaining(['softmax', 'D', 'act', 'embedded_BLD']));
  });

  it('lists symbols and colours shape suffixes apart from stems', () => {
    const a = service.analyze('u.arch', UNICODE);
    const symbols = service.documentSymbols(a);
    expect(symbols.filter((s) => s.kind === 'dim').map((s) => `${s.name}=${s.detail}`)).toEqual(['B=runtime', 'L=8', 'D=4', 'V=16', 'H=2', 'K=2']);
    expect(symbols.find((s) => s.name === 'wte_VD')?.kind).toBe('param');
    const tokens = service.semanticTokens(a);
    const x = at(UNICODE, 'x_BLD @');
    expect(tokens.filter((t) => t.line === x.line && t.character >= x.character && t.character < x.character + 5).map((t) => [t.character - x.character, t.length, t.type])).toEqual([[0, 2, 'variable'], [2, 3, 'type']]);
    const comment = tokens.find((t) => t.type === 'comment' && t.line === x.line);
    expect(comment).toEqual({ line: x.line, character: at(UNICODE, '# 🎉').character, length: '# 🎉 end'.length, type: 'comment', modifiers: [] });
  });

  it('formats to one edit, none when formatted, refuses what does not parse', () => {
    const a = service.analyze('u.arch', UNICODE.replace('x_BLD = tokens_BLV @ wte_VD', 'x_BLD=tokens_BLV@wte_VD'));
    const edits = service.formatting(a)!;
    expect(edits[0]!.newText).toContain('x_BLD = tokens_BLV @ wte_VD\n');
    expect(service.formatting(service.analyze('u.arch', edits[0]!.newText))).toEqual([]);
    expect(service.formatting(service.analyze('u.arch', 'model x\ndims\n  B = (\n'))).toBeNull();
  });
});
