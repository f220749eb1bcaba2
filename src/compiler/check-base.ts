// The state of one check and the services every part of the checker uses: reporting diagnostics,
// naming axes in messages, and emitting graph nodes. Each concern (declarations, names, statements,
// expressions, blocks) is a file of functions over this state; check.ts wires them together, so the
// concerns call each other through the abstract methods here, never by importing each other.
import type { BlockDecl, CallExpr, Expr, Program, Span, Stmt, TensorName } from '../../grammar/ast.js';
import type { Diagnostic } from '../../grammar/diagnostic.js';
import type { AxisInfo, BinaryFn, GNode, GOp, InputEntry, ParamEntry, TraceEntry } from './graph.js';
import { quote } from './names.js';
import type { Binding, Scope, Val } from './scope.js';

export interface DimInfo {
  size: number | null;
  derivation: string; // `K = D / H = 768 / 12 = 64`
  span: Span;
  file: string;
}

export interface VariantInfo {
  choices: string[];
  numeric: boolean;
  value: string | number;
  span: Span;
}

export const MAX_DIM = 2 ** 31 - 1;
export const MAX_REPEAT = 10_000;
export const MAX_NODES = 2_000_000;

/** Blocks calling blocks: a real model nests a handful; rustc's recursion_limit is 128. */
export const MAX_BLOCK_DEPTH = 100;
/** Expressions nested in expressions, across the block calls that hold them. The checker walks them
 *  recursively, and this keeps it well inside JavaScript's stack (about 1 MB); chains such as
 *  `a + b + c ...` are walked without nesting, so this counts parentheses, calls and the like. */
export const MAX_CHECK_DEPTH = 300;
/** Past this many errors the check stops: the rest are likely consequences, and a generated file
 *  with thousands of mistakes must still answer in seconds. */
export const MAX_ERRORS = 100;
/** Warnings past this many are counted, not listed. */
export const MAX_WARNINGS = 100;

/** Thrown when the graph outgrows MAX_NODES; run() reports it once. */
export class TooBig extends Error {}

/** Thrown at the error after MAX_ERRORS; run() says the check stopped there. */
export class TooManyErrors extends Error {
  constructor(readonly span: Span, readonly file: string) {
    super('too many errors');
  }
}

export type RepeatExpr = Extract<Expr, { kind: 'repeat' }>;

type Extra = Partial<Diagnostic> & { file?: string };

export abstract class CheckerBase {
  diags: Diagnostic[] = [];
  private seen = new Set<string>();
  errorCount = 0;
  /** While true, the error past MAX_ERRORS stops the check; run() sets it around the passes that
   *  can report without end (not around the few final checks, which must not throw). */
  capErrors = false;
  /** How deep the expressions being checked nest, across block calls (MAX_CHECK_DEPTH). */
  depth = 0;
  readonly dims = new Map<string, DimInfo>();
  readonly variants = new Map<string, VariantInfo>();
  readonly blocks = new Map<string, { decl: BlockDecl; file: string }>();
  readonly axes = new Map<string, AxisInfo>();
  readonly nodes: GNode[] = [];
  readonly params: ParamEntry[] = [];
  readonly trace: TraceEntry[] = [];
  readonly inputs: InputEntry[] = [];
  readonly sets: Map<string, string>;
  readonly usedSets = new Set<string>();
  freshCount = 0;
  /** Dims whose value could not be computed: already reported, so their uses stay quiet. */
  readonly badDims = new Set<string>();
  unknownTarget = false;
  /** The block calls being checked, outermost first: where a prelude diagnostic came from. */
  readonly callSites: { block: string; file: string; span: Span }[] = [];
  readonly called = new Set<string>();
  /** Undeclared letters already reported. */
  readonly unknownLetters = new Set<string>();

  constructor(
    readonly program: Program,
    readonly prelude: Program | null,
    sets: Map<string, string> | undefined,
  ) {
    this.sets = sets ?? new Map();
  }

  // ------------------------------------------------------------------ the concerns, wired in check.ts

  abstract expr(e: Expr, scope: Scope, expected: string[] | null, label?: string): Val | null;
  abstract statements(stmts: Stmt[], scope: Scope): Val | null;
  abstract call(e: CallExpr, scope: Scope, expected: string[] | null, label: string): Val | null;
  abstract repeat(e: RepeatExpr, scope: Scope, expected: string[] | null, label: string): Val | null;
  abstract letterAxes(letter: string, span: Span, scope: Scope, what: string): string[] | null;
  abstract nameAxes(name: TensorName, scope: Scope): string[] | null;
  abstract define(name: TensorName, b: Binding, scope: Scope): boolean;
  abstract constLookup(n: string, scope: Scope): number | undefined;
  abstract warnUnused(scope: Scope, result?: number): void;

  // ------------------------------------------------------------------ diagnostics

  error(code: string, message: string, span: Span, extra: Extra = {}): void {
    this.report('error', code, message, span, extra);
  }

  report(severity: 'error' | 'warning', code: string, message: string, span: Span, extra: Extra): void {
    const file = extra.file ?? this.program.file;
    const key = `${file}:${span.start.offset}:${span.end.offset}:${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (severity === 'error' && ++this.errorCount > MAX_ERRORS && this.capErrors) throw new TooManyErrors(span, file);
    const d: Diagnostic = { severity, code, message, file, span, ...extra };
    // A problem inside the prelude: say which line of the user's model led there.
    const site = file === this.program.file ? undefined : this.callSites.findLast((c) => c.file === this.program.file);
    if (site) d.notes = [...(d.notes ?? []), `in the prelude's ${quote(site.block)}, called at ${site.file}:${site.span.start.line}:${site.span.start.col}`];
    this.diags.push(d);
  }

  /** Where a block is declared: an underline when it is in the file being shown, else a note
   *  (a diagnostic's spans all point into one file). */
  declaredAt(decl: BlockDecl, declFile: string, shownFile: string, signature: string): Partial<Diagnostic> {
    if (declFile === shownFile) return { secondary: [{ span: decl.nameSpan, label: signature }] };
    return { notes: [`${signature} is declared at ${declFile}:${decl.nameSpan.start.line}`] };
  }

  axisText(a: string): string {
    const info = this.axes.get(a);
    if (!info) return a;
    return info.size === null ? info.letter : `${info.letter}=${info.size}`;
  }

  letterOf(axis: string): string {
    return this.axes.get(axis)?.letter ?? axis;
  }

  shapeText(axes: string[]): string {
    return axes.length ? `[${axes.map((a) => this.axisText(a)).join(', ')}]` : 'a scalar';
  }

  /** `= note:` lines saying how each of these axes got its size. */
  dimNotes(axes: Iterable<string>): string[] {
    const out: string[] = [];
    const done = new Set<string>();
    for (const a of axes) {
      const letter = this.axes.get(a)?.letter ?? a;
      const d = this.dims.get(letter);
      if (!d || done.has(letter) || d.size === null || !/[=]/.test(d.derivation.replace(/^[A-Z] = \d+$/, ''))) continue;
      done.add(letter);
      out.push(`${d.derivation} (${d.file}:${d.span.start.line})`);
    }
    return out;
  }

  // ------------------------------------------------------------------ graph building

  emit(op: GOp, args: number[], axes: string[], span: Span, scope: Scope, name?: string): number {
    if (this.nodes.length >= MAX_NODES) throw new TooBig();
    const id = this.nodes.length;
    this.nodes.push({ id, op, args, axes, span, scope: scope.path.replace(/\.$/, ''), name });
    return id;
  }

  number(value: number, span: Span, scope: Scope): Val {
    return { node: this.emit({ kind: 'number', value }, [], [], span, scope), axes: [], const: value };
  }
}

export const BINOP: Record<string, BinaryFn> = {
  '+': 'add', '-': 'sub', '*': 'mul', '/': 'div', '%': 'mod', '^': 'pow',
  '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge', '==': 'eq', '!=': 'ne',
};

export function zeroSpan(): Span {
  const p = { offset: 0, line: 1, col: 1 };
  return { start: p, end: p };
}
