import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AssignStmt, BlockDecl, Expr, IfStmt, Pos, Program, Span, Stmt } from '../grammar/ast.js';
import type { Diagnostic } from '../grammar/diagnostic.js';
import { parse, tensorName } from '../grammar/index.js';

const GPT2 = readFileSync(new URL('../models/gpt2.arch', import.meta.url), 'utf8');
const PRELUDE = readFileSync(new URL('../src/compiler/prelude.arch', import.meta.url), 'utf8');

// ---------------------------------------------------------------- helpers

/** Fully parenthesised, so that a test states the tree it expects. */
function show(e: Expr): string {
  switch (e.kind) {
    case 'number':
      return e.text;
    case 'name':
      return e.name.text;
    case 'binary':
      return `(${show(e.left)} ${e.op} ${show(e.right)})`;
    case 'unary':
      return `(-${show(e.operand)})`;
    case 'call':
      return `${e.callee}(${e.args.map(show).join(', ')})`;
    case 'repeat':
      return `repeat ${show(e.count)} ${show(e.call)}`;
    case 'reshape':
      return `${show(e.operand)}[${e.from.map((l) => l.letter).join(' ')} -> ${e.to.map((l) => l.letter).join(' ')}]`;
  }
}

function expr(source: string): Expr {
  const { program, diagnostics } = parse('t.arch', `x = ${source}\n`);
  expect(diagnostics).toEqual([]);
  return (program.body[0] as AssignStmt).value;
}

const text = (source: string, span: Span): string => source.slice(span.start.offset, span.end.offset);

function assign(stmts: Stmt[], target: string): AssignStmt {
  const found = stmts.find((s): s is AssignStmt => s.kind === 'assign' && s.target.text === target);
  if (!found) throw new Error(`no assignment to ${target}`);
  return found;
}

const block = (p: Program, name: string): BlockDecl => p.blocks.find((b) => b.name === name)!;

/** Every span in the tree: line and column agree with the offset, and start <= end. */
function checkSpans(source: string, root: unknown): number {
  const lineStarts = [0];
  for (let i = 0; i < source.length; i++) {
    if (source[i] === '\r' && source[i + 1] === '\n') i++;
    if (source[i] === '\n' || source[i] === '\r') lineStarts.push(i + 1);
  }
  const checkPos = (p: Pos): void => {
    expect(p.offset).toBeGreaterThanOrEqual(0);
    expect(p.offset).toBeLessThanOrEqual(source.length + 1);
    expect(p.offset - lineStarts[p.line - 1]! + 1).toBe(p.col);
  };
  let count = 0;
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach(visit);
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    const o = v as Record<string, unknown>;
    if ('start' in o && 'end' in o) {
      const s = o as unknown as Span;
      checkPos(s.start);
      checkPos(s.end);
      expect(s.start.offset).toBeLessThanOrEqual(s.end.offset);
      count++;
      return;
    }
    for (const [k, x] of Object.entries(o)) if (k !== 'source') visit(x);
  };
  visit(root);
  return count;
}

/** Every diagnostic is a located syntax error: never an exception, never an internal error. */
function checkDiagnostics(source: string, diagnostics: Diagnostic[]): void {
  for (const d of diagnostics) {
    expect(d.code).toBe('syntax');
    expect(d.message).not.toMatch(/internal error|Expecting|\{"expected/);
    expect(d.span.start.line).toBeGreaterThanOrEqual(1);
    expect(d.span.start.col).toBeGreaterThanOrEqual(1);
    expect(d.span.start.offset).toBeLessThanOrEqual(source.length + 1);
  }
}

// ---------------------------------------------------------------- the reference files

describe('models/gpt2.arch', () => {
  const { program, diagnostics } = parse('models/gpt2.arch', GPT2);

  it('parses with no diagnostics', () => {
    expect(diagnostics).toEqual([]);
    expect(program.model?.name).toBe('gpt2');
  });

  it('reads the dims, variants and inputs', () => {
    expect(program.dims.map((d) => d.letter).join('')).toBe('BLMVDHGRKFN');
    expect(program.dims[0]!.value).toBeNull(); // B: chosen at run time
    const k = program.dims.find((d) => d.letter === 'K')!;
    expect(show(k.value!)).toBe('(D / H)');
    expect(text(GPT2, k.span)).toBe('K = D / H');
    const act = program.variants.find((v) => v.name === 'act')!;
    expect(act.choices.map((c) => c.text)).toEqual(['gelu', 'relu']);
    expect(act.numeric).toBe(false);
    const dropout = program.variants.find((v) => v.name === 'dropout')!;
    expect(dropout).toMatchObject({ numeric: true, choices: [{ text: '0.0' }] });
    expect(program.inputs).toHaveLength(1);
    expect(program.inputs[0]!.name).toMatchObject({ base: 'tokens', letters: ['B', 'L', 'V'], wildcard: false });
    expect(program.inputs[0]!.encoding).toBe('onehot');
  });

  it('reads the top-level statements, the if chains and the repeat', () => {
    expect(program.body.map((s) => s.kind)).toEqual(['param', 'assign', 'if', 'assign', 'if', 'if', 'assign']);
    const pos = program.body[2] as IfStmt;
    expect(pos.branches.map((b) => [b.variant?.letter ?? null, b.op, b.value?.text ?? null])).toEqual([
      ['pos', '==', 'learned'],
      ['pos', '==', 'sinusoidal'],
      [null, null, null],
    ]);
    expect(pos.branches[0]!.body.map((s) => s.kind)).toEqual(['param', 'assign']);
    expect(text(GPT2, pos.span)).toMatch(/^if pos == learned\n[\s\S]*positioned_BLD = embedded_BLD$/);

    const stream = assign(program.body, 'stream_BLD');
    expect(stream.value.kind).toBe('repeat');
    if (stream.value.kind !== 'repeat') return;
    expect(show(stream.value.count)).toBe('N');
    expect(stream.value.call.callee).toBe('layer');
    expect(text(GPT2, stream.value.span)).toBe('repeat N layer(dropout(positioned_BLD, dropout))');
    expect(text(GPT2, stream.value.call.calleeSpan)).toBe('layer');
    expect(text(GPT2, stream.span)).toBe('stream_BLD = repeat N layer(dropout(positioned_BLD, dropout))');
  });

  it('reads the block and points at it', () => {
    expect(program.blocks.map((b) => b.name)).toEqual(['layer', 'causal_attention']);
    const layer = block(program, 'layer');
    expect(layer.params.map((p) => p.text)).toEqual(['x_BLD']);
    expect(layer.result).toMatchObject({ text: 'BLD', base: '', letters: ['B', 'L', 'D'], wildcard: false });
    expect(text(GPT2, layer.nameSpan)).toBe('layer');
    expect(text(GPT2, layer.span)).toMatch(/^block layer\(x_BLD\) -> BLD\n[\s\S]*dropout\(mlp\(attended_BLD\), dropout\)\)$/);
    expect(GPT2.slice(layer.span.end.offset).trim()).toMatch(/^#[^\n]*\n(#[^\n]*\n)*block causal_attention\(x_BLD\) -> BLD/);
    const branches = (layer.body[0] as IfStmt).branches;
    expect(branches.map((b) => b.body.length)).toEqual([1, 1]);
    expect(branches.map((b) => (b.body[0] as IfStmt).branches.map((x) => x.body.length))).toEqual([[2, 2], [2, 2]]);
  });

  it('gives every node a consistent span', () => {
    expect(checkSpans(GPT2, program)).toBeGreaterThan(200);
  });

  it('reads the same with Windows line ends', () => {
    const crlf = parse('gpt2.arch', GPT2.replace(/\n/g, '\r\n'));
    expect(crlf.diagnostics).toEqual([]);
    checkSpans(GPT2.replace(/\n/g, '\r\n'), crlf.program);
    expect(crlf.program.body.map((s) => s.kind)).toEqual(program.body.map((s) => s.kind));
    expect(crlf.program.dims.map((d) => [d.letter, d.span.start.line, d.span.start.col])).toEqual(
      program.dims.map((d) => [d.letter, d.span.start.line, d.span.start.col]),
    );
  });

  it('parses 100 times quickly (logged, not asserted)', () => {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < 100; i++) parse('gpt2.arch', GPT2);
    const cpu = process.cpuUsage(cpu0);
    // CPU time as well: on a shared machine the wall time mostly measures the neighbours.
    console.log(`parse gpt2.arch x100: ${(performance.now() - t0).toFixed(0)} ms wall, ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms cpu`);
  });
});

describe('src/compiler/prelude.arch', () => {
  const { program, diagnostics } = parse('prelude.arch', PRELUDE);

  it('parses with no diagnostics', () => {
    expect(diagnostics).toEqual([]);
    // (The prelude may grow: these are the blocks gpt2.arch needs.)
    expect(program.blocks.map((b) => b.name)).toEqual(
      expect.arrayContaining(['linear', 'linear_out', 'project', 'layernorm', 'gelu', 'relu', 'mlp', 'causal_attention', 'cross_entropy', 'sinusoidal']),
    );
    expect(checkSpans(PRELUDE, program)).toBeGreaterThan(300);
  });

  it('reads wildcard and scalar result shapes', () => {
    expect(block(program, 'linear').result).toMatchObject({ text: '*O', letters: ['O'], wildcard: true });
    expect(block(program, 'gelu').result).toMatchObject({ text: '*', letters: [], wildcard: true });
    expect(block(program, 'cross_entropy').result).toMatchObject({ text: '', letters: [], wildcard: false });
    expect(block(program, 'attention').params.map((p) => p.text)).toEqual(['x_BLD', 'ctx_BMD']);
  });

  it('reads wildcard names in statements', () => {
    const ln = block(program, 'layernorm');
    expect(ln.params[0]).toMatchObject({ base: 'x', letters: ['D'], wildcard: true });
    const mu = assign(ln.body, 'mu_*');
    expect(mu.target).toMatchObject({ base: 'mu', letters: [], wildcard: true });
    expect(show(mu.value)).toBe('mean(x_*D, D)');
    const gain = ln.body[0]!;
    expect(gain.kind === 'param' && show(gain.init)).toBe('ones');
    const linear = block(program, 'linear_out').body[0]!;
    expect(linear.kind === 'param' && show(linear.init)).toBe('normal((0.02 / sqrt((2 * N))))');
  });

  it('reads reshapes with their letters and spans', () => {
    const att = block(program, 'causal_attention');
    const scores = assign(att.body, 'scores_BGRLM').value;
    expect(show(scores)).toBe('((q_BLHK[H -> G R] @ k_BMGK) / sqrt(K))');
    const left = scores.kind === 'binary' && scores.left.kind === 'binary' ? scores.left.left : null;
    expect(left?.kind).toBe('reshape');
    if (left?.kind !== 'reshape') return;
    expect(text(PRELUDE, left.span)).toBe('q_BLHK[H -> G R]');
    expect(left.to.map((l) => text(PRELUDE, l.span))).toEqual(['G', 'R']);
    expect(show(assign(att.body, 'out_BLD').value)).toBe('linear_out(mixed_BLGRK[G R K -> D])');
    expect(show(assign(att.body, 'k_BMGK').value)).toBe('linear(x_BLD[L -> M])');
    const weights = assign(att.body, 'weights_BGRLM').value;
    expect(show(weights)).toBe('softmax(causal(scores_BGRLM, L, M), M)');
    // A bare dim letter as an argument is a name without a suffix.
    if (weights.kind === 'call') expect(weights.args[1]!.kind === 'name' && weights.args[1]!.name).toMatchObject({ base: 'M', letters: [] });
  });

  it('reads numbers with exponents and long decimals', () => {
    const gelu = assign(block(program, 'gelu').body, 'out_*').value;
    expect(show(gelu)).toBe('((0.5 * x_*) * (1 + tanh((0.7978845608028654 * (x_* + (((0.044715 * x_*) * x_*) * x_*))))))');
    const sin = assign(block(program, 'sinusoidal').body, 'angle_LD').value;
    expect(show(sin)).toBe('(p_L / (10000 ^ (even_D / D)))');
    expect(show(expr('1e-5 + 2.5E3'))).toBe('(1e-5 + 2.5E3)');
    const sum = expr('1e-5 + 2.5E3');
    expect(sum.kind === 'binary' && [sum.left, sum.right].map((n) => n.kind === 'number' && n.value)).toEqual([0.00001, 2500]);
  });
});

// ---------------------------------------------------------------- names and expressions

describe('names', () => {
  const span: Span = { start: { offset: 0, line: 1, col: 1 }, end: { offset: 0, line: 1, col: 1 } };
  it.each([
    ['q_BLHK', 'q', 'BLHK', false],
    ['x_*D', 'x', 'D', true],
    ['x_*', 'x', '', true],
    ['loss', 'loss', '', false],
    ['c_attn', 'c_attn', '', false],
    ['w_out_FD', 'w_out', 'FD', false],
    ['M', 'M', '', false],
    ['x_BLD2', 'x_BLD2', '', false],
    ['x_', 'x_', '', false],
  ])('%s', (name, base, letters, wildcard) => {
    expect(tensorName(name, span)).toEqual({ text: name, base, letters: [...letters], wildcard, span });
  });

  it('lexes `*` inside a name only right after its last underscore', () => {
    expect(show(expr('x_*I @ w_IO'))).toBe('(x_*I @ w_IO)');
    expect(show(expr('2 * D'))).toBe('(2 * D)');
    expect(show(expr('x_BLD*2'))).toBe('(x_BLD * 2)');
    expect(show(expr('out_*O*w_O'))).toBe('(out_*O * w_O)');
  });

  it('keeps keywords apart from names that start with them', () => {
    expect(show(expr('input_BLV + models + iffy + repeat_D'))).toBe('(((input_BLV + models) + iffy) + repeat_D)');
  });
});

describe('precedence', () => {
  it.each([
    ['a + b * c', '(a + (b * c))'],
    ['a - b - c', '((a - b) - c)'],
    ['a @ b / c % d', '(((a @ b) / c) % d)'],
    ['-a ^ 2', '(-(a ^ 2))'],
    ['- -a', '(-(-a))'],
    ['a ^ b ^ c', '(a ^ (b ^ c))'],
    ['a ^ -b', '(a ^ (-b))'],
    ['a * -b', '(a * (-b))'],
    ['a + b < c * d', '((a + b) < (c * d))'],
    ['i_D % 2 == 0', '((i_D % 2) == 0)'],
    ['(a + b) * c', '((a + b) * c)'],
    ['x_BLD[D -> H K] @ w_HKF', '(x_BLD[D -> H K] @ w_HKF)'],
    ['-x_BLD[L -> M]', '(-x_BLD[L -> M])'],
    ['x_BLD[D -> H K][H K -> D]', 'x_BLD[D -> H K][H K -> D]'],
    ['f(a, b)[L -> M] ^ 2', '(f(a, b)[L -> M] ^ 2)'],
    ['repeat N layer(x) + y', '(repeat N layer(x) + y)'],
    ['repeat 2 * N layer(x)', 'repeat (2 * N) layer(x)'],
    ['select(i_D % 2 == 0, sin(a), cos(a))', 'select(((i_D % 2) == 0), sin(a), cos(a))'],
    ['f()', 'f()'],
  ])('%s', (source, tree) => {
    expect(show(expr(source))).toBe(tree);
  });

  it('spans a parenthesised operand from its parenthesis', () => {
    const source = 'x = (a + b) * c\n';
    const e = (parse('t', source).program.body[0] as AssignStmt).value;
    expect(text(source, e.span)).toBe('(a + b) * c');
    expect(e.kind === 'binary' && text(source, e.opSpan)).toBe('*');
  });
});

// ---------------------------------------------------------------- errors

function errors(source: string): Diagnostic[] {
  const { diagnostics } = parse('t.arch', source);
  checkDiagnostics(source, diagnostics);
  return diagnostics;
}

const at = (d: Diagnostic): string => `${d.span.start.line}:${d.span.start.col}`;

describe('syntax errors', () => {
  it.each([
    ['dims\n  K 64\n', '2:5', 'expected `=` or a new line after the dim letter `K`'],
    ['x = f(a))\n', '1:9', 'unexpected `)`: this parenthesis has no matching `(`'],
    ['x = f(a\n', '1:6', 'unclosed `(`: expected `)` before the end of the line'],
    ['block mlp(x_BLD)\n  y_BLD = x_BLD\n', '1:17', 'a block needs a result shape: `block mlp(x_BLD) -> BLD`'],
    ['x = a $ b\n', '1:7', 'unknown character `$`'],
    ['x = a b\n', '1:7', 'expected an operator or the end of the line after `a`, found `b`'],
    ['param w_D = zeros\n', '1:11', 'a parameter is initialised with `~`, not `=`'],
    ['if act = gelu\n  x = 1\n', '1:8', '`if` compares with `==`, not `=`'],
    ['blok f(x_BLD) -> BLD\n  y = 1\n', '1:1', 'unknown keyword `blok`'],
    ['block f(x_BLD) -> x_BLD\n  y = 1\n', '1:19', '`x_BLD` is not a result shape'],
    ['variant act = gelu relu\n', '1:20', "separate a variant's choices with `|`"],
    ['input x_BLD : text\n', '1:15', 'unknown input encoding `text`'],
    ['x = y_BLD[D -> HK]\n', '1:16', '`HK` is not one dim letter'],
    ['x = a < b < c\n', '1:11', 'comparisons do not chain'],
    ['x = 99999999999999999999\n', '1:5', 'number too large'],
    ['x = 1e999\n', '1:5', 'number too large'],
    ['x =\n', '1:4', 'expected a value after `=`'],
    ['dims\n  d = 4\n', '2:3', '`d` is not a dim letter'],
    ['x = 1\n  y = 2\n', '2:1', 'unexpected indentation'],
    ['block a(x_BLD) -> BLD\n    y_BLD = x_BLD\n  z_BLD = y_BLD\n', '3:1', 'inconsistent indentation'],
    ['block a(x_BLD) -> BLD\n\ty_BLD = x_BLD\n', '2:1', 'tab in indentation'],
    ['else\n  x = 1\n', '1:1', '`else` without an `if` before it'],
    ['if a == b\n  x = 1\nelse\n  x = 2\nelif a == c\n  x = 3\n', '5:1', '`elif` after `else`'],
    ['if a == b\n', '1:1', '`if` needs a body'],
    ['block f(x_BLD) -> BLD\n', '1:1', 'a block needs a body'],
    ['block a(x_BLD) -> BLD\n  variant act = a | b\n', '2:3', '`variant` belongs at the top level'],
    ['block a(x_BLD) -> BLD\n  block b(x_BLD) -> BLD\n    y = 1\n', '2:3', 'blocks do not nest'],
    ['model a\nmodel b\n', '2:1', 'a file names its model once'],
    [') = 3\n', '1:1', 'expected a statement, found `)`'],
    ['x = f(a b)\n', '1:9', 'expected `,` or `)` after the argument `a`, found `b`'],
    ['x = repeat layer(x)\n', '1:20', '`repeat` needs a count and then a block call'],
  ])('%j', (source, where, message) => {
    const ds = errors(source);
    expect(ds).toHaveLength(1);
    expect(ds[0]!.message).toContain(message);
    expect(at(ds[0]!)).toBe(where);
  });

  it('adds a help where the fix is plain', () => {
    expect(errors('blok f(x_BLD) -> BLD\n  y = 1\n')[0]!.help).toBe('did you mean `block`?');
    expect(errors('block f(x_BLD) -> x_BLD\n  y = 1\n')[0]!.help).toBe('write only the letters: `-> BLD`');
    expect(errors('block f(x_BLD) -> B L D\n  y = 1\n')[0]!.help).toBe('write `-> BLD`');
    expect(errors('x = .5\n')[0]!.help).toBe('write a digit before the point: `0.5`');
  });

  it('points an unclosed parenthesis at the `(` and at where `)` was expected', () => {
    const [d] = errors('x = (a + f(b)\n');
    expect(at(d!)).toBe('1:5');
    expect(d!.secondary?.[0]?.span.start.col).toBe(14);
  });

  it('reports every broken line of a file and keeps the rest', () => {
    const source = [
      'model broken',
      'dims',
      '  D = 64',
      '  K 8', // 4
      '  H = 2',
      'param w_DD = normal(0.02)', // 6
      'x_D = (w_DD @ ', // 7
      'block good(x_*D) -> *D',
      '  out_*D = x_*D * 2',
      'block bad(x_*D)', // 10
      '  y_*D = x_*D )', // 11: checked although its header failed
      'y_D = good(x_D) $', // 12
      'if act == gelu',
      '  z_D = y_D',
      'else',
      '  z_D = ) y_D', // 16
      'loss = sum(z_D)',
    ].join('\n');
    const ds = errors(source);
    expect(ds.map((d) => d.span.start.line)).toEqual([4, 6, 7, 10, 11, 12, 16]);
    const { program } = parse('t.arch', source);
    expect(program.model?.name).toBe('broken');
    expect(program.dims.map((d) => d.letter)).toEqual(['D', 'H']);
    expect(program.blocks.map((b) => b.name)).toEqual(['good']);
    const chain = program.body.find((s): s is IfStmt => s.kind === 'if')!;
    expect(chain.branches.map((b) => b.body.length)).toEqual([1, 0]);
    expect(assign(program.body, 'loss').value.kind).toBe('call');
  });
});

// ---------------------------------------------------------------- never throws

describe('hostile input', () => {
  const robust = (source: string): { program: Program; diagnostics: Diagnostic[] } => {
    const result = parse('t.arch', source);
    checkDiagnostics(source, result.diagnostics);
    return result;
  };

  it('reads an empty file as an empty program', () => {
    for (const source of ['', '\n\n', '   \n# only a comment\n', '\uFEFF']) {
      const { program, diagnostics } = robust(source);
      expect(diagnostics).toEqual([]);
      expect(program).toMatchObject({ model: null, dims: [], variants: [], inputs: [], blocks: [], body: [] });
    }
  });

  it('reports binary junk as unknown characters', () => {
    const bytes = Uint8Array.from({ length: 4000 }, (_, i) => (i * 2654435761) >>> 24);
    const source = new TextDecoder().decode(bytes); // invalid UTF-8 becomes U+FFFD
    expect(source).toContain('\uFFFD');
    const { diagnostics } = robust(source);
    expect(diagnostics.length).toBeGreaterThan(0);
    expect(diagnostics.length).toBeLessThanOrEqual(101);
    const nul = robust('x = 1\u0000\n').diagnostics;
    expect(nul.map((d) => [d.message, at(d)])).toEqual([['unknown character `\\u0000`', '1:6']]);
  });

  it('refuses 10,000 nested parentheses at the place', () => {
    const source = `x = ${'('.repeat(10_000)}a${')'.repeat(10_000)}\n`;
    const { diagnostics } = robust(source);
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]!.message).toBe('expressions nested too deeply');
    expect(diagnostics[0]!.span.start.line).toBe(1);
    expect(diagnostics[0]!.span.start.col).toBeGreaterThan(5);
    for (const deep of [`x = ${'-'.repeat(300)}a`, `x = a${' ^ a'.repeat(300)}`, `x = ${'f('.repeat(300)}a${')'.repeat(300)}`]) {
      expect(robust(deep).diagnostics.map((d) => d.message)).toEqual(['expressions nested too deeply']);
    }
    // The limit is exact: 99 parentheses (100 levels with the outermost expression) still parse.
    expect(robust(`x = ${'('.repeat(99)}a${')'.repeat(99)}`).diagnostics).toEqual([]);
    expect(robust(`x = ${'('.repeat(100)}a${')'.repeat(100)}`).diagnostics.map((d) => d.message)).toEqual(['expressions nested too deeply']);
  });

  it('survives 100,000-character lines', () => {
    expect(robust(`x = ${'a'.repeat(100_000)}\n`).diagnostics).toEqual([]);
    const chain = robust(`x = ${'a + '.repeat(25_000)}a\n`).diagnostics;
    expect(chain.map((d) => d.message)).toEqual(['line too long: 50003 tokens']);
    const long = robust(`x = ${'a + '.repeat(1_500)}a\n`).diagnostics;
    expect(long.map((d) => d.message)).toEqual(['expression too long']);
  });

  it('survives every truncation of the reference files', () => {
    for (const source of [GPT2, PRELUDE]) {
      for (let n = 0; n <= source.length; n += 5) robust(source.slice(0, n));
    }
  });

  it('survives deep indentation', () => {
    let source = '';
    for (let i = 0; i < 500; i++) source += `${' '.repeat(i)}if a == b\n`;
    expect(robust(source).diagnostics.map((d) => d.message)).toContain('blocks nested too deeply');
  });

  it('never throws on arbitrary text', () => {
    const pieces = fc.constantFrom(
      'x_BLD', 'x_*D', 'M', '2', '1e999', '0.5', ' ', '  ', '\t', '\n', '\r\n', '#c', '(', ')', '[', ']', '->', '=', '==',
      '~', '|', ',', ':', '*', '@', '^', '-', 'block', 'if', 'elif', 'else', 'dims', 'param', 'repeat', 'variant', 'input',
      'model', '$', '\u0000', '\uFFFD', 'é',
    );
    fc.assert(
      fc.property(fc.oneof(fc.array(pieces, { maxLength: 80 }).map((a) => a.join('')), fc.string({ unit: 'binary', maxLength: 200 })), (source) => {
        robust(source);
      }),
      { numRuns: 400 },
    );
  });
});
