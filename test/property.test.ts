// Property: whatever a user's editor leaves in a .arch file, the compiler answers with a model or
// with located errors, quickly, and never throws. The inputs are the valid models in models/ with
// random edits of the kinds people make: lines deleted, duplicated or swapped, a suffix letter
// changed, a number changed, characters or tokens typed in, the file cut short, an operator
// changed, a line re-indented. Seeded, so a failure reproduces (fast-check prints the seed and path).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../src/compiler/compile.js';
import { renderDiagnostics } from '../src/compiler/diagnostics.js';

const MODELS = fileURLToPath(new URL('../models/', import.meta.url));
const models = readdirSync(MODELS)
  .filter((f) => f.endsWith('.arch'))
  .sort()
  .map((f) => ({ file: `models/${f}`, source: readFileSync(MODELS + f, 'utf8') }));

const LINE_BREAK = /\r\n|\r|\n/; // the lexer's line breaks
const TIME_LIMIT_MS = 2000;

/** One edit; `pick` values are fractions in [0, 1), scaled to whatever the source has. */
type Mutation =
  | { kind: 'deleteLine' | 'duplicateLine'; at: number }
  | { kind: 'swapLines'; at: number; other: number }
  | { kind: 'suffixLetter'; at: number; letter: string }
  | { kind: 'number'; at: number; value: string }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'truncate'; at: number }
  | { kind: 'operator'; at: number; op: string }
  | { kind: 'indent'; at: number; spaces: number };

const frac = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const TOKENS = ['=', '@', '(', ')', '[', ']', '->', '~', ':', '|', '*', '_', 'block', 'repeat', 'if', 'else', 'param', 'input', 'dims', 'x_BLD', 'N', '#', '\t', '\n', '  ', ',', '0', '1e999', '-'];
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom('deleteLine' as const, 'duplicateLine' as const), at: frac }),
  fc.record({ kind: fc.constant('swapLines' as const), at: frac, other: frac }),
  fc.record({ kind: fc.constant('suffixLetter' as const), at: frac, letter: fc.constantFrom(...'BLMVDHGRKFNQXZ*') }),
  fc.record({ kind: fc.constant('number' as const), at: frac, value: fc.constantFrom('0', '1', '7', '-3', '0.5', '1e999', '99999999999999999999', '3000000000', '100000') }),
  fc.record({ kind: fc.constant('insert' as const), at: frac, text: fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom(...TOKENS)) }),
  fc.record({ kind: fc.constant('truncate' as const), at: frac }),
  fc.record({ kind: fc.constant('operator' as const), at: frac, op: fc.constantFrom('+', '-', '*', '/', '@', '^', '%', '==', '=', '->') }),
  fc.record({ kind: fc.constant('indent' as const), at: frac, spaces: fc.integer({ min: 0, max: 7 }) }),
);

const index = (f: number, n: number) => Math.min(n - 1, Math.floor(f * n));

/** The i-th match of `re` in `s` (scaled by `f`), or undefined when there is none. */
function nth(s: string, re: RegExp, f: number): RegExpExecArray | undefined {
  const all = [...s.matchAll(re)];
  return all.length ? (all[index(f, all.length)] as RegExpExecArray) : undefined;
}

function apply(src: string, m: Mutation): string {
  const lines = src.split('\n');
  switch (m.kind) {
    case 'deleteLine':
      lines.splice(index(m.at, lines.length), 1);
      return lines.join('\n');
    case 'duplicateLine': {
      const i = index(m.at, lines.length);
      lines.splice(i, 0, lines[i]!);
      return lines.join('\n');
    }
    case 'swapLines': {
      const i = index(m.at, lines.length);
      const j = index(m.other, lines.length);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return lines.join('\n');
    }
    case 'suffixLetter': {
      const hit = nth(src, /_([A-Z*]+)\b/g, m.at);
      if (!hit) return src;
      const letters = hit[1]!;
      const k = index(m.at * 7919 % 1, letters.length);
      const at = hit.index + 1 + k;
      return src.slice(0, at) + m.letter + src.slice(at + 1);
    }
    case 'number': {
      const hit = nth(src, /\b\d+(\.\d+)?\b/g, m.at);
      return hit ? src.slice(0, hit.index) + m.value + src.slice(hit.index + hit[0].length) : src;
    }
    case 'insert': {
      const at = index(m.at, src.length + 1);
      return src.slice(0, at) + m.text + src.slice(at);
    }
    case 'truncate':
      return src.slice(0, index(m.at, src.length + 1));
    case 'operator': {
      const hit = nth(src, /(->|==|[=@+\-*/^%~|])/g, m.at);
      return hit ? src.slice(0, hit.index) + m.op + src.slice(hit.index + hit[0].length) : src;
    }
    case 'indent': {
      const i = index(m.at, lines.length);
      lines[i] = ' '.repeat(m.spaces) + lines[i]!.trimStart();
      return lines.join('\n');
    }
  }
}

describe('compileSource on mutated models', () => {
  it('answers a model or located errors, in time, without throwing', () => {
    let withModel = 0;
    let withErrors = 0;
    fc.assert(
      fc.property(fc.constantFrom(...models), fc.array(mutation, { minLength: 1, maxLength: 3 }), (m, edits) => {
        const source = edits.reduce(apply, m.source);
        const t0 = performance.now();
        const r = compileSource(m.file, source);
        const ms = performance.now() - t0;
        expect(ms).toBeLessThan(TIME_LIMIT_MS);
        const errors = r.diagnostics.filter((d) => d.severity === 'error');
        if (r.model) {
          expect(errors).toEqual([]);
          withModel++;
        } else {
          expect(errors.length).toBeGreaterThan(0);
          withErrors++;
        }
        for (const d of r.diagnostics) {
          const src = r.sources.get(d.file);
          expect(src, `${d.file} is a file the renderer knows`).toBeDefined();
          const lines = src!.split(LINE_BREAK).length;
          for (const s of [d.span, ...(d.secondary ?? []).map((x) => x.span)]) {
            expect(s.start.line).toBeGreaterThanOrEqual(1);
            expect(s.start.line).toBeLessThanOrEqual(lines + 1);
            expect(s.start.col).toBeGreaterThanOrEqual(1);
            expect(s.end.offset).toBeGreaterThanOrEqual(s.start.offset);
            expect(s.end.offset).toBeLessThanOrEqual(src!.length + 1);
          }
          expect(d.message.length).toBeGreaterThan(0);
        }
        // Rendering is part of the answer: it must not throw either.
        expect(typeof renderDiagnostics(r.diagnostics, { sources: r.sources, color: false })).toBe('string');
      }),
      { seed: Number(process.env.PROPERTY_SEED ?? 20240917), numRuns: Number(process.env.PROPERTY_RUNS ?? 600) },
    );
    // The edits must reach both outcomes, or the property tests less than it seems to.
    expect(withErrors).toBeGreaterThan(100);
    expect(withModel).toBeGreaterThan(5);
  });
});
