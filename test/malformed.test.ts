// The malformed-model corpus: every file in test/malformed/ is a small model with one kind of
// mistake, and <name>.expected holds exactly what `arch check` prints for it (no color). A few
// inputs are generated here instead (binary junk, very long lines, deep nesting) and keep only
// their .expected file. UPDATE_SNAPSHOTS=1 rewrites the .expected files; read the diff before
// committing it: these files are the compiler's error messages as users see them.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { rng } from './ir-helpers.js';
import { compileSource, type CompileResult } from '../src/compiler/compile.js';
import { renderDiagnostics } from '../src/compiler/diagnostics.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIR = fileURLToPath(new URL('./malformed/', import.meta.url));
const UPDATE = process.env.UPDATE_SNAPSHOTS === '1';

/** A seeded generator (mulberry32), so the junk is the same on every machine. */
const random = rng;

const DIMS = ['dims', '  B', '  L = 8', '  M = L', '  V = 16', '  D = 32', '  H = 4', '  G = H', '  R = H / G', '  K = D / H', '  F = 4 * D', '  N = 2'];
const tiny = (stream: string, extra: string[] = []): string =>
  [
    'model generated',
    '',
    ...DIMS,
    '',
    'input tokens_BLV : onehot',
    'param wte_VD ~ normal(0.02)',
    'embedded_BLD = tokens_BLV @ wte_VD',
    stream,
    'logits_BLV = layernorm(stream_BLD) @ wte_VD',
    'loss = cross_entropy(logits_BLV, next(tokens_BLV))',
    ...extra,
    '',
  ].join('\n');

/** Inputs too big or too odd to commit: built here, the same every run. */
const GENERATED: Record<string, () => string> = {
  // 4 KB of random bytes, read the way the CLI reads a file (UTF-8, bad bytes become U+FFFD).
  'binary-junk': () => {
    const r = random(0xa2c4);
    return Buffer.from(Array.from({ length: 4096 }, () => Math.floor(r() * 256))).toString('utf8');
  },
  // A valid model with NUL and other control bytes pasted into one line.
  'control-bytes': () => tiny('stream_BLD = layernorm(embedded_BLD)\x00\x01\x1b[0m'),
  // A 6,000-character line with a typo near its end: the caret must still point at it.
  'long-line-typo': () => tiny(`stream_BLD = layernorm(embedded_BLD${' + embedded_BLD'.repeat(400)} + embeded_BLD)`),
  // More tokens on one line than the parser takes.
  'long-line-too-many-tokens': () => tiny(`stream_BLD = layernorm(embedded_BLD${' + embedded_BLD'.repeat(3000)})`),
  // One name 20,000 characters long.
  'long-name': () => tiny(`stream_BLD = layernorm(${'e'.repeat(20_000)}_BLD)`),
  // 5,000 nested parentheses.
  'deep-parens': () => tiny(`stream_BLD = layernorm(${'('.repeat(5000)}embedded_BLD${')'.repeat(5000)})`),
  // 5,000 minus signs in a row.
  'deep-minus': () => tiny(`stream_BLD = layernorm(${'-'.repeat(5000)}embedded_BLD)`),
  // 80 nested `if`s, each indented one more level.
  'deep-indentation': () =>
    tiny('stream_BLD = layernorm(embedded_BLD)', [
      '',
      'block deep(x_BLD) -> BLD',
      ...Array.from({ length: 80 }, (_, i) => `${'  '.repeat(i + 1)}if act == gelu`),
      `${'  '.repeat(81)}out_BLD = x_BLD`,
      '  out_BLD = x_BLD',
    ]),
};

/** Cases where only warnings are right: a model that works but has something worth a word. */
const WARNING_ONLY = new Set(['unused-tensor', 'unused-block']);

interface Case {
  name: string;
  file: string; // the path a user would type, relative to the repository root
  source: string;
  sets: Map<string, string>;
}

/** `# args: --set k=v --set k2=v2` on the first line gives the case its command-line settings. */
function setsOf(source: string): Map<string, string> {
  const first = source.split('\n', 1)[0]!;
  const m = /^# args:(.*)$/.exec(first);
  const sets = new Map<string, string>();
  if (m) for (const [, k, v] of m[1]!.matchAll(/--set\s+([^=\s]+)=(\S*)/g)) sets.set(k!, v!);
  return sets;
}

const committed: Case[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.arch'))
  .sort()
  .map((f) => {
    const source = readFileSync(DIR + f, 'utf8');
    return { name: f.slice(0, -'.arch'.length), file: `test/malformed/${f}`, source, sets: setsOf(source) };
  });
const generated: Case[] = Object.entries(GENERATED).map(([name, make]) => ({ name, file: `test/malformed/${name}.arch`, source: make(), sets: new Map() }));
const cases = [...committed, ...generated];

function compile(c: Case): { result: CompileResult; rendered: string; ms: number } {
  const t0 = performance.now();
  const result = compileSource(c.file, c.source, c.sets);
  const ms = performance.now() - t0;
  return { result, rendered: renderDiagnostics(result.diagnostics, { sources: result.sources, color: false }) + '\n', ms };
}

describe('the malformed corpus', () => {
  it('has at least 45 cases, each with an expected rendering', () => {
    expect(cases.length).toBeGreaterThanOrEqual(45);
    if (!UPDATE) for (const c of cases) expect(existsSync(`${DIR}${c.name}.expected`), `${c.name}.expected`).toBe(true);
    // Every .expected belongs to a case: a renamed case leaves no stale snapshot behind.
    const names = new Set(cases.map((c) => c.name));
    for (const f of readdirSync(DIR).filter((f) => f.endsWith('.expected'))) expect(names.has(f.slice(0, -'.expected'.length)), f).toBe(true);
  });

  for (const c of cases) {
    it(c.name, () => {
      const { result, rendered, ms } = compile(c);
      const { diagnostics } = result;
      const errors = diagnostics.filter((d) => d.severity === 'error');
      if (WARNING_ONLY.has(c.name)) {
        expect(errors).toEqual([]);
        expect(result.model).not.toBeNull();
        expect(diagnostics.length).toBeGreaterThan(0);
      } else {
        expect(errors.length, 'at least one error').toBeGreaterThan(0);
        expect(result.model).toBeNull();
      }
      for (const d of diagnostics) {
        const src = result.sources.get(d.file);
        expect(src, `a diagnostic points into ${d.file}, a file the renderer can't show`).toBeDefined();
        const lines = src!.split(/\r\n|\r|\n/); // the lexer's line breaks
        for (const s of [d.span, ...(d.secondary ?? []).map((x) => x.span)]) {
          expect(s.start.line, d.message).toBeGreaterThanOrEqual(1);
          expect(s.start.line, d.message).toBeLessThanOrEqual(lines.length);
          expect(s.start.col, d.message).toBeGreaterThanOrEqual(1);
          expect(s.start.col, d.message).toBeLessThanOrEqual((lines[s.start.line - 1] ?? '').length + 1);
          expect(s.end.offset, d.message).toBeGreaterThanOrEqual(s.start.offset);
          // A file cut mid-line is answered just past its last character ("`)` expected here").
          expect(s.end.offset, d.message).toBeLessThanOrEqual(src!.length + 1);
        }
        expect(d.message).not.toMatch(/\n|\.$/);
        expect(d.message).not.toMatch(/undefined|NaN|\[object/);
      }
      expect(ms, 'checked quickly').toBeLessThan(2000);
      const path = `${DIR}${c.name}.expected`;
      if (UPDATE) writeFileSync(path, rendered);
      else expect(rendered).toBe(readFileSync(path, 'utf8'));
    });
  }
});

describe('`arch check` on malformed models', () => {
  // The CLI runs from dist/ (built by `npm test`'s tsc step).
  const cli = (args: string[], cwd = ROOT) =>
    spawnSync(process.execPath, [join(ROOT, 'bin/arch.js'), 'check', ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  const header = (name: string) => readFileSync(`${DIR}${name}.expected`, 'utf8').split('\n', 1)[0]!;

  for (const [name, code] of [
    ['suffix-mismatch', 1],
    ['syntax-missing-equals', 1],
    ['several-errors', 1],
    ['empty', 1],
    ['deep-parens', 1],
  ] as const) {
    it(`${name}: exit ${code}, the diagnostic on stderr, no stack trace`, () => {
      const file = `test/malformed/${name}.arch`;
      const generatedCase = generated.find((c) => c.name === name);
      const r = generatedCase ? spawnGenerated(generatedCase) : cli([file]);
      expect(r.status).toBe(code);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(header(name));
      expect(r.stderr).toContain(`--> ${file}:`);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(r.stderr).not.toContain('internal error');
    });
  }

  for (const [name, set] of [
    ['unknown-variant-value-set', 'act=swish'],
    ['set-unknown-name', 'depth=4'],
    ['set-dim-not-a-number', 'D=wide'],
  ] as const) {
    it(`${name}: a bad --set is a bad invocation (exit 2)`, () => {
      const r = cli([`test/malformed/${name}.arch`, '--set', set]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(header(name));
      expect(r.stderr).not.toMatch(/^\s+at /m);
    });
  }

  it('the unused-tensor warning is printed and the check passes (exit 0)', () => {
    const r = cli(['test/malformed/unused-tensor.arch']);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(header('unused-tensor'));
    expect(r.stdout).toMatch(/^ok: /);
  });

  /** Generated cases exist only in memory: written under a temporary folder, at the same relative path. */
  function spawnGenerated(c: Case) {
    const dir = mkdtempSync(join(tmpdir(), 'arch-malformed-'));
    try {
      mkdirSync(join(dir, 'test/malformed'), { recursive: true });
      writeFileSync(join(dir, c.file), c.source);
      return cli([c.file], dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
