// A source's line starts, computed once: the text of line n and the position of an offset in
// O(log n), where splitting the source per question would make a file's diagnostics quadratic.
// Lines end where the lexer ends them: at \r\n, \r or \n. Offsets and columns count UTF-16 code
// units, as JavaScript strings, the lexer, LSP and CodeMirror do.
import type { Pos } from './ast.js';

export class LineIndex {
  /** The offset of each line's first character; line n (1-based) starts at starts[n - 1]. */
  private readonly starts: number[] = [0];

  constructor(readonly source: string) {
    for (let i = 0; i < source.length; i++) {
      const c = source.charCodeAt(i);
      if (c === 13 /* \r */ && source.charCodeAt(i + 1) === 10) i++;
      if (c === 10 || c === 13) this.starts.push(i + 1);
    }
  }

  /** The number of lines; a source ending in a line break has an empty last line. */
  get count(): number {
    return this.starts.length;
  }

  /** The offset where line n (1-based, clamped into the source) starts. */
  lineStart(n: number): number {
    return this.starts[Math.max(1, Math.min(n, this.starts.length)) - 1]!;
  }

  /** Line n (1-based) without its line break; '' past the end. */
  text(n: number): string {
    if (n < 1 || n > this.starts.length) return '';
    const from = this.starts[n - 1]!;
    let to = n < this.starts.length ? this.starts[n]! : this.source.length;
    if (to > from && this.source.charCodeAt(to - 1) === 10) to--;
    if (to > from && this.source.charCodeAt(to - 1) === 13) to--;
    return this.source.slice(from, to);
  }

  /** The 1-based line and column of an offset (clamped to the source). */
  position(offset: number): Pos {
    const at = Math.max(0, Math.min(offset, this.source.length));
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    return { offset: at, line: lo + 1, col: at - this.starts[lo]! + 1 };
  }
}
