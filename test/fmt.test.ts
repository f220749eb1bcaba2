// arch fmt: idempotent over the shipped models and the prelude, never changes what a model checks
// to or lowers to, and refuses a file that does not parse without touching it.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileSource } from '../src/compiler/compile.js';
import { lower } from '../src/compiler/lower.js';
import { printGraph } from '../src/ir/print.js';
import { format } from '../src/service/format.js';

const FILES = [...readdirSync('models').filter((f) => f.endsWith('.arch')).map((f) => join('models', f)), 'src/compiler/prelude.arch'];

describe('arch fmt', () => {
  it('is idempotent and the shipped files are formatted', () => {
    for (const f of FILES) {
      const text = readFileSync(f, 'utf8');
      const once = format(f, text);
      expect(once.ok, f).toBe(true);
      if (!once.ok) continue;
      expect(once.text, f).toBe(text);
      const squashed = text.replace(/ = /g, '=').replace(/ @ /g, '@').replace(/ {2,}#/g, ' #').replace(/\n/g, '\n\n');
      const again = format(f, squashed);
      expect(again.ok, f).toBe(true);
      if (again.ok) expect(format(f, again.text), f).toEqual({ ok: true, text: again.text });
    }
  });

  it('keeps what a model checks to and the IR it lowers to', () => {
    for (const f of FILES.filter((f) => f.startsWith('models/'))) {
      const text = readFileSync(f, 'utf8');
      const messy = text.replace(/ = /g, '  =  ').replace(/ @ /g, '@').replace(/\(/g, '( ').replace(/\n/g, '\n\n\n');
      const r = format(f, messy);
      expect(r.ok, f).toBe(true);
      if (!r.ok) continue;
      const a = compileSource(f, messy);
      const b = compileSource(f, r.text);
      expect(b.diagnostics.map((d) => d.message)).toEqual(a.diagnostics.map((d) => d.message));
      expect(printGraph(lower(b.model!).graph)).toBe(printGraph(lower(a.model!).graph));
    }
  });

  it('refuses a malformed file with its diagnostics and leaves it untouched', () => {
    const dir = mkdtempSync(join(tmpdir(), 'arch-fmt-'));
    const bad = join(dir, 'bad.arch');
    copyFileSync('test/malformed/truncated-mid-expression.arch', bad);
    const before = readFileSync(bad, 'utf8');
    const mtime = statSync(bad).mtimeMs;
    const r = spawnSync(process.execPath, ['bin/arch.js', 'fmt', '--write', bad], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error[syntax]');
    expect(r.stderr).toContain('does not parse, so it was not formatted');
    expect(readFileSync(bad, 'utf8')).toBe(before);
    expect(statSync(bad).mtimeMs).toBe(mtime);
    expect(readdirSync(dir)).toEqual(['bad.arch']);
  });

  it('--check lists files that would change; --write rewrites only those', () => {
    const dir = mkdtempSync(join(tmpdir(), 'arch-fmt-'));
    const good = join(dir, 'good.arch');
    const messy = join(dir, 'messy.arch');
    copyFileSync('models/gpt-nano.arch', good);
    writeFileSync(messy, readFileSync('models/gpt-nano.arch', 'utf8').replace(/ @ /g, '@'));
    const check = spawnSync(process.execPath, ['bin/arch.js', 'fmt', '--check', good, messy], { encoding: 'utf8' });
    expect(check.status).toBe(1);
    expect(check.stdout).toBe(`${messy}\n`);
    const goodTime = statSync(good).mtimeMs;
    execFileSync(process.execPath, ['bin/arch.js', 'fmt', '--write', good, messy]);
    expect(readFileSync(messy, 'utf8')).toBe(readFileSync('models/gpt-nano.arch', 'utf8'));
    expect(statSync(good).mtimeMs).toBe(goodTime);
    expect(readdirSync(dir).sort()).toEqual(['good.arch', 'messy.arch']);
    expect(execFileSync(process.execPath, ['bin/arch.js', 'fmt', messy], { encoding: 'utf8' })).toBe(readFileSync(messy, 'utf8'));
  });
});
