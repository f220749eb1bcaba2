#!/usr/bin/env node
// The `arch` command. The TypeScript sources are compiled to dist/ by `npm install` (prepare).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    // main() turns every expected failure into a message; this is the last line of defence.
    process.stderr.write(`arch: internal error: ${err && err.message ? err.message : err}\n`);
    process.stderr.write('This is a bug in arch. Run with ARCH_DEBUG=1 for details.\n');
    if (process.env.ARCH_DEBUG) process.stderr.write(String(err && err.stack) + '\n');
    process.exit(70);
  },
);
