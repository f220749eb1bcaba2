// Hover: what the checker knows about the name under the cursor. A tensor's resolved shape and
// how its dims got their sizes; a block call's signature as instantiated and its parameters; a
// dim's value and where it is set; a variant's choices.
import type { BlockDecl, CallExpr, Expr } from '../../grammar/ast.js';
import type { CheckedModel } from '../compiler/graph.js';
import { BUILTINS } from '../compiler/builtins.js';
import type { Analysis } from './analysis.js';
import { letterAxes, shapesOf, shapeText, type Instance } from './instances.js';
import { toRange } from './lines.js';
import { occurrenceAt, type Occurrence } from './occurrences.js';
import { blockHeader, callAt } from './syntax.js';
import type { HoverResult } from './types.js';

const MAX_SHAPES = 6;

export function hover(a: Analysis, offset: number): HoverResult | null {
  const occ = occurrenceAt(a.names, offset);
  if (!occ) return null;
  const text = describe(a, occ);
  return text ? { range: toRange(occ.span), contents: text } : null;
}

function describe(a: Analysis, occ: Occurrence): string | null {
  switch (occ.kind) {
    case 'tensor':
      return tensorHover(a, occ);
    case 'dim':
      return dimHover(a, occ.key);
    case 'letter':
      return `\`${occ.key}\`: a letter of ${quoteBlock(occ.block!)}'s signature, bound to the caller's letters at each call`;
    case 'variant':
      return variantHover(a, occ.key);
    case 'value': {
      const [variant, value] = occ.key.split('=') as [string, string];
      const current = a.model?.variants.get(variant);
      return `\`${value}\`: a choice of the variant \`${variant}\`${current !== undefined ? (String(current) === value ? ' (selected)' : ` (selected: \`${current}\`)`) : ''}`;
    }
    case 'block':
      return blockHover(a, occ);
    case 'builtin':
      return BUILTINS.includes(occ.key) ? `\`${occ.key}\`: a built-in function (grammar/README.md, "Calls")` : `\`${occ.key}\`: a parameter initialiser`;
  }
}

function roleText(a: Analysis, occ: Occurrence): string {
  const def = a.names.occurrences.find((o) => o.def && o.kind === 'tensor' && o.key === occ.key && o.block === occ.block);
  switch (def?.role) {
    case 'input':
      return 'input';
    case 'param':
      return 'parameter';
    case 'argument':
      return `argument of ${quoteBlock(occ.block!)}`;
    default:
      return occ.tensor?.letters.length || occ.tensor?.wildcard ? 'tensor' : 'scalar';
  }
}

function tensorHover(a: Analysis, occ: Occurrence): string {
  const head = `\`${occ.key}\`: ${roleText(a, occ)}`;
  const m = a.model;
  if (!m) return `${head}\n\nletters ${occ.tensor?.letters.join(' ') || '(none)'} by its name; the model has errors, so sizes are not known`;
  let shapes = shapesOf(m, a.instances, occ.key, occ.block);
  if (!shapes.length && occ.block && occ.tensor) shapes = argumentShapes(m, a, occ.block, occ.tensor.letters);
  if (!shapes.length) return `${head}\n\n${occ.block ? `${quoteBlock(occ.block)} is not called, so this name was not checked` : 'not computed (an `if` branch not taken?)'}`;
  return [head, '', ...shapeLines(m, shapes), ...derivations(m, shapes.flatMap((s) => s.axes))].join('\n');
}

/** A block argument: its letters as each instance bound them. */
function argumentShapes(m: CheckedModel, a: Analysis, block: BlockDecl, letters: string[]): Instance[] {
  return letterAxes(m, a.instances, block).flatMap(({ scope, map }) => (letters.every((l) => map.has(l)) ? [{ scope, axes: letters.map((l) => map.get(l)!) }] : []));
}

/** One line per distinct shape, with how many instances have it. */
function shapeLines(m: CheckedModel, shapes: Instance[]): string[] {
  const byText = new Map<string, string[]>();
  for (const s of shapes) byText.set(shapeText(m, s.axes), [...(byText.get(shapeText(m, s.axes)) ?? []), s.scope]);
  const lines = [...byText].slice(0, MAX_SHAPES).map(([text, scopes]) => {
    const where = scopes[0] ? (scopes.length > 1 ? ` in ${scopes.length} instances (${scopes[0]}, ...)` : ` in ${scopes[0]}`) : '';
    return `- \`${text}\`${where}`;
  });
  if (byText.size > MAX_SHAPES) lines.push(`- ... ${byText.size - MAX_SHAPES} more shapes`);
  return lines;
}

/** How the sizes behind these axes were computed, where that took more than a number. */
function derivations(m: CheckedModel, axes: string[]): string[] {
  const letters = [...new Set(axes.map((x) => m.axes.get(x)?.letter ?? x))];
  const out = letters.flatMap((l) => {
    const d = m.dims.get(l);
    return d && d.size !== null && !/^[A-Z] = \d+$/.test(d.derivation) ? [`- ${d.derivation}`] : [];
  });
  return out.length ? ['', 'dims:', ...out] : [];
}

function dimHover(a: Analysis, letter: string): string {
  const decl = a.program.dims.find((d) => d.letter === letter);
  const where = decl ? `declared at line ${decl.span.start.line}` : 'not declared under `dims`';
  const d = a.model?.dims.get(letter);
  if (!d) return `\`${letter}\`: a dim, ${where}`;
  return `\`${letter}\` = ${d.size ?? 'chosen when the model runs'}: a dim, ${where}${a.sets.has(letter) ? ` (set by \`--set ${letter}=${a.sets.get(letter)}\`)` : ''}\n\n${d.derivation}`;
}

function variantHover(a: Analysis, name: string): string {
  const decl = a.program.variants.find((v) => v.name === name);
  if (!decl) return `\`${name}\`: not a variant of this file`;
  const current = a.model?.variants.get(name);
  const choices = decl.numeric ? `a number, default ${decl.choices[0]?.text}` : `choices ${decl.choices.map((c) => `\`${c.text}\``).join(' | ')} (the first is the default)`;
  return `variant \`${name}\`: ${choices}${current !== undefined ? `\n\nselected: \`${current}\`${a.sets.has(name) ? ` (--set ${name}=${a.sets.get(name)})` : ''}` : ''}`;
}

function blockHover(a: Analysis, occ: Occurrence): string {
  const decl = a.findBlock(occ.key);
  if (!decl) return `\`${occ.key}\`: an unknown block`;
  const own = a.program.blocks.includes(decl);
  const header = blockHeader(own ? a.text : a.prelude.text, decl);
  const lines = ['```arch', header, '```', own ? '' : '(from the prelude)'];
  const m = a.model;
  const call = occ.def ? null : callAt(a.program, occ.span.start.offset);
  if (m && call) lines.push(...instantiated(a, m, decl, call.call, call.target, call.block));
  return lines.join('\n');
}

/** The call's arguments and result with their shapes, and the parameters its instances own. */
function instantiated(a: Analysis, m: CheckedModel, decl: BlockDecl, call: CallExpr, target: string | null, block: BlockDecl | null): string[] {
  const shapeOfExpr = (e: Expr): string | null => {
    if (e.kind === 'name') return shapesOf(m, a.instances, e.name.text, block)[0] ? shapeText(m, shapesOf(m, a.instances, e.name.text, block)[0]!.axes) : null;
    const n = m.nodes.find((n) => n.span.start.offset === e.span.start.offset && n.span.end.offset === e.span.end.offset);
    return n ? shapeText(m, n.axes) : null;
  };
  const args = call.args.map((e, i) => `${decl.params[i]?.text ?? '?'}: ${shapeOfExpr(e) ?? '?'}`);
  const result = target ? shapesOf(m, a.instances, target, block)[0] : undefined;
  const out = ['', `as called here: \`${decl.name}(${args.join(', ')})${result ? ` -> ${shapeText(m, result.axes)}` : ''}\``];
  const scopes = callInstances(a, decl, call, target, block);
  const params = m.params.filter((p) => scopes.some((s) => p.path.startsWith(s + '.')));
  if (!params.length) return out;
  const count = params.reduce((s, p) => s + p.shape.reduce((x, y) => x * y, 1), 0);
  const first = params.filter((p) => p.path.startsWith(scopes[0]! + '.'));
  out.push('', `parameters: ${count.toLocaleString('en-US')}${scopes.length > 1 ? ` in ${scopes.length} instances` : ''}`);
  for (const p of first.slice(0, 12)) out.push(`- \`${p.path.slice(scopes[0]!.length + 1)}\` ${shapeText(m, p.axes)}`);
  if (first.length > 12) out.push(`- ... ${first.length - 12} more`);
  return out;
}

/** The instance paths a call site made: children of the enclosing instances labelled by the
 *  assigned name's base or the callee (`layernorm`, `layernorm_2`), a repeat's copies included. */
function callInstances(a: Analysis, decl: BlockDecl, call: CallExpr, target: string | null, block: BlockDecl | null): string[] {
  const base = target ? target.slice(0, target.lastIndexOf('_') > 0 ? target.lastIndexOf('_') : target.length) : null;
  const out: string[] = [];
  for (const [path, b] of a.instances) {
    if (b !== decl) continue;
    const segs = path.split('.');
    while (segs.length && /^\d+$/.test(segs[segs.length - 1]!)) segs.pop();
    const label = segs.pop() ?? '';
    const parent = segs.join('.');
    if (block ? a.instances.get(parent) !== block : parent !== '') continue;
    if (label === base || label === call.callee || label.startsWith(call.callee + '_')) out.push(path);
  }
  return out;
}

const quoteBlock = (b: BlockDecl): string => `\`${b.name}\``;

