// One document, analysed once per version: parsed, checked against the prelude with the user's
// `--set` values, and its names collected. Every feature of the service reads this record.
import type { IToken } from 'chevrotain';
import type { BlockDecl, Program, Span } from '../../grammar/ast.js';
import type { Diagnostic } from '../../grammar/diagnostic.js';
import { parse } from '../../grammar/index.js';
import { lex, Name, tokenSpan } from '../../grammar/lexer.js';
import { check } from '../compiler/check.js';
import type { CheckedModel } from '../compiler/graph.js';
import { instanceBlocks } from './instances.js';
import { LineIndex } from './lines.js';
import { collectNames, type BlockLookup, type Names } from './occurrences.js';

/** The prelude's file name in diagnostics and locations (the checker reports prelude spans under it). */
export const PRELUDE_FILE = 'prelude.arch';

/** A parsed source and its names: the model's document or the prelude. */
export interface Source {
  file: string;
  text: string;
  lines: LineIndex;
  program: Program;
  tokens: IToken[];
  names: Names;
  parseDiagnostics: Diagnostic[];
}

export interface Analysis extends Source {
  prelude: Source;
  /** Parse diagnostics, then the checker's (for this file and the prelude). */
  diagnostics: Diagnostic[];
  /** Null when the model has errors: then only what the syntax says is known. */
  model: CheckedModel | null;
  /** Block instance path (`stream.3.causal_attention`) -> the block it instantiates. */
  instances: Map<string, BlockDecl>;
  findBlock: BlockLookup;
  sets: Map<string, string>;
}

export function readSource(file: string, text: string, findBlock?: (own: Program) => BlockLookup): Source {
  const parsed = parse(file, text);
  const program = parsed.program;
  const own = new Map(program.blocks.map((b) => [b.name, b]));
  const lookup = findBlock ? findBlock(program) : (n: string) => own.get(n);
  // Tokens and names are for hover, completion and colouring, not for diagnostics: they are
  // computed when first asked for, so a keystroke's diagnostics do not wait for them.
  let tokens: IToken[] | undefined;
  let names: Names | undefined;
  return {
    file,
    text,
    lines: new LineIndex(text),
    program,
    get tokens() {
      return (tokens ??= lex(text).tokens);
    },
    get names() {
      return (names ??= collectNames(program, lookup, (span) => variantNameSpan(this.tokens, span)));
    },
    parseDiagnostics: parsed.diagnostics,
  };
}

export function analyze(file: string, text: string, sets: Map<string, string>, prelude: Source): Analysis {
  const theirs = new Map(prelude.program.blocks.map((b) => [b.name, b]));
  const findBlock = (own: Program): BlockLookup => {
    const mine = new Map(own.blocks.map((b) => [b.name, b]));
    return (n) => mine.get(n) ?? theirs.get(n);
  };
  const src = readSource(file, text, findBlock);
  const lookup = findBlock(src.program);
  let model: CheckedModel | null = null;
  let diagnostics = src.parseDiagnostics;
  if (!diagnostics.some((d) => d.severity === 'error')) {
    const r = check(src.program, prelude.program, { sets });
    model = r.model;
    diagnostics = [...diagnostics, ...r.diagnostics];
  }
  let instances: Map<string, BlockDecl> | undefined;
  return {
    file,
    text,
    lines: src.lines,
    program: src.program,
    parseDiagnostics: src.parseDiagnostics,
    get tokens() {
      return src.tokens;
    },
    get names() {
      return src.names;
    },
    get instances() {
      return (instances ??= model ? instanceBlocks(model, lookup, [...src.program.blocks, ...prelude.program.blocks]) : new Map<string, BlockDecl>());
    },
    prelude,
    diagnostics,
    model,
    findBlock: lookup,
    sets,
  };
}

/** `variant act = ...`: the first name after the keyword. */
function variantNameSpan(tokens: IToken[], line: Span): Span | null {
  const t = tokens.find((t) => t.tokenType === Name && t.startOffset > line.start.offset && t.startOffset < line.end.offset);
  return t ? tokenSpan(t) : null;
}

/** The tokens within a span, in order. */
export function tokensIn(tokens: IToken[], span: Span): IToken[] {
  return tokens.filter((t) => t.startOffset >= span.start.offset && t.startOffset < span.end.offset);
}
