// Statements are lines and blocks are indentation. This pass splits the tokens into lines and
// nests each line under the nearest less-indented line above it. Whether that line may open a
// block (`block`, `if`, `dims`, ...) is program.ts's question; this pass only checks that every
// dedent returns to an indentation used before.
import type { IToken } from 'chevrotain';
import type { Span } from './ast.js';
import type { Diagnostic } from './diagnostic.js';
import { Newline, type UnknownRun } from './lexer.js';
import { syntax, unknownCharacters } from './messages.js';

export interface Line {
  tokens: IToken[]; // without the newline; never empty
  indent: number; // in columns, a tab counting as 4
  indentSpan: Span; // the leading whitespace (empty when the line starts at column 1)
  children: Line[];
  junk: boolean; // holds unknown characters: reported here, never parsed
}

const TAB_WIDTH = 4;

export function layout(
  lexed: { tokens: IToken[]; unknown: UnknownRun[] },
  source: string,
  file: string,
  report: (d: Diagnostic) => void,
): Line[] {
  const junkLines = new Set<number>();
  for (const run of lexed.unknown) {
    report(unknownCharacters(run, source, file));
    junkLines.add(run.line);
  }
  const lines = splitLines(lexed.tokens, source, file, report);
  for (const line of lines) line.junk = junkLines.has(line.tokens[0]!.startLine ?? 1);
  const roots: Line[] = [];
  // The chain of open levels: the indentation of each and the list its lines go to.
  const frames: { indent: number; lines: Line[] }[] = [{ indent: lines[0]?.indent ?? 0, lines: roots }];
  if (lines[0] && lines[0].indent > 0) {
    report(syntax(file, lines[0].indentSpan, 'unexpected indentation: the first line of a file starts at column 1'));
  }
  for (const line of lines) {
    const top = frames[frames.length - 1]!;
    if (line.indent > top.indent) {
      const parent = top.lines[top.lines.length - 1]!;
      frames.push({ indent: line.indent, lines: parent.children });
      parent.children.push(line);
      continue;
    }
    let popped: { indent: number; lines: Line[] } | undefined;
    while (frames.length > 1 && frames[frames.length - 1]!.indent > line.indent) popped = frames.pop();
    const outer = frames[frames.length - 1]!;
    if (outer.indent >= line.indent) {
      // Equal: a sibling. Greater only at the top level, after an indented first line (reported
      // already): the top level moves left.
      outer.indent = line.indent;
      outer.lines.push(line);
      continue;
    }
    // Between two levels, so the loop above popped the deeper one.
    const deeper = popped!;
    report({
      ...syntax(file, line.indentSpan, `inconsistent indentation: this line is indented ${line.indent} space${line.indent === 1 ? '' : 's'}, the lines around it ${outer.indent} or ${deeper.indent}`),
      help: 'indent the line exactly like the other lines of its block',
    });
    // Recover: the line joins the deeper level, which from now on is indented like it.
    deeper.indent = line.indent;
    frames.push(deeper);
    deeper.lines.push(line);
  }
  return roots;
}

function splitLines(tokens: IToken[], source: string, file: string, report: (d: Diagnostic) => void): Line[] {
  const lines: Line[] = [];
  let firstTab: Span | null = null;
  let tabLines = 0;
  let current: IToken[] = [];
  const flush = (): void => {
    if (current.length === 0) return;
    const first = current[0]!;
    const lineStart = first.startOffset - ((first.startColumn ?? 1) - 1);
    // Leading whitespace only: unknown characters before the first token (reported already) end it.
    let indent = 0;
    let tab = -1;
    let i = lineStart;
    for (; i < first.startOffset; i++) {
      const c = source[i];
      if (c === ' ') indent += 1;
      else if (c === '\t') {
        indent += TAB_WIDTH;
        if (tab < 0) tab = i;
      } else if (c !== '\uFEFF') break;
    }
    const start = { offset: lineStart, line: first.startLine ?? 1, col: 1 };
    const indentSpan = { start, end: { offset: i, line: start.line, col: i - lineStart + 1 } };
    if (tab >= 0) {
      tabLines += 1;
      if (!firstTab) {
        const at = { offset: tab, line: start.line, col: tab - lineStart + 1 };
        firstTab = { start: at, end: { ...at, offset: at.offset + 1, col: at.col + 1 } };
      }
    }
    lines.push({ tokens: current, indent, indentSpan, children: [], junk: false });
    current = [];
  };
  for (const t of tokens) {
    if (t.tokenType === Newline) flush();
    else current.push(t);
  }
  flush();
  if (firstTab) {
    report({
      ...syntax(file, firstTab, 'tab in indentation'),
      notes: tabLines > 1 ? [`${tabLines} lines are indented with tabs; each tab counts as ${TAB_WIDTH} spaces`] : undefined,
      help: 'indent with spaces',
    });
  }
  return lines;
}
