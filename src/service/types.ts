// The language service's own data types: plain records an LSP server, a CodeMirror page or a
// test can map to their own. Positions count UTF-16 code units, as LSP and CodeMirror do (and as
// JavaScript strings and the parser's spans do).

/** 0-based line and character (UTF-16 code units within the line). */
export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

/** A place in a document: `file` is the service's file name (the model's, or PRELUDE_FILE). */
export interface Location {
  file: string;
  range: Range;
}

export interface ServiceDiagnostic {
  severity: 'error' | 'warning';
  code: string;
  /** The message, then its label, notes and help line, one per line. */
  message: string;
  range: Range;
  related: { location: Location; message: string }[];
}

export interface HoverResult {
  range: Range;
  /** Markdown. */
  contents: string;
}

export type CompletionKind = 'dim' | 'block' | 'builtin' | 'variant' | 'value' | 'tensor';

export interface CompletionEntry {
  label: string;
  kind: CompletionKind;
  detail?: string;
  documentation?: string;
}

export type SymbolKind = 'model' | 'dim' | 'variant' | 'input' | 'param' | 'block' | 'tensor';

export interface DocumentSymbolEntry {
  name: string;
  kind: SymbolKind;
  detail?: string;
  range: Range;
  selectionRange: Range;
  children: DocumentSymbolEntry[];
}

export const TOKEN_TYPES = ['keyword', 'number', 'comment', 'operator', 'variable', 'type', 'function', 'enum', 'enumMember', 'typeParameter', 'parameter'] as const;
export type TokenType = (typeof TOKEN_TYPES)[number];
export const TOKEN_MODIFIERS = ['declaration', 'defaultLibrary'] as const;
export type TokenModifier = (typeof TOKEN_MODIFIERS)[number];

/** One coloured run of a line; a name's shape suffix (`_BLD`) is a `type` token of its own. */
export interface SemanticToken {
  line: number;
  character: number;
  length: number;
  type: TokenType;
  modifiers: TokenModifier[];
}

export interface TextEdit {
  range: Range;
  newText: string;
}
