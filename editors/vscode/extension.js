// The VS Code client of arch: starts `arch lsp` (how: the setting arch.path, by default
// `npx --no arch`) and shows the prelude read-only under the arch-prelude: scheme, its text asked
// of the server (request `arch/prelude`), so that "go to definition" into a prelude block works
// wherever arch is installed and nobody edits the installed prelude by accident. Plain CommonJS:
// no build step.
'use strict';
const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

const PRELUDE_SCHEME = 'arch-prelude';

/** @type {LanguageClient | undefined} */
let client;

/** `arch.path` split at spaces, with `lsp --stdio` added: `npx --no arch` -> npx --no arch lsp --stdio. */
function serverCommand() {
  const words = String(vscode.workspace.getConfiguration('arch').get('path') || 'npx --no arch').trim().split(/\s+/);
  return { command: words[0], args: [...words.slice(1), 'lsp', '--stdio'] };
}

async function start() {
  const { command, args } = serverCommand();
  const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  // npx and a globally installed arch are .cmd scripts on Windows: they need a shell there.
  const run = { command, args, transport: TransportKind.stdio, options: { cwd, shell: process.platform === 'win32' } };
  client = new LanguageClient('arch', 'arch', { run, debug: run }, {
    documentSelector: [
      { language: 'arch', scheme: 'file' },
      { language: 'arch', scheme: 'untitled' },
      { language: 'arch', scheme: PRELUDE_SCHEME },
    ],
    // Definitions into the prelude come back as arch-prelude:///prelude.arch (see docs/editors.md).
    initializationOptions: { set: vscode.workspace.getConfiguration('arch').get('set'), preludeScheme: PRELUDE_SCHEME },
    synchronize: { configurationSection: 'arch' },
  });
  try {
    await client.start();
  } catch (err) {
    const shown = [command, ...args].join(' ');
    void vscode.window.showErrorMessage(
      `arch: could not start the language server with \`${shown}\` (${err && err.message ? err.message : err}). ` +
        'Install arch (npm install arch-lang) or set arch.path to the command that runs it, e.g. `node /path/to/arch/bin/arch.js`.',
    );
  }
}

async function stop() {
  const c = client;
  client = undefined;
  if (c) await c.stop().catch(() => undefined);
}

/** The prelude's text, from the server that the definitions came from. */
const preludeProvider = {
  async provideTextDocumentContent() {
    if (!client) return '# arch: the language server is not running (command "arch: Restart language server")\n';
    const r = await client.sendRequest('arch/prelude');
    return r.text;
  },
};

async function showPrelude() {
  if (!client) return;
  const r = await client.sendRequest('arch/prelude');
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(r.uri));
  await vscode.window.showTextDocument(doc, { preview: true });
}

/** @param {vscode.ExtensionContext} context */
async function activate(context) {
  context.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider(PRELUDE_SCHEME, preludeProvider),
    vscode.commands.registerCommand('arch.restartServer', async () => {
      await stop();
      await start();
    }),
    vscode.commands.registerCommand('arch.showPrelude', showPrelude),
    // arch.set reaches the running server by itself; a new arch.path needs a new server.
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (!e.affectsConfiguration('arch.path')) return;
      await stop();
      await start();
    }),
  );
  await start();
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate };
