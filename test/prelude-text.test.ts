// The compiler reads the prelude from src/compiler/prelude-text.ts, generated from prelude.arch by
// scripts/prelude-text.js: the two must say the same, or models compile against a stale prelude.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { preludeModule } from '../scripts/prelude-text.js';
import { preludeSource } from '../src/compiler/compile.js';

describe('the bundled prelude', () => {
  it('is prelude.arch as it is now (else: node scripts/prelude-text.js)', () => {
    const arch = readFileSync(new URL('../src/compiler/prelude.arch', import.meta.url), 'utf8');
    expect(readFileSync(new URL('../src/compiler/prelude-text.ts', import.meta.url), 'utf8')).toBe(preludeModule(arch));
    expect(preludeSource()).toBe(arch);
  });
});
