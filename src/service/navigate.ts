// Definition, references and the document's outline, from the collected names.
import type { Span } from '../../grammar/ast.js';
import type { Analysis } from './analysis.js';
import { subSpan, toRange } from './lines.js';
import { occurrenceAt, sameThing, type Occurrence } from './occurrences.js';
import { blockHeader } from './syntax.js';
import type { DocumentSymbolEntry, Location } from './types.js';

export function definition(a: Analysis, offset: number): Location[] {
  const occ = occurrenceAt(a.names, offset);
  if (!occ) return [];
  if (occ.def) return [at(a.file, occ.span)];
  if (occ.kind === 'block') {
    const decl = a.findBlock(occ.key);
    if (!decl) return [];
    return [at(a.program.blocks.includes(decl) ? a.file : a.prelude.file, decl.nameSpan)];
  }
  if (occ.kind === 'letter' && occ.block) {
    // The first parameter (or the result) of the signature that has the letter.
    for (const p of [...occ.block.params, occ.block.result]) {
      const i = p.text.lastIndexOf(occ.key);
      if (p.letters.includes(occ.key) && i >= 0) return [at(a.file, subSpan(p.span, i, 1))];
    }
    return [];
  }
  const def = a.names.occurrences.find((o) => o.def && sameThing(o, occ));
  return def ? [at(a.file, def.span)] : [];
}

export function references(a: Analysis, offset: number, includeDeclaration: boolean): Location[] {
  const occ = occurrenceAt(a.names, offset);
  if (!occ || occ.kind === 'builtin') return [];
  const out = a.names.occurrences.filter((o) => sameThing(o, occ) && (includeDeclaration || !o.def)).map((o) => at(a.file, o.span));
  if (occ.kind === 'block' && includeDeclaration) {
    const decl = a.findBlock(occ.key);
    if (decl && !a.program.blocks.includes(decl)) out.unshift(at(a.prelude.file, decl.nameSpan));
  }
  return out;
}

export function documentSymbols(a: Analysis): DocumentSymbolEntry[] {
  const p = a.program;
  const out: DocumentSymbolEntry[] = [];
  const sym = (name: string, kind: DocumentSymbolEntry['kind'], span: Span, select: Span, detail?: string, children: DocumentSymbolEntry[] = []): DocumentSymbolEntry =>
    ({ name, kind, detail, range: toRange(span), selectionRange: toRange(select), children });
  if (p.model) out.push(sym(p.model.name, 'model', p.model.span, p.model.span, 'model'));
  for (const d of p.dims) {
    const info = a.model?.dims.get(d.letter);
    out.push(sym(d.letter, 'dim', d.span, subSpan(d.span, 0, 1), info ? (info.size === null ? 'runtime' : String(info.size)) : undefined));
  }
  for (const v of p.variants) out.push(sym(v.name, 'variant', v.span, a.names.variantSpans.get(v.name) ?? v.span, v.choices.map((c) => c.text).join(' | ')));
  const tensors = (block: Occurrence['block']): DocumentSymbolEntry[] =>
    a.names.occurrences
      .filter((o) => o.def && o.kind === 'tensor' && o.block === block && o.role !== 'argument')
      .map((o) => sym(o.key, o.role === 'input' ? 'input' : o.role === 'param' ? 'param' : 'tensor', o.span, o.span));
  out.push(...tensors(null));
  for (const b of p.blocks) out.push(sym(b.name, 'block', b.span, b.nameSpan, blockHeader(a.text, b), tensors(b)));
  return out.sort((x, y) => x.range.start.line - y.range.start.line || x.range.start.character - y.range.start.character);
}

const at = (file: string, span: Span): Location => ({ file, range: toRange(span) });
