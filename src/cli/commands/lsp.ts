// `arch lsp`: the language server for editors (LSP over stdin/stdout). The server and the
// vscode-languageserver package it runs on are loaded only when this command runs: loading them
// costs every other command's start-up a tenth of a second or more.
import type { CommandSpec } from '../args.js';

export const lspCommand: CommandSpec = {
  name: 'lsp',
  summary: 'the language server for editors (LSP over stdin/stdout): diagnostics, hover, definition, completion, formatting',
  usage: 'arch lsp [--stdio]',
  options: { stdio: { type: 'boolean' } },
  help: [['--stdio', 'talk LSP over stdin and stdout (the default and only transport)']],
  examples: ['arch lsp --stdio', 'see docs/editors.md for VS Code, Neovim, Helix and Emacs'],
  async run() {
    const { serveStdio } = await import('./lsp-server.js');
    return serveStdio();
  },
};
