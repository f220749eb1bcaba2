// arch lsp, driven by a headless LSP client over the spawned server's stdio (run `npx tsc -p .`
// first: the server runs from dist/).
import { execFileSync, execSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';

const GPT2 = pathToFileURL(resolve('models/gpt2.arch')).href;
const BROKEN = pathToFileURL(resolve('broken.arch')).href;
const gpt2 = readFileSync('models/gpt2.arch', 'utf8');
const lineOf = (text: string, needle: string): { line: number; character: number } => {
  const i = text.indexOf(needle);
  const before = text.slice(0, i);
  return { line: before.split('\n').length - 1, character: i - (before.lastIndexOf('\n') + 1) };
};

let conn: MessageConnection;
let child: ReturnType<typeof spawn>;
const published: { uri: string; version?: number; diagnostics: { range: unknown; message: string; code: string; severity: number; relatedInformation: unknown[] }[] }[] = [];
const waitFor = async <T>(pick: () => T | undefined, ms = 10_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = pick();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** A spawned `arch lsp`, initialised with these options, its published diagnostics collected. */
async function startServer(initializationOptions: unknown, sink: typeof published): Promise<{ conn: MessageConnection; child: ReturnType<typeof spawn> }> {
  const child = spawn(process.execPath, ['bin/arch.js', 'lsp', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const conn = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  conn.onNotification('textDocument/publishDiagnostics', (p) => {
    sink.push(p);
  });
  conn.listen();
  const init = await conn.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {}, initializationOptions });
  expect((init as { capabilities: { hoverProvider: boolean } }).capabilities.hoverProvider).toBe(true);
  await conn.sendNotification('initialized', {});
  return { conn, child };
}

async function stopServer(s: { conn: MessageConnection; child: ReturnType<typeof spawn> }): Promise<void> {
  await s.conn.sendRequest('shutdown');
  await s.conn.sendNotification('exit');
  await new Promise((r) => s.child.once('exit', r));
}

beforeAll(async () => {
  ({ conn, child } = await startServer({ set: { N: 2 } }, published));
});

afterAll(async () => {
  await stopServer({ conn, child });
});

describe('arch lsp', () => {
  it('publishes diagnostics on open and clears them after a fix', async () => {
    const broken = 'model b\ndims\n  B\n  N = 1\n  D = 4\ninput x_BD\ny_BD = x_BD + z_BD\nloss = mean(y_BD)\n';
    await conn.sendNotification('textDocument/didOpen', { textDocument: { uri: BROKEN, languageId: 'arch', version: 1, text: broken } });
    const first = await waitFor(() => published.find((p) => p.uri === BROKEN && p.version === 1));
    expect(first.diagnostics).toHaveLength(1);
    expect(first.diagnostics[0]!.code).toBe('name');
    expect(first.diagnostics[0]!.range).toEqual({ start: { line: 6, character: 14 }, end: { line: 6, character: 18 } });
    expect(first.diagnostics[0]!.message).toContain('z_BD');
    // Two quick edits: the last version is reported, and nothing older after it (the first edit's
    // diagnostics may come first when the machine is slow enough that the debounce has passed).
    await conn.sendNotification('textDocument/didChange', { textDocument: { uri: BROKEN, version: 2 }, contentChanges: [{ text: broken.replace('z_BD', 'w_BD') }] });
    await conn.sendNotification('textDocument/didChange', { textDocument: { uri: BROKEN, version: 3 }, contentChanges: [{ text: broken.replace(' + z_BD', '') }] });
    const fixed = await waitFor(() => published.find((p) => p.uri === BROKEN && p.version === 3));
    expect(fixed.diagnostics).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    const after = published.slice(published.indexOf(fixed) + 1);
    expect(after.some((p) => p.uri === BROKEN && (p.version ?? 0) < 3)).toBe(false);
  });

  it('answers hover, definition, references, completion and formatting on gpt2 as the checker does', async () => {
    await conn.sendNotification('textDocument/didOpen', { textDocument: { uri: GPT2, languageId: 'arch', version: 1, text: gpt2 } });
    const inspect = JSON.parse(execFileSync(process.execPath, ['bin/arch.js', 'inspect', 'models/gpt2.arch', '--json', '--set', 'N=2'], { encoding: 'utf8' }));
    const doc = { uri: GPT2 };
    for (const name of ['embedded_BLD', 'positioned_BLD', 'final_BLD', 'logits_BLV']) {
      const t = inspect.tensors.find((t: { name: string; scope: string }) => t.name === name && t.scope === '');
      const letters = name.slice(name.lastIndexOf('_') + 1);
      const expected = `[${t.shape.map((s: number | string, i: number) => (typeof s === 'number' ? `${letters[i]}=${s}` : s)).join(', ')}]`;
      const h = await conn.sendRequest('textDocument/hover', { textDocument: doc, position: lineOf(gpt2, `${name} =`) }) as { contents: { value: string } };
      expect(h.contents.value).toContain(expected);
    }
    const q = inspect.tensors.filter((t: { name: string }) => t.name === 'q_BLHK');
    const hq = await conn.sendRequest('textDocument/hover', { textDocument: doc, position: lineOf(gpt2, 'q_BLHK =') }) as { contents: { value: string } };
    expect(hq.contents.value).toContain(`in ${q.length} instances`);
    const def = await conn.sendRequest('textDocument/definition', { textDocument: doc, position: lineOf(gpt2, 'mlp(layernorm') }) as { uri: string; range: { start: { line: number } } }[];
    expect(def[0]!.uri).toMatch(/^file:.*\/src\/compiler\/prelude\.arch$/);
    const refs = await conn.sendRequest('textDocument/references', { textDocument: doc, position: lineOf(gpt2, 'final_BLD ='), context: { includeDeclaration: true } }) as unknown[];
    expect(refs).toHaveLength(4);
    const items = await conn.sendRequest('textDocument/completion', { textDocument: doc, position: lineOf(gpt2, 'loss =') }) as { label: string }[];
    expect(items.map((i) => i.label)).toEqual(expect.arrayContaining(['layernorm', 'causal_attention', 'softmax', 'D', 'act']));
    const edits = await conn.sendRequest('textDocument/formatting', { textDocument: doc, options: { tabSize: 2, insertSpaces: true } });
    expect(edits).toEqual([]);
    const tokens = await conn.sendRequest('textDocument/semanticTokens/full', { textDocument: doc }) as { data: number[] };
    expect(tokens.data.length % 5).toBe(0);
    expect(tokens.data.length).toBeGreaterThan(500);
  });

  it('checks every open document again under the settings a client changes to', async () => {
    const uri = pathToFileURL(resolve('heads.arch')).href;
    const text = 'model h\ndims\n  B\n  D = 4\n  H = 2\n  K = 2\n  N = 1\ninput x_BD\ny_BHK = x_BD[D -> H K]\nloss = mean(y_BHK)\n';
    await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'arch', version: 1, text } });
    expect((await waitFor(() => published.find((p) => p.uri === uri))).diagnostics).toEqual([]);
    const seen = published.length;
    // D = 6 no longer splits into H K = 2 x 2: the same version is checked again, and fails.
    await conn.sendNotification('workspace/didChangeConfiguration', { settings: { arch: { set: { N: 2, D: 6 } } } });
    const again = await waitFor(() => published.slice(seen).find((p) => p.uri === uri));
    expect(again.version).toBe(1);
    expect(again.diagnostics.map((d) => d.severity)).toContain(1);
    await conn.sendNotification('workspace/didChangeConfiguration', { settings: { arch: { set: { N: 2 } } } });
    const restored = published.length;
    expect((await waitFor(() => published.slice(restored).find((p) => p.uri === uri))).diagnostics).toEqual([]);
  });
});

describe('arch lsp for a client that shows the prelude itself (preludeScheme: arch-prelude)', () => {
  it('points definitions at arch-prelude:///prelude.arch, serves its text, and answers inside it', async () => {
    const seen: typeof published = [];
    const server = await startServer({ preludeScheme: 'arch-prelude' }, seen);
    try {
      const c = server.conn;
      await c.sendNotification('textDocument/didOpen', { textDocument: { uri: GPT2, languageId: 'arch', version: 1, text: gpt2 } });
      const def = await c.sendRequest('textDocument/definition', { textDocument: { uri: GPT2 }, position: lineOf(gpt2, 'mlp(layernorm') }) as { uri: string; range: { start: { line: number } } }[];
      expect(def).toHaveLength(1);
      expect(def[0]!.uri).toBe('arch-prelude:///prelude.arch');
      const served = await c.sendRequest('arch/prelude') as { uri: string; text: string };
      const prelude = readFileSync('src/compiler/prelude.arch', 'utf8');
      expect(served).toEqual({ uri: 'arch-prelude:///prelude.arch', text: prelude });
      expect(prelude.split('\n')[def[0]!.range.start.line]).toMatch(/^block mlp\(/);
      // Opened under that URI, the prelude is the prelude (not a model with no loss): no
      // diagnostics, and definition works inside it.
      await c.sendNotification('textDocument/didOpen', { textDocument: { uri: served.uri, languageId: 'arch', version: 1, text: served.text } });
      expect((await waitFor(() => seen.find((p) => p.uri === served.uri))).diagnostics).toEqual([]);
      const inner = await c.sendRequest('textDocument/definition', { textDocument: { uri: served.uri }, position: lineOf(prelude, 'linear(x_*D)') }) as { uri: string; range: { start: { line: number } } }[];
      expect(inner[0]!.uri).toBe(served.uri);
      expect(prelude.split('\n')[inner[0]!.range.start.line]).toMatch(/^block linear\(/);
    } finally {
      await stopServer(server);
    }
  });
});

describe('arch lsp from the bundled CLI (npm run bundle)', () => {
  it('starts, answers, and leaves the other commands working', async () => {
    // The bundle script as package.json has it, written two levels under dist/ so that the
    // bundle finds src/compiler/prelude.arch as dist/arch.mjs does; not dist/arch.mjs itself,
    // which other tests' `arch` may be reading.
    const out = resolve('dist/test-bundle/lsp/arch.mjs');
    const script = JSON.parse(readFileSync('package.json', 'utf8')).scripts.bundle as string;
    expect(script).toContain('--outfile=dist/arch.mjs');
    execSync(script.replace('--outfile=dist/arch.mjs', `--outfile=${out}`), { env: { ...process.env, PATH: `${resolve('node_modules/.bin')}:${process.env.PATH}` } });
    const main = `const { main } = await import(${JSON.stringify(pathToFileURL(out).href)}); process.exitCode = await main(process.argv.slice(1));`;
    const check = spawnSync(process.execPath, ['--input-type=module', '-e', main, 'check', 'models/gpt-nano.arch'], { encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(check.stdout).toMatch(/^ok: gpt_nano/);
    const child = spawn(process.execPath, ['--input-type=module', '-e', main, 'lsp', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const c = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
    c.listen();
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    // A server that dies on start fails the test at once instead of leaving the request unanswered.
    const died = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`arch lsp exited with ${code}: ${stderr}`))));
    const init = await Promise.race([c.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} }), died]) as { capabilities: { hoverProvider: boolean } };
    expect(init.capabilities.hoverProvider).toBe(true);
    const served = await c.sendRequest('arch/prelude') as { text: string };
    expect(served.text).toBe(readFileSync('src/compiler/prelude.arch', 'utf8'));
    await stopServer({ conn: c, child });
  });
});
