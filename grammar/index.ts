// The parser's one entry point: source text -> Program + diagnostics. It never throws: every
// problem in the input is a diagnostic, and the Program holds whatever parsed.
//
//   lex (lexer.ts) -> lines nested by indentation (layout.ts) -> each line parsed by the chevrotain
//   grammar (parser.ts), converted (to-ast.ts) and placed under its header (program.ts)
import type { Program } from './ast.js';
import type { Diagnostic } from './diagnostic.js';
import { layout } from './layout.js';
import { LineIndex } from './lines.js';
import { lex } from './lexer.js';
import { assemble } from './program.js';

export type { Program } from './ast.js';
export type { Diagnostic } from './diagnostic.js';
export { tensorName } from './to-ast.js';
export { LineIndex } from './lines.js';

/** Past this many, one more diagnostic says the rest were left out: a binary file is not worth 10,000. */
const MAX_DIAGNOSTICS = 100;

/** A file this much not-text (bytes that are not UTF-8, control characters) is not a model with a
 *  few bad characters but something else: one diagnostic says so. */
const BINARY_SHARE = 0.05;

/** Whether the text is mostly not text (a binary file passed for a model), and where it starts. */
function notText(text: string): { bad: number; first: number } | null {
  let bad = 0;
  let first = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0xfffd || c < 9 || (c > 13 && c < 32)) {
      bad++;
      if (first < 0) first = i;
    }
  }
  return bad >= 16 && bad > BINARY_SHARE * text.length ? { bad, first } : null;
}

export function parse(file: string, source: string): { program: Program; diagnostics: Diagnostic[] } {
  const text = typeof source === 'string' ? source : String(source ?? '');
  const program: Program = { file, source: text, model: null, dims: [], variants: [], inputs: [], blocks: [], body: [] };
  const binary = notText(text);
  if (binary) {
    const at = new LineIndex(text).position(binary.first);
    return {
      program,
      diagnostics: [{
        severity: 'error',
        code: 'syntax',
        message: `this is not a text file: ${binary.bad} of its ${text.length} characters are not text`,
        file,
        span: { start: at, end: { ...at, offset: at.offset + 1, col: at.col + 1 } },
        help: 'an .arch model is UTF-8 text; check the path (was this a checkpoint or a data file?)',
      }],
    };
  }
  const diagnostics: Diagnostic[] = [];
  let dropped = 0;
  const report = (d: Diagnostic): void => {
    if (diagnostics.length < MAX_DIAGNOSTICS) diagnostics.push(d);
    else dropped++;
  };
  try {
    assemble(layout(lex(text), text, file, report), program, report);
  } catch (e) {
    // A bug of the parser's own; the user still gets a located message instead of a stack trace.
    const at = { offset: 0, line: 1, col: 1 };
    report({
      severity: 'error',
      code: 'syntax',
      message: `internal error in the parser: ${e instanceof Error ? e.message : String(e)}`,
      file,
      span: { start: at, end: at },
      notes: ['this is a bug in arch, not in your file; the parts of the file before it were read'],
    });
  }
  diagnostics.sort((a, b) => a.span.start.offset - b.span.start.offset);
  if (dropped > 0) {
    const last = diagnostics[diagnostics.length - 1]!;
    diagnostics.push({
      severity: 'error',
      code: 'syntax',
      message: `${dropped} more syntax errors not shown`,
      file,
      span: last.span,
      help: 'fix the errors above first; is this an .arch file?',
    });
  }
  return { program, diagnostics };
}
