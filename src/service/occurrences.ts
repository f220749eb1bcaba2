// Every name of a program, where it stands and what it names: the one walk of the AST that
// hover, definition, references, completion and semantic tokens share.
import type { BlockDecl, Expr, Program, Span, Stmt, TensorName } from '../../grammar/ast.js';
import { BUILTINS } from '../compiler/builtins.js';

/** tensor: a named tensor or scalar; dim: a dim letter of the model; letter: a block signature's
 *  own letter (I, O in linear); block, builtin: a callee; variant: a variant's name; value: one of
 *  its choices. */
export type OccurrenceKind = 'tensor' | 'dim' | 'letter' | 'block' | 'builtin' | 'variant' | 'value';

export interface Occurrence {
  kind: OccurrenceKind;
  /** What it names: the tensor's text, the letter, the block, builtin or variant name; a value is `variant=choice`. */
  key: string;
  span: Span;
  def: boolean;
  /** The block the name lives in (tensors and block letters); null at the top level. */
  block: BlockDecl | null;
  /** Tensors: the name as parsed (for its shape suffix). */
  tensor?: TensorName;
  /** Tensor definitions: what declared it. */
  role?: 'input' | 'param' | 'argument' | 'assign';
}

export interface Names {
  occurrences: Occurrence[];
  /** The name span of each variant declaration (the AST keeps only the line's span). */
  variantSpans: Map<string, Span>;
}

/** Blocks a call may reach: the file's own, else the prelude's. */
export type BlockLookup = (name: string) => BlockDecl | undefined;

const BUILTIN = new Set<string>([...BUILTINS, 'normal', 'zeros', 'ones']);

export function collectNames(program: Program, findBlock: BlockLookup, variantNameSpan: (span: Span) => Span | null): Names {
  const out: Occurrence[] = [];
  const variants = new Set(program.variants.map((v) => v.name));
  const variantSpans = new Map<string, Span>();

  const letterKind = (letter: string, block: BlockDecl | null): OccurrenceKind =>
    block && signatureLetters(block).has(letter) ? 'letter' : 'dim';

  for (const d of program.dims) {
    out.push({ kind: 'dim', key: d.letter, span: { start: d.span.start, end: { ...d.span.start, offset: d.span.start.offset + 1, col: d.span.start.col + 1 } }, def: true, block: null });
    if (d.value) expr(d.value, null, new Set());
  }
  for (const v of program.variants) {
    const at = variantNameSpan(v.span);
    if (at) {
      variantSpans.set(v.name, at);
      out.push({ kind: 'variant', key: v.name, span: at, def: true, block: null });
    }
    if (!v.numeric) for (const c of v.choices) out.push({ kind: 'value', key: `${v.name}=${c.text}`, span: c.span, def: true, block: null });
  }
  const topNames = new Set<string>([...program.inputs.map((i) => i.name.text), ...assigned(program.body)]);
  for (const i of program.inputs) out.push({ kind: 'tensor', key: i.name.text, span: i.name.span, def: true, block: null, tensor: i.name, role: 'input' });
  stmts(program.body, null, topNames);
  for (const b of program.blocks) {
    out.push({ kind: 'block', key: b.name, span: b.nameSpan, def: true, block: null });
    const names = new Set<string>([...b.params.map((p) => p.text), ...assigned(b.body)]);
    for (const p of b.params) out.push({ kind: 'tensor', key: p.text, span: p.span, def: true, block: b, tensor: p, role: 'argument' });
    stmts(b.body, b, names);
  }
  out.sort((a, b) => a.span.start.offset - b.span.start.offset);
  return { occurrences: out, variantSpans };

  function stmts(list: Stmt[], block: BlockDecl | null, names: Set<string>): void {
    for (const s of list) {
      if (s.kind === 'assign') {
        expr(s.value, block, names);
        out.push({ kind: 'tensor', key: s.target.text, span: s.target.span, def: true, block, tensor: s.target, role: 'assign' });
      } else if (s.kind === 'param') {
        out.push({ kind: 'tensor', key: s.name.text, span: s.name.span, def: true, block, tensor: s.name, role: 'param' });
        expr(s.init, block, names);
      } else {
        for (const br of s.branches) {
          if (br.variant) {
            out.push({ kind: 'variant', key: br.variant.letter, span: br.variant.span, def: false, block: null });
            if (br.value) out.push({ kind: 'value', key: `${br.variant.letter}=${br.value.text}`, span: br.value.span, def: false, block: null });
          }
          stmts(br.body, block, names);
        }
      }
    }
  }

  function expr(e: Expr, block: BlockDecl | null, names: Set<string>): void {
    switch (e.kind) {
      case 'number':
        return;
      case 'name': {
        const n = e.name;
        if (names.has(n.text)) out.push({ kind: 'tensor', key: n.text, span: n.span, def: false, block, tensor: n });
        else if (/^[A-Z]$/.test(n.text)) out.push({ kind: letterKind(n.text, block), key: n.text, span: n.span, def: false, block });
        else if (variants.has(n.text)) out.push({ kind: 'variant', key: n.text, span: n.span, def: false, block: null });
        else if (BUILTIN.has(n.text)) out.push({ kind: 'builtin', key: n.text, span: n.span, def: false, block: null });
        else out.push({ kind: 'tensor', key: n.text, span: n.span, def: false, block, tensor: n });
        return;
      }
      case 'binary':
        expr(e.left, block, names);
        expr(e.right, block, names);
        return;
      case 'unary':
        expr(e.operand, block, names);
        return;
      case 'call': {
        const kind: OccurrenceKind = variants.has(e.callee) ? 'variant' : findBlock(e.callee) ? 'block' : 'builtin';
        out.push({ kind, key: e.callee, span: e.calleeSpan, def: false, block: null });
        for (const a of e.args) expr(a, block, names);
        return;
      }
      case 'repeat':
        expr(e.count, block, names);
        expr(e.call, block, names);
        return;
      case 'reshape':
        expr(e.operand, block, names);
        for (const l of [...e.from, ...e.to]) out.push({ kind: letterKind(l.letter, block), key: l.letter, span: l.span, def: false, block });
        return;
    }
  }
}

/** The letters a block's signature binds (its parameters' and its result's). */
export function signatureLetters(b: BlockDecl): Set<string> {
  return new Set([...b.params.flatMap((p) => p.letters), ...b.result.letters]);
}

/** The names a list of statements defines, `if` branches included. */
export function assigned(list: Stmt[]): string[] {
  return list.flatMap((s) => (s.kind === 'assign' ? [s.target.text] : s.kind === 'param' ? [s.name.text] : s.branches.flatMap((b) => assigned(b.body))));
}

/** The occurrence at an offset, if any (the innermost: spans of names never nest). */
export function occurrenceAt(names: Names, offset: number): Occurrence | undefined {
  return names.occurrences.find((o) => o.span.start.offset <= offset && offset <= o.span.end.offset);
}

/** Whether two occurrences name the same thing. */
export function sameThing(a: Occurrence, b: Occurrence): boolean {
  if (a.key !== b.key) return false;
  if (a.kind === 'tensor' || a.kind === 'letter') return b.kind === a.kind && a.block === b.block;
  if (a.kind === 'block' || a.kind === 'builtin') return b.kind === 'block' || b.kind === 'builtin';
  return a.kind === b.kind;
}
