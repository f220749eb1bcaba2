// The declarations, resolved before any statement is checked: blocks (the file's and the
// prelude's), dims (with their derivations, `K = D / H = 768 / 12 = 64`), variants, and the
// `--set` values that choose among them.
import type { BlockDecl, DimDecl, Expr } from '../../grammar/ast.js';
import { BUILTINS } from './builtins.js';
import { MAX_DIM, zeroSpan, type CheckerBase, type DimInfo } from './check-base.js';
import { evalConst } from './consteval.js';
import { closest, listOr, quote } from './names.js';

export function registerBlocks(c: CheckerBase): void {
  const builtin = new Set(BUILTINS);
  if (c.prelude) for (const b of c.prelude.blocks) c.blocks.set(b.name, { decl: b, file: c.prelude.file });
  const mine = new Map<string, BlockDecl>();
  for (const b of c.program.blocks) {
    const prev = mine.get(b.name);
    if (prev) {
      c.error('name', `the block ${quote(b.name)} is defined twice`, b.nameSpan, {
        secondary: [{ span: prev.nameSpan, label: 'first defined here' }],
        help: 'rename one of them',
      });
      continue;
    }
    if (builtin.has(b.name)) {
      c.error('name', `${quote(b.name)} is a built-in function and can't be redefined`, b.nameSpan, { help: `call your block something else, e.g. ${quote('my_' + b.name)}` });
      continue;
    }
    mine.set(b.name, b);
    c.blocks.set(b.name, { decl: b, file: c.program.file });
  }
}

/** A dim's size: a number, null for a runtime dim (B), undefined for a dim with no value (reported). */
type Resolve = (letter: string, chain: string[]) => number | null | undefined;

export function resolveDims(c: CheckerBase): void {
  const byLetter = new Map<string, DimDecl>();
  for (const d of c.program.dims) {
    const prev = byLetter.get(d.letter);
    if (prev) {
      c.error('dims', `the dim ${d.letter} is declared twice`, d.span, { secondary: [{ span: prev.span, label: 'first declared here' }] });
      continue;
    }
    if (c.variants.has(d.letter)) continue;
    byLetter.set(d.letter, d);
  }
  const state = new Map<string, 'busy' | 'done'>();
  const resolve: Resolve = (letter, chain) => {
    const d = byLetter.get(letter);
    if (!d) return undefined;
    if (state.get(letter) === 'done') return c.dims.has(letter) ? c.dims.get(letter)!.size : undefined;
    if (state.get(letter) === 'busy') {
      c.error('cycle', `the dims ${[...chain, letter].join(' -> ')} depend on each other in a cycle`, d.span, { help: 'give one of them a number' });
      return undefined;
    }
    state.set(letter, 'busy');
    const set = c.sets.get(letter);
    let info: DimInfo | undefined;
    if (set !== undefined) {
      c.usedSets.add(letter);
      const n = Number(set);
      if (!/^\d+$/.test(set.trim()) || !Number.isSafeInteger(n) || n < 1 || n > MAX_DIM) {
        c.error('invocation', `--set ${letter}=${set}: a dim must be a whole number from 1 to ${MAX_DIM}`, d.span, { label: `the dim ${letter} is declared here` });
      } else info = { size: n, derivation: `${letter} = ${n} (--set ${letter}=${n})`, span: d.span, file: c.program.file };
    } else if (d.value === null) {
      info = { size: null, derivation: `${letter} is chosen when the model runs`, span: d.span, file: c.program.file };
    } else {
      info = computedDim(c, d, d.value, chain, resolve, byLetter);
    }
    state.set(letter, 'done');
    if (!info) c.badDims.add(letter);
    if (info) {
      c.dims.set(letter, info);
      c.axes.set(letter, { name: letter, letter, size: info.size, sequence: false });
    }
    return info?.size;
  };
  for (const letter of byLetter.keys()) resolve(letter, []);
}

/** A dim given by an expression of other dims: its size and derivation, or a diagnostic. */
function computedDim(c: CheckerBase, d: DimDecl, value: Expr, chain: string[], resolve: Resolve, byLetter: Map<string, DimDecl>): DimInfo | undefined {
  const letter = d.letter;
  let bad = false;
  const r = evalConst(value, (name) => {
    if (/^[A-Z]$/.test(name)) {
      const v = resolve(name, [...chain, letter]);
      if (v === null) {
        c.error('dims', `${letter} can't be computed from ${name}: ${name} is chosen when the model runs`, d.span, {
          help: `give ${letter} a number, or compute it from dims that have one`,
        });
        bad = true;
      }
      // A declared dim with no value has its own diagnostic (a cycle, a bad --set): stay quiet.
      if (v === undefined && byLetter.has(name)) bad = true;
      return v ?? undefined;
    }
    return undefined;
  }, true);
  const src = c.program.source.slice(value.span.start.offset, value.span.end.offset);
  if ('value' in r) {
    if (!Number.isSafeInteger(r.value) || r.value < 1 || r.value > MAX_DIM) {
      c.error('dims', `the dim ${letter} must be a whole number from 1 to ${MAX_DIM}, but it is ${r.value}`, value.span, {
        label: `${letter} = ${r.substituted}`,
      });
      return undefined;
    }
    const text = src.trim();
    const parts = [`${letter} = ${text}`];
    if (r.substituted !== text) parts.push(r.substituted);
    if (String(r.value) !== r.substituted) parts.push(String(r.value));
    return { size: r.value, derivation: parts.join(' = '), span: d.span, file: c.program.file };
  }
  if (bad) return undefined;
  const used = [...src.matchAll(/\b[A-Z]\b/g)].map((x) => x[0]);
  const notes = [...new Set(used)].flatMap((l) => {
    const di = c.dims.get(l);
    return di && di.size !== null ? [`${di.derivation} (${di.file}:${di.span.start.line})`] : [];
  });
  if (r.name !== undefined) {
    if (/^[A-Z]$/.test(r.name)) c.unknownLetters.add(r.name);
    const near = closest(r.name, byLetter.keys());
    const example = `a dim is computed from numbers and other dims, e.g. ${quote('F = 4 * D')}`;
    c.error('dims', `the dim ${letter} uses ${quote(r.name)}, which is not a dim`, r.span, {
      label: /^[A-Z]$/.test(r.name) ? `${r.name} is not declared under ${quote('dims')}` : 'not a dim',
      help: near && near !== letter ? `did you mean ${quote(near)}? ${example}` : example,
    });
  } else c.error('dims', r.message, r.span, { label: r.label, help: r.help, notes });
  return undefined;
}

export function resolveVariants(c: CheckerBase): void {
  for (const v of c.program.variants) {
    if (c.variants.has(v.name)) {
      c.error('variant', `the variant ${quote(v.name)} is declared twice`, v.span);
      continue;
    }
    const choices = v.choices.map((x) => x.text);
    const dup = choices.find((x, i) => choices.indexOf(x) !== i);
    if (dup) c.error('variant', `the variant ${quote(v.name)} lists ${quote(dup)} twice`, v.span);
    let value: string | number = v.numeric ? Number(choices[0]) : choices[0] ?? '';
    const set = c.sets.get(v.name);
    if (set !== undefined) {
      c.usedSets.add(v.name);
      if (v.numeric) {
        const n = Number(set);
        if (set.trim() === '' || !Number.isFinite(n)) c.error('invocation', `--set ${v.name}=${set}: ${quote(v.name)} is a number`, v.span, { label: 'declared here' });
        else value = n;
      } else if (!choices.includes(set)) {
        const near = closest(set, choices);
        c.error('invocation', `--set ${v.name}=${set}: ${quote(v.name)} is one of ${listOr(choices)}`, v.span, {
          label: 'declared here',
          help: near ? `did you mean ${quote(`--set ${v.name}=${near}`)}?` : undefined,
        });
      } else value = set;
    }
    c.variants.set(v.name, { choices, numeric: v.numeric, value, span: v.span });
  }
}

/** `--set` values that name nothing in the model. */
export function unusedSets(c: CheckerBase): void {
  for (const [k, v] of c.sets) {
    if (c.usedSets.has(k)) continue;
    const near = k.length > 1 ? closest(k, [...c.dims.keys(), ...c.variants.keys()].filter((n) => n.length > 1)) : undefined;
    c.error('invocation', `--set ${k}=${v}: the model has no dim or variant named ${quote(k)}`, c.program.model?.span ?? zeroSpan(), {
      help: near ? `did you mean ${quote(near)}?` : `its dims are ${[...c.dims.keys()].join(' ')}; its variants: ${[...c.variants.keys()].join(', ') || 'none'}`,
    });
  }
}
