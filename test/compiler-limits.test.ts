// The compiler under hostile input: programs deeper or bigger than any real model (generated here)
// get an answer in seconds or one located limit error, never a stack overflow, `internal error` or
// a hang; and a line with CJK or emoji gets its carets under the right characters. Time bounds are
// hang guards only: the real speed is measured by hand (docs/reliability.md).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { editDistance } from '../grammar/edit-distance.js';
import { LineIndex } from '../grammar/lines.js';
import type { Diagnostic } from '../grammar/diagnostic.js';
import { MAX_BLOCK_DEPTH, MAX_CHECK_DEPTH, MAX_ERRORS } from '../src/compiler/check-base.js';
import { compileSource } from '../src/compiler/compile.js';
import { renderDiagnostics } from '../src/compiler/diagnostics.js';
import { closest } from '../src/compiler/names.js';
import { displayWidth } from '../src/compiler/text-width.js';
import { rng } from './ir-helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'arch-limits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEAD = ['model gen', '', 'dims', '  B', '  L = 8', '  D = 16', '  V = 16', '', 'input tokens_BLV : onehot', 'param wte_VD ~ normal(0.02)', 'embedded_BLD = tokens_BLV @ wte_VD'];
const TAIL = ['logits_BLV = stream_BLD @ wte_VD', 'loss = cross_entropy(logits_BLV, next(tokens_BLV))'];

/** `arch check` on a generated file: exit code, stderr, and the line:col the source gives `needle`. */
function check(name: string, lines: string[], needle: string) {
  const source = lines.join('\n') + '\n';
  writeFileSync(join(dir, name), source);
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/arch.js'), 'check', name], {
    cwd: dir, encoding: 'utf8', timeout: 30_000, env: { ...process.env, NO_COLOR: '1' },
  });
  const line = lines.findIndex((l) => l.includes(needle));
  return { ...r, at: `${name}:${line + 1}:${lines[line]!.indexOf(needle) + 1}` };
}

function expectLocatedError(r: ReturnType<typeof check>, message: string): void {
  expect(r.error, 'no hang').toBeUndefined();
  expect(r.status).toBe(1);
  expect(r.stderr).toContain(message);
  expect(r.stderr).toContain(`--> ${r.at}\n`);
  expect(r.stderr).not.toContain('internal error');
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

describe('deep programs: a located limit error, not a stack overflow', () => {
  it(`a chain of 1,500 blocks, each calling the next, stops at ${MAX_BLOCK_DEPTH} deep`, () => {
    const blocks = Array.from({ length: 1500 }, (_, i) => [
      '',
      `block b${i + 1}(x_BLD) -> BLD`,
      i < 1499 ? `  out_BLD = b${i + 2}(x_BLD)` : '  out_BLD = x_BLD * 2',
    ]).flat();
    const r = check('chain.arch', [...HEAD, 'stream_BLD = b1(embedded_BLD)', ...TAIL, ...blocks], `b${MAX_BLOCK_DEPTH + 1}(x_BLD)`);
    expectLocatedError(r, `error[depth]: blocks nested too deeply: this call of \`b${MAX_BLOCK_DEPTH + 1}\` would be ${MAX_BLOCK_DEPTH + 1} blocks deep`);
    expect(r.stderr).toContain('= note: the chain: b1 -> b2 -> b3 -> ... ->');
    expect(r.stderr).toMatch(/1 error\n$/);
  });

  it('f(f(f(...))) 5,000 deep is refused by the parser at its nesting limit', () => {
    const r = check('calls.arch', [...HEAD, `stream_BLD = ${'f('.repeat(5000)}embedded_BLD${')'.repeat(5000)}`, ...TAIL, 'block f(x_BLD) -> BLD', '  out_BLD = x_BLD'], 'f(f(');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error[syntax]: expressions nested too deeply');
    expect(r.stderr).toMatch(/--> calls\.arch:12:\d+\n/);
    expect(r.stderr).not.toContain('internal error');
  });

  it(`expressions nested across block calls stop at ${MAX_CHECK_DEPTH} levels`, () => {
    // Each block wraps the call of the next in 90 exp(...): within the parser's limit on every
    // line, but 100 blocks of them nest 9,000 deep for the checker.
    const blocks = Array.from({ length: MAX_BLOCK_DEPTH }, (_, i) => {
      const inner = i < MAX_BLOCK_DEPTH - 1 ? `b${i + 2}(x_BLD)` : 'x_BLD';
      return ['', `block b${i + 1}(x_BLD) -> BLD`, `  out_BLD = ${'exp('.repeat(90)}${inner}${')'.repeat(90)}`];
    }).flat();
    // Each block level costs its 90 exps and the call: the limit falls inside the fourth block.
    const deepest = Math.ceil(MAX_CHECK_DEPTH / 91);
    const r = check('nested.arch', [...HEAD, 'stream_BLD = b1(embedded_BLD)', ...TAIL, ...blocks], `b${deepest + 1}(x_BLD)`);
    expect(r.error, 'no hang').toBeUndefined();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error[depth]: expressions nested too deeply to check');
    expect(r.stderr).toMatch(new RegExp(`--> ${r.at.split(':').slice(0, 2).join(':')}:\\d+\n`));
    expect(r.stderr).toContain(`= note: inside ${Array.from({ length: deepest }, (_, i) => `b${i + 1}`).join(' -> ')}\n`);
    expect(r.stderr).not.toContain('internal error');
  });

  it('a chain of 450 operations in each of 100 nested blocks is checked: chains cost no depth', () => {
    const blocks = Array.from({ length: MAX_BLOCK_DEPTH }, (_, i) => {
      const inner = i < MAX_BLOCK_DEPTH - 1 ? `b${i + 2}(x_BLD)` : 'x_BLD';
      return ['', `block b${i + 1}(x_BLD) -> BLD`, `  out_BLD = ${inner}${' + x_BLD'.repeat(450)}`];
    }).flat();
    const r = compileSource('chains.arch', [...HEAD, 'stream_BLD = b1(embedded_BLD)', ...TAIL, ...blocks].join('\n'));
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(r.model!.nodes.filter((n) => n.op.kind === 'binary' && n.scope.startsWith('stream')).length).toBe(450 * MAX_BLOCK_DEPTH);
  });
});

describe('big programs: near-linear, and no flood of diagnostics', () => {
  it(`60,000 statements with an undefined name each: checking stops after ${MAX_ERRORS} errors`, () => {
    const body = Array.from({ length: 60_000 }, (_, i) => `y${i}_BLD = missing${i}_BLD + embedded_BLD`);
    const r = check('big.arch', [...HEAD, ...body, 'stream_BLD = embedded_BLD', ...TAIL], `missing${MAX_ERRORS}_BLD`);
    expectLocatedError(r, `error[limit]: checking stopped after ${MAX_ERRORS} errors`);
    expect(r.stderr).toContain(`${MAX_ERRORS + 1} errors\n`);
    expect(r.stderr.match(/^error\[name\]: `missing\d+_BLD` is not defined$/gm)).toHaveLength(MAX_ERRORS);
  });

  it('5,000 unused tensors: 100 warnings listed, the rest counted, and the model passes', () => {
    const body = Array.from({ length: 5000 }, (_, i) => `y${i}_BLD = embedded_BLD * ${i + 1}`);
    const r = compileSource('unused.arch', [...HEAD, ...body, 'stream_BLD = embedded_BLD', ...TAIL].join('\n'));
    expect(r.model).not.toBeNull();
    const warnings = r.diagnostics.filter((d) => d.severity === 'warning');
    expect(warnings).toHaveLength(101);
    expect(warnings[100]!.message).toBe('4900 more warnings not shown');
    expect(warnings.slice(0, 100).every((d) => /^the tensor `y\d+_BLD` is never used$/.test(d.message))).toBe(true);
  });
});

describe('non-ASCII source: spans in UTF-16 units, carets in terminal cells', () => {
  const source = [
    'model uni',
    '# 模型：一个很小的例子 🚀',
    ...HEAD.slice(2),
    'x_BLD = 😀😀 + 中文 + embedded_BLD   # 注释 ✨',
    'stream_BLD = embedded_BLD',
    ...TAIL,
  ].join('\n');

  it('each unknown character run is found at its UTF-16 column, and the caret sits under it', () => {
    const r = compileSource('uni.arch', source);
    const runs = r.diagnostics.map((d) => d.message);
    expect(runs).toEqual(['unknown characters `😀😀`', 'unknown characters `中文`']);
    const lines = new LineIndex(source);
    const rendered = renderDiagnostics(r.diagnostics, { sources: r.sources, color: false }).split('\n');
    for (const d of r.diagnostics) {
      const text = lines.text(d.span.start.line);
      const shown = d.message.slice(d.message.indexOf('`') + 1, -1);
      // The column counts UTF-16 code units, what LSP and CodeMirror take.
      expect(text.slice(d.span.start.col - 1, d.span.end.col - 1)).toBe(shown);
      expect(source.slice(d.span.start.offset, d.span.end.offset)).toBe(shown);
      // Under the source line, the carets start after as many cells as the text before the span takes.
      const at = rendered.findIndex((l) => l.endsWith(`--> uni.arch:${d.span.start.line}:${d.span.start.col}`));
      const gutter = rendered[at + 2]!.indexOf('|') + 2;
      const caret = rendered[at + 3]!;
      expect(caret.indexOf('^') - gutter).toBe(displayWidth(text.slice(0, d.span.start.col - 1)));
      expect(caret.slice(caret.indexOf('^')).trimEnd()).toBe('^'.repeat(displayWidth(shown)));
    }
    expect(displayWidth('x_BLD = 😀😀 + ')).toBe(15); // two cells per emoji (also two units)
    expect(displayWidth('中文')).toBe(4); // two cells per character, one unit each
    expect(displayWidth('é́')).toBe(1); // e, then a combining accent: one cell
  });

  it('a span after wide characters, on a line clipped for length, still lines up', () => {
    const line = `${'汉'.repeat(100)} x_BLD = 🚀🚀 ${'y'.repeat(200)} target_BLD`;
    const src = `${line}\n`;
    const start = line.indexOf('target_BLD');
    const at = (col: number) => ({ offset: col - 1, line: 1, col });
    const d: Diagnostic = { severity: 'error', code: 'name', message: 'm', file: 'w.arch', span: { start: at(start + 1), end: at(start + 11) } };
    const out = renderDiagnostics([d], { sources: new Map([['w.arch', src]]), color: false }).split('\n');
    const shown = out[3]!.slice(out[3]!.indexOf('|') + 2);
    const caret = out[4]!.slice(out[4]!.indexOf('|') + 2);
    expect(caret.indexOf('^')).toBe(displayWidth(shown.slice(0, shown.indexOf('target_BLD'))));
    expect(caret.trimEnd().endsWith('^'.repeat(10))).toBe(true);
  });
});

describe('the helpers the limits rest on', () => {
  it('one edit distance, with an early exit past the limit', () => {
    expect(editDistance('blok', 'block')).toBe(1);
    expect(editDistance('varient', 'variant')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('kitten', 'sitting', 2)).toBe(Number.POSITIVE_INFINITY);
    expect(editDistance('a', 'abcdef')).toBe(Number.POSITIVE_INFINITY); // 5 apart in length, past the default limit of 3
    expect(closest('embeded_BLD', ['embedded_BLD', 'logits_BLV'])).toBe('embedded_BLD');
    expect(closest('zzzz', ['embedded_BLD'])).toBeUndefined();
    // The parser's misspelt keyword uses the same distance.
    const r = compileSource('kw.arch', 'model m\nblok mlp(x_BLD) -> BLD\n');
    expect(r.diagnostics.find((d) => d.message === 'unknown keyword `blok`')?.help).toBe('did you mean `block`?');
  });

  it('the line table agrees with splitting the source, for every offset of random text', () => {
    const random = rng(0x11e5);
    const pieces = ['a', 'b', ' ', '\n', '\r', '\r\n', '中', '😀'];
    for (let t = 0; t < 20; t++) {
      const text = Array.from({ length: 200 }, () => pieces[Math.floor(random() * pieces.length)]).join('');
      const index = new LineIndex(text);
      const lines = text.split(/\r\n|\r|\n/);
      expect(index.count).toBe(lines.length);
      lines.forEach((l, i) => expect(index.text(i + 1)).toBe(l));
      let line = 1;
      let col = 1;
      for (let o = 0; o <= text.length; o++) {
        expect(index.position(o)).toEqual({ offset: o, line, col });
        const c = text[o];
        if (c === '\n' || (c === '\r' && text[o + 1] !== '\n')) {
          line++;
          col = 1;
        } else col++;
      }
    }
  });
});
