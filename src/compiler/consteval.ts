// Evaluates the constant expressions of a model: dim sizes, initialiser scales, repeat counts,
// dropout rates. Each result remembers how it was computed, for diagnostics
// (`K = D / H = 768 / 12 = 64`).
import type { Expr, Span } from '../../grammar/ast.js';

export interface ConstValue {
  value: number;
  /** The expression with every name replaced by its value, e.g. `768 / 12`. */
  substituted: string;
}

export interface ConstError {
  message: string;
  span: Span;
  label?: string;
  help?: string;
  /** Set when the error is a name with no constant value: the caller knows what names mean there. */
  name?: string;
}

/** Looks a name up: a number, or undefined when the name means nothing constant here. */
export type ConstLookup = (name: string) => number | undefined;

const FUNCS: Record<string, (x: number) => number> = {
  sqrt: Math.sqrt,
  exp: Math.exp,
  log: Math.log,
  abs: Math.abs,
};

const PRECEDENCE: Record<string, number> = { '+': 1, '-': 1, '*': 2, '/': 2, '%': 2, '^': 3 };

/** An operand's text, in parentheses when its own operator binds more loosely than `op`. */
function wrap(operand: Expr, text: string, op: string, right: boolean): string {
  if (operand.kind !== 'binary') return text;
  const inner = PRECEDENCE[operand.op] ?? 0;
  const outer = PRECEDENCE[op] ?? 0;
  // `a - (b - c)` and `a / (b * c)` need them on the right; `^` is right-associative.
  const loose = inner < outer || (inner === outer && (op === '^' ? !right : right && !(operand.op === op && (op === '+' || op === '*'))));
  return loose ? `(${text})` : text;
}

export function evalConst(e: Expr, lookup: ConstLookup, integer: boolean): ConstValue | ConstError {
  const go = (e: Expr): ConstValue | ConstError => {
    switch (e.kind) {
      case 'number':
        if (!Number.isFinite(e.value)) return { message: `the number ${e.text} is too large`, span: e.span };
        return { value: e.value, substituted: e.text };
      case 'name': {
        const v = lookup(e.name.text);
        if (v === undefined)
          return { message: `${'`'}${e.name.text}${'`'} has no constant value here`, span: e.span, label: 'not a dim, a number or a numeric variant', name: e.name.text };
        return { value: v, substituted: String(v) };
      }
      case 'unary': {
        const r = go(e.operand);
        return 'value' in r ? { value: -r.value, substituted: e.operand.kind === 'binary' ? `-(${r.substituted})` : `-${r.substituted}` } : r;
      }
      case 'call': {
        const f = FUNCS[e.callee];
        if (!f || e.args.length !== 1)
          return { message: `${'`'}${e.callee}${'`'} can't be used in a constant expression`, span: e.calleeSpan, help: 'constants may use + - * / ^, sqrt, exp, log, abs' };
        const r = go(e.args[0]!);
        return 'value' in r ? { value: f(r.value), substituted: `${e.callee}(${r.substituted})` } : r;
      }
      case 'binary': {
        const a = go(e.left);
        if (!('value' in a)) return a;
        const b = go(e.right);
        if (!('value' in b)) return b;
        // The tree has no parentheses: put back the ones the precedence needs (`32 / (16 - 16)`).
        const text = `${wrap(e.left, a.substituted, e.op, false)} ${e.op} ${wrap(e.right, b.substituted, e.op, true)}`;
        let v: number;
        switch (e.op) {
          case '+': v = a.value + b.value; break;
          case '-': v = a.value - b.value; break;
          case '*': v = a.value * b.value; break;
          case '/':
            if (b.value === 0) return { message: 'division by zero', span: e.span, label: `${text}` };
            v = a.value / b.value;
            if (integer && !Number.isInteger(v))
              return {
                message: `${a.value} is not divisible by ${b.value}`,
                span: e.span,
                label: `${text} = ${+v.toFixed(4)}, not a whole number`,
                help: 'a dim is a whole number: choose sizes that divide',
              };
            break;
          case '%': v = a.value % b.value; break;
          case '^': v = a.value ** b.value; break;
          default:
            return { message: `${'`'}${e.op}${'`'} can't be used in a constant expression`, span: e.opSpan };
        }
        if (!Number.isFinite(v)) return { message: `${text} is too large`, span: e.span };
        return { value: v, substituted: text };
      }
      default:
        return { message: 'expected a constant expression here', span: e.span, help: 'constants may use numbers, dims, + - * / ^ and sqrt' };
    }
  };
  return go(e);
}
