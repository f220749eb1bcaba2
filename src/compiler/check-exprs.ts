// Expressions: each one's axes and graph node. Elementwise operators broadcast by letter, `@`
// contracts the letters both sides share that the result's name lacks, `x[D -> H K]` reshapes.
// Calls go to builtins.ts or check-blocks.ts.
import type { BinaryExpr, CallExpr, Expr, Span } from '../../grammar/ast.js';
import { BINOP, type CheckerBase, type DimInfo } from './check-base.js';
import type { BinaryFn } from './graph.js';
import { quote } from './names.js';
import { nameRef } from './check-names.js';
import type { Scope, Val } from './scope.js';

type ReshapeExpr = Extract<Expr, { kind: 'reshape' }>;

/** Checks an expression. `expected`: the axes its result may have (the name it is assigned to),
 *  which decides what a contraction keeps. `label`: the call label for a call on the right of `=`. */
export function expr(c: CheckerBase, e: Expr, scope: Scope, expected: string[] | null, label?: string): Val | null {
  switch (e.kind) {
    case 'number':
      if (!Number.isFinite(e.value)) {
        c.error('syntax', `the number ${e.text} is too large`, e.span, { file: scope.file });
        return null;
      }
      return c.number(e.value, e.span, scope);
    case 'name':
      return nameRef(c, e, scope);
    case 'unary': {
      const v = c.expr(e.operand, scope, expected);
      if (!v || !notOnehot(c, v, e.operand.span, scope)) return null;
      if (v.const !== undefined) return c.number(-v.const, e.span, scope);
      return { node: c.emit({ kind: 'unary', fn: 'neg' }, [v.node], v.axes, e.span, scope), axes: v.axes };
    }
    case 'binary':
      if (e.op === '@') return contract(c, e.left, e.right, e.span, e.opSpan, scope, expected);
      return chain(c, e, scope, expected);
    case 'reshape':
      return reshape(c, e, scope);
    case 'call':
      return c.call(e, scope, expected, label ?? e.callee);
    case 'repeat':
      return c.repeat(e, scope, expected, label ?? e.call.callee);
  }
}

export function notOnehot(c: CheckerBase, v: Val, span: Span, scope: Scope): boolean {
  if (!v.onehot) return true;
  c.error('shape', 'a one-hot input can only be contracted', span, {
    label: 'one-hot token ids',
    help: 'use it with `@`, e.g. `tokens_BLV @ wte_VD` (a row lookup)',
    file: scope.file,
  });
  return false;
}

/** `a + b - c * d ...` is a tree leaning left, as deep as the line is long: it is walked down its
 *  left spine without recursion, so only the right operands (short, unless parenthesised) nest. */
function chain(c: CheckerBase, e: BinaryExpr, scope: Scope, expected: string[] | null): Val | null {
  const spine: BinaryExpr[] = [];
  let leftmost: Expr = e;
  while (leftmost.kind === 'binary' && leftmost.op !== '@') {
    spine.push(leftmost);
    leftmost = leftmost.left;
  }
  let v = c.expr(leftmost, scope, expected);
  for (let i = spine.length - 1; i >= 0; i--) {
    const b = spine[i]!;
    const right = c.expr(b.right, scope, expected);
    v = v && right ? combine(c, BINOP[b.op]!, [b.left, b.right], [v, right], b.span, scope) : null;
  }
  return v;
}

export function elementwise(c: CheckerBase, fn: BinaryFn, operands: Expr[], span: Span, scope: Scope, expected: string[] | null): Val | null {
  const vals = operands.map((o) => c.expr(o, scope, expected));
  if (vals.some((v) => !v)) return null;
  return combine(c, fn, operands, vals as Val[], span, scope);
}

/** An elementwise operation of checked operands: folded when all are constants, else broadcast by letter. */
function combine(c: CheckerBase, fn: BinaryFn, operands: Expr[], vs: Val[], span: Span, scope: Scope): Val | null {
  if (!vs.every((v, i) => notOnehot(c, v, operands[i]!.span, scope))) return null;
  if (vs.every((v) => v.const !== undefined) && fn !== 'eq' && fn !== 'ne') {
    const [a, b] = [vs[0]!.const!, vs[1]!.const!];
    const r = fn === 'add' ? a + b : fn === 'sub' ? a - b : fn === 'mul' ? a * b : fn === 'div' ? a / b : fn === 'pow' ? a ** b : undefined;
    if (r !== undefined && Number.isFinite(r)) return c.number(r, span, scope);
  }
  const axes = [...vs[0]!.axes];
  for (const v of vs.slice(1)) for (const a of v.axes) if (!axes.includes(a)) axes.push(a);
  return { node: c.emit({ kind: 'binary', fn }, vs.map((v) => v.node), axes, span, scope), axes };
}

function contract(c: CheckerBase, left: Expr, right: Expr, span: Span, opSpan: Span, scope: Scope, expected: string[] | null): Val | null {
  const a = c.expr(left, scope, null);
  const b = c.expr(right, scope, null);
  if (!a || !b) return null;
  if (a.onehot && b.onehot) {
    c.error('contract', 'both sides of `@` are one-hot inputs', span, { file: scope.file });
    return null;
  }
  const shared = a.axes.filter((x) => b.axes.includes(x));
  const letters = (xs: string[]) => xs.map((x) => c.letterOf(x)).join(' ');
  if (!shared.length) {
    c.error('contract', '`@` contracts over the letters both sides share, but these share none', opSpan, {
      label: 'nothing to sum over',
      secondary: [
        { span: left.span, label: c.shapeText(a.axes) },
        { span: right.span, label: c.shapeText(b.axes) },
      ],
      help: a.axes.length && b.axes.length ? 'for an outer product use `*`; to contract, the two names need a letter in common' : undefined,
      notes: c.dimNotes([...a.axes, ...b.axes]),
      file: scope.file,
    });
    return null;
  }
  let out: string[];
  if (expected) {
    out = expected.filter((x) => a.axes.includes(x) || b.axes.includes(x));
    const lost = [...a.axes, ...b.axes].filter((x) => !shared.includes(x) && !out.includes(x));
    if (lost.length) {
      const side = a.axes.includes(lost[0]!) ? left : right;
      const l = letters([lost[0]!]);
      // What `@` gives when the result keeps every unshared letter: usually what was meant.
      const natural = [...a.axes.filter((x) => !shared.includes(x)), ...b.axes.filter((x) => !shared.includes(x))];
      c.error('contract', `${l} is on only one side of \`@\` and not in the result's name, so nothing can sum it`, side.span, {
        label: `${c.shapeText(a.axes.includes(lost[0]!) ? a.axes : b.axes)}`,
        secondary: [{ span: (side === left ? right : left).span, label: `${c.shapeText(side === left ? b.axes : a.axes)}: no ${l}` }],
        notes: [`\`@\` sums the letters both sides share (here ${letters(shared)}) unless the result's name keeps them; the result's name asks for ${c.shapeText(expected)}`],
        help: `summing ${letters(shared)} gives ${c.shapeText(natural)}: end the result's name with ${natural.map((x) => c.letterOf(x)).join('') || 'no letters'}; or sum ${l} first with sum(..., ${l})`,
        file: scope.file,
      });
      return null;
    }
    const summed = shared.filter((x) => !out.includes(x));
    if (!summed.length) {
      c.error('contract', `\`@\` here sums nothing: the result keeps every shared letter (${letters(shared)})`, opSpan, {
        label: 'no letter is contracted',
        help: 'for an elementwise product use `*`; to contract, leave the summed letter out of the result name',
        file: scope.file,
      });
      return null;
    }
  } else {
    out = [...a.axes.filter((x) => !shared.includes(x)), ...b.axes.filter((x) => !shared.includes(x))];
  }
  if (a.onehot || b.onehot) {
    const oh = a.onehot ? a : b;
    const cls = oh.axes[oh.axes.length - 1]!;
    const summed = shared.filter((x) => !out.includes(x));
    if (summed.length !== 1 || summed[0] !== cls) {
      c.error('contract', `a one-hot contraction must sum over its class letter ${letters([cls])} alone`, span, { file: scope.file });
      return null;
    }
  }
  return { node: c.emit({ kind: 'contract' }, [a.node, b.node], out, span, scope), axes: out };
}

function reshape(c: CheckerBase, e: ReshapeExpr, scope: Scope): Val | null {
  const v = c.expr(e.operand, scope, null);
  if (!v || !notOnehot(c, v, e.operand.span, scope)) return null;
  const map = (ls: { letter: string; span: Span }[]) => {
    const out: string[] = [];
    for (const l of ls) {
      const a = c.letterAxes(l.letter, l.span, scope, 'a reshape');
      if (!a) return null;
      for (const x of a) out.push(x);
    }
    return out;
  };
  const from = map(e.from);
  const to = map(e.to);
  if (!from || !to) return null;
  const missing = from.find((a) => !v.axes.includes(a));
  if (missing) {
    c.error('shape', `the reshape takes ${c.axisText(missing)}, but the operand has no ${c.axes.get(missing)?.letter}`, e.span, {
      label: `the operand is ${c.shapeText(v.axes)}`,
      file: scope.file,
    });
    return null;
  }
  const clash = to.find((a) => v.axes.includes(a) && !from.includes(a));
  if (clash) {
    c.error('shape', `the reshape makes ${c.axisText(clash)}, which the operand already has`, e.span, { file: scope.file });
    return null;
  }
  const sf = sizeOf(c, from);
  const st = sizeOf(c, to);
  const rename = from.length === 1 && to.length === 1;
  if (sf !== st || (sf === null && !rename)) {
    reshapeSizeError(c, e, v, from, to, sf, st, scope);
    return null;
  }
  let at = v.axes.length;
  for (const x of from) at = Math.min(at, v.axes.indexOf(x));
  const rest = v.axes.filter((x) => !from.includes(x));
  const before = v.axes.slice(0, at).filter((x) => !from.includes(x));
  const axes = [...before, ...to, ...rest.slice(before.length)];
  for (const t of to) if (rename && c.axes.get(from[0]!)?.sequence) c.axes.get(t)!.sequence = true;
  return { node: c.emit({ kind: 'reshape', from, to }, [v.node], axes, e.span, scope), axes };
}

/** The product of the axes' sizes; null when one is known only at run time. */
function sizeOf(c: CheckerBase, xs: string[]): number | null {
  let p: number | null = 1;
  for (const x of xs) {
    const s = c.axes.get(x)?.size;
    p = p === null || s == null ? null : p * s;
  }
  return p;
}

function reshapeSizeError(c: CheckerBase, e: ReshapeExpr, v: Val, from: string[], to: string[], sf: number | null, st: number | null, scope: Scope): void {
  const rename = from.length === 1 && to.length === 1;
  // `D = 32` for one letter, `H K = 4 * 8 = 32` for several; `?` for a size known only at run time.
  const sizeText = (xs: string[], total: number | null) => {
    const ls = xs.map((x) => c.letterOf(x)).join(' ');
    const each = xs.map((x) => c.axes.get(x)?.size ?? '?');
    return xs.length === 1 ? `${ls} = ${each[0]}` : `${ls} = ${each.join(' * ')} = ${total ?? '?'}`;
  };
  const message = rename
    ? `a rename keeps the size, but ${sizeText(from, sf)} and ${sizeText(to, st)}`
    : `the reshape changes the number of elements: ${sizeText(from, sf)}, but ${sizeText(to, st)}`;
  c.error('shape', message, e.span, {
    label: rename ? `renames ${c.axes.get(from[0]!)?.letter} to ${c.axes.get(to[0]!)?.letter}` : `${sf ?? '?'} elements -> ${st ?? '?'}`,
    notes: c.dimNotes([...from, ...to]),
    help: reshapeHelp(c, e, v.axes, from, to, sf) ?? (rename ? 'a rename needs two dims of the same size' : 'a split or merge keeps the product of the sizes'),
    file: scope.file,
  });
}

/** A reshape that would work with one letter changed: `did you mean x[D -> H K]?`. */
function reshapeHelp(c: CheckerBase, e: ReshapeExpr, has: string[], from: string[], to: string[], total: number | null): string | undefined {
  if (total === null) return undefined;
  const letter = (x: string) => c.letterOf(x);
  const busy = new Set([...has, ...from, ...to].map(letter));
  for (let i = 0; i < to.length; i++) {
    const others = to.filter((_, j) => j !== i).reduce<number | null>((p, x) => (p === null || c.axes.get(x)?.size == null ? null : p * c.axes.get(x)!.size!), 1);
    if (!others || total % others) continue;
    const need = total / others;
    // Among dims of the right size, prefer one defined from the letters at hand (K = D / H).
    const spoken = new Set([...from, ...to].map(letter));
    const score = (d: DimInfo) => [...d.derivation.replace(/^[A-Z] = /, '').matchAll(/\b[A-Z]\b/g)].filter((m) => spoken.has(m[0])).length;
    const fit = [...c.dims.entries()].filter(([l, d]) => d.size === need && !busy.has(l)).sort((a, b) => score(b[1]) - score(a[1]))[0];
    if (!fit) continue;
    const spec = to.map((x, j) => (j === i ? fit[0] : letter(x))).join(' ');
    const src = c.program.source.slice(e.operand.span.start.offset, e.operand.span.end.offset);
    const shown = src.length <= 40 && e.operand.kind === 'name' ? src : 'x';
    return `did you mean ${quote(`${shown}[${from.map(letter).join(' ')} -> ${spec}]`)}? ${fit[1].derivation}`;
  }
  return undefined;
}

/** A bare dim letter given as an argument (`softmax(x, M)`), mapped to its axes. */
export function letterArg(c: CheckerBase, arg: Expr, scope: Scope, fn: string): string[] | null {
  if (arg.kind !== 'name' || !/^[A-Z]$/.test(arg.name.text)) {
    c.error('name', `${quote(fn)} expects a dim letter here`, arg.span, { help: `e.g. ${quote(`${fn}(x_BLD, D)`)}`, file: scope.file });
    return null;
  }
  return c.letterAxes(arg.name.text, arg.span, scope, `${quote(fn)}'s argument`);
}

export function arity(c: CheckerBase, e: CallExpr, n: number | [number, number], scope: Scope, usage: string): boolean {
  const [lo, hi] = typeof n === 'number' ? [n, n] : n;
  if (e.args.length >= lo && e.args.length <= hi) return true;
  c.error('block', `${quote(e.callee)} takes ${lo === hi ? lo : `${lo} to ${hi}`} argument${hi === 1 ? '' : 's'}, but ${e.args.length === 1 ? '1 was' : `${e.args.length} were`} given`, e.span, {
    help: `usage: ${quote(usage)}`,
    file: scope.file,
  });
  return false;
}
