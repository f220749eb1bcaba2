#!/usr/bin/env node
// The `arch` command. `npm install` (prepare) compiles the sources to dist/ and bundles the CLI
// into dist/arch.mjs, which starts several times faster than the unbundled ES modules (chevrotain
// pulls in hundreds of small lodash-es files). Whichever of the two is newer runs, so a plain `tsc`
// after a change is never shadowed by an old bundle.
//
// Commands that open a WebGPU device run in a child process whose stderr passes through a filter
// that drops Dawn's native warnings (printed from C++ to fd 2, out of JavaScript's reach); with
// --verbose, or ARCH_CHILD set, everything runs here and nothing is filtered.
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createLineFilter } from './stderr-filter.js';

const DEVICE_COMMANDS = new Set(['info', 'train', 'sample', 'eval', 'profile', 'ablate', 'attention']);
const argv = process.argv.slice(2);

const wantsChild =
  !process.env.ARCH_CHILD && DEVICE_COMMANDS.has(argv[0]) && !argv.includes('--verbose') && !argv.includes('--help') && !argv.includes('-h');

if (wantsChild) runFiltered();
else await runHere();

async function runHere() {
  if (process.env.ARCH_CHILD) {
    // The parent's stderr is what the user sees: let the progress bar and colours follow it.
    if (process.env.ARCH_STDERR_TTY === '1') process.stderr.isTTY = true;
    watchParent();
  }
  const { main } = await import(entry());
  main(argv).then(
    (code) => exitAfterFlush(code),
    (err) => {
      // main() turns every expected failure into a message; this is the last line of defence.
      process.stderr.write(`arch: internal error: ${err?.message ? err.message : err}\n`);
      process.stderr.write('This is a bug in arch. Run with ARCH_DEBUG=1 for details.\n');
      if (process.env.ARCH_DEBUG) process.stderr.write(String(err?.stack) + '\n');
      exitAfterFlush(70);
    },
  );
}

function entry() {
  // ARCH_ENTRY=bundle|modules picks one explicitly (benchmarks compare the two).
  if (process.env.ARCH_ENTRY === 'bundle') return '../dist/arch.mjs';
  if (process.env.ARCH_ENTRY === 'modules') return '../dist/src/cli/main.js';
  const mtime = (rel) => {
    try {
      return statSync(fileURLToPath(new URL(rel, import.meta.url))).mtimeMs;
    } catch {
      return -1;
    }
  };
  const bundle = mtime('../dist/arch.mjs');
  return bundle >= 0 && bundle >= mtime('../dist/src/cli/main.js') ? '../dist/arch.mjs' : '../dist/src/cli/main.js';
}

function runFiltered() {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...argv], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, ARCH_CHILD: '1', ARCH_STDERR_TTY: process.stderr.isTTY ? '1' : '0' },
    // Its own process group: a terminal's Ctrl-C reaches only this process, which forwards it
    // once (`arch train` saves a checkpoint on the first SIGINT and quits at once on the second).
    detached: true,
  });
  const filter = createLineFilter((s) => process.stderr.write(s));
  child.stderr.on('data', (chunk) => filter.write(chunk));
  child.stderr.on('end', () => filter.end());
  const forward = (signal) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward(signal));
  child.on('error', (err) => {
    process.stderr.write(`arch: could not start: ${err.message}\n`);
    exitAfterFlush(70);
  });
  child.on('close', (code, signal) => {
    filter.end();
    exitAfterFlush(signal ? 128 + (constants.signals[signal] ?? 0) : code ?? 70);
  });
}

/** The child is in its own process group: if the parent dies without passing a signal on, stop. */
function watchParent() {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(129);
  }, 1000).unref();
}

/** Exits once stdout and stderr have drained: process.exit() drops what a pipe has not taken yet
 *  (`arch inspect --json | less` would lose its tail). An explicit exit is still needed, since
 *  Dawn's handles keep the process alive. */
function exitAfterFlush(code) {
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}
