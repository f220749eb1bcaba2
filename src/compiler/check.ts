// The checker: infers every tensor's shape, checks it against its name, and builds the checked
// graph. Block calls are instantiated with the caller's letters, so every check happens with real
// sizes and every diagnostic can say how each dimension got its value. This file runs the passes
// and wires the concerns together; each lives in its own file:
//   check-base.ts   the state of one check, diagnostics, graph emission
//   check-decls.ts  blocks, dims, variants and --set, resolved before any statement
//   check-names.ts  letters and axes, defining and looking up names, unused-name warnings
//   check-stmts.ts  assignments, parameters, `if`
//   check-exprs.ts  operators, contraction, reshapes
//   check-blocks.ts block calls and `repeat`
//   builtins.ts     exp, sum, softmax, causal, ...
import type { CallExpr, Expr, Program, Span, Stmt, TensorName } from '../../grammar/ast.js';
import type { Diagnostic } from '../../grammar/diagnostic.js';
import type { BuiltinChecker } from './builtins.js';
import { CheckerBase, MAX_CHECK_DEPTH, MAX_ERRORS, MAX_NODES, MAX_WARNINGS, TooBig, TooManyErrors, zeroSpan, type RepeatExpr } from './check-base.js';
import { call, repeat } from './check-blocks.js';
import { registerBlocks, resolveDims, resolveVariants, unusedSets } from './check-decls.js';
import { arity, elementwise, expr, letterArg, notOnehot } from './check-exprs.js';
import { constLookup, declareInput, define, letterAxes, nameAxes, warnUnused } from './check-names.js';
import { statements } from './check-stmts.js';
import type { BinaryFn, CheckedModel } from './graph.js';
import { quote } from './names.js';
import type { Binding, Scope, Val } from './scope.js';

export interface CheckOptions {
  /** `--set name=value` pairs: dims and variants. */
  sets?: Map<string, string>;
}

export interface CheckResult {
  model: CheckedModel | null;
  diagnostics: Diagnostic[];
}

export function check(program: Program, prelude: Program | null, opts: CheckOptions = {}): CheckResult {
  return new Checker(program, prelude, opts.sets).run();
}

class Checker extends CheckerBase implements BuiltinChecker {
  /** The expression checked last: where the check was when the stack ran out. */
  private deepest: { span: Span; file: string } | null = null;

  expr(e: Expr, scope: Scope, expected: string[] | null, label?: string): Val | null {
    if (this.depth >= MAX_CHECK_DEPTH) return this.tooDeep(e, scope);
    this.depth++;
    this.deepest = { span: e.span, file: scope.file };
    const v = expr(this, e, scope, expected, label);
    this.depth--;
    return v;
  }
  statements(stmts: Stmt[], scope: Scope): Val | null {
    return statements(this, stmts, scope);
  }
  call(e: CallExpr, scope: Scope, expected: string[] | null, label: string): Val | null {
    return call(this, e, scope, expected, label);
  }
  repeat(e: RepeatExpr, scope: Scope, expected: string[] | null, label: string): Val | null {
    return repeat(this, e, scope, expected, label);
  }
  letterAxes(letter: string, span: Span, scope: Scope, what: string): string[] | null {
    return letterAxes(this, letter, span, scope, what);
  }
  nameAxes(name: TensorName, scope: Scope): string[] | null {
    return nameAxes(this, name, scope);
  }
  define(name: TensorName, b: Binding, scope: Scope): boolean {
    return define(this, name, b, scope);
  }
  constLookup(n: string, scope: Scope): number | undefined {
    return constLookup(this, n, scope);
  }
  warnUnused(scope: Scope, result?: number): void {
    warnUnused(this, scope, result);
  }
  elementwise(fn: BinaryFn, operands: Expr[], span: Span, scope: Scope, expected: string[] | null): Val | null {
    return elementwise(this, fn, operands, span, scope, expected);
  }
  notOnehot(v: Val, span: Span, scope: Scope): boolean {
    return notOnehot(this, v, span, scope);
  }
  letterArg(arg: Expr, scope: Scope, fn: string): string[] | null {
    return letterArg(this, arg, scope, fn);
  }
  arity(e: CallExpr, n: number | [number, number], scope: Scope, usage: string): boolean {
    return arity(this, e, n, scope, usage);
  }

  run(): CheckResult {
    const p = this.program;
    const top: Scope = {
      path: '', blocks: [], file: p.file, sigma: new Map(), star: null, env: new Map(), labels: new Map(),
      callStack: [], later: new Map(), quiet: false,
    };
    this.capErrors = true;
    try {
      registerBlocks(this);
      resolveDims(this);
      resolveVariants(this);
      unusedSets(this);
      for (const inp of p.inputs) declareInput(this, inp.name, inp.encoding === 'onehot', inp.span, top);
      this.statements(p.body, top);
    } catch (e) {
      this.stopped(e);
      return this.result(top);
    } finally {
      this.capErrors = false;
    }
    this.warnUnused(top);
    if (!p.body.length && !p.inputs.length)
      this.error('model', p.model ? `the model ${quote(p.model.name)} computes nothing` : 'this file defines no model', p.model?.span ?? zeroSpan(), {
        help: 'a model declares its dims, its inputs and the tensors it computes: see models/gpt-nano.arch',
      });
    // A block is checked at its calls, with the caller's sizes: one never called is never checked.
    for (const b of p.blocks)
      if (!this.called.has(b.name) && this.blocks.get(b.name)?.decl === b)
        this.report('warning', 'unused', `the block ${quote(b.name)} is never called, so it is not checked`, b.nameSpan, { help: 'call it, or remove it' });
    return this.result(top);
  }

  /** The first expression past MAX_CHECK_DEPTH: reported once; the check goes on without it. */
  private tooDeep(e: Expr, scope: Scope): null {
    if (this.depth === MAX_CHECK_DEPTH) {
      this.depth++; // one report per check
      const within = scope.blocks.length ? [`inside ${scope.blocks.join(' -> ')}`] : undefined;
      this.error('depth', 'expressions nested too deeply to check', e.span, {
        notes: within,
        help: `more than ${MAX_CHECK_DEPTH} levels of expressions inside expressions, counted across block calls: name the inner parts on lines of their own`,
        file: scope.file,
      });
    }
    return null;
  }

  /** A check that could not go on: too large, too many errors, or (the backstop for the limits
   *  above) JavaScript's stack ran out. Anything else is a bug and propagates. */
  private stopped(e: unknown): void {
    const p = this.program;
    if (e instanceof TooBig) {
      this.error('size', `the model is too large to check: more than ${MAX_NODES.toLocaleString('en-US')} operations`, p.model?.span ?? zeroSpan(), {
        help: 'reduce repeat counts; a model this size would not run either',
      });
    } else if (e instanceof TooManyErrors) {
      this.diags.push({
        severity: 'error', code: 'limit', message: `checking stopped after ${MAX_ERRORS} errors`, file: e.file, span: e.span,
        help: 'fix the errors above first: many of the rest are likely their consequences',
      });
    } else if (e instanceof RangeError && /call stack/i.test(e.message)) {
      this.diags.push({
        severity: 'error', code: 'depth', message: 'the model nests too deeply to check', file: this.deepest?.file ?? p.file, span: this.deepest?.span ?? zeroSpan(),
        help: 'name the inner parts of deep expressions on lines of their own, and call blocks fewer levels deep',
      });
    } else throw e;
  }

  private result(top: Scope): CheckResult {
    const p = this.program;
    const outputs = new Map<string, number>();
    const loss = top.env.get('loss');
    if (loss) {
      if (loss.axes.length) this.error('shape', '`loss` must be a scalar', loss.span, { label: `found ${this.shapeText(loss.axes)}`, help: 'reduce it, e.g. with mean(...)' });
      outputs.set('loss', loss.node);
    }
    for (const [name, b] of top.env) if (name.startsWith('logits_')) outputs.set('logits', b.node);
    const errors = this.diags.some((d) => d.severity === 'error');
    // Checking stops at each error, so a name used only past one looks unused: with errors, an
    // unused-name warning is more likely noise than news.
    if (errors) this.diags = this.diags.filter((d) => d.code !== 'unused');
    this.diags = capWarnings(this.diags);
    const model: CheckedModel | null = errors
      ? null
      : {
          name: p.model?.name ?? 'model',
          file: p.file,
          axes: this.axes,
          dims: new Map([...this.dims].map(([k, d]) => [k, { size: d.size, derivation: d.derivation }])),
          variants: new Map([...this.variants].map(([k, v]) => [k, v.value])),
          nodes: this.nodes,
          inputs: this.inputs,
          params: this.params,
          trace: this.trace,
          outputs,
        };
    return { model, diagnostics: this.diags };
  }
}

/** The first MAX_WARNINGS warnings, and one more that counts the rest. */
function capWarnings(diags: Diagnostic[]): Diagnostic[] {
  const warnings = diags.filter((d) => d.severity === 'warning');
  if (warnings.length <= MAX_WARNINGS) return diags;
  const last = warnings[MAX_WARNINGS - 1]!;
  const kept = new Set(warnings.slice(0, MAX_WARNINGS));
  return [
    ...diags.filter((d) => d.severity === 'error' || kept.has(d)),
    { severity: 'warning', code: 'limit', message: `${warnings.length - MAX_WARNINGS} more warnings not shown`, file: last.file, span: last.span },
  ];
}
