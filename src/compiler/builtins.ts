// The language's built-in functions (exp, sum, max, softmax, causal, select, iota, dropout,
// valid, next): each checks its arguments and emits its graph op. The checker asks here first; a
// call that names no built-in is a block (or a variant choosing one).
import type { CallExpr, Expr, NameExpr, Span } from '../../grammar/ast.js';
import type { Diagnostic } from '../../grammar/diagnostic.js';
import type { BinaryFn, GOp, UnaryFn } from './graph.js';
import { listOr, quote } from './names.js';
import type { Scope, Val } from './scope.js';

export const BUILTINS = ['exp', 'log', 'sqrt', 'tanh', 'sin', 'cos', 'abs', 'sum', 'mean', 'max', 'min', 'softmax', 'causal', 'select', 'iota', 'dropout', 'next', 'valid'];

const UNARY: Record<string, UnaryFn> = { exp: 'exp', log: 'log', sqrt: 'sqrt', tanh: 'tanh', sin: 'sin', cos: 'cos', abs: 'abs' };
const REDUCTIONS = new Set(['sum', 'mean', 'max', 'min']);

/** What a built-in needs of the checker. */
export interface BuiltinChecker {
  expr(e: Expr, scope: Scope, expected: string[] | null): Val | null;
  emit(op: GOp, args: number[], axes: string[], span: Span, scope: Scope): number;
  error(code: string, message: string, span: Span, extra?: Partial<Diagnostic> & { file?: string }): void;
  number(value: number, span: Span, scope: Scope): Val;
  elementwise(fn: BinaryFn, operands: Expr[], span: Span, scope: Scope, expected: string[] | null): Val | null;
  notOnehot(v: Val, span: Span, scope: Scope): boolean;
  /** A bare dim letter given as an argument (`softmax(x, M)`), mapped to its axes. */
  letterArg(arg: Expr, scope: Scope, fn: string): string[] | null;
  arity(e: CallExpr, n: number | [number, number], scope: Scope, usage: string): boolean;
  shapeText(axes: string[]): string;
  /** The letter a model axis is written with. */
  letterOf(axis: string): string;
}

/** The value of a built-in call, null after an error, undefined when `e` names no built-in. */
export function builtin(c: BuiltinChecker, e: CallExpr, scope: Scope, expected: string[] | null): Val | null | undefined {
  const f = e.callee;
  const unary = UNARY[f];
  if (unary) {
    if (!c.arity(e, 1, scope, `${f}(x)`)) return null;
    const v = c.expr(e.args[0]!, scope, expected);
    if (!v || !c.notOnehot(v, e.args[0]!.span, scope)) return null;
    if (v.const !== undefined) {
      const r = ({ exp: Math.exp, log: Math.log, sqrt: Math.sqrt, tanh: Math.tanh, sin: Math.sin, cos: Math.cos, abs: Math.abs } as const)[f as 'exp'](v.const);
      if (Number.isFinite(r)) return c.number(r, e.span, scope);
    }
    return { node: c.emit({ kind: 'unary', fn: unary }, [v.node], v.axes, e.span, scope), axes: v.axes };
  }
  if (REDUCTIONS.has(f)) {
    const second = e.args[1];
    const isLetter = second?.kind === 'name' && /^[A-Z]$/.test(second.name.text) && !scope.env.has(second.name.text);
    if ((f === 'max' || f === 'min') && e.args.length === 2 && !isLetter)
      return c.elementwise(f, e.args, e.span, scope, expected);
    if (e.args.length < 1) {
      c.arity(e, [1, 8], scope, `${f}(x_BLD, D)`);
      return null;
    }
    const over: string[] = [];
    for (const a of e.args.slice(1)) {
      const ax = c.letterArg(a, scope, f);
      if (!ax) return null;
      over.push(...ax);
    }
    const v = c.expr(e.args[0]!, scope, expected && over.length ? [...expected, ...over] : null);
    if (!v || !c.notOnehot(v, e.args[0]!.span, scope)) return null;
    const all = over.length ? over : v.axes;
    const absent = all.find((a) => !v.axes.includes(a));
    if (absent) {
      c.error('shape', `${quote(f)} over ${c.letterOf(absent)}, but the operand has no ${c.letterOf(absent)}`, e.args[0]!.span, {
        label: `this is ${c.shapeText(v.axes)}`,
        file: scope.file,
      });
      return null;
    }
    const axes = v.axes.filter((a) => !all.includes(a));
    return { node: c.emit({ kind: 'reduce', fn: f as 'sum', over: all }, [v.node], axes, e.span, scope), axes };
  }
  return special(c, e, scope, expected);
}

/** The built-ins with a shape rule of their own: softmax, causal, select, iota, dropout, valid, next. */
function special(c: BuiltinChecker, e: CallExpr, scope: Scope, expected: string[] | null): Val | null | undefined {
  const f = e.callee;
  switch (f) {
    case 'softmax': {
      if (!c.arity(e, 2, scope, 'softmax(x_BHLM, M)')) return null;
      const over = c.letterArg(e.args[1]!, scope, f);
      const v = c.expr(e.args[0]!, scope, expected);
      if (!v || !over) return null;
      if (over.length !== 1 || !v.axes.includes(over[0]!)) {
        const l = (e.args[1] as NameExpr).name.text;
        c.error('shape', `softmax over ${l}, but the operand has no ${l}`, e.args[0]!.span, {
          label: `this is ${c.shapeText(v.axes)}`,
          secondary: [{ span: e.args[1]!.span, label: `normalises along ${l}` }],
          help: v.axes.length ? `softmax normalises along one of the operand's letters: ${listOr(v.axes.map((a) => c.letterOf(a)))}` : undefined,
          file: scope.file,
        });
        return null;
      }
      return { node: c.emit({ kind: 'softmax', over: over[0]! }, [v.node], v.axes, e.span, scope), axes: v.axes };
    }
    case 'causal': {
      if (!c.arity(e, 3, scope, 'causal(scores_BHLM, L, M)')) return null;
      const q = c.letterArg(e.args[1]!, scope, f);
      const k = c.letterArg(e.args[2]!, scope, f);
      const v = c.expr(e.args[0]!, scope, expected);
      if (!v || !q || !k) return null;
      const bad = [...q, ...k].find((a) => !v.axes.includes(a));
      if (bad || q.length !== 1 || k.length !== 1) {
        c.error('shape', `causal masks a query letter against a key letter, and the operand must have both`, e.span, { label: `the operand is ${c.shapeText(v.axes)}`, file: scope.file });
        return null;
      }
      return { node: c.emit({ kind: 'causal', query: q[0]!, key: k[0]! }, [v.node], v.axes, e.span, scope), axes: v.axes };
    }
    case 'select': {
      if (!c.arity(e, 3, scope, 'select(cond, a, b)')) return null;
      const vs = e.args.map((a) => c.expr(a, scope, expected));
      if (vs.some((v) => !v)) return null;
      const axes: string[] = [];
      for (const v of vs as Val[]) for (const a of v.axes) if (!axes.includes(a)) axes.push(a);
      return { node: c.emit({ kind: 'select' }, (vs as Val[]).map((v) => v.node), axes, e.span, scope), axes };
    }
    case 'iota': {
      if (!c.arity(e, 1, scope, 'iota(L)')) return null;
      const ax = c.letterArg(e.args[0]!, scope, f);
      if (!ax) return null;
      if (ax.length !== 1) {
        c.error('shape', 'iota counts along one axis', e.span, { file: scope.file });
        return null;
      }
      return { node: c.emit({ kind: 'iota', axis: ax[0]! }, [], ax, e.span, scope), axes: ax };
    }
    case 'dropout': {
      if (!c.arity(e, 2, scope, 'dropout(x_BLD, 0.1)')) return null;
      const v = c.expr(e.args[0]!, scope, expected);
      const p = c.expr(e.args[1]!, scope, null);
      if (!v || !p) return null;
      if (p.const === undefined || !(p.const >= 0 && p.const < 1)) {
        c.error('shape', 'a dropout rate is a number from 0 (inclusive) to 1 (exclusive)', e.args[1]!.span, { label: p.const !== undefined ? `this is ${p.const}` : 'not a constant', file: scope.file });
        return null;
      }
      if (p.const === 0) return v;
      return { node: c.emit({ kind: 'dropout', p: p.const }, [v.node], v.axes, e.span, scope), axes: v.axes };
    }
    case 'valid': {
      // 1 where a one-hot target holds a token, 0 where the data marks the position as not counted.
      if (!c.arity(e, 1, scope, 'valid(target_BLV)')) return null;
      const v = c.expr(e.args[0]!, scope, null);
      if (!v) return null;
      if (!v.onehot) {
        c.error('shape', '`valid` takes one-hot targets, e.g. valid(next(tokens_BLV))', e.args[0]!.span, { label: `this is ${c.shapeText(v.axes)}`, file: scope.file });
        return null;
      }
      const axes = v.axes.slice(0, -1);
      return { node: c.emit({ kind: 'valid' }, [v.node], axes, e.span, scope), axes };
    }
    case 'next': {
      if (!c.arity(e, 1, scope, 'next(tokens_BLV)')) return null;
      const arg = e.args[0]!;
      const b = arg.kind === 'name' ? scope.env.get(arg.name.text) : undefined;
      if (b?.kind !== 'input' || !b.onehot) {
        const inputs = [...scope.env].filter(([, x]) => x.kind === 'input' && x.onehot).map(([n]) => n);
        c.error('name', '`next` takes a one-hot input: it means the same tokens one position later (the targets)', arg.span, {
          label: b ? `a ${b.kind === 'param' ? 'parameter' : b.kind}, not a one-hot input` : undefined,
          help: inputs.length ? `did you mean ${quote(`next(${inputs[0]})`)}?` : 'declare the tokens as an input: `input tokens_BLV : onehot`',
          file: scope.file,
        });
        if (b) b.used = true;
        return null;
      }
      b.used = true;
      const name = (arg as NameExpr).name.text;
      return { node: c.emit({ kind: 'next', input: name }, [b.node], b.axes, e.span, scope), axes: b.axes, onehot: true };
    }
    case 'normal':
    case 'zeros':
    case 'ones':
      c.error('name', `${quote(f)} initialises parameters and can only follow ${quote('~')}`, e.span, { help: `${quote(`param w_DF ~ ${f === 'normal' ? 'normal(0.02)' : f}`)}`, file: scope.file });
      return null;
  }
  return undefined;
}
