// A diagnostic is data: what went wrong, where, and what would fix it. Rendering is
// src/compiler/diagnostics.ts's job; every stage (parser, checker) only builds these.
import type { Span } from './ast.js';

export interface Diagnostic {
  severity: 'error' | 'warning';
  /** A short family name shown as `error[code]`: syntax, name, shape, dims, contract, block, variant, cycle, unused,
   *  invocation (a bad --set), model, size, depth (nested past a limit), limit (too many diagnostics). */
  code: string;
  message: string; // one line, plain words, no trailing period
  file: string;
  span: Span;
  label?: string; // printed under the primary caret span
  secondary?: { span: Span; label: string }[]; // other places that explain this one (`---` underlines)
  notes?: string[]; // `= note: ...` lines, e.g. how a dim got its value: `K = D / H = 768 / 12 = 64 (models/gpt2.arch:9)`
  help?: string; // `= help: ...` a concrete fix, e.g. "did you mean `w_FD`?"
}
