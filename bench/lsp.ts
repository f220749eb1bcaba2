// `npm run bench:lsp [-- FILE]`: how soon an editor shows diagnostics for models/gpt2.arch after an
// edit (target: 50 ms). Two figures, each the median of 20 edits after 20 warm-up edits (so that
// the JIT has settled, as in a server that has seen some typing), every edit a new text (one
// comment changes) so nothing comes from a cache of an earlier version:
//
//   service: LanguageService.analyze + diagnostics in this process (wall and CPU time), the work
//            `arch lsp` does per edit; the prelude is parsed once, as in the server;
//   server:  a real `arch lsp` over stdio, from sending didChange to receiving publishDiagnostics
//            for that version (the server's debounce included).
//
// On a machine shared with other work the wall figures are noisy: the load average is printed.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { preludeSource } from '../src/compiler/compile.js';
import { LanguageService } from '../src/service/index.js';

export const TARGET_MS = 50;
const WARMUP = 20;
const RUNS = 20;

export interface Timing {
  runs: number[];
  medianMs: number;
  bestMs: number;
}

const edit = (text: string, i: number): string => `${text}\n# edit ${i}\n`;

function summary(times: number[]): Timing {
  const s = [...times].sort((a, b) => a - b);
  const median = (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2;
  return { runs: times.map(round), medianMs: round(median), bestMs: round(s[0]!) };
}

const round = (x: number): number => Number(x.toFixed(2));

/** The service's analysis and diagnostics of one edited version, in this process. */
export function serviceTime(file: string): { wall: Timing; cpu: Timing; diagnostics: number } {
  const text = readFileSync(file, 'utf8');
  const service = new LanguageService(preludeSource());
  for (let i = 0; i < WARMUP; i++) service.diagnostics(service.analyze(file, edit(text, -1 - i)));
  const wall: number[] = [];
  const cpu: number[] = [];
  let count = 0;
  for (let i = 0; i < RUNS; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    count = service.diagnostics(service.analyze(file, edit(text, i))).length;
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall: summary(wall), cpu: summary(cpu), diagnostics: count };
}

/** didChange -> publishDiagnostics through a spawned `arch lsp`, one edit at a time. */
export async function serverTime(file: string): Promise<Timing> {
  const text = readFileSync(file, 'utf8');
  const uri = pathToFileURL(resolve(file)).href;
  const child = spawn(process.execPath, ['bin/arch.js', 'lsp', '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const conn = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  const waiting = new Map<number, () => void>();
  conn.onNotification('textDocument/publishDiagnostics', (p: { uri: string; version?: number }) => {
    if (p.uri === uri && p.version !== undefined) waiting.get(p.version)?.();
  });
  conn.listen();
  const published = (version: number): Promise<void> => new Promise((r) => waiting.set(version, r));
  try {
    await conn.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
    await conn.sendNotification('initialized', {});
    const opened = published(1);
    await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'arch', version: 1, text } });
    await opened;
    const times: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const version = i + 2;
      const done = published(version);
      const t0 = performance.now();
      await conn.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text: edit(text, i) }] });
      await done;
      if (i >= WARMUP) times.push(performance.now() - t0);
    }
    return summary(times);
  } finally {
    await conn.sendRequest('shutdown').catch(() => undefined);
    await conn.sendNotification('exit').catch(() => undefined);
    conn.dispose();
  }
}

async function main(): Promise<void> {
  const file = process.argv[2] ?? 'models/gpt2.arch';
  const log = (s: string) => process.stdout.write(s + '\n');
  log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const s = serviceTime(file);
  log(`${file}: service diagnostics after an edit: median ${s.wall.medianMs} ms wall, ${s.cpu.medianMs} ms CPU (best ${s.wall.bestMs} ms) of ${RUNS}; ${s.diagnostics} diagnostics`);
  log(`  wall (ms): ${s.wall.runs.join(' ')}`);
  const e = await serverTime(file);
  log(`${file}: arch lsp, didChange -> publishDiagnostics: median ${e.medianMs} ms (best ${e.bestMs} ms) of ${RUNS}; target ${TARGET_MS} ms`);
  log(`  (ms): ${e.runs.join(' ')}`);
  log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

await main();
