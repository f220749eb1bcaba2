// Renders diagnostics the way rustc and Elm do: a header, the location, the source line exactly
// as written with a caret span and label, secondary spans, notes and a help line.
import type { Span } from '../../grammar/ast.js';
import type { Diagnostic } from '../../grammar/diagnostic.js';
import { LineIndex } from '../../grammar/lines.js';
import { displayWidth } from './text-width.js';

export interface RenderOptions {
  color?: boolean;
  /** file name -> source text, for every file a diagnostic may point into. */
  sources: Map<string, string>;
}

const MAX_SHOWN_LINE = 160;

export function renderDiagnostic(d: Diagnostic, opts: RenderOptions): string {
  const c = colors(opts.color ?? false);
  const lines = lineIndex(opts.sources, d.file);
  const head = d.severity === 'error' ? c.red(`error[${d.code}]`) : c.yellow(`warning[${d.code}]`);
  const out: string[] = [`${head}${c.bold(`: ${d.message}`)}`];
  const spans = [{ span: d.span, label: d.label ?? '', primary: true }, ...(d.secondary ?? []).map((s) => ({ ...s, primary: false }))]
    .filter((s) => s.span.start.line >= 1 && s.span.start.line <= lines.count);
  let width = 1;
  for (const s of spans) width = Math.max(width, String(s.span.start.line).length);
  const pad = ' '.repeat(width);
  out.push(`${pad}${c.blue('-->')} ${d.file}:${d.span.start.line}:${d.span.start.col}`);
  out.push(`${pad} ${c.blue('|')}`);
  const byLine = new Map<number, typeof spans>();
  for (const s of spans) byLine.set(s.span.start.line, [...(byLine.get(s.span.start.line) ?? []), s]);
  const order = [...byLine.keys()].sort((a, b) => a - b);
  let prevLine = 0;
  for (const ln of order) {
    if (prevLine && ln > prevLine + 1) out.push(`${pad} ${c.blue('...')}`);
    prevLine = ln;
    const raw = lines.text(ln);
    const { text, shift } = clip(raw, byLine.get(ln)![0]!.span.start.col - 1);
    out.push(`${c.blue(String(ln).padStart(width) + ' |')} ${printable(text)}`);
    // One underline row per span on this line, primary first; labels after the underline.
    const items = byLine.get(ln)!.sort((a, b) => Number(b.primary) - Number(a.primary));
    for (const s of items) {
      const start = Math.max(0, s.span.start.col - 1 - shift);
      const endCol = s.span.end.line === s.span.start.line ? s.span.end.col - 1 - shift : text.length;
      const end = Math.min(endCol, text.length + 1);
      // Spans count UTF-16 units; the screen counts cells (a CJK character takes two, a combining mark none).
      const indent = displayWidth(printable(text.slice(0, start))) + Math.max(0, start - text.length);
      const len = Math.max(1, end > start ? displayWidth(printable(text.slice(start, end))) + Math.max(0, end - text.length) : 1);
      const mark = (s.primary ? '^' : '-').repeat(len);
      const underline = ' '.repeat(Math.min(indent, MAX_SHOWN_LINE)) + mark + (s.label ? ' ' + s.label : '');
      out.push(`${pad} ${c.blue('|')} ${s.primary ? (d.severity === 'error' ? c.red(underline) : c.yellow(underline)) : c.blue(underline)}`);
    }
  }
  out.push(`${pad} ${c.blue('|')}`);
  for (const n of d.notes ?? []) out.push(`${pad} ${c.blue('=')} ${c.bold('note')}: ${n}`);
  if (d.help) out.push(`${pad} ${c.blue('=')} ${c.bold('help')}: ${d.help}`);
  return out.join('\n');
}

/** One line table per source text, shared by all the diagnostics of one rendering: splitting the
 *  source once per diagnostic made a file with many of them quadratic. */
const indexes = new WeakMap<Map<string, string>, Map<string, LineIndex>>();

function lineIndex(sources: Map<string, string>, file: string): LineIndex {
  let byFile = indexes.get(sources);
  if (!byFile) indexes.set(sources, (byFile = new Map()));
  const src = sources.get(file) ?? '';
  let index = byFile.get(file);
  if (!index || index.source !== src) byFile.set(file, (index = new LineIndex(src)));
  return index;
}

/** Very long lines are cut around the interesting column so the caret stays on screen. */
function clip(line: string, col: number): { text: string; shift: number } {
  if (line.length <= MAX_SHOWN_LINE) return { text: line, shift: 0 };
  let from = Math.max(0, Math.min(col - 40, line.length - MAX_SHOWN_LINE));
  let to = from + MAX_SHOWN_LINE;
  // Never cut an emoji (a surrogate pair) in half.
  if (lowSurrogate(line, from)) from++;
  if (lowSurrogate(line, to)) to--;
  const body = line.slice(from, to);
  return { text: (from > 0 ? '…' : '') + body + (to < line.length ? '…' : ''), shift: from - (from > 0 ? 1 : 0) };
}

function lowSurrogate(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Control characters and junk bytes are shown, not sent to the terminal. */
function printable(s: string): string {
  return s.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '\u00b7').replace(/\t/g, ' ');
}

export function renderDiagnostics(ds: Diagnostic[], opts: RenderOptions): string {
  const sorted = [...ds].sort((a, b) => Number(a.severity === 'warning') - Number(b.severity === 'warning') || a.file.localeCompare(b.file) || a.span.start.offset - b.span.start.offset);
  const errors = ds.filter((d) => d.severity === 'error').length;
  const warnings = ds.length - errors;
  const parts = sorted.map((d) => renderDiagnostic(d, opts));
  const summary: string[] = [];
  if (errors) summary.push(`${errors} error${errors === 1 ? '' : 's'}`);
  if (warnings) summary.push(`${warnings} warning${warnings === 1 ? '' : 's'}`);
  if (summary.length) parts.push(summary.join(', '));
  return parts.join('\n\n');
}

export function spanText(source: string, span: Span): string {
  return source.slice(span.start.offset, span.end.offset);
}

function colors(on: boolean) {
  const wrap = (code: string) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { red: wrap('1;31'), yellow: wrap('1;33'), blue: wrap('1;34'), bold: wrap('1') };
}
