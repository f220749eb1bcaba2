// The language service: what an editor asks about an .arch document, answered from the parser's
// tree and the checker's results. No Node APIs and no editor types: the caller passes text in
// (the prelude's too) and maps these plain records to LSP, CodeMirror or a test's expectations.
import { analyze, PRELUDE_FILE, readSource, type Analysis, type Source } from './analysis.js';
import { complete, type Completions } from './complete.js';
import { diagnostics } from './diagnostics.js';
import { format, type FormatResult } from './format.js';
import { hover } from './hover.js';
import { definition, documentSymbols, references } from './navigate.js';
import { semanticTokens } from './tokens.js';
import type { DocumentSymbolEntry, HoverResult, Location, Position, SemanticToken, ServiceDiagnostic, TextEdit } from './types.js';

export * from './types.js';
export { PRELUDE_FILE, format, type Analysis, type Completions, type FormatResult };
/** A shape as hovers and the playground write it: `[B, L=64, D=64]`. */
export { shapeText } from './instances.js';
// Lexical colouring for editors without the server (the TextMate grammar, a CodeMirror StreamLanguage).
export { archStreamParser, highlightLine, HIGHLIGHT_RULES, HIGHLIGHT_STYLES, type HighlightKind, type HighlightRule, type HighlightToken } from './highlight.js';

export class LanguageService {
  private readonly prelude: Source;
  private cache: { key: string; analysis: Analysis } | null = null;

  constructor(preludeText: string) {
    this.prelude = readSource(PRELUDE_FILE, preludeText);
  }

  get preludeText(): string {
    return this.prelude.text;
  }

  /** The document analysed; the last one is kept, so a burst of requests on one version is checked once. */
  analyze(file: string, text: string, sets: Map<string, string> = new Map()): Analysis {
    const key = `${file}\0${[...sets].map(([k, v]) => `${k}=${v}`).join('\0')}\0${text}`;
    if (this.cache?.key === key) return this.cache.analysis;
    // The prelude opened as a document is read as a model with no body: only its names matter.
    const analysis = analyze(file, text, sets, this.prelude);
    this.cache = { key, analysis };
    return analysis;
  }

  diagnostics(a: Analysis): ServiceDiagnostic[] {
    return a.file === PRELUDE_FILE ? [] : diagnostics(a);
  }

  hover(a: Analysis, p: Position): HoverResult | null {
    return hover(a, a.lines.offsetAt(p));
  }

  definition(a: Analysis, p: Position): Location[] {
    return definition(a, a.lines.offsetAt(p));
  }

  references(a: Analysis, p: Position, includeDeclaration = true): Location[] {
    return references(a, a.lines.offsetAt(p), includeDeclaration);
  }

  completion(a: Analysis, p: Position): Completions {
    return complete(a, p);
  }

  documentSymbols(a: Analysis): DocumentSymbolEntry[] {
    return documentSymbols(a);
  }

  semanticTokens(a: Analysis): SemanticToken[] {
    return semanticTokens(a);
  }

  /** One edit replacing the whole text, or none when it is formatted already; null when it does not parse. */
  formatting(a: Analysis): TextEdit[] | null {
    const r = format(a.file, a.text);
    if (!r.ok) return null;
    if (r.text === a.text) return [];
    return [{ range: { start: { line: 0, character: 0 }, end: a.lines.positionAt(a.text.length) }, newText: r.text }];
  }
}
