// The formatter: one canonical layout for a file that parses. Two spaces per level, one space
// around binary operators (`@` and `=` included) and none inside brackets, trailing comments of
// consecutive lines aligned two spaces after the longest line, one blank line at most, and one
// before and after each block. It rewrites the lexer's tokens, never the tree, so every comment is
// kept, and it checks that the tokens it wrote are the tokens it read.
import type { IToken } from 'chevrotain';
import type { Diagnostic } from '../../grammar/diagnostic.js';
import { parse } from '../../grammar/index.js';
import { layout, type Line } from '../../grammar/layout.js';
import {
  Arrow, At, Block, Caret, Colon, Comma, CompareOp, Equals, LBracket, LParen, Minus, Name, Newline, Percent, Pipe, Plus, RBracket, RParen, Slash, Star, Tilde, lex,
} from '../../grammar/lexer.js';
import { LineIndex } from './lines.js';

export type FormatResult = { ok: true; text: string } | { ok: false; diagnostics: Diagnostic[] };

const INDENT = '  ';
const COMMENT_GAP = 2;
const BINARY = new Set([Plus, Minus, Star, Slash, At, Percent, Caret, Equals, Tilde, Arrow, Colon, Pipe]);

interface OutLine {
  depth: number;
  code: string; // '' for a comment-only or blank line
  comment: string; // '' when none
  blank: boolean;
  /** A top-level `block` header, or a line of a block's body. */
  block: 'header' | 'body' | null;
}

export function format(file: string, text: string): FormatResult {
  const parsed = parse(file, text);
  const errors = parsed.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) return { ok: false, diagnostics: errors };
  const lexed = lex(text);
  const lines = new LineIndex(text);
  const depth = new Map<number, { depth: number; block: OutLine['block'] }>();
  const nest = (list: Line[], d: number, inBlock: boolean): void => {
    for (const l of list) {
      const header = d === 0 && l.tokens[0]!.tokenType === Block;
      depth.set((l.tokens[0]!.startLine ?? 1) - 1, { depth: d, block: header ? 'header' : inBlock ? 'body' : null });
      nest(l.children, d + 1, inBlock || header);
    }
  };
  nest(layout(lexed, text, file, () => {}), 0, false);
  const byLine = new Map<number, IToken[]>();
  for (const t of lexed.tokens) if (t.tokenType !== Newline) byLine.set((t.startLine ?? 1) - 1, [...(byLine.get((t.startLine ?? 1) - 1) ?? []), t]);

  const out: OutLine[] = [];
  for (let i = 0; i < lines.lineCount; i++) {
    const raw = lines.lineText(i);
    const toks = byLine.get(i) ?? [];
    const lastEnd = toks.length ? toks[toks.length - 1]!.startColumn! - 1 + toks[toks.length - 1]!.image.length : 0;
    const rest = raw.slice(lastEnd).trim();
    const comment = rest.startsWith('#') ? rest.trimEnd() : '';
    if (!toks.length && !comment) out.push({ depth: 0, code: '', comment: '', blank: true, block: null });
    else out.push({ depth: depth.get(i)?.depth ?? 0, code: join(toks), comment, blank: false, block: toks.length ? depth.get(i)?.block ?? null : null });
  }
  // A comment-only line belongs to what follows it: its indentation and its block.
  for (let i = out.length - 1, next: OutLine | null = null; i >= 0; i--) {
    const l = out[i]!;
    if (l.blank) continue;
    if (!l.code) {
      l.depth = next?.depth ?? 0;
      l.block = next?.block === 'header' ? 'header' : next?.block === 'body' && next.depth > 0 ? 'body' : null;
    }
    next = l;
  }
  const text2 = render(spaced(out));
  const same = sameTokens(lexed.tokens, lex(text2).tokens);
  if (!same) return { ok: false, diagnostics: [{ severity: 'error', code: 'format', message: 'the formatter would change this file\'s tokens, so it leaves the file as it is', file, span: { start: { offset: 0, line: 1, col: 1 }, end: { offset: 0, line: 1, col: 1 } }, notes: ['this is a bug in arch fmt'] }] };
  return { ok: true, text: text2 };
}

/** One line's tokens with canonical spacing. */
function join(toks: IToken[]): string {
  let s = '';
  let prev: IToken | null = null;
  let glue = false; // the previous token binds to this one: a prefix minus, a result shape's `*`
  for (const t of toks) {
    const ty = t.tokenType;
    const binds = (ty === Minus && (!prev || operatorLike(prev))) || (ty === Star && prev?.tokenType === Arrow);
    if (prev) {
      const p = prev.tokenType;
      const tight = glue || p === LParen || p === LBracket || ty === RParen || ty === RBracket || ty === Comma ||
        (ty === LParen && (p === Name || p === RParen)) || (ty === LBracket && (p === Name || p === RParen || p === RBracket));
      s += tight ? '' : ' ';
    }
    s += t.image;
    glue = binds;
    prev = t;
  }
  return s;
}

/** A token after which `-` is a prefix minus. */
function operatorLike(t: IToken): boolean {
  const ty = t.tokenType;
  return BINARY.has(ty) || ty === LParen || ty === LBracket || ty === Comma || (ty.CATEGORIES ?? []).includes(CompareOp) || ty.name === 'Repeat';
}

/** Blank lines: at most one in a row, none at the ends, one around each top-level block. */
function spaced(lines: OutLine[]): OutLine[] {
  const out: OutLine[] = [];
  const blank: OutLine = { depth: 0, code: '', comment: '', blank: true, block: null };
  for (const l of lines) {
    const prev = out[out.length - 1];
    if (l.blank) {
      if (prev && !prev.blank) out.push(l);
      continue;
    }
    const startsBlock = l.block === 'header' && (!prev || prev.blank || prev.block !== 'header');
    const leavesBlock = l.depth === 0 && l.block === null && prev?.block === 'body';
    if (prev && !prev.blank && (startsBlock || leavesBlock)) out.push(blank);
    out.push(l);
  }
  while (out.length && out[out.length - 1]!.blank) out.pop();
  return out;
}

/** The text, trailing comments aligned in each run of consecutive commented lines of one depth. */
function render(lines: OutLine[]): string {
  const width = (l: OutLine): number => l.depth * INDENT.length + l.code.length;
  const col = new Array<number>(lines.length).fill(0);
  for (let i = 0; i < lines.length; ) {
    const l = lines[i]!;
    if (!l.code || !l.comment) {
      i++;
      continue;
    }
    let j = i;
    while (j < lines.length && lines[j]!.code && lines[j]!.comment && lines[j]!.depth === l.depth) j++;
    const at = Math.max(...lines.slice(i, j).map(width)) + COMMENT_GAP;
    for (let k = i; k < j; k++) col[k] = at;
    i = j;
  }
  return lines.map((l, i) => {
    if (l.blank) return '';
    const code = INDENT.repeat(l.depth) + l.code;
    if (!l.comment) return code;
    return l.code ? code.padEnd(col[i]!) + l.comment : code + l.comment;
  }).join('\n') + '\n';
}

function sameTokens(a: IToken[], b: IToken[]): boolean {
  const sig = (ts: IToken[]): string[] => ts.filter((t) => t.tokenType !== Newline).map((t) => `${t.tokenType.name}:${t.image}`);
  const x = sig(a);
  const y = sig(b);
  return x.length === y.length && x.every((s, i) => s === y[i]);
}
