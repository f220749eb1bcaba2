// Completion, by what the cursor follows: a shape suffix being typed (`x_BL|`) gets the dim
// letters; `if act == |` the variant's choices; anywhere else the names that may stand there.
import type { IToken } from 'chevrotain';
import { BUILTINS } from '../compiler/builtins.js';
import { Elif, EqEq, If, Name, NotEq } from '../../grammar/lexer.js';
import type { Analysis } from './analysis.js';
import { assigned, signatureLetters } from './occurrences.js';
import { blockHeader } from './syntax.js';
import type { CompletionEntry, Position, Range } from './types.js';

export interface Completions {
  items: CompletionEntry[];
  /** The text the items replace (the word being typed), when they replace one. */
  replace: Range | null;
}

export function complete(a: Analysis, pos: Position): Completions {
  const offset = a.lines.offsetAt(pos);
  const lineStart = a.lines.offsetAt({ line: pos.line, character: 0 });
  const before = a.tokens.filter((t) => t.startOffset >= lineStart && t.startOffset < offset);
  const last = before[before.length - 1];
  const typing = last && last.tokenType === Name && last.startOffset + last.image.length === offset ? last : undefined;
  const block = a.program.blocks.find((b) => b.span.start.offset < offset && offset <= b.span.end.offset + 1) ?? null;

  const value = variantValues(a, typing ? before.slice(0, -1) : before);
  if (value) return { items: value, replace: typing ? wordRange(pos, typing) : null };

  if (typing && typing.image.lastIndexOf('_') > 0) {
    // A shape suffix: the letters declared (and, in a block, its signature's), less those written.
    const suffix = typing.image.slice(typing.image.lastIndexOf('_') + 1).replace('*', '');
    if (/^[A-Z]*$/.test(suffix)) {
      const letters = new Set([...a.program.dims.map((d) => d.letter), ...(block ? signatureLetters(block) : [])]);
      const items = [...letters].filter((l) => !suffix.includes(l)).map((l): CompletionEntry => ({
        label: typing.image + l,
        kind: 'dim',
        detail: dimDetail(a, l),
      }));
      return { items, replace: wordRange(pos, typing) };
    }
  }
  const items: CompletionEntry[] = [];
  const own = new Set(a.program.blocks.map((b) => b.name));
  for (const b of a.program.blocks) items.push({ label: b.name, kind: 'block', detail: blockHeader(a.text, b) });
  for (const b of a.prelude.program.blocks) if (!own.has(b.name)) items.push({ label: b.name, kind: 'block', detail: `${blockHeader(a.prelude.text, b)} (prelude)` });
  for (const f of BUILTINS) items.push({ label: f, kind: 'builtin', detail: 'built-in' });
  for (const d of a.program.dims) items.push({ label: d.letter, kind: 'dim', detail: dimDetail(a, d.letter) });
  for (const v of a.program.variants) items.push({ label: v.name, kind: 'variant', detail: `variant: ${v.choices.map((c) => c.text).join(' | ')}` });
  const names = block ? [...block.params.map((p) => p.text), ...assigned(block.body)] : [...a.program.inputs.map((i) => i.name.text), ...assigned(a.program.body)];
  for (const n of new Set(names)) items.push({ label: n, kind: 'tensor' });
  return { items, replace: typing ? wordRange(pos, typing) : null };
}

/** `if NAME ==` / `elif NAME !=`: that variant's choices. */
function variantValues(a: Analysis, before: IToken[]): CompletionEntry[] | null {
  const n = before.length;
  if (n < 3 || !(before[n - 1]!.tokenType === EqEq || before[n - 1]!.tokenType === NotEq)) return null;
  if (before[n - 2]!.tokenType !== Name || !(before[n - 3]!.tokenType === If || before[n - 3]!.tokenType === Elif)) return null;
  const v = a.program.variants.find((v) => v.name === before[n - 2]!.image);
  if (!v) return [];
  return v.choices.map((c, i) => ({ label: c.text, kind: 'value', detail: `${v.name}${i === 0 ? ' (default)' : ''}` }));
}

function dimDetail(a: Analysis, letter: string): string {
  const d = a.model?.dims.get(letter);
  return d ? d.derivation : 'dim';
}

function wordRange(pos: Position, t: IToken): Range {
  return { start: { line: pos.line, character: pos.character - t.image.length }, end: pos };
}
