// The front end in one call: parse the model and the prelude, check, and return the checked
// model with every diagnostic.
import { parse } from '../../grammar/index.js';
import type { Program } from '../../grammar/ast.js';
import type { Diagnostic } from '../../grammar/diagnostic.js';
import { check } from './check.js';
import type { CheckedModel } from './graph.js';
import { PRELUDE_TEXT } from './prelude-text.js';

export const PRELUDE_FILE = 'prelude.arch';

let prelude: { program: Program; source: string } | undefined;

/** The prelude's text, bundled at build time (src/compiler/prelude-text.ts, generated from
 *  prelude.arch), so that compiling reads no file in any host. */
export function preludeSource(): string {
  return PRELUDE_TEXT;
}

function loadPrelude(): { program: Program; source: string } {
  if (!prelude) {
    const source = preludeSource();
    const r = parse(PRELUDE_FILE, source);
    if (r.diagnostics.some((d) => d.severity === 'error')) throw new Error(`the prelude does not parse: ${r.diagnostics[0]!.message}`);
    prelude = { program: r.program, source };
  }
  return prelude;
}

export interface CompileResult {
  model: CheckedModel | null;
  diagnostics: Diagnostic[];
  /** Every source a diagnostic may point into, for rendering. */
  sources: Map<string, string>;
}

export function compileSource(file: string, source: string, sets: Map<string, string> = new Map()): CompileResult {
  const p = loadPrelude();
  const sources = new Map([[file, source], [PRELUDE_FILE, p.source]]);
  const parsed = parse(file, source);
  const syntaxErrors = parsed.diagnostics.filter((d) => d.severity === 'error');
  if (syntaxErrors.length) return { model: null, diagnostics: parsed.diagnostics, sources };
  const r = check(parsed.program, p.program, { sets });
  return { model: r.model, diagnostics: [...parsed.diagnostics, ...r.diagnostics], sources };
}
