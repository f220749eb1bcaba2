// Statements: assignments (the value's axes must be the ones its name declares, up to order),
// parameters and their initialisers, and `if` chains decided by the variants' values.
import type { Expr, IfStmt, Span, Stmt, TensorName } from '../../grammar/ast.js';
import type { CheckerBase } from './check-base.js';
import { constError } from './check-names.js';
import { evalConst } from './consteval.js';
import type { InitSpec } from './graph.js';
import { closest, listOr, quote } from './names.js';
import type { Scope, Val } from './scope.js';

/** Checks statements in order; the value is the last assignment's (a block's result). */
export function statements(c: CheckerBase, stmts: Stmt[], scope: Scope): Val | null {
  for (const s of stmts) if (s.kind === 'assign') if (!scope.env.has(s.target.text)) scope.later.set(s.target.text, s.target.span);
  let last: Val | null = null;
  for (const s of stmts) {
    scope.later.delete(s.kind === 'assign' ? s.target.text : '');
    if (s.kind === 'assign') last = assign(c, s.target, s.value, scope);
    else if (s.kind === 'param') param(c, s.name, s.init, scope);
    else {
      const r = ifStmt(c, s, scope);
      if (r !== undefined) last = r;
    }
  }
  return last;
}

function assign(c: CheckerBase, target: TensorName, value: Expr, scope: Scope): Val | null {
  const axes = c.nameAxes(target, scope);
  const label = value.kind === 'call' || value.kind === 'repeat' ? target.base : undefined;
  // A name whose letters failed has already been reported; its value is still checked, quietly
  // about what only the name could have told (a block's result letters).
  const wasQuiet = c.unknownTarget;
  c.unknownTarget = !axes;
  const v = c.expr(value, scope, axes, label);
  c.unknownTarget = wasQuiet;
  if (!axes || !v) {
    if (!scope.env.has(target.text)) scope.env.set(target.text, { node: -1, axes: axes ?? [], span: target.span, used: true, onehot: false, kind: 'tensor' });
    return null;
  }
  if (v.onehot) {
    c.error('shape', `a one-hot input can't be copied into ${quote(target.text)}`, value.span, { help: 'contract it instead, e.g. `tokens_BLV @ wte_VD`', file: scope.file });
    return null;
  }
  const node = conform(c, v, axes, target, value.span, scope);
  if (node === null) {
    scope.env.set(target.text, { node: -1, axes, span: target.span, used: true, onehot: false, kind: 'tensor' });
    return null;
  }
  c.nodes[node]!.name ??= target.text;
  if (!c.define(target, { node, axes, span: target.span, used: false, onehot: false, kind: 'tensor' }, scope)) return null;
  c.trace.push({ name: target.text, scope: scope.path.replace(/\.$/, ''), node });
  return { node, axes, const: v.const };
}

/** Makes a value's axes the ones its name declares: the same set, permuted if need be. */
function conform(c: CheckerBase, v: Val, axes: string[], target: TensorName, span: Span, scope: Scope): number | null {
  const missing = axes.filter((a) => !v.axes.includes(a));
  const extra = v.axes.filter((a) => !axes.includes(a));
  if (missing.length || extra.length) {
    const letter = (a: string) => c.axes.get(a)?.letter ?? a;
    const helps: string[] = [];
    if (target.text === 'loss' && !axes.length) helps.push('the loss is one number: reduce it, e.g. `loss = mean(...)`');
    else if (extra.length && !missing.length) helps.push(`sum over ${extra.map(letter).join(' ')} with sum(..., ${extra.map(letter).join(', ')}), or name the result ${target.base}_${[...axes, ...extra].map(letter).join('')}`);
    if (missing.length) helps.push(`no operand has ${missing.map(letter).join(' ')}: a result letter must come from an operand`);
    const sameSizes = missing.length === 1 && extra.length === 1 && c.axes.get(missing[0]!)?.size === c.axes.get(extra[0]!)?.size;
    if (sameSizes) helps.push(`to use ${c.axes.get(extra[0]!)?.letter} as ${c.axes.get(missing[0]!)?.letter}, rename it: x[${c.axes.get(extra[0]!)?.letter} -> ${c.axes.get(missing[0]!)?.letter}]`);
    c.error('shape', `${quote(target.text)} should be ${c.shapeText(axes)} by its name, but the expression gives ${c.shapeText(v.axes)}`, span, {
      label: `this is ${c.shapeText(v.axes)}`,
      secondary: [{ span: target.span, label: `declares ${c.shapeText(axes)}` }],
      notes: c.dimNotes([...missing, ...extra]),
      help: helps.join('; ') || undefined,
      file: scope.file,
    });
    return null;
  }
  if (axes.every((a, i) => v.axes[i] === a)) return v.node;
  return c.emit({ kind: 'permute' }, [v.node], axes, span, scope);
}

function param(c: CheckerBase, name: TensorName, init: Expr, scope: Scope): void {
  const axes = c.nameAxes(name, scope);
  const spec = initSpec(c, init, scope);
  if (!axes || !spec) {
    if (!scope.env.has(name.text)) scope.env.set(name.text, { node: -1, axes: axes ?? [], span: name.span, used: true, onehot: false, kind: 'param' });
    return;
  }
  const runtime = axes.find((a) => c.axes.get(a)?.size === null);
  if (runtime) {
    const letter = c.axes.get(runtime)?.letter ?? runtime;
    const rest = name.letters.filter((l) => l !== letter).join('');
    c.error('shape', `the parameter ${quote(name.text)} can't have the dim ${letter}: its size is only known when the model runs`, name.span, {
      label: `${letter} is chosen when the model runs`,
      help: `a parameter's size is fixed before training; leave ${letter} out and let it broadcast${rest ? `: ${quote(`param ${name.base}_${rest} ~ ...`)}` : ''}`,
      file: scope.file,
    });
    if (!scope.env.has(name.text)) scope.env.set(name.text, { node: -1, axes, span: name.span, used: true, onehot: false, kind: 'param' });
    return;
  }
  const path = scope.path + name.base;
  const node = c.emit({ kind: 'param', path, init: spec }, [], axes, name.span, scope, name.text);
  const shape = axes.map((a) => c.axes.get(a)!.size!);
  if (!c.define(name, { node, axes, span: name.span, used: false, onehot: false, kind: 'param' }, scope)) return;
  c.params.push({ path, name: name.text, axes, shape, init: spec, node, blocks: scope.blocks });
}

function initSpec(c: CheckerBase, init: Expr, scope: Scope): InitSpec | null {
  if (init.kind === 'name' && (init.name.text === 'zeros' || init.name.text === 'ones')) return { kind: init.name.text };
  if (init.kind === 'call' && init.callee === 'normal' && init.args.length === 1) {
    const r = evalConst(init.args[0]!, (n) => c.constLookup(n, scope), false);
    if (!('value' in r)) {
      constError(c, r, scope, r.help);
      return null;
    }
    if (!(r.value >= 0)) {
      c.error('dims', `a standard deviation can't be negative: ${r.value}`, init.args[0]!.span, { file: scope.file });
      return null;
    }
    return { kind: 'normal', std: r.value };
  }
  const what = init.kind === 'call' ? init.callee : init.kind === 'name' ? init.name.text : null;
  const near = what ? closest(what, ['normal', 'zeros', 'ones']) : undefined;
  c.error('name', what && !['normal', 'zeros', 'ones'].includes(what) ? `${quote(what)} is not an initialiser` : 'unknown initialiser', init.span, {
    label: what === 'normal' ? 'normal takes one argument, the standard deviation' : undefined,
    help: `${near && near !== what ? `did you mean ${quote(near)}? ` : ''}a parameter is initialised with normal(std), zeros or ones`,
    file: scope.file,
  });
  return null;
}

/** The branch the variants choose, checked; undefined when no branch is taken. */
function ifStmt(c: CheckerBase, s: IfStmt, scope: Scope): Val | null | undefined {
  let taken: Stmt[] | null = null;
  for (const br of s.branches) {
    if (!br.variant) {
      taken ??= br.body;
      continue;
    }
    const v = c.variants.get(br.variant.letter);
    if (!v) {
      const near = closest(br.variant.letter, c.variants.keys());
      c.error('variant', `unknown variant ${quote(br.variant.letter)}`, br.variant.span, {
        help: near
          ? `did you mean ${quote(near)}?`
          : `${c.variants.size ? `the model's variants are ${[...c.variants.keys()].map(quote).join(', ')}; or ` : ''}declare it: ${quote(`variant ${br.variant.letter} = a | b`)}`,
        file: scope.file,
      });
      continue;
    }
    const text = br.value!.text;
    let eq: boolean;
    if (v.numeric) {
      const n = Number(text);
      if (!Number.isFinite(n)) {
        c.error('variant', `${quote(br.variant.letter)} is a number, not ${quote(text)}`, br.value!.span, { file: scope.file });
        continue;
      }
      eq = n === v.value;
    } else {
      if (!v.choices.includes(text)) {
        const near = closest(text, v.choices);
        c.error('variant', `${quote(text)} is not a value of the variant ${quote(br.variant.letter)}`, br.value!.span, {
          label: `${br.variant.letter} is one of ${listOr(v.choices)}`,
          secondary: scope.file === c.program.file ? [{ span: v.span, label: 'declared here' }] : undefined,
          help: near ? `did you mean ${quote(near)}?` : undefined,
          file: scope.file,
        });
        continue;
      }
      eq = text === v.value;
    }
    if ((br.op === '==') === eq) taken ??= br.body;
  }
  if (!taken) return undefined;
  return c.statements(taken, scope);
}
