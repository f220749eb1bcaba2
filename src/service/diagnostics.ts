// The checker's diagnostics as the service reports them: one record per problem in this
// document, its label, notes and help line in the message, its secondary spans as related places.
import type { Diagnostic } from '../../grammar/diagnostic.js';
import type { Analysis } from './analysis.js';
import { toRange } from './lines.js';
import { occurrenceAt } from './occurrences.js';
import type { Range, ServiceDiagnostic } from './types.js';

export function diagnostics(a: Analysis): ServiceDiagnostic[] {
  return a.diagnostics.map((d) => ({
    severity: d.severity,
    code: d.code,
    message: [d.message, ...(d.label ? [d.label] : []), ...(d.notes ?? []).map((n) => `note: ${n}`), ...(d.help ? [`help: ${d.help}`] : [])].join('\n'),
    range: d.file === a.file ? toRange(d.span) : callSite(a, d),
    related: [
      ...(d.file === a.file ? [] : [{ location: { file: d.file, range: toRange(d.span) }, message: d.label ?? d.message }]),
      ...(d.secondary ?? []).map((s) => ({ location: { file: d.file, range: toRange(s.span) }, message: s.label })),
    ],
  }));
}

/** A problem found inside the prelude is shown where this file called into it: the checker
 *  names the call in a note (`called at FILE:LINE:COL`). */
function callSite(a: Analysis, d: Diagnostic): Range {
  const prefix = ` called at ${a.file}:`;
  for (const n of d.notes ?? []) {
    const i = n.lastIndexOf(prefix);
    if (i < 0) continue;
    const [line, col] = n.slice(i + prefix.length).split(':').map(Number);
    if (line && col) {
      const start = { line: line - 1, character: col - 1 };
      const callee = occurrenceAt(a.names, a.lines.offsetAt(start));
      return callee ? toRange(callee.span) : { start, end: start };
    }
  }
  return { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
}
