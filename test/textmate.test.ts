// The VS Code extension's TextMate grammar, run by the engine VS Code uses (vscode-textmate over
// the Oniguruma WASM build) on every shipped model and the prelude: every character of a program
// gets a scope, shape suffixes and comments exactly where the lexer and parser put them, and the
// grammar colours each line as highlightLine does; and the same rules as a CodeMirror
// StreamLanguage (archStreamParser, for the playground) colour the same files the same way.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { StreamLanguage } from '@codemirror/language';
import { classHighlighter, highlightTree } from '@lezer/highlight';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import oniguruma from 'vscode-oniguruma';
import vsctm from 'vscode-textmate';
import { tensorName } from '../grammar/index.js';
import { lex, Name, tokenSpan } from '../grammar/lexer.js';
import { archStreamParser, HIGHLIGHT_STYLES, highlightLine } from '../src/service/highlight.js';
import { GRAMMAR_PATH, textmateGrammarText } from '../src/service/textmate.js';

const SHAPE = 'entity.name.type.shape.arch';
const COMMENT = 'comment.line.number-sign.arch';
const FILES = [...readdirSync('models').filter((f) => f.endsWith('.arch')).map((f) => `models/${f}`), 'src/compiler/prelude.arch'];

/** Each character's scopes (innermost last), line by line. */
type Scoped = string[][][];
let grammar: vsctm.IGrammar;

beforeAll(async () => {
  const wasm = readFileSync(createRequire(import.meta.url).resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({ createOnigScanner: (p) => new oniguruma.OnigScanner(p), createOnigString: (s) => new oniguruma.OnigString(s) }),
    loadGrammar: async (scopeName) => (scopeName === 'source.arch' ? vsctm.parseRawGrammar(readFileSync(GRAMMAR_PATH, 'utf8'), GRAMMAR_PATH) : null),
  });
  grammar = (await registry.loadGrammar('source.arch'))!;
});

/** Checks one editor's colouring of a file against the lexer and parser: every character that is
 *  not blank has a scope (or class) beyond the file's own; the letters of a shape suffix (`BLD` of
 *  `x_BLD`, as tensorName cuts it) have `shape`, the stem has `stem` and not `shape`; a character
 *  is in `comment` exactly when the lexer skipped it. */
function expectLexerAgrees(file: string, scoped: Scoped, names: { shape: string; stem: string; comment: string }): void {
  const text = readFileSync(file, 'utf8');
  const lines = text.split(/\r?\n/);
  const scopeAt = (line: number, col: number): string[] => scoped[line]![col] ?? [];
  let suffixes = 0;
  let comments = 0;
  lines.forEach((l, n) => {
    for (let c = 0; c < l.length; c++) if (l[c] !== ' ') expect(scopeAt(n, c).length, `${file}:${n + 1}:${c + 1}`).toBeGreaterThan(1);
  });
  const covered = lines.map((l) => new Array<boolean>(l.length).fill(false));
  for (const t of lex(text).tokens) {
    const s = tokenSpan(t);
    for (let c = s.start.col - 1; c < s.end.col - 1; c++) if (covered[s.start.line - 1]) covered[s.start.line - 1]![c] = true;
    if (t.tokenType !== Name) continue;
    const n = tensorName(t.image, s);
    if (!n.letters.length && !n.wildcard) continue;
    suffixes++;
    const cut = t.image.lastIndexOf('_') + 1;
    for (let i = 0; i < t.image.length; i++) {
      const at = `${file}:${s.start.line}:${s.start.col + i} in ${t.image}`;
      const scopes = scopeAt(s.start.line - 1, s.start.col - 1 + i);
      if (i < cut) {
        expect(scopes, at).not.toContain(names.shape);
        expect(scopes, at).toContain(names.stem);
      } else expect(scopes, at).toContain(names.shape);
    }
  }
  lines.forEach((l, n) => {
    for (let c = 0; c < l.length; c++) {
      if (l[c] === ' ') continue;
      const isComment = scopeAt(n, c).includes(names.comment);
      expect(isComment, `${file}:${n + 1}:${c + 1} ${covered[n]![c] ? 'is code' : 'is in a comment'}`).toBe(!covered[n]![c]);
      if (isComment) comments++;
    }
  });
  expect(suffixes).toBeGreaterThan(5);
  expect(comments).toBeGreaterThan(0);
}

function tokenize(text: string): Scoped {
  let stack = vsctm.INITIAL;
  return text.split(/\r?\n/).map((line, n) => {
    const r = grammar.tokenizeLine(line, stack);
    expect(r.stoppedEarly, `line ${n + 1} stopped early`).toBe(false);
    stack = r.ruleStack;
    const chars: string[][] = [];
    for (const t of r.tokens) for (let i = t.startIndex; i < Math.min(t.endIndex, line.length); i++) chars[i] = t.scopes;
    return chars;
  });
}

describe('the TextMate grammar', () => {
  it('is the one generated from src/service/highlight.ts (npm run build:grammar)', () => {
    expect(readFileSync(GRAMMAR_PATH, 'utf8')).toBe(textmateGrammarText());
  });

  it.each(FILES)('scopes every character of %s, shape suffixes and comments where the lexer has them', (file) => {
    expectLexerAgrees(file, tokenize(readFileSync(file, 'utf8')), { shape: SHAPE, stem: HIGHLIGHT_STYLES.tensor.scope, comment: COMMENT });
  });

  it.each(FILES)('colours %s as highlightLine does, character by character', (file) => {
    const text = readFileSync(file, 'utf8');
    const scoped = tokenize(text);
    text.split(/\r?\n/).forEach((line, n) => {
      const mine: (string | undefined)[] = new Array(line.length).fill(undefined);
      for (const t of highlightLine(line)) for (let c = t.from; c < t.to; c++) mine[c] = HIGHLIGHT_STYLES[t.kind].scope;
      const theirs = line.split('').map((ch, c) => (ch === ' ' ? undefined : (scoped[n]![c] ?? []).slice(1).at(-1)));
      expect(mine.map((s, c) => (line[c] === ' ' ? undefined : s)), `${file}:${n + 1}: ${line}`).toEqual(theirs);
    });
  });

  it('gives keywords, blocks, variants, dims, numbers and operators their scopes in gpt2.arch', () => {
    const text = readFileSync('models/gpt2.arch', 'utf8');
    const lines = text.split('\n');
    const scoped = tokenize(text);
    const scopeOf = (lineText: string, word: string, nth = 0): string | undefined => {
      const n = lines.indexOf(lineText);
      expect(n, lineText).toBeGreaterThanOrEqual(0);
      let c = -1;
      for (let k = 0; k <= nth; k++) c = lines[n]!.indexOf(word, c + 1);
      return scoped[n]![c]!.at(-1);
    };
    expect(scopeOf('model gpt2', 'model')).toBe('keyword.other.arch');
    expect(scopeOf('model gpt2', 'gpt2')).toBe('entity.name.namespace.arch');
    expect(scopeOf('  D = 768    # residual stream width', 'D')).toBe('entity.name.type.dim.arch');
    expect(scopeOf('  D = 768    # residual stream width', '768')).toBe('constant.numeric.arch');
    expect(scopeOf('  D = 768    # residual stream width', '#')).toBe(COMMENT);
    const variant = 'variant act = gelu | relu                  # the MLP\'s activation';
    expect(scopeOf(variant, 'act')).toBe('variable.other.constant.variant.arch');
    expect(scopeOf(variant, 'relu')).toBe('constant.language.variant-value.arch');
    expect(scopeOf(variant, '|')).toBe('keyword.operator.arch');
    expect(scopeOf('if pos == learned', 'if')).toBe('keyword.control.conditional.arch');
    expect(scopeOf('if pos == learned', 'learned')).toBe('constant.language.variant-value.arch');
    const embed = 'embedded_BLD = tokens_BLV @ wte_VD  # a one-hot contraction: a row lookup';
    expect(scopeOf(embed, '@')).toBe('keyword.operator.matmul.arch');
    expect(scopeOf(embed, 'wte')).toBe('variable.other.tensor.arch');
    expect(scopeOf(embed, 'VD')).toBe(SHAPE);
    expect(scopeOf('block layer(x_BLD) -> BLD', 'block')).toBe('keyword.other.arch');
    expect(scopeOf('block layer(x_BLD) -> BLD', 'layer')).toBe('entity.name.function.block.arch');
    expect(scopeOf('block layer(x_BLD) -> BLD', '->')).toBe('keyword.operator.arrow.arch');
    expect(scopeOf('block layer(x_BLD) -> BLD', 'BLD', 1)).toBe(SHAPE);
    expect(scopeOf('stream_BLD = repeat N layer(dropout(positioned_BLD, dropout))', 'repeat')).toBe('keyword.other.arch');
    expect(scopeOf('stream_BLD = repeat N layer(dropout(positioned_BLD, dropout))', 'layer')).toBe('entity.name.function.call.arch');
    expect(scopeOf('stream_BLD = repeat N layer(dropout(positioned_BLD, dropout))', 'dropout')).toBe('support.function.builtin.arch');
    expect(scopeOf('param wte_VD ~ normal(0.02)', 'normal')).toBe('support.function.builtin.arch');
  });
});

describe('the CodeMirror stream parser (archStreamParser)', () => {
  it.each(FILES)('colours %s through StreamLanguage with tags that exist, shapes and comments where the lexer has them', (file) => {
    const warn = vi.spyOn(console, 'warn');
    const text = readFileSync(file, 'utf8');
    const tree = StreamLanguage.define(archStreamParser).parser.parse(text);
    // Each character's classes, with a first entry standing for the document (as source.arch does).
    const starts = [0];
    for (const l of text.split(/\r?\n/)) starts.push(starts.at(-1)! + l.length + 1);
    const scoped: Scoped = text.split(/\r?\n/).map((l) => Array.from({ length: l.length }, () => ['doc']));
    highlightTree(tree, classHighlighter, (from, to, classes) => {
      for (let i = from; i < to; i++) {
        const line = starts.findIndex((s, k) => s <= i && i < starts[k + 1]!);
        scoped[line]![i - starts[line]!]!.push(...classes.split(' '));
      }
    });
    expectLexerAgrees(file, scoped, { shape: 'tok-typeName', stem: 'tok-variableName', comment: 'tok-comment' });
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
  });
});
