// Names and scopes: what a written letter stands for in a block instance, the axes a tensor's name
// declares, defining and looking up names (with "did you mean"), constants read from dims and
// numeric variants, and the unused-name warnings.
import type { NameExpr, Span, TensorName } from '../../grammar/ast.js';
import type { CheckerBase } from './check-base.js';
import type { ConstError } from './consteval.js';
import { closest, quote } from './names.js';
import type { Binding, Scope, Val } from './scope.js';

/** The axes a written letter stands for in this scope. */
export function letterAxes(c: CheckerBase, letter: string, span: Span, scope: Scope, what: string): string[] | null {
  const bound = scope.sigma.get(letter);
  if (bound) return bound;
  if (c.badDims.has(letter)) return null;
  if (!c.dims.has(letter)) {
    const declared = c.program.dims.some((d) => d.letter === letter);
    // One missing dim is one mistake: report its first use, not every name that spells it.
    if (!declared && !c.unknownLetters.has(letter)) {
      c.unknownLetters.add(letter);
      c.error('name', `unknown letter ${letter} in ${what}`, span, {
        label: `${letter} is not a dim`,
        help: `declare it under ${quote('dims')} (e.g. ${quote(`${letter} = 64`)}), or use one of ${[...c.dims.keys()].join(' ')}`,
        file: scope.file,
      });
    }
    return null;
  }
  // A model dim that a block letter already stands for gets an axis of its own here.
  const taken = [...scope.sigma.values()].some((axes) => axes.includes(letter)) || (scope.star ?? []).includes(letter);
  if (!taken) {
    scope.sigma.set(letter, [letter]);
    return [letter];
  }
  const name = `${letter}_${++c.freshCount}`;
  const base = c.axes.get(letter)!;
  c.axes.set(name, { ...base, name });
  scope.sigma.set(letter, [name]);
  return [name];
}

export function nameAxes(c: CheckerBase, name: TensorName, scope: Scope): string[] | null {
  const out: string[] = [];
  if (name.wildcard) {
    if (!scope.star) {
      c.error('name', `${quote(name.text)} uses ${quote('*')}, but only a block whose signature has ${quote('*')} can`, name.span, {
        help: 'write the letters out, e.g. x_BLD',
        file: scope.file,
      });
      return null;
    }
    for (const a of scope.star) out.push(a);
  }
  let ok = true;
  for (const l of name.letters) {
    const a = c.letterAxes(l, name.span, scope, quote(name.text));
    if (a) for (const x of a) out.push(x);
    else ok = false;
  }
  if (!ok) return null;
  const dup = out.find((a, i) => out.indexOf(a) !== i);
  if (dup) {
    c.error('name', `${quote(name.text)} has the axis ${c.axisText(dup)} twice`, name.span, {
      help: 'a tensor has each dim once; rename one with x[L -> M]',
      file: scope.file,
    });
    return null;
  }
  return out;
}

export function define(c: CheckerBase, name: TensorName, b: Binding, scope: Scope): boolean {
  const prev = scope.env.get(name.text);
  if (prev) {
    c.error('name', `${quote(name.text)} is already defined`, name.span, {
      secondary: [{ span: prev.span, label: 'first defined here' }],
      help: 'each name is assigned once; give the new value a new name',
      file: scope.file,
    });
    return false;
  }
  scope.env.set(name.text, b);
  return true;
}

export function declareInput(c: CheckerBase, name: TensorName, onehot: boolean, span: Span, scope: Scope): void {
  const axes = c.nameAxes(name, scope);
  if (!axes) return;
  if (onehot && axes.length < 2) {
    c.error('shape', `the one-hot input ${quote(name.text)} needs a class letter after its position letters`, name.span, { help: 'e.g. tokens_BLV: V is the vocabulary' });
    return;
  }
  // Every letter of an input but the one-hot class letter is decided by the data; L is a maximum.
  for (const a of onehot ? axes.slice(0, -1) : axes) {
    const info = c.axes.get(a)!;
    if (info.size !== null) info.sequence = true;
  }
  const node = c.emit({ kind: 'input', name: name.text, onehot }, [], axes, span, scope, name.text);
  c.inputs.push({ name: name.text, axes, onehot, node });
  c.define(name, { node, axes, span: name.span, used: false, onehot, kind: 'input' }, scope);
}

/** A name used in an expression: a tensor, a dim letter as a number, or a numeric variant. */
export function nameRef(c: CheckerBase, e: NameExpr, scope: Scope): Val | null {
  const text = e.name.text;
  const b = scope.env.get(text);
  if (b) {
    b.used = true;
    if (b.node < 0) return null;
    return { node: b.node, axes: b.axes, onehot: b.onehot };
  }
  if (c.badDims.has(text) && !scope.sigma.has(text)) return null;
  if (/^[A-Z]$/.test(text)) {
    const axes = scope.sigma.get(text) ?? (c.dims.has(text) ? c.letterAxes(text, e.span, scope, 'an expression') : null);
    if (axes) {
      const size = c.constLookup(text, scope);
      if (axes.length === 1) return { node: c.emit({ kind: 'size', axis: axes[0]! }, [], [], e.span, scope), axes: [], const: size };
      if (size !== undefined) return c.number(size, e.span, scope);
    }
  }
  const variant = c.variants.get(text);
  if (variant) {
    if (typeof variant.value === 'number') return c.number(variant.value, e.span, scope);
    c.error('name', `the variant ${quote(text)} is a choice, not a value`, e.span, {
      help: `use it in ${quote(`if ${text} == ${variant.choices[0]}`)} or call it: ${quote(`${text}(x)`)}`,
      file: scope.file,
    });
    return null;
  }
  const later = scope.later.get(text);
  if (later) {
    c.error('name', `${quote(text)} is used before it is defined`, e.span, {
      secondary: [{ span: later, label: 'defined here, later' }],
      help: 'move the definition above its first use (a model is a graph without cycles)',
      file: scope.file,
    });
    return null;
  }
  undefinedName(c, e, scope);
  return null;
}

/** `x_BLD is not defined`, with the name most likely meant. */
function undefinedName(c: CheckerBase, e: NameExpr, scope: Scope): void {
  const text = e.name.text;
  const candidates = [...scope.env.keys()];
  const sameBase = candidates.filter((x) => x.split('_').slice(0, -1).join('_') === e.name.base && e.name.letters.length > 0);
  let help: string | undefined;
  const sameSet = sameBase.find((x) => {
    const letters = x.slice(x.lastIndexOf('_') + 1).split('');
    return letters.length === e.name.letters.length && letters.every((l) => e.name.letters.includes(l));
  });
  // A name of the same base whose definition failed was reported there; this use adds nothing.
  const failed = sameBase.find((x) => scope.env.get(x)!.node < 0);
  if (failed) {
    scope.env.get(failed)!.used = true;
    return;
  }
  if (sameSet) help = `${quote(sameSet)} has the same letters in another order: refer to it as ${quote(sameSet)} (layout is the compiler's job)`;
  else if (sameBase.length) help = `did you mean ${quote(sameBase[0]!)}? it is ${c.shapeText(scope.env.get(sameBase[0]!)!.axes)}`;
  else {
    const near = closest(text, candidates);
    if (near) help = `did you mean ${quote(near)}?`;
  }
  c.error('name', `${quote(text)} is not defined`, e.span, { help, file: scope.file });
}

/** The value of a dim letter (the product of the axes it stands for) or a numeric variant. */
export function constLookup(c: CheckerBase, n: string, scope: Scope): number | undefined {
  if (/^[A-Z]$/.test(n)) {
    const axes = scope.sigma.get(n) ?? (c.dims.has(n) ? [n] : undefined);
    if (!axes) return undefined;
    let p = 1;
    for (const a of axes) {
      const s = c.axes.get(a)?.size;
      if (s == null) return undefined;
      p *= s;
    }
    return p;
  }
  const v = c.variants.get(n);
  return v && typeof v.value === 'number' ? v.value : undefined;
}

/** A constant (repeat count, init scale) that failed; a missing dim letter is said plainly, once. */
export function constError(c: CheckerBase, r: ConstError, scope: Scope, help: string | undefined): void {
  if (r.name !== undefined && /^[A-Z]$/.test(r.name) && !c.dims.has(r.name) && !scope.sigma.has(r.name)) {
    if (c.badDims.has(r.name) || c.unknownLetters.has(r.name)) return;
    c.unknownLetters.add(r.name);
    c.error('dims', `${r.name} is not a dim`, r.span, {
      label: `${r.name} is not declared under ${quote('dims')}`,
      help: `declare it, e.g. ${quote(`${r.name} = 12`)}`,
      file: scope.file,
    });
    return;
  }
  c.error('dims', r.message, r.span, { label: r.label, help, file: scope.file });
}

export function warnUnused(c: CheckerBase, scope: Scope, result?: number): void {
  for (const [name, b] of scope.env) {
    if (b.used || b.node < 0 || b.node === result || name === 'loss' || name.startsWith('logits_')) continue;
    const what = b.kind === 'param' ? 'parameter' : b.kind === 'input' ? 'input' : b.kind === 'argument' ? 'argument' : 'tensor';
    c.report('warning', 'unused', `the ${what} ${quote(name)} is never used`, b.span, {
      file: scope.file,
      help: b.kind === 'param' ? 'an unused parameter still counts in the model size: remove it' : 'remove it, or use it',
    });
  }
}
