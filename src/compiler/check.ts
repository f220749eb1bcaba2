// The checker: infers every tensor's shape, checks it against its name, and builds the checked
// graph. Block calls are instantiated with the caller's letters, so every check happens with real
// sizes and every diagnostic can say how each dimension got its value. The built-in functions
// (exp, sum, softmax, causal, ...) are checked in builtins.ts.
import type { BlockDecl, CallExpr, Expr, IfStmt, NameExpr, Program, Span, Stmt, TensorName } from '../../grammar/ast.js';
import type { Diagnostic } from '../../grammar/diagnostic.js';
import { evalConst, type ConstError } from './consteval.js';
import type { AxisInfo, BinaryFn, CheckedModel, GNode, GOp, InitSpec, InputEntry, ParamEntry, TraceEntry } from './graph.js';
import { closest, listOr, quote } from './names.js';
import { childLabel, type Binding, type Scope, type Val } from './scope.js';
import { builtin, BUILTINS, type BuiltinChecker } from './builtins.js';

export interface CheckOptions {
  /** `--set name=value` pairs: dims and variants. */
  sets?: Map<string, string>;
}

export interface CheckResult {
  model: CheckedModel | null;
  diagnostics: Diagnostic[];
}

interface DimInfo {
  size: number | null;
  derivation: string; // `K = D / H = 768 / 12 = 64`
  span: Span;
  file: string;
}

interface VariantInfo {
  choices: string[];
  numeric: boolean;
  value: string | number;
  span: Span;
}

const BINOP: Record<string, BinaryFn> = {
  '+': 'add', '-': 'sub', '*': 'mul', '/': 'div', '%': 'mod', '^': 'pow',
  '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge', '==': 'eq', '!=': 'ne',
};
const MAX_DIM = 2 ** 31 - 1;
const MAX_REPEAT = 10_000;
const MAX_NODES = 2_000_000;

class TooBig extends Error {}

export function check(program: Program, prelude: Program | null, opts: CheckOptions = {}): CheckResult {
  return new Checker(program, prelude, opts).run();
}

class Checker implements BuiltinChecker {
  private diags: Diagnostic[] = [];
  private seen = new Set<string>();
  private dims = new Map<string, DimInfo>();
  private variants = new Map<string, VariantInfo>();
  private blocks = new Map<string, { decl: BlockDecl; file: string }>();
  private axes = new Map<string, AxisInfo>();
  private nodes: GNode[] = [];
  private params: ParamEntry[] = [];
  private trace: TraceEntry[] = [];
  private inputs: InputEntry[] = [];
  private sets: Map<string, string>;
  private usedSets = new Set<string>();
  private freshCount = 0;
  /** Dims whose value could not be computed: already reported, so their uses stay quiet. */
  private badDims = new Set<string>();
  private unknownTarget = false;
  /** The block calls being checked, outermost first: where a prelude diagnostic came from. */
  private callSites: { block: string; file: string; span: Span }[] = [];
  private called = new Set<string>();
  /** Undeclared letters already reported. */
  private unknownLetters = new Set<string>();

  constructor(private program: Program, private prelude: Program | null, opts: CheckOptions) {
    this.sets = opts.sets ?? new Map();
  }

  run(): CheckResult {
    const p = this.program;
    this.registerBlocks();
    this.resolveDims();
    this.resolveVariants();
    for (const [k, v] of this.sets)
      if (!this.usedSets.has(k)) {
        const near = k.length > 1 ? closest(k, [...this.dims.keys(), ...this.variants.keys()].filter((n) => n.length > 1)) : undefined;
        this.error('invocation', `--set ${k}=${v}: the model has no dim or variant named ${quote(k)}`, p.model?.span ?? zeroSpan(), {
          help: near ? `did you mean ${quote(near)}?` : `its dims are ${[...this.dims.keys()].join(' ')}; its variants: ${[...this.variants.keys()].join(', ') || 'none'}`,
        });
      }
    const top: Scope = {
      path: '', blocks: [], file: p.file, sigma: new Map(), star: null, env: new Map(), labels: new Map(),
      callStack: [], later: new Map(), quiet: false,
    };
    for (const inp of p.inputs) this.declareInput(inp.name, inp.encoding === 'onehot', inp.span, top);
    try {
      this.statements(p.body, top);
    } catch (e) {
      if (!(e instanceof TooBig)) throw e;
      this.error('size', `the model is too large to check: more than ${MAX_NODES.toLocaleString('en-US')} operations`, p.model?.span ?? zeroSpan(), {
        help: 'reduce repeat counts; a model this size would not run either',
      });
    }
    this.warnUnused(top);
    if (!p.body.length && !p.inputs.length)
      this.error('model', p.model ? `the model ${quote(p.model.name)} computes nothing` : 'this file defines no model', p.model?.span ?? zeroSpan(), {
        help: 'a model declares its dims, its inputs and the tensors it computes: see models/gpt-nano.arch',
      });
    // A block is checked at its calls, with the caller's sizes: one never called is never checked.
    for (const b of this.program.blocks)
      if (!this.called.has(b.name) && this.blocks.get(b.name)?.decl === b)
        this.report('warning', 'unused', `the block ${quote(b.name)} is never called, so it is not checked`, b.nameSpan, { help: 'call it, or remove it' });
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

  // ------------------------------------------------------------------ diagnostics

  error(code: string, message: string, span: Span, extra: Partial<Diagnostic> & { file?: string } = {}): void {
    this.report('error', code, message, span, extra);
  }

  private report(severity: 'error' | 'warning', code: string, message: string, span: Span, extra: Partial<Diagnostic> & { file?: string }): void {
    const file = extra.file ?? this.program.file;
    const key = `${file}:${span.start.offset}:${span.end.offset}:${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const d: Diagnostic = { severity, code, message, file, span, ...extra };
    // A problem inside the prelude: say which line of the user's model led there.
    const site = file === this.program.file ? undefined : this.callSites.findLast((c) => c.file === this.program.file);
    if (site) d.notes = [...(d.notes ?? []), `in the prelude's ${quote(site.block)}, called at ${site.file}:${site.span.start.line}:${site.span.start.col}`];
    this.diags.push(d);
  }

  /** Where a block is declared: an underline when it is in the file being shown, else a note
   *  (a diagnostic's spans all point into one file). */
  private declaredAt(decl: BlockDecl, declFile: string, shownFile: string, signature: string): Partial<Diagnostic> {
    if (declFile === shownFile) return { secondary: [{ span: decl.nameSpan, label: signature }] };
    return { notes: [`${signature} is declared at ${declFile}:${decl.nameSpan.start.line}`] };
  }

  private axisText(a: string): string {
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
  private dimNotes(axes: Iterable<string>): string[] {
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

  // ------------------------------------------------------------------ declarations

  private registerBlocks(): void {
    const builtin = new Set(BUILTINS);
    if (this.prelude) for (const b of this.prelude.blocks) this.blocks.set(b.name, { decl: b, file: this.prelude.file });
    const mine = new Map<string, BlockDecl>();
    for (const b of this.program.blocks) {
      const prev = mine.get(b.name);
      if (prev) {
        this.error('name', `the block ${quote(b.name)} is defined twice`, b.nameSpan, {
          secondary: [{ span: prev.nameSpan, label: 'first defined here' }],
          help: 'rename one of them',
        });
        continue;
      }
      if (builtin.has(b.name)) {
        this.error('name', `${quote(b.name)} is a built-in function and can't be redefined`, b.nameSpan, { help: `call your block something else, e.g. ${quote('my_' + b.name)}` });
        continue;
      }
      mine.set(b.name, b);
      this.blocks.set(b.name, { decl: b, file: this.program.file });
    }
  }

  private resolveDims(): void {
    const decls = this.program.dims;
    const byLetter = new Map<string, (typeof decls)[number]>();
    for (const d of decls) {
      const prev = byLetter.get(d.letter);
      if (prev) {
        this.error('dims', `the dim ${d.letter} is declared twice`, d.span, { secondary: [{ span: prev.span, label: 'first declared here' }] });
        continue;
      }
      if (this.variants.has(d.letter)) continue;
      byLetter.set(d.letter, d);
    }
    const state = new Map<string, 'busy' | 'done'>();
    const resolve = (letter: string, chain: string[]): number | null | undefined => {
      const d = byLetter.get(letter);
      if (!d) return undefined;
      // null is a runtime dim (B); undefined, a dim with no value (already reported).
      if (state.get(letter) === 'done') return this.dims.has(letter) ? this.dims.get(letter)!.size : undefined;
      if (state.get(letter) === 'busy') {
        this.error('cycle', `the dims ${[...chain, letter].join(' -> ')} depend on each other in a cycle`, d.span, { help: 'give one of them a number' });
        return undefined;
      }
      state.set(letter, 'busy');
      const set = this.sets.get(letter);
      let info: DimInfo | undefined;
      if (set !== undefined) {
        this.usedSets.add(letter);
        const n = Number(set);
        if (!/^\d+$/.test(set.trim()) || !Number.isSafeInteger(n) || n < 1 || n > MAX_DIM) {
          this.error('invocation', `--set ${letter}=${set}: a dim must be a whole number from 1 to ${MAX_DIM}`, d.span, { label: `the dim ${letter} is declared here` });
        } else info = { size: n, derivation: `${letter} = ${n} (--set ${letter}=${n})`, span: d.span, file: this.program.file };
      } else if (d.value === null) {
        info = { size: null, derivation: `${letter} is chosen when the model runs`, span: d.span, file: this.program.file };
      } else {
        let bad = false;
        const r = evalConst(d.value, (name) => {
          if (/^[A-Z]$/.test(name)) {
            const v = resolve(name, [...chain, letter]);
            if (v === null) {
              this.error('dims', `${letter} can't be computed from ${name}: ${name} is chosen when the model runs`, d.span, {
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
        if ('value' in r) {
          if (!Number.isSafeInteger(r.value) || r.value < 1 || r.value > MAX_DIM) {
            this.error('dims', `the dim ${letter} must be a whole number from 1 to ${MAX_DIM}, but it is ${r.value}`, d.value.span, {
              label: `${letter} = ${r.substituted}`,
            });
          } else {
            const src = this.program.source.slice(d.value.span.start.offset, d.value.span.end.offset).trim();
            const parts = [`${letter} = ${src}`];
            if (r.substituted !== src) parts.push(r.substituted);
            if (String(r.value) !== r.substituted) parts.push(String(r.value));
            info = { size: r.value, derivation: parts.join(' = '), span: d.span, file: this.program.file };
          }
        } else if (!bad) {
          const used = [...this.program.source.slice(d.value.span.start.offset, d.value.span.end.offset).matchAll(/\b[A-Z]\b/g)].map((x) => x[0]);
          const notes = [...new Set(used)].flatMap((l) => {
            const di = this.dims.get(l);
            return di && di.size !== null ? [`${di.derivation} (${di.file}:${di.span.start.line})`] : [];
          });
          if (r.name !== undefined) {
            if (/^[A-Z]$/.test(r.name)) this.unknownLetters.add(r.name);
            const near = closest(r.name, byLetter.keys());
            this.error('dims', `the dim ${letter} uses ${quote(r.name)}, which is not a dim`, r.span, {
              label: /^[A-Z]$/.test(r.name) ? `${r.name} is not declared under ${quote('dims')}` : 'not a dim',
              help: near && near !== letter ? `did you mean ${quote(near)}? a dim is computed from numbers and other dims, e.g. ${quote('F = 4 * D')}` : `a dim is computed from numbers and other dims, e.g. ${quote('F = 4 * D')}`,
            });
          } else this.error('dims', r.message, r.span, { label: r.label, help: r.help, notes });
        }
      }
      state.set(letter, 'done');
      if (!info) this.badDims.add(letter);
      if (info) {
        this.dims.set(letter, info);
        this.axes.set(letter, { name: letter, letter, size: info.size, sequence: false });
      }
      return info?.size;
    };
    for (const letter of byLetter.keys()) resolve(letter, []);
  }

  /** A constant (repeat count, init scale) that failed; a missing dim letter is said plainly, once. */
  private constError(r: ConstError, scope: Scope, help: string | undefined): void {
    if (r.name !== undefined && /^[A-Z]$/.test(r.name) && !this.dims.has(r.name) && !scope.sigma.has(r.name)) {
      if (this.badDims.has(r.name) || this.unknownLetters.has(r.name)) return;
      this.unknownLetters.add(r.name);
      this.error('dims', `${r.name} is not a dim`, r.span, {
        label: `${r.name} is not declared under ${quote('dims')}`,
        help: `declare it, e.g. ${quote(`${r.name} = 12`)}`,
        file: scope.file,
      });
      return;
    }
    this.error('dims', r.message, r.span, { label: r.label, help, file: scope.file });
  }

  private resolveVariants(): void {
    for (const v of this.program.variants) {
      if (this.variants.has(v.name)) {
        this.error('variant', `the variant ${quote(v.name)} is declared twice`, v.span);
        continue;
      }
      const choices = v.choices.map((c) => c.text);
      const dup = choices.find((c, i) => choices.indexOf(c) !== i);
      if (dup) this.error('variant', `the variant ${quote(v.name)} lists ${quote(dup)} twice`, v.span);
      let value: string | number = v.numeric ? Number(choices[0]) : choices[0] ?? '';
      const set = this.sets.get(v.name);
      if (set !== undefined) {
        this.usedSets.add(v.name);
        if (v.numeric) {
          const n = Number(set);
          if (set.trim() === '' || !Number.isFinite(n)) this.error('invocation', `--set ${v.name}=${set}: ${quote(v.name)} is a number`, v.span, { label: 'declared here' });
          else value = n;
        } else if (!choices.includes(set)) {
          const near = closest(set, choices);
          this.error('invocation', `--set ${v.name}=${set}: ${quote(v.name)} is one of ${listOr(choices)}`, v.span, {
            label: 'declared here',
            help: near ? `did you mean ${quote(`--set ${v.name}=${near}`)}?` : undefined,
          });
        } else value = set;
      }
      this.variants.set(v.name, { choices, numeric: v.numeric, value, span: v.span });
    }
  }

  // ------------------------------------------------------------------ letters and axes

  /** The axes a written letter stands for in this scope. */
  private letterAxes(letter: string, span: Span, scope: Scope, what: string): string[] | null {
    const bound = scope.sigma.get(letter);
    if (bound) return bound;
    if (this.badDims.has(letter)) return null;
    if (!this.dims.has(letter)) {
      const declared = this.program.dims.some((d) => d.letter === letter);
      // One missing dim is one mistake: report its first use, not every name that spells it.
      if (!declared && !this.unknownLetters.has(letter)) {
        this.unknownLetters.add(letter);
        this.error('name', `unknown letter ${letter} in ${what}`, span, {
          label: `${letter} is not a dim`,
          help: `declare it under ${quote('dims')} (e.g. ${quote(`${letter} = 64`)}), or use one of ${[...this.dims.keys()].join(' ')}`,
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
    const name = `${letter}_${++this.freshCount}`;
    const base = this.axes.get(letter)!;
    this.axes.set(name, { ...base, name });
    scope.sigma.set(letter, [name]);
    return [name];
  }

  private nameAxes(name: TensorName, scope: Scope): string[] | null {
    const out: string[] = [];
    if (name.wildcard) {
      if (!scope.star) {
        this.error('name', `${quote(name.text)} uses ${quote('*')}, but only a block whose signature has ${quote('*')} can`, name.span, {
          help: 'write the letters out, e.g. x_BLD',
          file: scope.file,
        });
        return null;
      }
      out.push(...scope.star);
    }
    let ok = true;
    for (const l of name.letters) {
      const a = this.letterAxes(l, name.span, scope, quote(name.text));
      if (a) out.push(...a);
      else ok = false;
    }
    if (!ok) return null;
    const dup = out.find((a, i) => out.indexOf(a) !== i);
    if (dup) {
      this.error('name', `${quote(name.text)} has the axis ${this.axisText(dup)} twice`, name.span, {
        help: 'a tensor has each dim once; rename one with x[L -> M]',
        file: scope.file,
      });
      return null;
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

  // ------------------------------------------------------------------ statements

  private statements(stmts: Stmt[], scope: Scope): Val | null {
    for (const s of stmts) if (s.kind === 'assign') if (!scope.env.has(s.target.text)) scope.later.set(s.target.text, s.target.span);
    let last: Val | null = null;
    for (const s of stmts) {
      scope.later.delete(s.kind === 'assign' ? s.target.text : '');
      if (s.kind === 'assign') last = this.assign(s.target, s.value, scope, s.span);
      else if (s.kind === 'param') this.param(s.name, s.init, scope);
      else {
        const r = this.ifStmt(s, scope);
        if (r !== undefined) last = r;
      }
    }
    return last;
  }

  private define(name: TensorName, b: Binding, scope: Scope): boolean {
    const prev = scope.env.get(name.text);
    if (prev) {
      this.error('name', `${quote(name.text)} is already defined`, name.span, {
        secondary: [{ span: prev.span, label: 'first defined here' }],
        help: 'each name is assigned once; give the new value a new name',
        file: scope.file,
      });
      return false;
    }
    scope.env.set(name.text, b);
    return true;
  }

  private declareInput(name: TensorName, onehot: boolean, span: Span, scope: Scope): void {
    const axes = this.nameAxes(name, scope);
    if (!axes) return;
    if (onehot && axes.length < 2) {
      this.error('shape', `the one-hot input ${quote(name.text)} needs a class letter after its position letters`, name.span, { help: 'e.g. tokens_BLV: V is the vocabulary' });
      return;
    }
    // Every letter of an input but the one-hot class letter is decided by the data; L is a maximum.
    for (const a of onehot ? axes.slice(0, -1) : axes) {
      const info = this.axes.get(a)!;
      if (info.size !== null) info.sequence = true;
    }
    const node = this.emit({ kind: 'input', name: name.text, onehot }, [], axes, span, scope, name.text);
    this.inputs.push({ name: name.text, axes, onehot, node });
    this.define(name, { node, axes, span: name.span, used: false, onehot, kind: 'input' }, scope);
  }

  private assign(target: TensorName, value: Expr, scope: Scope, span: Span): Val | null {
    const axes = this.nameAxes(target, scope);
    const label = value.kind === 'call' || value.kind === 'repeat' ? target.base : undefined;
    // A name whose letters failed has already been reported; its value is still checked, quietly
    // about what only the name could have told (a block's result letters).
    const wasQuiet = this.unknownTarget;
    this.unknownTarget = !axes;
    const v = this.expr(value, scope, axes, label);
    this.unknownTarget = wasQuiet;
    if (!axes || !v) {
      if (!scope.env.has(target.text)) scope.env.set(target.text, { node: -1, axes: axes ?? [], span: target.span, used: true, onehot: false, kind: 'tensor' });
      return null;
    }
    if (v.onehot) {
      this.error('shape', `a one-hot input can't be copied into ${quote(target.text)}`, value.span, { help: 'contract it instead, e.g. `tokens_BLV @ wte_VD`', file: scope.file });
      return null;
    }
    const node = this.conform(v, axes, target, value.span, scope);
    if (node === null) {
      scope.env.set(target.text, { node: -1, axes, span: target.span, used: true, onehot: false, kind: 'tensor' });
      return null;
    }
    this.nodes[node]!.name ??= target.text;
    if (!this.define(target, { node, axes, span: target.span, used: false, onehot: false, kind: 'tensor' }, scope)) return null;
    this.trace.push({ name: target.text, scope: scope.path.replace(/\.$/, ''), node });
    return { node, axes, const: v.const };
  }

  /** Makes a value's axes the ones its name declares: the same set, permuted if need be. */
  private conform(v: Val, axes: string[], target: TensorName, span: Span, scope: Scope): number | null {
    const missing = axes.filter((a) => !v.axes.includes(a));
    const extra = v.axes.filter((a) => !axes.includes(a));
    if (missing.length || extra.length) {
      const helps: string[] = [];
      if (target.text === 'loss' && !axes.length) helps.push('the loss is one number: reduce it, e.g. `loss = mean(...)`');
      else if (extra.length && !missing.length) helps.push(`sum over ${extra.map((a) => this.axes.get(a)?.letter ?? a).join(' ')} with sum(..., ${extra.map((a) => this.axes.get(a)?.letter ?? a).join(', ')}), or name the result ${target.base}_${[...axes, ...extra].map((a) => this.axes.get(a)?.letter ?? a).join('')}`);
      if (missing.length) {
        const letters = missing.map((a) => this.axes.get(a)?.letter ?? a);
        helps.push(`no operand has ${letters.join(' ')}: a result letter must come from an operand`);
      }
      const sameSizes = missing.length === 1 && extra.length === 1 && this.axes.get(missing[0]!)?.size === this.axes.get(extra[0]!)?.size;
      if (sameSizes) helps.push(`to use ${this.axes.get(extra[0]!)?.letter} as ${this.axes.get(missing[0]!)?.letter}, rename it: x[${this.axes.get(extra[0]!)?.letter} -> ${this.axes.get(missing[0]!)?.letter}]`);
      this.error('shape', `${quote(target.text)} should be ${this.shapeText(axes)} by its name, but the expression gives ${this.shapeText(v.axes)}`, span, {
        label: `this is ${this.shapeText(v.axes)}`,
        secondary: [{ span: target.span, label: `declares ${this.shapeText(axes)}` }],
        notes: this.dimNotes([...missing, ...extra]),
        help: helps.join('; ') || undefined,
        file: scope.file,
      });
      return null;
    }
    if (axes.every((a, i) => v.axes[i] === a)) return v.node;
    return this.emit({ kind: 'permute' }, [v.node], axes, span, scope);
  }

  private param(name: TensorName, init: Expr, scope: Scope): void {
    const axes = this.nameAxes(name, scope);
    const spec = this.initSpec(init, scope);
    if (!axes || !spec) {
      if (!scope.env.has(name.text)) scope.env.set(name.text, { node: -1, axes: axes ?? [], span: name.span, used: true, onehot: false, kind: 'param' });
      return;
    }
    const runtime = axes.find((a) => this.axes.get(a)?.size === null);
    if (runtime) {
      const letter = this.axes.get(runtime)?.letter ?? runtime;
      const rest = name.letters.filter((l) => l !== letter).join('');
      this.error('shape', `the parameter ${quote(name.text)} can't have the dim ${letter}: its size is only known when the model runs`, name.span, {
        label: `${letter} is chosen when the model runs`,
        help: `a parameter's size is fixed before training; leave ${letter} out and let it broadcast${rest ? `: ${quote(`param ${name.base}_${rest} ~ ...`)}` : ''}`,
        file: scope.file,
      });
      if (!scope.env.has(name.text)) scope.env.set(name.text, { node: -1, axes, span: name.span, used: true, onehot: false, kind: 'param' });
      return;
    }
    const path = scope.path + name.base;
    const node = this.emit({ kind: 'param', path, init: spec }, [], axes, name.span, scope, name.text);
    const shape = axes.map((a) => this.axes.get(a)!.size!);
    if (!this.define(name, { node, axes, span: name.span, used: false, onehot: false, kind: 'param' }, scope)) return;
    this.params.push({ path, name: name.text, axes, shape, init: spec, node, blocks: scope.blocks });
  }

  private initSpec(init: Expr, scope: Scope): InitSpec | null {
    if (init.kind === 'name' && (init.name.text === 'zeros' || init.name.text === 'ones')) return { kind: init.name.text };
    if (init.kind === 'call' && init.callee === 'normal' && init.args.length === 1) {
      const r = evalConst(init.args[0]!, (n) => this.constLookup(n, scope), false);
      if (!('value' in r)) {
        this.constError(r, scope, r.help);
        return null;
      }
      if (!(r.value >= 0)) {
        this.error('dims', `a standard deviation can't be negative: ${r.value}`, init.args[0]!.span, { file: scope.file });
        return null;
      }
      return { kind: 'normal', std: r.value };
    }
    const what = init.kind === 'call' ? init.callee : init.kind === 'name' ? init.name.text : null;
    const near = what ? closest(what, ['normal', 'zeros', 'ones']) : undefined;
    this.error('name', what && !['normal', 'zeros', 'ones'].includes(what) ? `${quote(what)} is not an initialiser` : 'unknown initialiser', init.span, {
      label: what === 'normal' ? 'normal takes one argument, the standard deviation' : undefined,
      help: `${near && near !== what ? `did you mean ${quote(near)}? ` : ''}a parameter is initialised with normal(std), zeros or ones`,
      file: scope.file,
    });
    return null;
  }

  private constLookup(n: string, scope: Scope): number | undefined {
    if (/^[A-Z]$/.test(n)) {
      const axes = scope.sigma.get(n) ?? (this.dims.has(n) ? [n] : undefined);
      if (!axes) return undefined;
      let p = 1;
      for (const a of axes) {
        const s = this.axes.get(a)?.size;
        if (s == null) return undefined;
        p *= s;
      }
      return p;
    }
    const v = this.variants.get(n);
    return v && typeof v.value === 'number' ? v.value : undefined;
  }

  private ifStmt(s: IfStmt, scope: Scope): Val | null | undefined {
    let taken: Stmt[] | null = null;
    for (const br of s.branches) {
      if (!br.variant) {
        taken ??= br.body;
        continue;
      }
      const v = this.variants.get(br.variant.letter);
      if (!v) {
        const near = closest(br.variant.letter, this.variants.keys());
        this.error('variant', `unknown variant ${quote(br.variant.letter)}`, br.variant.span, {
          help: near
            ? `did you mean ${quote(near)}?`
            : `${this.variants.size ? `the model's variants are ${[...this.variants.keys()].map(quote).join(', ')}; or ` : ''}declare it: ${quote(`variant ${br.variant.letter} = a | b`)}`,
          file: scope.file,
        });
        continue;
      }
      const text = br.value!.text;
      let eq: boolean;
      if (v.numeric) {
        const n = Number(text);
        if (!Number.isFinite(n)) {
          this.error('variant', `${quote(br.variant.letter)} is a number, not ${quote(text)}`, br.value!.span, { file: scope.file });
          continue;
        }
        eq = n === v.value;
      } else {
        if (!v.choices.includes(text)) {
          const near = closest(text, v.choices);
          this.error('variant', `${quote(text)} is not a value of the variant ${quote(br.variant.letter)}`, br.value!.span, {
            label: `${br.variant.letter} is one of ${listOr(v.choices)}`,
            secondary: scope.file === this.program.file ? [{ span: v.span, label: 'declared here' }] : undefined,
            help: near ? `did you mean ${quote(near)}?` : undefined,
            file: scope.file,
          });
          continue;
        }
        eq = text === v.value;
      }
      if ((br.op === '==') === eq) taken ??= br.body;
    }
    if (!taken) return undefined;
    return this.statements(taken, scope);
  }

  // ------------------------------------------------------------------ expressions

  /** Checks an expression. `expected`: the axes its result may have (the name it is assigned to),
   *  which decides what a contraction keeps. `label`: the call label for a call on the right of `=`. */
  expr(e: Expr, scope: Scope, expected: string[] | null, label?: string): Val | null {
    switch (e.kind) {
      case 'number':
        if (!Number.isFinite(e.value)) {
          this.error('syntax', `the number ${e.text} is too large`, e.span, { file: scope.file });
          return null;
        }
        return this.number(e.value, e.span, scope);
      case 'name':
        return this.nameRef(e, scope);
      case 'unary': {
        const v = this.expr(e.operand, scope, expected);
        if (!v || !this.notOnehot(v, e.operand.span, scope)) return null;
        if (v.const !== undefined) return this.number(-v.const, e.span, scope);
        return { node: this.emit({ kind: 'unary', fn: 'neg' }, [v.node], v.axes, e.span, scope), axes: v.axes };
      }
      case 'binary':
        if (e.op === '@') return this.contract(e.left, e.right, e.span, e.opSpan, scope, expected);
        return this.elementwise(BINOP[e.op]!, [e.left, e.right], e.span, scope, expected);
      case 'reshape':
        return this.reshape(e, scope);
      case 'call':
        return this.call(e, scope, expected, label ?? e.callee);
      case 'repeat':
        return this.repeat(e, scope, expected, label ?? e.call.callee);
    }
  }

  notOnehot(v: Val, span: Span, scope: Scope): boolean {
    if (!v.onehot) return true;
    this.error('shape', 'a one-hot input can only be contracted', span, {
      label: 'one-hot token ids',
      help: 'use it with `@`, e.g. `tokens_BLV @ wte_VD` (a row lookup)',
      file: scope.file,
    });
    return false;
  }

  private nameRef(e: NameExpr, scope: Scope): Val | null {
    const text = e.name.text;
    const b = scope.env.get(text);
    if (b) {
      b.used = true;
      if (b.node < 0) return null;
      return { node: b.node, axes: b.axes, onehot: b.onehot };
    }
    if (this.badDims.has(text) && !scope.sigma.has(text)) return null;
    if (/^[A-Z]$/.test(text)) {
      const axes = scope.sigma.get(text) ?? (this.dims.has(text) ? this.letterAxes(text, e.span, scope, 'an expression') : null);
      if (axes) {
        const size = this.constLookup(text, scope);
        if (axes.length === 1)
          return { node: this.emit({ kind: 'size', axis: axes[0]! }, [], [], e.span, scope), axes: [], const: size };
        if (size !== undefined) return this.number(size, e.span, scope);
      }
    }
    const variant = this.variants.get(text);
    if (variant) {
      if (typeof variant.value === 'number') return this.number(variant.value, e.span, scope);
      this.error('name', `the variant ${quote(text)} is a choice, not a value`, e.span, {
        help: `use it in ${quote(`if ${text} == ${variant.choices[0]}`)} or call it: ${quote(`${text}(x)`)}`,
        file: scope.file,
      });
      return null;
    }
    const later = scope.later.get(text);
    if (later) {
      this.error('name', `${quote(text)} is used before it is defined`, e.span, {
        secondary: [{ span: later, label: 'defined here, later' }],
        help: 'move the definition above its first use (a model is a graph without cycles)',
        file: scope.file,
      });
      return null;
    }
    const candidates = [...scope.env.keys()];
    const sameBase = candidates.filter((c) => c.split('_').slice(0, -1).join('_') === e.name.base && e.name.letters.length > 0);
    let help: string | undefined;
    const sameSet = sameBase.find((c) => {
      const letters = c.slice(c.lastIndexOf('_') + 1).split('');
      return letters.length === e.name.letters.length && letters.every((l) => e.name.letters.includes(l));
    });
    // A name of the same base whose definition failed was reported there; this use adds nothing.
    const failed = sameBase.find((c) => scope.env.get(c)!.node < 0);
    if (failed) {
      scope.env.get(failed)!.used = true;
      return null;
    }
    if (sameSet) help = `${quote(sameSet)} has the same letters in another order: refer to it as ${quote(sameSet)} (layout is the compiler's job)`;
    else if (sameBase.length) help = `did you mean ${quote(sameBase[0]!)}? it is ${this.shapeText(scope.env.get(sameBase[0]!)!.axes)}`;
    else {
      const near = closest(text, candidates);
      if (near) help = `did you mean ${quote(near)}?`;
    }
    this.error('name', `${quote(text)} is not defined`, e.span, { help, file: scope.file });
    return null;
  }

  elementwise(fn: BinaryFn, operands: Expr[], span: Span, scope: Scope, expected: string[] | null): Val | null {
    const vals = operands.map((o) => this.expr(o, scope, expected));
    if (vals.some((v) => !v)) return null;
    const vs = vals as Val[];
    if (!vs.every((v, i) => this.notOnehot(v, operands[i]!.span, scope))) return null;
    if (vs.every((v) => v.const !== undefined) && fn !== 'eq' && fn !== 'ne') {
      const [a, b] = [vs[0]!.const!, vs[1]!.const!];
      const r = fn === 'add' ? a + b : fn === 'sub' ? a - b : fn === 'mul' ? a * b : fn === 'div' ? a / b : fn === 'pow' ? a ** b : undefined;
      if (r !== undefined && Number.isFinite(r)) return this.number(r, span, scope);
    }
    const axes = [...vs[0]!.axes];
    for (const v of vs.slice(1)) for (const a of v.axes) if (!axes.includes(a)) axes.push(a);
    return { node: this.emit({ kind: 'binary', fn }, vs.map((v) => v.node), axes, span, scope), axes };
  }

  private contract(left: Expr, right: Expr, span: Span, opSpan: Span, scope: Scope, expected: string[] | null): Val | null {
    const a = this.expr(left, scope, null);
    const b = this.expr(right, scope, null);
    if (!a || !b) return null;
    if (a.onehot && b.onehot) {
      this.error('contract', 'both sides of `@` are one-hot inputs', span, { file: scope.file });
      return null;
    }
    const shared = a.axes.filter((x) => b.axes.includes(x));
    const letters = (xs: string[]) => xs.map((x) => this.axes.get(x)?.letter ?? x).join(' ');
    if (!shared.length) {
      this.error('contract', '`@` contracts over the letters both sides share, but these share none', opSpan, {
        label: 'nothing to sum over',
        secondary: [
          { span: left.span, label: this.shapeText(a.axes) },
          { span: right.span, label: this.shapeText(b.axes) },
        ],
        help: a.axes.length && b.axes.length ? 'for an outer product use `*`; to contract, the two names need a letter in common' : undefined,
        notes: this.dimNotes([...a.axes, ...b.axes]),
        file: scope.file,
      });
      return null;
    }
    let out: string[];
    if (expected) {
      out = expected.filter((x) => a.axes.includes(x) || b.axes.includes(x));
      const lost = [...a.axes, ...b.axes].filter((x) => !shared.includes(x) && !out.includes(x));
      if (lost.length) {
        const side = a.axes.includes(lost[0]!) ? left : right;
        const l = letters([lost[0]!]);
        // What `@` gives when the result keeps every unshared letter: usually what was meant.
        const natural = [...a.axes.filter((x) => !shared.includes(x)), ...b.axes.filter((x) => !shared.includes(x))];
        this.error('contract', `${l} is on only one side of \`@\` and not in the result's name, so nothing can sum it`, side.span, {
          label: `${this.shapeText(a.axes.includes(lost[0]!) ? a.axes : b.axes)}`,
          secondary: [{ span: (side === left ? right : left).span, label: `${this.shapeText(side === left ? b.axes : a.axes)}: no ${l}` }],
          notes: [`\`@\` sums the letters both sides share (here ${letters(shared)}) unless the result's name keeps them; the result's name asks for ${this.shapeText(expected)}`],
          help: `summing ${letters(shared)} gives ${this.shapeText(natural)}: end the result's name with ${natural.map((x) => this.axes.get(x)?.letter ?? x).join('') || 'no letters'}; or sum ${l} first with sum(..., ${l})`,
          file: scope.file,
        });
        return null;
      }
      const summed = shared.filter((x) => !out.includes(x));
      if (!summed.length) {
        this.error('contract', `\`@\` here sums nothing: the result keeps every shared letter (${letters(shared)})`, opSpan, {
          label: 'no letter is contracted',
          help: 'for an elementwise product use `*`; to contract, leave the summed letter out of the result name',
          file: scope.file,
        });
        return null;
      }
    } else {
      out = [...a.axes.filter((x) => !shared.includes(x)), ...b.axes.filter((x) => !shared.includes(x))];
    }
    if (a.onehot || b.onehot) {
      const oh = a.onehot ? a : b;
      const cls = oh.axes[oh.axes.length - 1]!;
      const summed = shared.filter((x) => !out.includes(x));
      if (summed.length !== 1 || summed[0] !== cls) {
        this.error('contract', `a one-hot contraction must sum over its class letter ${letters([cls])} alone`, span, { file: scope.file });
        return null;
      }
    }
    return { node: this.emit({ kind: 'contract' }, [a.node, b.node], out, span, scope), axes: out };
  }

  private reshape(e: Extract<Expr, { kind: 'reshape' }>, scope: Scope): Val | null {
    const v = this.expr(e.operand, scope, null);
    if (!v || !this.notOnehot(v, e.operand.span, scope)) return null;
    const map = (ls: { letter: string; span: Span }[]) => {
      const out: string[] = [];
      for (const l of ls) {
        const a = this.letterAxes(l.letter, l.span, scope, 'a reshape');
        if (!a) return null;
        out.push(...a);
      }
      return out;
    };
    const from = map(e.from);
    const to = map(e.to);
    if (!from || !to) return null;
    const missing = from.find((a) => !v.axes.includes(a));
    if (missing) {
      this.error('shape', `the reshape takes ${this.axisText(missing)}, but the operand has no ${this.axes.get(missing)?.letter}`, e.span, {
        label: `the operand is ${this.shapeText(v.axes)}`,
        file: scope.file,
      });
      return null;
    }
    const clash = to.find((a) => v.axes.includes(a) && !from.includes(a));
    if (clash) {
      this.error('shape', `the reshape makes ${this.axisText(clash)}, which the operand already has`, e.span, { file: scope.file });
      return null;
    }
    const size = (xs: string[]) => xs.reduce<number | null>((p, x) => {
      const s = this.axes.get(x)?.size;
      return p === null || s == null ? null : p * s;
    }, 1);
    const sf = size(from);
    const st = size(to);
    const rename = from.length === 1 && to.length === 1;
    if (sf !== st || (sf === null && !rename)) {
      // `D = 32` for one letter, `H K = 4 * 8 = 32` for several; `?` for a size known only at run time.
      const sizeText = (xs: string[], total: number | null) => {
        const ls = xs.map((x) => this.axes.get(x)?.letter ?? x).join(' ');
        const each = xs.map((x) => this.axes.get(x)?.size ?? '?');
        return xs.length === 1 ? `${ls} = ${each[0]}` : `${ls} = ${each.join(' * ')} = ${total ?? '?'}`;
      };
      const message = rename
        ? `a rename keeps the size, but ${sizeText(from, sf)} and ${sizeText(to, st)}`
        : `the reshape changes the number of elements: ${sizeText(from, sf)}, but ${sizeText(to, st)}`;
      this.error('shape', message, e.span, {
        label: rename ? `renames ${this.axes.get(from[0]!)?.letter} to ${this.axes.get(to[0]!)?.letter}` : `${sf ?? '?'} elements -> ${st ?? '?'}`,
        notes: this.dimNotes([...from, ...to]),
        help: this.reshapeHelp(e, v.axes, from, to, sf) ?? (rename ? 'a rename needs two dims of the same size' : 'a split or merge keeps the product of the sizes'),
        file: scope.file,
      });
      return null;
    }
    const at = Math.min(...from.map((x) => v.axes.indexOf(x)));
    const rest = v.axes.filter((x) => !from.includes(x));
    const before = v.axes.slice(0, at).filter((x) => !from.includes(x));
    const axes = [...before, ...to, ...rest.slice(before.length)];
    for (const t of to) if (rename && this.axes.get(from[0]!)?.sequence) this.axes.get(t)!.sequence = true;
    return { node: this.emit({ kind: 'reshape', from, to }, [v.node], axes, e.span, scope), axes };
  }

  /** A reshape that would work with one letter changed: `did you mean x[D -> H K]?`. */
  private reshapeHelp(e: Extract<Expr, { kind: 'reshape' }>, has: string[], from: string[], to: string[], total: number | null): string | undefined {
    if (total === null) return undefined;
    const letter = (x: string) => this.axes.get(x)?.letter ?? x;
    const busy = new Set([...has, ...from, ...to].map(letter));
    for (let i = 0; i < to.length; i++) {
      const others = to.filter((_, j) => j !== i).reduce<number | null>((p, x) => (p === null || this.axes.get(x)?.size == null ? null : p * this.axes.get(x)!.size!), 1);
      if (!others || total % others) continue;
      const need = total / others;
      // Among dims of the right size, prefer one defined from the letters at hand (K = D / H).
      const spoken = new Set([...from, ...to].map(letter));
      const score = (d: DimInfo) => [...d.derivation.replace(/^[A-Z] = /, '').matchAll(/\b[A-Z]\b/g)].filter((m) => spoken.has(m[0])).length;
      const fit = [...this.dims.entries()].filter(([l, d]) => d.size === need && !busy.has(l)).sort((a, b) => score(b[1]) - score(a[1]))[0];
      if (!fit) continue;
      const spec = to.map((x, j) => (j === i ? fit[0] : letter(x))).join(' ');
      const src = this.program.source.slice(e.operand.span.start.offset, e.operand.span.end.offset);
      const shown = src.length <= 40 && e.operand.kind === 'name' ? src : 'x';
      return `did you mean ${quote(`${shown}[${from.map(letter).join(' ')} -> ${spec}]`)}? ${fit[1].derivation}`;
    }
    return undefined;
  }

  /** A bare dim letter given as an argument (`softmax(x, M)`), mapped to its axes. */
  letterArg(arg: Expr, scope: Scope, fn: string): string[] | null {
    if (arg.kind !== 'name' || !/^[A-Z]$/.test(arg.name.text)) {
      this.error('name', `${quote(fn)} expects a dim letter here`, arg.span, { help: `e.g. ${quote(`${fn}(x_BLD, D)`)}`, file: scope.file });
      return null;
    }
    return this.letterAxes(arg.name.text, arg.span, scope, `${quote(fn)}'s argument`);
  }

  arity(e: CallExpr, n: number | [number, number], scope: Scope, usage: string): boolean {
    const [lo, hi] = typeof n === 'number' ? [n, n] : n;
    if (e.args.length >= lo && e.args.length <= hi) return true;
    this.error('block', `${quote(e.callee)} takes ${lo === hi ? lo : `${lo} to ${hi}`} argument${hi === 1 ? '' : 's'}, but ${e.args.length === 1 ? '1 was' : `${e.args.length} were`} given`, e.span, {
      help: `usage: ${quote(usage)}`,
      file: scope.file,
    });
    return false;
  }

  private call(e: CallExpr, scope: Scope, expected: string[] | null, label: string): Val | null {
    const f = e.callee;
    const done = builtin(this, e, scope, expected);
    if (done !== undefined) return done;
    const variant = this.variants.get(f);
    if (variant && !variant.numeric) {
      const chosen = String(variant.value);
      return this.callBlock(chosen, e, scope, expected, label, `${f} = ${chosen}`);
    }
    return this.callBlock(f, e, scope, expected, label);
  }

  private callBlock(name: string, e: CallExpr, scope: Scope, expected: string[] | null, label: string, via?: string): Val | null {
    const entry = this.blocks.get(name);
    if (!entry) {
      const near = closest(name, [...this.blocks.keys(), ...BUILTINS]);
      // The prelude calls a few names the model supplies (its `act`): say so, not "define it here".
      const fromPrelude = scope.file !== this.program.file && !via;
      this.error('name', via ? `the variant ${via} names no block` : `unknown function or block ${quote(name)}`, e.calleeSpan, {
        help: fromPrelude
          ? `the prelude's ${quote(scope.blocks[scope.blocks.length - 1] ?? '')} calls ${quote(name)}, which your model provides: declare ${quote(`variant ${name} = gelu | relu`)} (each value names a block) or define ${quote(`block ${name}(x_*) -> *`)}`
          : near ? `did you mean ${quote(near)}?` : `define it with ${quote(`block ${name}(x_BLD) -> BLD`)}`,
        file: scope.file,
      });
      return null;
    }
    const decl = entry.decl;
    if (scope.callStack.includes(name)) {
      this.error('block', `the block ${quote(name)} calls itself: ${[...scope.callStack, name].join(' -> ')}`, e.calleeSpan, {
        help: 'blocks can\'t recurse; to apply a block several times use `repeat N block(x)`',
        file: scope.file,
      });
      return null;
    }
    if (e.args.length !== decl.params.length) {
      this.error('block', `${quote(name)} takes ${decl.params.length} argument${decl.params.length === 1 ? '' : 's'}, but ${e.args.length} ${e.args.length === 1 ? 'was' : 'were'} given`, e.span, {
        ...this.declaredAt(decl, entry.file, scope.file, `${name}(${decl.params.map((p) => p.text).join(', ')})`),
        file: scope.file,
      });
      return null;
    }
    const args: Val[] = [];
    for (const a of e.args) {
      const v = this.expr(a, scope, null);
      if (!v) return null;
      args.push(v);
    }
    return this.instantiate(decl, entry.file, args, e, scope, expected, childLabel(scope, label));
  }

  /** Binds a block's letters to its arguments' axes and checks its body with them. */
  private instantiate(decl: BlockDecl, file: string, args: Val[], e: CallExpr, scope: Scope, expected: string[] | null, label: string, quiet = false): Val | null {
    const sigma = new Map<string, string[]>();
    let star: string[] | null = null;
    const fail = (message: string, extra: Partial<Diagnostic> = {}) => {
      this.error('block', message, e.span, { ...this.declaredAt(decl, file, scope.file, `${decl.name}(${decl.params.map((p) => p.text).join(', ')}) -> ${decl.result.text || 'scalar'}`), file: scope.file, ...extra });
      return null;
    };
    for (let i = 0; i < decl.params.length; i++) {
      const p = decl.params[i]!;
      const a = args[i]!;
      let rest = a.axes;
      if (p.wildcard) {
        if (a.axes.length < p.letters.length)
          return fail(`argument ${i + 1} of ${quote(decl.name)} is ${this.shapeText(a.axes)}, but ${quote(p.text)} needs at least ${p.letters.length} letter${p.letters.length === 1 ? '' : 's'}`);
        const lead = a.axes.slice(0, a.axes.length - p.letters.length);
        if (star && (star.length !== lead.length || star.some((x, j) => x !== lead[j])))
          return fail(`the arguments of ${quote(decl.name)} disagree on what ${quote('*')} stands for: ${this.shapeText(star)} and ${this.shapeText(lead)}`);
        star = lead;
        rest = a.axes.slice(lead.length);
      } else if (a.axes.length !== p.letters.length) {
        return fail(`argument ${i + 1} of ${quote(decl.name)} should have ${p.letters.length} letters (${quote(p.text)}), but it is ${this.shapeText(a.axes)}`, {
          help: p.letters.length === 0 ? undefined : `the block's letters ${p.letters.join('')} bind, in order, to the argument's`,
        });
      }
      for (let j = 0; j < p.letters.length; j++) {
        const l = p.letters[j]!;
        const prev = sigma.get(l);
        if (prev && prev[0] !== rest[j]) return fail(`${quote(decl.name)}'s letter ${l} is bound to ${this.axisText(prev[0]!)} by one argument and to ${this.axisText(rest[j]!)} by another`);
        sigma.set(l, [rest[j]!]);
      }
    }
    // Two block letters bound to one axis: the later one gets an axis of its own, renamed on entry.
    const entryRenames: { arg: number; from: string; to: string }[] = [];
    const owner = new Map<string, string>();
    for (const [l, [ax]] of [...sigma.entries()] as [string, string[]][]) {
      const o = owner.get(ax!);
      if (o === undefined) {
        owner.set(ax!, l);
        continue;
      }
      const name = `${l}_${++this.freshCount}`;
      this.axes.set(name, { ...this.axes.get(ax!)!, name, letter: l });
      sigma.set(l, [name]);
      decl.params.forEach((p, i) => {
        if (p.letters.includes(l)) entryRenames.push({ arg: i, from: ax!, to: name });
      });
    }
    const exitRenames: { from: string; to: string }[] = [];
    // Result letters no argument binds take the letters the caller's name gives them.
    const free = decl.result.letters.filter((l) => !sigma.has(l) && !this.dims.has(l));
    if (free.length) {
      if (!expected && this.unknownTarget) return null;
      if (!expected)
        return fail(`can't tell what ${free.join(' ')} in ${quote(decl.name)}'s result ${decl.result.text} stands for here`, {
          help: `assign the call to a name, e.g. ${quote(`h_BL${free.join('')} = ${decl.name}(...)`)}: the name's letters bind ${free.join(' ')}`,
        });
      const known = new Set([...(star ?? []), ...decl.result.letters.filter((l) => sigma.has(l)).flatMap((l) => sigma.get(l)!)]);
      const left = expected.filter((x) => !known.has(x));
      if (free.length === 1 && left.length >= 1) sigma.set(free[0]!, left);
      else if (free.length === left.length) free.forEach((l, i) => sigma.set(l, [left[i]!]));
      else return fail(`${quote(decl.name)}'s result letters ${free.join(' ')} can't be matched to ${this.shapeText(left)}`);
      // A square map (linear from D to D) binds a result letter to an axis an argument already
      // has: inside the block the result gets an axis of its own, renamed back on exit.
      const argAxes = new Set([...(star ?? []), ...decl.params.flatMap((p) => p.letters.flatMap((l) => sigma.get(l) ?? []))]);
      for (const l of free)
        sigma.set(l, sigma.get(l)!.map((ax) => {
          if (!argAxes.has(ax)) return ax;
          const name = `${this.axes.get(ax)!.letter}_${++this.freshCount}`;
          this.axes.set(name, { ...this.axes.get(ax)!, name });
          exitRenames.push({ from: name, to: ax });
          return name;
        }));
    }
    const inner: Scope = {
      path: `${scope.path}${label}.`,
      blocks: [...scope.blocks, decl.name],
      file,
      sigma,
      star,
      env: new Map(),
      labels: new Map(),
      callStack: [...scope.callStack, decl.name],
      later: new Map(),
      quiet: quiet || scope.quiet,
    };
    decl.params.forEach((p, i) => {
      let v = args[i]!;
      for (const r of entryRenames.filter((r) => r.arg === i)) {
        const axes = v.axes.map((x) => (x === r.from ? r.to : x));
        v = { node: this.emit({ kind: 'reshape', from: [r.from], to: [r.to] }, [v.node], axes, p.span, inner), axes };
      }
      this.define(p, { node: v.node, axes: v.axes, span: p.span, used: false, onehot: Boolean(v.onehot), kind: 'argument' }, inner);
    });
    const before = this.diags.length;
    this.callSites.push({ block: decl.name, file: scope.file, span: e.span });
    this.called.add(decl.name);
    let result: Val | null;
    try {
      result = this.statements(decl.body, inner);
    } finally {
      this.callSites.pop();
    }
    if (!inner.quiet) this.warnUnused(inner, result?.node);
    if (!result) {
      // Only when nothing else went wrong: a statement that failed on an earlier error (a bad dim)
      // returns nothing quietly, and this would blame the block for it.
      if (this.diags.length === before && !this.badDims.size && !this.diags.some((d) => d.severity === 'error'))
        this.error('block', `the block ${quote(decl.name)} computes nothing: its value is its last assignment`, decl.nameSpan, { file });
      return null;
    }
    const want = this.nameAxes(decl.result, inner);
    if (!want) return null;
    if (want.length !== result.axes.length || want.some((x) => !result.axes.includes(x))) {
      const last = [...decl.body].reverse().find((st) => st.kind === 'assign');
      this.error('block', `the block ${quote(decl.name)} should return ${this.shapeText(want)}, but its last assignment is ${this.shapeText(result.axes)}`, decl.result.span, {
        label: `declared ${decl.result.text || 'scalar'}`,
        secondary: last?.kind === 'assign' ? [{ span: last.target.span, label: `the block's value: ${this.shapeText(result.axes)}` }] : undefined,
        help: `a block's value is its last assignment: end ${quote(decl.name)} with a tensor named ..._${decl.result.text}, or change the declared result`,
        file,
      });
      return null;
    }
    let out = result;
    // Undo the renames so the caller sees its own axes.
    for (const r of [...exitRenames.map((x) => ({ arg: -1, from: x.to, to: x.from })), ...entryRenames]) {
      if (!out.axes.includes(r.to)) continue;
      const axes = out.axes.map((x) => (x === r.to ? r.from : x));
      out = { node: this.emit({ kind: 'reshape', from: [r.to], to: [r.from] }, [out.node], axes, e.span, scope), axes };
    }
    return out;
  }

  private repeat(e: Extract<Expr, { kind: 'repeat' }>, scope: Scope, expected: string[] | null, label: string): Val | null {
    const r = evalConst(e.count, (n) => this.constLookup(n, scope), true);
    if (!('value' in r)) {
      this.constError(r, scope, r.help ?? 'repeat takes a whole number or a dim, e.g. `repeat N layer(x_BLD)`');
      return null;
    }
    if (!Number.isSafeInteger(r.value) || r.value < 1 || r.value > MAX_REPEAT) {
      this.error('dims', `repeat needs a whole number from 1 to ${MAX_REPEAT}, but this is ${r.value}`, e.count.span, { file: scope.file });
      return null;
    }
    const call = e.call;
    const entry = this.blocks.get(call.callee);
    if (!entry) return this.call(call, scope, expected, label);
    if (entry.decl.params.length < 1 || call.args.length !== entry.decl.params.length) {
      this.error('block', `${quote(call.callee)} takes ${entry.decl.params.length} argument${entry.decl.params.length === 1 ? '' : 's'}, but ${call.args.length} ${call.args.length === 1 ? 'was' : 'were'} given`, call.span, {
        help: 'repeat feeds each copy\'s result to the next as its first argument; the other arguments go to every copy unchanged',
        file: scope.file,
      });
      return null;
    }
    const vals = call.args.map((a) => this.expr(a, scope, null));
    if (vals.some((x) => !x)) return null;
    let v = vals[0]!;
    const rest = vals.slice(1) as Val[];
    const base = childLabel(scope, label);
    for (let i = 0; i < r.value; i++) {
      if (scope.callStack.includes(call.callee)) return this.callBlock(call.callee, call, scope, expected, label);
      const out: Val | null = this.instantiate(entry.decl, entry.file, [v, ...rest], call, scope, v.axes, `${base}.${i}`, i > 0);
      if (!out) return null;
      if (out.axes.length !== v.axes.length || out.axes.some((x) => !v!.axes.includes(x))) {
        this.error('block', `repeat feeds each copy's result to the next, so ${quote(call.callee)} must return its argument's shape`, call.span, {
          label: `takes ${this.shapeText(v.axes)}, returns ${this.shapeText(out.axes)}`,
          file: scope.file,
        });
        return null;
      }
      v = out.axes.every((x, j) => v!.axes[j] === x) ? out : { node: this.emit({ kind: 'permute' }, [out.node], v.axes, call.span, scope), axes: v.axes };
    }
    return v;
  }

  // ------------------------------------------------------------------ warnings

  private warnUnused(scope: Scope, result?: number): void {
    for (const [name, b] of scope.env) {
      if (b.used || b.node < 0 || b.node === result || name === 'loss' || name.startsWith('logits_')) continue;
      const what = b.kind === 'param' ? 'parameter' : b.kind === 'input' ? 'input' : b.kind === 'argument' ? 'argument' : 'tensor';
      this.report('warning', 'unused', `the ${what} ${quote(name)} is never used`, b.span, {
        file: scope.file,
        help: b.kind === 'param' ? 'an unused parameter still counts in the model size: remove it' : 'remove it, or use it',
      });
    }
  }
}

function zeroSpan(): Span {
  const p = { offset: 0, line: 1, col: 1 };
  return { start: p, end: p };
}
