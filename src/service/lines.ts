// Between the parser's spans (0-based offsets, 1-based lines and columns, all in UTF-16 code units)
// and the service's 0-based positions. A line break is \r\n, \n or a lone \r, as the lexer has it.
import type { Pos, Span } from '../../grammar/ast.js';
import type { Position, Range } from './types.js';

export class LineIndex {
  /** The offset at which each line starts. */
  readonly starts: number[] = [0];

  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) this.starts.push(i + 1);
    }
  }

  get lineCount(): number {
    return this.starts.length;
  }

  /** The offset of a position, clamped into the text (a client may point past a line's end). */
  offsetAt(p: Position): number {
    const line = Math.max(0, Math.min(p.line, this.starts.length - 1));
    const start = this.starts[line]!;
    const end = line + 1 < this.starts.length ? this.starts[line + 1]! : this.text.length;
    return Math.min(start + Math.max(0, p.character), end);
  }

  positionAt(offset: number): Position {
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: o - this.starts[lo]! };
  }

  /** One line's text without its line break. */
  lineText(line: number): string {
    const start = this.starts[line] ?? this.text.length;
    const end = line + 1 < this.starts.length ? this.starts[line + 1]! : this.text.length;
    return this.text.slice(start, end).replace(/\r?\n$|\r$/, '');
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
