// The server behind `arch lsp` (commands/lsp.ts loads it on demand, so that other commands do not
// load vscode-languageserver): the language service over the Language Server Protocol (3.17), on
// stdin/stdout. stdout carries the protocol and nothing else: logging goes to stderr. Diagnostics
// follow each change after a short pause, and a result for an older version of a document is
// never published.
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

// Long enough to fold a burst of queued changes (a paste, an editor's multi-part edit) into one
// check, short enough that diagnostics follow a keystroke within 50 ms: gpt2.arch checks in a few
// ms (npm run bench:lsp).
const DEBOUNCE_MS = 25;

/** Serves LSP on stdin/stdout until the client says exit; resolves to the exit code. */
export function serveStdio(): Promise<number> {
  // Whatever logs by accident must not corrupt the protocol on stdout.
  console.log = console.info = console.error;
  const connection = createConnection(ProposedFeatures.all, process.stdin, process.stdout);
  const done = new Promise<number>((resolve) => connection.onExit(() => resolve(0)));
  serve(connection);
  connection.listen();
  return done;
}

/** The prelude's URI for clients that cannot read files (VS Code through a content provider):
 *  its text comes from the request `arch/prelude`. */
const VIRTUAL_PRELUDE = 'arch-prelude:///prelude.arch';

/** The installed prelude as a file an editor can open; the virtual URI when it is not on disk. */
function preludeFileUri(): string {
  for (const rel of ['../../../../src/compiler/prelude.arch', '../src/compiler/prelude.arch', '../../compiler/prelude.arch']) {
    const u = new URL(rel, import.meta.url);
    if (existsSync(fileURLToPath(u))) return u.href;
  }
  return VIRTUAL_PRELUDE;
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

/** What every handler shares: the service, the open documents, the `--set`s of the workspace's
 *  settings, and the prelude's URI. */
interface Server {
  connection: Connection;
  service: LanguageService;
  documents: TextDocuments<TextDocument>;
  sets: Map<string, string>;
  /** The prelude's URI in definitions: on disk, or virtual when the client asks for it. */
  prelude: string;
  fileOf(uri: string): string;
  /** The current analysis of an open document. */
  analysis(uri: string): Analysis | null;
  /** A service location as LSP's, relative to the document asked about. */
  loc(l: Location, doc: string): LspLocation;
}

function serve(connection: Connection): void {
  const onDisk = preludeFileUri();
  const server: Server = {
    connection,
    service: new LanguageService(preludeSource()),
    documents: new TextDocuments(TextDocument),
    sets: new Map(),
    // `initializationOptions.preludeScheme: "arch-prelude"` asks for the virtual URI in definitions.
    prelude: onDisk,
    fileOf: (uri) => (uri === onDisk || uri === VIRTUAL_PRELUDE ? PRELUDE_FILE : uri.startsWith('file:') ? fileURLToPath(uri) : uri),
    analysis(uri) {
      const doc = this.documents.get(uri);
      return doc ? this.service.analyze(this.fileOf(uri), doc.getText(), this.sets) : null;
    },
    loc(l, doc) {
      return { uri: l.file === PRELUDE_FILE ? this.prelude : doc, range: l.range };
    },
  };
  const schedule = serveDiagnostics(server);
  serveLifecycle(server, schedule);
  serveQueries(server);
  server.documents.listen(connection);
}

/** Diagnostics: published a short pause after each change, never for an outdated version. */
function serveDiagnostics(s: Server): (uri: string) => void {
  const { connection, documents, service } = s;
  const timers = new Map<string, NodeJS.Timeout>();
  const publish = (uri: string): void => {
    const doc = documents.get(uri);
    if (!doc) return;
    const version = doc.version;
    const a = service.analyze(s.fileOf(uri), doc.getText(), s.sets);
    // A newer version arrived while this one was checked: its own run will publish.
    if (documents.get(uri)?.version !== version) return;
    const diagnostics = service.diagnostics(a).map((d) => ({
      range: d.range,
      severity: d.severity === 'error' ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
      code: d.code,
      source: 'arch',
      message: d.message,
      relatedInformation: d.related.map((r) => ({ location: s.loc(r.location, uri), message: r.message })),
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
  documents.onDidOpen((e) => schedule(e.document.uri));
  documents.onDidChangeContent((e) => schedule(e.document.uri));
  documents.onDidClose((e) => {
    clearTimeout(timers.get(e.document.uri));
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
  });
  return schedule;
}

/** Initialisation (the capabilities, the first `--set`s) and the settings as they change; a
 *  change of settings checks every open document again. */
function serveLifecycle(s: Server, schedule: (uri: string) => void): void {
  const { connection, documents } = s;
  let canConfigure = false;
  const refreshSettings = async (): Promise<void> => {
    if (!canConfigure) return;
    const config = (await connection.workspace.getConfiguration('arch').catch(() => null)) as { set?: unknown } | null;
    if (config && config.set !== undefined) s.sets = parseSets(config.set);
    for (const d of documents.all()) schedule(d.uri);
  };
  connection.onInitialize((params) => {
    canConfigure = Boolean(params.capabilities.workspace?.configuration);
    const init = params.initializationOptions as { set?: unknown; arch?: { set?: unknown }; preludeScheme?: unknown } | undefined;
    s.sets = parseSets(init?.set ?? init?.arch?.set);
    if (init?.preludeScheme === 'arch-prelude') s.prelude = VIRTUAL_PRELUDE;
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
    const set = (change.settings as { arch?: { set?: unknown } } | null)?.arch?.set;
    if (set !== undefined) s.sets = parseSets(set);
    if (canConfigure) void refreshSettings();
    else for (const d of documents.all()) schedule(d.uri);
  });
}

/** The requests about a document: each analyses it (cached by the service) and asks the service. */
function serveQueries(s: Server): void {
  const { connection, service } = s;
  // The prelude's text and the URI definitions use for it, for a client that shows it read-only.
  connection.onRequest('arch/prelude', () => ({ uri: s.prelude, text: service.preludeText }));
  connection.onHover((p) => {
    const a = s.analysis(p.textDocument.uri);
    const h = a && service.hover(a, p.position);
    return h ? { contents: { kind: 'markdown', value: h.contents }, range: h.range } : null;
  });
  connection.onDefinition((p) => {
    const a = s.analysis(p.textDocument.uri);
    return a ? service.definition(a, p.position).map((l) => s.loc(l, p.textDocument.uri)) : [];
  });
  connection.onReferences((p) => {
    const a = s.analysis(p.textDocument.uri);
    return a ? service.references(a, p.position, p.context.includeDeclaration).map((l) => s.loc(l, p.textDocument.uri)) : [];
  });
  connection.onCompletion((p) => {
    const a = s.analysis(p.textDocument.uri);
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
    const a = s.analysis(p.textDocument.uri);
    return a ? service.documentSymbols(a).map(symbol) : [];
  });
  connection.languages.semanticTokens.on((p) => {
    const a = s.analysis(p.textDocument.uri);
    const b = new SemanticTokensBuilder();
    if (a)
      for (const t of service.semanticTokens(a))
        b.push(t.line, t.character, t.length, TOKEN_TYPES.indexOf(t.type), t.modifiers.reduce((m, x) => m | (1 << TOKEN_MODIFIERS.indexOf(x)), 0));
    return b.build();
  });
  connection.onDocumentFormatting((p) => {
    const a = s.analysis(p.textDocument.uri);
    if (!a || a.file === PRELUDE_FILE) return [];
    return service.formatting(a) ?? [];
  });
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
