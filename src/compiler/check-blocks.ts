// Block calls. Each call instantiates the block: its letters bind to the caller's axes (a result
// letter no argument has binds to the letters of the caller's name), its body is checked with
// those sizes, and `repeat N f(x)` chains N instances, each with its own parameters.
import type { BlockDecl, CallExpr } from '../../grammar/ast.js';
import type { Diagnostic } from '../../grammar/diagnostic.js';
import { builtin, BUILTINS, type BuiltinChecker } from './builtins.js';
import { MAX_BLOCK_DEPTH, MAX_REPEAT, type CheckerBase, type RepeatExpr } from './check-base.js';
import { constError } from './check-names.js';
import { evalConst } from './consteval.js';
import { closest, quote } from './names.js';
import { childLabel, type Scope, type Val } from './scope.js';

/** An axis renamed inside a block instance and back on the way out. */
interface Rename {
  arg: number; // the argument renamed on entry; -1 for a result axis
  from: string;
  to: string;
}

/** A call of a built-in, a block, or a variant that names a block. */
export function call(c: CheckerBase & BuiltinChecker, e: CallExpr, scope: Scope, expected: string[] | null, label: string): Val | null {
  const f = e.callee;
  const done = builtin(c, e, scope, expected);
  if (done !== undefined) return done;
  const variant = c.variants.get(f);
  if (variant && !variant.numeric) {
    const chosen = String(variant.value);
    return callBlock(c, chosen, e, scope, expected, label, `${f} = ${chosen}`);
  }
  return callBlock(c, f, e, scope, expected, label);
}

function callBlock(c: CheckerBase, name: string, e: CallExpr, scope: Scope, expected: string[] | null, label: string, via?: string): Val | null {
  const entry = c.blocks.get(name);
  if (!entry) {
    const near = closest(name, [...c.blocks.keys(), ...BUILTINS]);
    // The prelude calls a few names the model supplies (its `act`): say so, not "define it here".
    const fromPrelude = scope.file !== c.program.file && !via;
    c.error('name', via ? `the variant ${via} names no block` : `unknown function or block ${quote(name)}`, e.calleeSpan, {
      help: fromPrelude
        ? `the prelude's ${quote(scope.blocks[scope.blocks.length - 1] ?? '')} calls ${quote(name)}, which your model provides: declare ${quote(`variant ${name} = gelu | relu`)} (each value names a block) or define ${quote(`block ${name}(x_*) -> *`)}`
        : near ? `did you mean ${quote(near)}?` : `define it with ${quote(`block ${name}(x_BLD) -> BLD`)}`,
      file: scope.file,
    });
    return null;
  }
  const decl = entry.decl;
  if (scope.callStack.includes(name)) {
    c.error('block', `the block ${quote(name)} calls itself: ${[...scope.callStack, name].join(' -> ')}`, e.calleeSpan, {
      help: 'blocks can\'t recurse; to apply a block several times use `repeat N block(x)`',
      file: scope.file,
    });
    return null;
  }
  if (e.args.length !== decl.params.length) {
    c.error('block', `${quote(name)} takes ${decl.params.length} argument${decl.params.length === 1 ? '' : 's'}, but ${e.args.length} ${e.args.length === 1 ? 'was' : 'were'} given`, e.span, {
      ...c.declaredAt(decl, entry.file, scope.file, `${name}(${decl.params.map((p) => p.text).join(', ')})`),
      file: scope.file,
    });
    return null;
  }
  const args: Val[] = [];
  for (const a of e.args) {
    const v = c.expr(a, scope, null);
    if (!v) return null;
    args.push(v);
  }
  return instantiate(c, decl, entry.file, args, e, scope, expected, childLabel(scope, label));
}

/** How one instance's letters bind: sigma (letter -> axes), `*`, and the renames on entry and exit. */
interface Binding {
  sigma: Map<string, string[]>;
  star: string[] | null;
  entry: Rename[];
  exit: Rename[];
}

type Fail = (message: string, extra?: Partial<Diagnostic>) => null;

/** Binds a block's letters to its arguments' axes and checks its body with them. */
function instantiate(c: CheckerBase, decl: BlockDecl, file: string, args: Val[], e: CallExpr, scope: Scope, expected: string[] | null, label: string, quiet = false): Val | null {
  if (scope.callStack.length >= MAX_BLOCK_DEPTH) {
    const chain = [...scope.callStack, decl.name];
    const shown = chain.length > 8 ? [...chain.slice(0, 3), '...', ...chain.slice(-3)] : chain;
    c.error('depth', `blocks nested too deeply: this call of ${quote(decl.name)} would be ${chain.length} blocks deep`, e.calleeSpan, {
      notes: [`the chain: ${shown.join(' -> ')}`],
      help: `blocks call each other at most ${MAX_BLOCK_DEPTH} deep; to apply a block many times use \`repeat N block(x)\``,
      file: scope.file,
    });
    return null;
  }
  const fail: Fail = (message, extra = {}) => {
    c.error('block', message, e.span, { ...c.declaredAt(decl, file, scope.file, `${decl.name}(${decl.params.map((p) => p.text).join(', ')}) -> ${decl.result.text || 'scalar'}`), file: scope.file, ...extra });
    return null;
  };
  const bound = bindArguments(c, decl, args, fail);
  if (!bound) return null;
  const b: Binding = { ...bound, entry: separateShared(c, decl, bound.sigma), exit: [] };
  if (!bindResult(c, decl, b, expected, fail)) return null;
  const inner: Scope = {
    path: `${scope.path}${label}.`,
    blocks: [...scope.blocks, decl.name],
    file,
    sigma: b.sigma,
    star: b.star,
    env: new Map(),
    labels: new Map(),
    callStack: [...scope.callStack, decl.name],
    later: new Map(),
    quiet: quiet || scope.quiet,
  };
  decl.params.forEach((p, i) => {
    let v = args[i]!;
    for (const r of b.entry.filter((x) => x.arg === i)) {
      const axes = v.axes.map((x) => (x === r.from ? r.to : x));
      v = { node: c.emit({ kind: 'reshape', from: [r.from], to: [r.to] }, [v.node], axes, p.span, inner), axes };
    }
    c.define(p, { node: v.node, axes: v.axes, span: p.span, used: false, onehot: Boolean(v.onehot), kind: 'argument' }, inner);
  });
  const result = checkBody(c, decl, file, e, scope, inner);
  if (!result) return null;
  let out = result;
  // Undo the renames so the caller sees its own axes.
  for (const r of [...b.exit.map((x) => ({ arg: -1, from: x.to, to: x.from })), ...b.entry]) {
    if (!out.axes.includes(r.to)) continue;
    const axes = out.axes.map((x) => (x === r.to ? r.from : x));
    out = { node: c.emit({ kind: 'reshape', from: [r.to], to: [r.from] }, [out.node], axes, e.span, scope), axes };
  }
  return out;
}

/** The signature's letters (and `*`) bound to the arguments' axes, or null after a diagnostic. */
function bindArguments(c: CheckerBase, decl: BlockDecl, args: Val[], fail: Fail): { sigma: Map<string, string[]>; star: string[] | null } | null {
  const sigma = new Map<string, string[]>();
  let star: string[] | null = null;
  for (let i = 0; i < decl.params.length; i++) {
    const p = decl.params[i]!;
    const a = args[i]!;
    let rest = a.axes;
    if (p.wildcard) {
      if (a.axes.length < p.letters.length)
        return fail(`argument ${i + 1} of ${quote(decl.name)} is ${c.shapeText(a.axes)}, but ${quote(p.text)} needs at least ${p.letters.length} letter${p.letters.length === 1 ? '' : 's'}`);
      const lead = a.axes.slice(0, a.axes.length - p.letters.length);
      if (star && (star.length !== lead.length || star.some((x, j) => x !== lead[j])))
        return fail(`the arguments of ${quote(decl.name)} disagree on what ${quote('*')} stands for: ${c.shapeText(star)} and ${c.shapeText(lead)}`);
      star = lead;
      rest = a.axes.slice(lead.length);
    } else if (a.axes.length !== p.letters.length) {
      return fail(`argument ${i + 1} of ${quote(decl.name)} should have ${p.letters.length} letters (${quote(p.text)}), but it is ${c.shapeText(a.axes)}`, {
        help: p.letters.length === 0 ? undefined : `the block's letters ${p.letters.join('')} bind, in order, to the argument's`,
      });
    }
    for (let j = 0; j < p.letters.length; j++) {
      const l = p.letters[j]!;
      const prev = sigma.get(l);
      if (prev && prev[0] !== rest[j]) return fail(`${quote(decl.name)}'s letter ${l} is bound to ${c.axisText(prev[0]!)} by one argument and to ${c.axisText(rest[j]!)} by another`);
      sigma.set(l, [rest[j]!]);
    }
  }
  return { sigma, star };
}

/** Two block letters bound to one axis: the later one gets an axis of its own, renamed on entry. */
function separateShared(c: CheckerBase, decl: BlockDecl, sigma: Map<string, string[]>): Rename[] {
  const renames: Rename[] = [];
  const owner = new Map<string, string>();
  for (const [l, [ax]] of [...sigma.entries()] as [string, string[]][]) {
    const o = owner.get(ax!);
    if (o === undefined) {
      owner.set(ax!, l);
      continue;
    }
    const name = `${l}_${++c.freshCount}`;
    c.axes.set(name, { ...c.axes.get(ax!)!, name, letter: l });
    sigma.set(l, [name]);
    decl.params.forEach((p, i) => {
      if (p.letters.includes(l)) renames.push({ arg: i, from: ax!, to: name });
    });
  }
  return renames;
}

/** Result letters no argument binds take the letters the caller's name gives them. False after a diagnostic. */
function bindResult(c: CheckerBase, decl: BlockDecl, b: Binding, expected: string[] | null, fail: Fail): boolean {
  const { sigma, star } = b;
  const free = decl.result.letters.filter((l) => !sigma.has(l) && !c.dims.has(l));
  if (!free.length) return true;
  if (!expected && c.unknownTarget) return false;
  if (!expected) {
    fail(`can't tell what ${free.join(' ')} in ${quote(decl.name)}'s result ${decl.result.text} stands for here`, {
      help: `assign the call to a name, e.g. ${quote(`h_BL${free.join('')} = ${decl.name}(...)`)}: the name's letters bind ${free.join(' ')}`,
    });
    return false;
  }
  const known = new Set([...(star ?? []), ...decl.result.letters.filter((l) => sigma.has(l)).flatMap((l) => sigma.get(l)!)]);
  const left = expected.filter((x) => !known.has(x));
  if (free.length === 1 && left.length >= 1) sigma.set(free[0]!, left);
  else if (free.length === left.length) free.forEach((l, i) => sigma.set(l, [left[i]!]));
  else {
    fail(`${quote(decl.name)}'s result letters ${free.join(' ')} can't be matched to ${c.shapeText(left)}`);
    return false;
  }
  // A square map (linear from D to D) binds a result letter to an axis an argument already
  // has: inside the block the result gets an axis of its own, renamed back on exit.
  const argAxes = new Set([...(star ?? []), ...decl.params.flatMap((p) => p.letters.flatMap((l) => sigma.get(l) ?? []))]);
  for (const l of free)
    sigma.set(l, sigma.get(l)!.map((ax) => {
      if (!argAxes.has(ax)) return ax;
      const name = `${c.axes.get(ax)!.letter}_${++c.freshCount}`;
      c.axes.set(name, { ...c.axes.get(ax)!, name });
      b.exit.push({ arg: -1, from: name, to: ax });
      return name;
    }));
  return true;
}

/** The block's body, checked in its own scope; its value must have the declared result's axes. */
function checkBody(c: CheckerBase, decl: BlockDecl, file: string, e: CallExpr, scope: Scope, inner: Scope): Val | null {
  const before = c.diags.length;
  c.callSites.push({ block: decl.name, file: scope.file, span: e.span });
  c.called.add(decl.name);
  let result: Val | null;
  try {
    result = c.statements(decl.body, inner);
  } finally {
    c.callSites.pop();
  }
  if (!inner.quiet) c.warnUnused(inner, result?.node);
  if (!result) {
    // Only when nothing else went wrong: a statement that failed on an earlier error (a bad dim)
    // returns nothing quietly, and this would blame the block for it.
    if (c.diags.length === before && !c.badDims.size && !c.diags.some((d) => d.severity === 'error'))
      c.error('block', `the block ${quote(decl.name)} computes nothing: its value is its last assignment`, decl.nameSpan, { file });
    return null;
  }
  const want = c.nameAxes(decl.result, inner);
  if (!want) return null;
  if (want.length !== result.axes.length || want.some((x) => !result!.axes.includes(x))) {
    const last = [...decl.body].reverse().find((st) => st.kind === 'assign');
    c.error('block', `the block ${quote(decl.name)} should return ${c.shapeText(want)}, but its last assignment is ${c.shapeText(result.axes)}`, decl.result.span, {
      label: `declared ${decl.result.text || 'scalar'}`,
      secondary: last?.kind === 'assign' ? [{ span: last.target.span, label: `the block's value: ${c.shapeText(result.axes)}` }] : undefined,
      help: `a block's value is its last assignment: end ${quote(decl.name)} with a tensor named ..._${decl.result.text}, or change the declared result`,
      file,
    });
    return null;
  }
  return result;
}

/** `repeat N f(x, ...)`: N instances of f, each fed the previous one's result. */
export function repeat(c: CheckerBase, e: RepeatExpr, scope: Scope, expected: string[] | null, label: string): Val | null {
  const r = evalConst(e.count, (n) => c.constLookup(n, scope), true);
  if (!('value' in r)) {
    constError(c, r, scope, r.help ?? 'repeat takes a whole number or a dim, e.g. `repeat N layer(x_BLD)`');
    return null;
  }
  if (!Number.isSafeInteger(r.value) || r.value < 1 || r.value > MAX_REPEAT) {
    c.error('dims', `repeat needs a whole number from 1 to ${MAX_REPEAT}, but this is ${r.value}`, e.count.span, { file: scope.file });
    return null;
  }
  const callE = e.call;
  const entry = c.blocks.get(callE.callee);
  if (!entry) return c.call(callE, scope, expected, label);
  if (entry.decl.params.length < 1 || callE.args.length !== entry.decl.params.length) {
    c.error('block', `${quote(callE.callee)} takes ${entry.decl.params.length} argument${entry.decl.params.length === 1 ? '' : 's'}, but ${callE.args.length} ${callE.args.length === 1 ? 'was' : 'were'} given`, callE.span, {
      help: 'repeat feeds each copy\'s result to the next as its first argument; the other arguments go to every copy unchanged',
      file: scope.file,
    });
    return null;
  }
  const vals = callE.args.map((a) => c.expr(a, scope, null));
  if (vals.some((x) => !x)) return null;
  let v = vals[0]!;
  const rest = vals.slice(1) as Val[];
  const base = childLabel(scope, label);
  for (let i = 0; i < r.value; i++) {
    if (scope.callStack.includes(callE.callee)) return callBlock(c, callE.callee, callE, scope, expected, label);
    const out: Val | null = instantiate(c, entry.decl, entry.file, [v, ...rest], callE, scope, v.axes, `${base}.${i}`, i > 0);
    if (!out) return null;
    if (out.axes.length !== v.axes.length || out.axes.some((x) => !v!.axes.includes(x))) {
      c.error('block', `repeat feeds each copy's result to the next, so ${quote(callE.callee)} must return its argument's shape`, callE.span, {
        label: `takes ${c.shapeText(v.axes)}, returns ${c.shapeText(out.axes)}`,
        file: scope.file,
      });
      return null;
    }
    v = out.axes.every((x, j) => v!.axes[j] === x) ? out : { node: c.emit({ kind: 'permute' }, [out.node], v.axes, callE.span, scope), axes: v.axes };
  }
  return v;
}
