#!/usr/bin/env node
// `npm test`'s runner: vitest with its stderr passed through the same filter as bin/arch.js, so
// Dawn's native warnings (printed from C++ straight to file descriptor 2 of each test worker, e.g.
// "maxDynamicUniformBuffersPerPipelineLayout artificially reduced") do not bury the test report.
// Arguments pass through: `npm test -- test/cli.test.ts`.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createLineFilter } from '../bin/stderr-filter.js';

const vitest = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));
const child = spawn(process.execPath, [vitest, 'run', ...process.argv.slice(2)], { stdio: ['inherit', 'inherit', 'pipe'] });
const filter = createLineFilter((s) => process.stderr.write(s));
child.stderr.on('data', (chunk) => filter.write(chunk));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('close', (code, signal) => {
  filter.end();
  process.exitCode = signal ? 1 : code ?? 1;
});
