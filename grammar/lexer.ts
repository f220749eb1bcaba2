// The tokens of a .arch file. Whitespace and comments are skipped; newlines are kept (statements are
// lines) and indentation is measured afterwards by layout.ts from each line's first token.
import { createToken, Lexer, type IToken, type TokenType } from 'chevrotain';
import type { Pos, Span } from './ast.js';

export const Newline = createToken({ name: 'Newline', pattern: /\r\n|\r|\n/, line_breaks: true });
// U+FEFF: a byte-order mark at the top of a file is not a character of the program.
const Whitespace = createToken({ name: 'Whitespace', pattern: /[ \t\uFEFF]+/, group: Lexer.SKIPPED });
const Comment = createToken({ name: 'Comment', pattern: /#[^\r\n]*/, group: Lexer.SKIPPED });

// A name may carry a wildcard shape suffix: `*` only right after its last underscore (`out_*O`,
// `mu_*`), so `x_*I @ w_IO` is name @ name and `2 * D` is number * name.
export const Name = createToken({
  name: 'Name',
  pattern: /[A-Za-z](?:[A-Za-z0-9_]*_\*[A-Z]*|[A-Za-z0-9_]*)/,
});

const keyword = (word: string): TokenType =>
  createToken({ name: word[0]!.toUpperCase() + word.slice(1), pattern: new RegExp(word), longer_alt: Name });

export const Model = keyword('model');
export const Dims = keyword('dims');
export const Variant = keyword('variant');
export const Input = keyword('input');
export const Param = keyword('param');
export const Block = keyword('block');
export const If = keyword('if');
export const Elif = keyword('elif');
export const Else = keyword('else');
export const Repeat = keyword('repeat');
export const KEYWORDS = ['model', 'dims', 'variant', 'input', 'param', 'block', 'if', 'elif', 'else', 'repeat'];

// Integers, decimals and exponents: 768, 0.02, 1e-5. No leading or trailing dot.
export const NumberLit = createToken({ name: 'Number', pattern: /\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/ });

// Operator families are token categories so that the CST keeps them in source order.
export const CompareOp = createToken({ name: 'CompareOp', pattern: Lexer.NA });
export const AddOp = createToken({ name: 'AddOp', pattern: Lexer.NA });
export const MulOp = createToken({ name: 'MulOp', pattern: Lexer.NA });

export const Arrow = createToken({ name: 'Arrow', pattern: /->/ });
export const LessEq = createToken({ name: 'LessEq', pattern: /<=/, categories: CompareOp });
export const GreaterEq = createToken({ name: 'GreaterEq', pattern: />=/, categories: CompareOp });
export const EqEq = createToken({ name: 'EqEq', pattern: /==/, categories: CompareOp });
export const NotEq = createToken({ name: 'NotEq', pattern: /!=/, categories: CompareOp });
export const Less = createToken({ name: 'Less', pattern: /</, categories: CompareOp });
export const Greater = createToken({ name: 'Greater', pattern: />/, categories: CompareOp });
export const Equals = createToken({ name: 'Equals', pattern: /=/ });
export const Plus = createToken({ name: 'Plus', pattern: /\+/, categories: AddOp });
export const Minus = createToken({ name: 'Minus', pattern: /-/, categories: AddOp });
export const Star = createToken({ name: 'Star', pattern: /\*/, categories: MulOp });
export const Slash = createToken({ name: 'Slash', pattern: /\//, categories: MulOp });
export const At = createToken({ name: 'At', pattern: /@/, categories: MulOp });
export const Percent = createToken({ name: 'Percent', pattern: /%/, categories: MulOp });
export const Caret = createToken({ name: 'Caret', pattern: /\^/ });
export const LParen = createToken({ name: 'LParen', pattern: /\(/ });
export const RParen = createToken({ name: 'RParen', pattern: /\)/ });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/ });
export const RBracket = createToken({ name: 'RBracket', pattern: /]/ });
export const Comma = createToken({ name: 'Comma', pattern: /,/ });
export const Colon = createToken({ name: 'Colon', pattern: /:/ });
export const Tilde = createToken({ name: 'Tilde', pattern: /~/ });
export const Pipe = createToken({ name: 'Pipe', pattern: /\|/ });

export const allTokens: TokenType[] = [
  Newline, Whitespace, Comment,
  Model, Dims, Variant, Input, Param, Block, If, Elif, Else, Repeat,
  Name, NumberLit,
  CompareOp, AddOp, MulOp,
  Arrow, LessEq, GreaterEq, EqEq, NotEq, Less, Greater, Equals,
  Plus, Minus, Star, Slash, At, Percent, Caret,
  LParen, RParen, LBracket, RBracket, Comma, Colon, Tilde, Pipe,
];

const lexer = new Lexer(allTokens, { positionTracking: 'full', ensureOptimizations: true });

/** A run of characters that start no token; the lexer skipped them. */
export interface UnknownRun {
  offset: number;
  length: number;
  line: number;
  col: number;
}

/** All tokens of `source`, newlines included, and the runs of characters it could not read. */
export function lex(source: string): { tokens: IToken[]; unknown: UnknownRun[] } {
  const { tokens, errors } = lexer.tokenize(source);
  const unknown = errors.map((e) => ({ offset: e.offset, length: e.length, line: e.line ?? 1, col: e.column ?? 1 }));
  return { tokens, unknown };
}

// ---------------------------------------------------------------- spans

export function startPos(t: IToken): Pos {
  return { offset: t.startOffset, line: t.startLine ?? 1, col: t.startColumn ?? 1 };
}

/** Tokens other than newlines never span lines, so the end is the start moved by the length. */
export function endPos(t: IToken): Pos {
  const len = t.image.length;
  return { offset: t.startOffset + len, line: t.startLine ?? 1, col: (t.startColumn ?? 1) + len };
}

export const tokenSpan = (t: IToken): Span => ({ start: startPos(t), end: endPos(t) });
export const fromTo = (a: Span, b: Span): Span => ({ start: a.start, end: b.end });

/** One column right after a token: where "the end of the line" is, for a message. */
export function spanAfter(t: IToken): Span {
  const at = endPos(t);
  return { start: at, end: { offset: at.offset + 1, line: at.line, col: at.col + 1 } };
}
