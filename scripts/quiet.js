#!/usr/bin/env node
// Runs a Node script with its stderr passed through the same filter as bin/arch.js, so Dawn's
// native warnings (printed from C++ straight to file descriptor 2, e.g. "maxDynamicUniformBuffers
// PerPipelineLayout artificially reduced") do not bury what the script prints. The benchmarks run
// through it: `node scripts/quiet.js dist/bench/web.js [args]`. Exits with the script's status.
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createLineFilter } from '../bin/stderr-filter.js';

/** Runs `node script ...args`, stderr filtered; signals pass on to it. */
export function runQuiet(script, args) {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['inherit', 'inherit', 'pipe'] });
  const filter = createLineFilter((s) => process.stderr.write(s));
  child.stderr.on('data', (chunk) => filter.write(chunk));
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('close', (code, signal) => {
    filter.end();
    process.exitCode = signal ? 1 : code ?? 1;
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [script, ...args] = process.argv.slice(2);
  if (script === undefined) {
    process.stderr.write('usage: node scripts/quiet.js SCRIPT [ARGS...]\n');
    process.exitCode = 2;
  } else runQuiet(fileURLToPath(pathToFileURL(script)), args);
}
