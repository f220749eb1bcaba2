// One line's CST -> AST. Also the checks that the grammar leaves open because they read a token's
// text: a dim is one capital letter, a result shape is capitals, numbers fit in a double exactly.
import type { CstNode, IToken } from 'chevrotain';
import type {
  BinaryOp, BlockDecl, CallExpr, DimDecl, Expr, InputDecl, Letter, ParamStmt, AssignStmt, Span, TensorName,
  VariantDecl, VariantValue,
} from './ast.js';
import type { Diagnostic } from './diagnostic.js';
import { syntax } from './messages.js';
import { fromTo, tokenSpan } from './lexer.js';

/** A chain like `a + a + a ...` builds a tree this deep; the stages after the parser walk it recursively. */
export const MAX_EXPR_DEPTH = 500;

/** A parsed line, before program.ts places it under its header. */
export type LineNode =
  | { kind: 'model'; name: string; span: Span }
  | { kind: 'dims'; span: Span }
  | { kind: 'dim'; decl: DimDecl }
  | { kind: 'variant'; decl: VariantDecl }
  | { kind: 'input'; decl: InputDecl }
  | { kind: 'param'; stmt: ParamStmt }
  | { kind: 'assign'; stmt: AssignStmt }
  | { kind: 'if' | 'elif'; variant: Letter; op: '==' | '!='; value: VariantValue; span: Span }
  | { kind: 'else'; span: Span }
  | { kind: 'block'; header: Omit<BlockDecl, 'body'> };

// Thrown after a diagnostic that leaves nothing sensible to build for the line.
class Dropped extends Error {}

// ---------------------------------------------------------------- CST access

const tokens = (n: CstNode, key: string): IToken[] => (n.children[key] ?? []) as IToken[];
const nodes = (n: CstNode, key: string): CstNode[] => (n.children[key] ?? []) as CstNode[];
const token = (n: CstNode, key: string): IToken => tokens(n, key)[0]!;
const node = (n: CstNode, key: string): CstNode => nodes(n, key)[0]!;

/** `q_BLHK` -> base q, letters B L H K; `x_*D` -> wildcard; `loss`, `c_attn`, `M` -> no letters. */
export function tensorName(text: string, span: Span): TensorName {
  const cut = text.lastIndexOf('_');
  const suffix = text.slice(cut + 1);
  if (cut > 0 && /^(\*[A-Z]*|[A-Z]+)$/.test(suffix)) {
    const wildcard = suffix.startsWith('*');
    return { text, base: text.slice(0, cut), letters: [...(wildcard ? suffix.slice(1) : suffix)], wildcard, span };
  }
  return { text, base: text, letters: [], wildcard: false, span };
}

export class LineConverter {
  private readonly depths = new Map<Expr, number>(); // of this line's expression nodes
  private tooLong = false;

  constructor(
    private readonly file: string,
    private readonly report: (d: Diagnostic) => void,
  ) {}

  /** The AST of a line parsed by the `line` or `dimLine` rule; null when an error leaves nothing to keep. */
  convert(cst: CstNode, span: Span): LineNode | null {
    this.tooLong = false;
    this.depths.clear();
    try {
      const inner = cst.name === 'line' ? (Object.values(cst.children)[0]![0] as CstNode) : cst;
      const result = this.lineNode(inner, span);
      return this.tooLong ? null : result;
    } catch (e) {
      if (e instanceof Dropped) return null;
      throw e;
    }
  }

  private error(span: Span, message: string, help?: string): void {
    this.report(syntax(this.file, span, message, help));
  }

  private lineNode(n: CstNode, span: Span): LineNode {
    switch (n.name) {
      case 'modelLine':
        return { kind: 'model', name: token(n, 'Name').image, span };
      case 'dimsLine':
        return { kind: 'dims', span };
      case 'dimLine':
        return { kind: 'dim', decl: { kind: 'dim', letter: this.dimLetter(token(n, 'Name')), value: this.optExpr(n), span } };
      case 'variantLine':
        return { kind: 'variant', decl: this.variant(n, span) };
      case 'inputLine':
        return { kind: 'input', decl: this.input(n, span) };
      case 'paramLine':
        return { kind: 'param', stmt: { kind: 'param', name: this.name(token(n, 'Name')), init: this.expression(node(n, 'expression')), span } };
      case 'assignLine':
        return { kind: 'assign', stmt: { kind: 'assign', target: this.name(token(n, 'Name')), value: this.expression(node(n, 'expression')), span } };
      case 'ifLine':
      case 'elifLine': {
        const c = node(n, 'condition');
        const v = token(c, 'Name');
        const value = token(c, 'value');
        if (value.tokenType.name === 'Number') this.number(value);
        return {
          kind: n.name === 'ifLine' ? 'if' : 'elif',
          variant: { letter: v.image, span: tokenSpan(v) },
          op: token(c, 'op').image as '==' | '!=',
          value: { text: value.image, span: tokenSpan(value) },
          span,
        };
      }
      case 'elseLine':
        return { kind: 'else', span };
      case 'blockLine':
        return { kind: 'block', header: this.blockHeader(n, span) };
      default:
        throw new Error(`to-ast: no conversion for the rule ${n.name}`);
    }
  }

  private optExpr(n: CstNode): Expr | null {
    const e = nodes(n, 'expression')[0];
    return e ? this.expression(e) : null;
  }

  private dimLetter(t: IToken): string {
    if (/^[A-Z]$/.test(t.image)) return t.image;
    const help = /^[a-z]$/.test(t.image) ? `write \`${t.image.toUpperCase()}\`` : 'a dim is one capital letter, such as `D`';
    this.error(tokenSpan(t), `\`${t.image}\` is not a dim letter`, help);
    throw new Dropped();
  }

  private variant(n: CstNode, span: Span): VariantDecl {
    const num = tokens(n, 'Number')[0];
    if (num) this.number(num);
    const choices: VariantValue[] = (num ? [num] : tokens(n, 'choice')).map((t) => ({ text: t.image, span: tokenSpan(t) }));
    return { kind: 'variant', name: token(n, 'Name').image, choices, numeric: num !== undefined, span };
  }

  private input(n: CstNode, span: Span): InputDecl {
    const enc = tokens(n, 'encoding')[0];
    if (enc && enc.image !== 'onehot' && enc.image !== 'float') {
      this.error(tokenSpan(enc), `unknown input encoding \`${enc.image}\``, 'write `: onehot` for token ids, or nothing for a float tensor');
      throw new Dropped();
    }
    return { kind: 'input', name: this.name(token(n, 'Name')), encoding: enc?.image === 'onehot' ? 'onehot' : 'float', span };
  }

  private blockHeader(n: CstNode, span: Span): Omit<BlockDecl, 'body'> {
    const name = token(n, 'Name');
    const r = node(n, 'resultShape');
    const star = tokens(r, 'Star')[0];
    const word = tokens(r, 'Name')[0];
    const rSpan = fromTo(tokenSpan(star ?? word!), tokenSpan(word ?? star!));
    let result: TensorName;
    if (!star && word!.image === 'scalar') {
      result = { text: '', base: '', letters: [], wildcard: false, span: rSpan };
    } else if (!word || /^[A-Z]+$/.test(word.image)) {
      const letters = word ? [...word.image] : [];
      result = { text: (star ? '*' : '') + letters.join(''), base: '', letters, wildcard: star !== undefined, span: rSpan };
    } else {
      const asName = tensorName(word.image, rSpan);
      const help = asName.letters.length
        ? `write only the letters: \`-> ${asName.wildcard ? '*' : ''}${asName.letters.join('')}\``
        : 'write the letters of the result in capitals: `-> BLD`, `-> *D`, or `-> scalar`';
      this.error(rSpan, `\`${(star ? '*' : '') + word.image}\` is not a result shape`, help);
      throw new Dropped();
    }
    return { kind: 'block', name: name.image, nameSpan: tokenSpan(name), params: tokens(n, 'param').map((t) => this.name(t)), result, span };
  }

  private name(t: IToken): TensorName {
    return tensorName(t.image, tokenSpan(t));
  }

  // ------------------------------------------------------------ expressions

  /** Records a node's depth; the first node past the limit reports the line. */
  private made<T extends Expr>(e: T, ...kids: Expr[]): T {
    let depth = 1;
    for (const k of kids) depth = Math.max(depth, (this.depths.get(k) ?? 1) + 1);
    this.depths.set(e, depth);
    if (depth > MAX_EXPR_DEPTH && !this.tooLong) {
      this.tooLong = true;
      this.error(e.span, 'expression too long', `more than ${MAX_EXPR_DEPTH} operations in one expression: name its parts on lines of their own`);
    }
    return e;
  }

  private expression(n: CstNode): Expr {
    const ops = tokens(n, 'CompareOp');
    if (ops.length > 1) {
      this.error(tokenSpan(ops[1]!), 'comparisons do not chain', `\`a < b < c\` is not allowed: compare two values at a time`);
    }
    return this.chain(nodes(n, 'additive').map((a) => this.additive(a)), ops);
  }

  private additive(n: CstNode): Expr {
    return this.chain(nodes(n, 'multiplicative').map((m) => this.multiplicative(m)), tokens(n, 'AddOp'));
  }

  private multiplicative(n: CstNode): Expr {
    return this.chain(nodes(n, 'unary').map((u) => this.unary(u)), tokens(n, 'MulOp'));
  }

  /** Left-associative: `a - b - c` is `(a - b) - c`. */
  private chain(operands: Expr[], ops: IToken[]): Expr {
    let left = operands[0]!;
    ops.forEach((op, i) => {
      const right = operands[i + 1]!;
      left = this.made({ kind: 'binary', op: op.image as BinaryOp, left, right, opSpan: tokenSpan(op), span: fromTo(left.span, right.span) }, left, right);
    });
    return left;
  }

  private unary(n: CstNode): Expr {
    const minus = tokens(n, 'Minus')[0];
    if (!minus) return this.power(node(n, 'power'));
    const operand = this.unary(node(n, 'unary'));
    return this.made({ kind: 'unary', op: '-', operand, span: fromTo(tokenSpan(minus), operand.span) }, operand);
  }

  private power(n: CstNode): Expr {
    const base = this.postfix(node(n, 'postfix'));
    const caret = tokens(n, 'Caret')[0];
    if (!caret) return base;
    const exponent = this.unary(node(n, 'unary'));
    return this.made({ kind: 'binary', op: '^', left: base, right: exponent, opSpan: tokenSpan(caret), span: fromTo(base.span, exponent.span) }, base, exponent);
  }

  private postfix(n: CstNode): Expr {
    let e = this.primary(node(n, 'primary'));
    for (const r of nodes(n, 'reshape')) {
      const from = this.letters(tokens(r, 'from'));
      const to = this.letters(tokens(r, 'to'));
      e = this.made({ kind: 'reshape', operand: e, from, to, span: fromTo(e.span, tokenSpan(token(r, 'RBracket'))) }, e);
    }
    return e;
  }

  /** Reshape letters are single capitals; `HK` is reported, then read as `H K`. */
  private letters(ts: IToken[]): Letter[] {
    return ts.flatMap((t) => {
      if (/^[A-Z]$/.test(t.image)) return [{ letter: t.image, span: tokenSpan(t) }];
      if (/^[A-Z]+$/.test(t.image)) {
        this.error(tokenSpan(t), `\`${t.image}\` is not one dim letter`, `write the letters apart: \`${[...t.image].join(' ')}\``);
        return [...t.image].map((letter, i) => {
          const s = tokenSpan(t);
          const at = { ...s.start, offset: s.start.offset + i, col: s.start.col + i };
          return { letter, span: { start: at, end: { ...at, offset: at.offset + 1, col: at.col + 1 } } };
        });
      }
      this.error(tokenSpan(t), `\`${t.image}\` is not a dim letter`, `a reshape lists capital letters: \`x_BLD[D -> H K]\``);
      throw new Dropped();
    });
  }

  private primary(n: CstNode): Expr {
    const num = tokens(n, 'Number')[0];
    if (num) return this.made(this.number(num));
    const callOrName = nodes(n, 'callOrName')[0];
    if (callOrName) {
      const name = token(callOrName, 'Name');
      const args = nodes(callOrName, 'args')[0];
      if (!args) return this.made({ kind: 'name', name: this.name(name), span: tokenSpan(name) });
      return this.call(name, args);
    }
    const rep = nodes(n, 'repeatExpr')[0];
    if (rep) {
      const count = this.expression(node(rep, 'expression'));
      const call = this.call(token(rep, 'Name'), node(rep, 'args'));
      return this.made({ kind: 'repeat', count, call, span: fromTo(tokenSpan(token(rep, 'Repeat')), call.span) }, count, call);
    }
    // `( e )`: the node's span takes in the parentheses, so that an enclosing node's span starts at `(`.
    const inner = this.expression(node(n, 'expression'));
    inner.span = fromTo(tokenSpan(token(n, 'LParen')), tokenSpan(token(n, 'RParen')));
    return inner;
  }

  private call(name: IToken, argsNode: CstNode): CallExpr {
    const args = nodes(argsNode, 'expression').map((a) => this.expression(a));
    const span = fromTo(tokenSpan(name), tokenSpan(token(argsNode, 'RParen')));
    return this.made({ kind: 'call', callee: name.image, calleeSpan: tokenSpan(name), args, span }, ...args);
  }

  private number(t: IToken): { kind: 'number'; value: number; text: string; span: Span } {
    const value = Number(t.image);
    const span = tokenSpan(t);
    if (!(value <= Number.MAX_SAFE_INTEGER)) {
      this.error(span, `number too large: \`${t.image.length > 30 ? t.image.slice(0, 30) + '...' : t.image}\``, 'a number is at most 2^53 - 1 = 9007199254740991, below which every integer is exact');
    } else if (value === 0 && /[1-9]/.test(t.image.split(/[eE]/)[0]!)) {
      this.report({ severity: 'warning', code: 'syntax', message: `number too small: \`${t.image}\` rounds to 0`, file: this.file, span });
    }
    return { kind: 'number', value, text: t.image, span };
  }
}
