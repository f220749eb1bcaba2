#!/usr/bin/env node
// `npm test`'s runner: vitest with its stderr passed through the same filter as bin/arch.js, so
// Dawn's native warnings (printed from C++ straight to file descriptor 2 of each test worker, e.g.
// "maxDynamicUniformBuffersPerPipelineLayout artificially reduced") do not bury the test report.
// Arguments pass through: `npm test -- test/cli.test.ts`.
import { fileURLToPath } from 'node:url';
import { runQuiet } from './quiet.js';

runQuiet(fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url)), ['run', ...process.argv.slice(2)]);
