// Between the parser's spans (0-based offsets, 1-based lines and columns, all in UTF-16 code units)
// and the service's 0-based positions. A line break is \r\n, \n or a lone \r, as the lexer has it.
import type { Pos, Span } from '../../grammar/ast.js';
import { LineIndex as SourceLines } from '../../grammar/lines.js';
import type { Position, Range } from './types.js';

export class LineIndex {
  private readonly lines: SourceLines;

  constructor(readonly text: string) {
    this.lines = new SourceLines(text);
  }

  get lineCount(): number {
    return this.lines.count;
  }

  /** The offset of a position, clamped into the text (a client may point past a line's end). */
  offsetAt(p: Position): number {
    const line = Math.max(0, Math.min(p.line, this.lines.count - 1));
    const start = this.lines.lineStart(line + 1);
    const end = line + 1 < this.lines.count ? this.lines.lineStart(line + 2) : this.text.length;
    return Math.min(start + Math.max(0, p.character), end);
  }

  positionAt(offset: number): Position {
    return toPosition(this.lines.position(offset));
  }

  /** One line's text without its line break. */
  lineText(line: number): string {
    return this.lines.text(line + 1);
  }
}

export const toPosition = (p: Pos): Position => ({ line: p.line - 1, character: p.col - 1 });
export const toRange = (s: Span): Range => ({ start: toPosition(s.start), end: toPosition(s.end) });

/** Whether an offset falls in a span, its end included (a cursor right after a name is on it). */
export const within = (s: Span, offset: number): boolean => s.start.offset <= offset && offset <= s.end.offset;

/** A span of `length` code units from `start`, on one line. */
export function subSpan(s: Span, from: number, length: number): Span {
  const start = { offset: s.start.offset + from, line: s.start.line, col: s.start.col + from };
  return { start, end: { offset: start.offset + length, line: start.line, col: start.col + length } };
}
