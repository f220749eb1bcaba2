// `arch fmt`: the canonical layout of .arch files (src/service/format.ts). Prints the formatted
// text, or with --check lists the files that would change, or with --write rewrites them in place
// (a temporary file renamed over the old one: never half-written). A file that does not parse is
// refused with its diagnostics and left as it is.
import { chmodSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { renderDiagnostics } from '../../compiler/diagnostics.js';
import { format } from '../../service/format.js';
import { UsageError, type CommandSpec } from '../args.js';
import { readModelFile, useColor } from '../load.js';

export const fmtCommand: CommandSpec = {
  name: 'fmt',
  summary: 'format .arch files in the canonical layout (print, --check or --write)',
  usage: 'arch fmt FILE... [--check | --write]',
  options: { check: { type: 'boolean' }, write: { type: 'boolean' } },
  help: [
    ['--check', 'change nothing; list the files that are not formatted and exit 1 if there are any'],
    ['--write', 'rewrite the files that are not formatted, in place'],
  ],
  examples: ['arch fmt models/gpt2.arch', 'arch fmt --check models/*.arch', 'arch fmt --write models/*.arch'],
  async run(args) {
    const files = args.positionals;
    if (!files.length) throw new UsageError(`missing the files to format\nusage: ${fmtCommand.usage}`);
    const check = Boolean(args.values.check);
    const write = Boolean(args.values.write);
    if (check && write) throw new UsageError('--check and --write exclude each other: --check changes nothing');
    let failed = false;
    let unformatted = 0;
    for (const file of files) {
      const text = readModelFile(file);
      const r = format(file, text);
      if (!r.ok) {
        process.stderr.write(`${renderDiagnostics(r.diagnostics, { sources: new Map([[file, text]]), color: useColor() })}\narch fmt: ${file} does not parse, so it was not formatted\n`);
        failed = true;
        continue;
      }
      if (check) {
        if (r.text !== text) {
          unformatted++;
          process.stdout.write(`${file}\n`);
        }
      } else if (write) {
        if (r.text !== text) {
          replaceFile(file, r.text);
          process.stderr.write(`formatted ${file}\n`);
        }
      } else process.stdout.write(r.text);
    }
    if (check && unformatted) process.stderr.write(`arch fmt: ${unformatted} file${unformatted === 1 ? ' is' : 's are'} not formatted; run \`arch fmt --write\` on ${unformatted === 1 ? 'it' : 'them'}\n`);
    return failed || unformatted ? 1 : 0;
  },
};

/** Writes next to the file, then renames over it: a reader sees the old text or the new one. */
function replaceFile(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.fmt-tmp`);
  try {
    writeFileSync(tmp, text, { flag: 'wx' });
    chmodSync(tmp, statSync(file).mode & 0o7777);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new UsageError(`can't write ${file}: ${(e as Error).message}`);
  }
}
