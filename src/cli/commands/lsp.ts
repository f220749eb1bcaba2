// `arch lsp`: the language service over the Language Server Protocol (3.17), on stdin/stdout.
// stdout carries the protocol and nothing else: logging goes to stderr. Diagnostics follow each
// change after a short pause, and a result for an older version of a document is never published.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  CompletionItemKind, createConnection, DiagnosticSeverity, ProposedFeatures, SemanticTokensBuilder, SymbolKind, TextDocuments, TextDocumentSyncKind,
  type CompletionItem, type Connection, type DocumentSymbol, type Location as LspLocation,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { preludeSource } from '../../compiler/compile.js';
import {
  LanguageService, PRELUDE_FILE, TOKEN_MODIFIERS, TOKEN_TYPES, type Analysis, type CompletionKind, type DocumentSymbolEntry, type Location, type SymbolKind as ArchSymbolKind,
} from '../../service/index.js';
import type { CommandSpec } from '../args.js';

const DEBOUNCE_MS = 100;

export const lspCommand: CommandSpec = {
  name: 'lsp',
  summary: 'the language server for editors (LSP over stdin/stdout): diagnostics, hover, definition, completion, formatting',
  usage: 'arch lsp [--stdio]',
  options: { stdio: { type: 'boolean' } },
  help: [['--stdio', 'talk LSP over stdin and stdout (the default and only transport)']],
  examples: ['arch lsp --stdio', 'see docs/editors.md for VS Code, Neovim, Helix and Emacs'],
  run() {
    // Whatever logs by accident must not corrupt the protocol on stdout.
    console.log = console.info = console.error;
    const connection = createConnection(ProposedFeatures.all, process.stdin, process.stdout);
    const done = new Promise<number>((resolve) => connection.onExit(() => resolve(0)));
    serve(connection);
    connection.listen();
    return done;
  },
};

/** The installed prelude as a file an editor can open; a URI of its own when it is not on disk. */
function preludeUri(): string {
  for (const rel of ['../../../../src/compiler/prelude.arch', '../src/compiler/prelude.arch', '../../compiler/prelude.arch']) {
    const u = new URL(rel, import.meta.url);
    if (existsSync(fileURLToPath(u))) return u.href;
  }
  return 'arch-prelude:///prelude.arch';
}

/** `arch.set`: `{ "D": 64, "act": "relu" }` or `["D=64", "act=relu"]`. */
export function parseSets(value: unknown): Map<string, string> {
  const sets = new Map<string, string>();
  if (Array.isArray(value)) {
    for (const s of value) {
      const i = String(s).indexOf('=');
      if (i > 0) sets.set(String(s).slice(0, i).trim(), String(s).slice(i + 1).trim());
    }
  } else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) sets.set(k, String(v));
  return sets;
}

function serve(connection: Connection): void {
  const service = new LanguageService(preludeSource());
  const prelude = preludeUri();
  const documents = new TextDocuments(TextDocument);
  const timers = new Map<string, NodeJS.Timeout>();
  let sets = new Map<string, string>();
  let canConfigure = false;

  const fileOf = (uri: string): string => (uri === prelude ? PRELUDE_FILE : uri.startsWith('file:') ? fileURLToPath(uri) : uri);
  const uriOf = (file: string, doc: string): string => (file === PRELUDE_FILE ? prelude : doc);
  const analysis = (uri: string): Analysis | null => {
    const doc = documents.get(uri);
    return doc ? service.analyze(fileOf(uri), doc.getText(), sets) : null;
  };
  const loc = (l: Location, doc: string): LspLocation => ({ uri: uriOf(l.file, doc), range: l.range });

  const publish = (uri: string): void => {
    const doc = documents.get(uri);
    if (!doc) return;
    const version = doc.version;
    const a = service.analyze(fileOf(uri), doc.getText(), sets);
    // A newer version arrived while this one was checked: its own run will publish.
    if (documents.get(uri)?.version !== version) return;
    const diagnostics = service.diagnostics(a).map((d) => ({
      range: d.range,
      severity: d.severity === 'error' ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
      code: d.code,
      source: 'arch',
      message: d.message,
      relatedInformation: d.related.map((r) => ({ location: loc(r.location, uri), message: r.message })),
    }));
    void connection.sendDiagnostics({ uri, version, diagnostics });
  };
  const schedule = (uri: string): void => {
    clearTimeout(timers.get(uri));
    timers.set(uri, setTimeout(() => {
      timers.delete(uri);
      publish(uri);
    }, DEBOUNCE_MS));
  };
  const refreshSettings = async (): Promise<void> => {
    if (!canConfigure) return;
    const config = (await connection.workspace.getConfiguration('arch').catch(() => null)) as { set?: unknown } | null;
    if (config && config.set !== undefined) sets = parseSets(config.set);
    for (const d of documents.all()) schedule(d.uri);
  };

  connection.onInitialize((params) => {
    canConfigure = Boolean(params.capabilities.workspace?.configuration);
    const init = params.initializationOptions as { set?: unknown; arch?: { set?: unknown } } | undefined;
    sets = parseSets(init?.set ?? init?.arch?.set);
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        hoverProvider: true,
        definitionProvider: true,
        referencesProvider: true,
        completionProvider: { triggerCharacters: ['_', '=', ' '] },
        documentSymbolProvider: true,
        documentFormattingProvider: true,
        semanticTokensProvider: { legend: { tokenTypes: [...TOKEN_TYPES], tokenModifiers: [...TOKEN_MODIFIERS] }, full: true },
      },
      serverInfo: { name: 'arch', version: '0.1.0' },
    };
  });
  connection.onInitialized(() => void refreshSettings());
  connection.onDidChangeConfiguration((change) => {
    const s = (change.settings as { arch?: { set?: unknown } } | null)?.arch?.set;
    if (s !== undefined) sets = parseSets(s);
    if (canConfigure) void refreshSettings();
    else for (const d of documents.all()) schedule(d.uri);
  });
  documents.onDidOpen((e) => schedule(e.document.uri));
  documents.onDidChangeContent((e) => schedule(e.document.uri));
  documents.onDidClose((e) => {
    clearTimeout(timers.get(e.document.uri));
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
  });
  // The prelude, for a client that cannot open its file: served read-only by the server.
  connection.onRequest('arch/prelude', () => ({ uri: prelude, text: service.preludeText }));

  connection.onHover((p) => {
    const a = analysis(p.textDocument.uri);
    const h = a && service.hover(a, p.position);
    return h ? { contents: { kind: 'markdown', value: h.contents }, range: h.range } : null;
  });
  connection.onDefinition((p) => {
    const a = analysis(p.textDocument.uri);
    return a ? service.definition(a, p.position).map((l) => loc(l, p.textDocument.uri)) : [];
  });
  connection.onReferences((p) => {
    const a = analysis(p.textDocument.uri);
    return a ? service.references(a, p.position, p.context.includeDeclaration).map((l) => loc(l, p.textDocument.uri)) : [];
  });
  connection.onCompletion((p) => {
    const a = analysis(p.textDocument.uri);
    if (!a) return [];
    const c = service.completion(a, p.position);
    return c.items.map((i): CompletionItem => ({
      label: i.label,
      kind: COMPLETION_KIND[i.kind],
      detail: i.detail,
      ...(c.replace ? { textEdit: { range: c.replace, newText: i.label } } : {}),
    }));
  });
  connection.onDocumentSymbol((p) => {
    const a = analysis(p.textDocument.uri);
    return a ? service.documentSymbols(a).map(symbol) : [];
  });
  connection.languages.semanticTokens.on((p) => {
    const a = analysis(p.textDocument.uri);
    const b = new SemanticTokensBuilder();
    if (a)
      for (const t of service.semanticTokens(a))
        b.push(t.line, t.character, t.length, TOKEN_TYPES.indexOf(t.type), t.modifiers.reduce((m, x) => m | (1 << TOKEN_MODIFIERS.indexOf(x)), 0));
    return b.build();
  });
  connection.onDocumentFormatting((p) => {
    const a = analysis(p.textDocument.uri);
    if (!a || a.file === PRELUDE_FILE) return [];
    return service.formatting(a) ?? [];
  });
  documents.listen(connection);
}

const COMPLETION_KIND: Record<CompletionKind, CompletionItemKind> = {
  dim: CompletionItemKind.TypeParameter,
  block: CompletionItemKind.Function,
  builtin: CompletionItemKind.Function,
  variant: CompletionItemKind.Enum,
  value: CompletionItemKind.EnumMember,
  tensor: CompletionItemKind.Variable,
};

const SYMBOL_KIND: Record<ArchSymbolKind, SymbolKind> = {
  model: SymbolKind.Module,
  dim: SymbolKind.TypeParameter,
  variant: SymbolKind.Enum,
  input: SymbolKind.Variable,
  param: SymbolKind.Field,
  block: SymbolKind.Function,
  tensor: SymbolKind.Variable,
};

function symbol(s: DocumentSymbolEntry): DocumentSymbol {
  return { name: s.name, kind: SYMBOL_KIND[s.kind], detail: s.detail, range: s.range, selectionRange: s.selectionRange, children: s.children.map(symbol) };
}
