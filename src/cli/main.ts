// The `arch` command: dispatches to one module per subcommand and turns every expected failure
// into a message and an exit code (1 bad model, 2 bad invocation, 3 no adapter), never a stack trace.
import { helpText, parseCommand, UsageError, type CommandSpec } from './args.js';
import { ModelError } from './load.js';
import { checkCommand } from './commands/check.js';
import { inspectCommand } from './commands/inspect.js';
import { compileCommand } from './commands/compile.js';
import { evalCommand } from './commands/eval.js';
import { CheckpointError } from '../runtime/safetensors.js';
import { DataError } from '../data/index.js';
import { NoAdapterError } from '../host/node/device.js';
import { PlanLimitError } from '../runtime/executor.js';
import { FeedError } from '../runtime/train/feeds.js';
import { trainCommand } from './commands/train.js';
import { sampleCommand } from './commands/sample.js';
import { ablateCommand } from './commands/ablate.js';
import { attentionCommand } from './commands/attention.js';
import { infoCommand } from './commands/info.js';
import { profileCommand } from './commands/profile.js';
import { exportCommand } from './commands/export.js';
import { lspCommand } from './commands/lsp.js';
import { fmtCommand } from './commands/fmt.js';
import { playgroundCommand } from './commands/playground.js';

const COMMANDS: CommandSpec[] = [checkCommand, inspectCommand, compileCommand, evalCommand, trainCommand, sampleCommand, ablateCommand, attentionCommand, profileCommand, infoCommand, playgroundCommand, exportCommand, fmtCommand, lspCommand];

export function topHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'arch: a language and compiler for neural-network architectures',
    '',
    'usage: arch COMMAND [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'Run `arch COMMAND --help` for a command\'s options.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(topHelp() + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version') {
    process.stdout.write('arch 0.1.0\n');
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`arch: unknown command \`${name}\`\n\n${topHelp()}\n`);
    return 2;
  }
  try {
    const args = parseCommand(cmd, rest);
    if (args.values.help) {
      process.stdout.write(helpText(cmd) + '\n');
      return 0;
    }
    return await cmd.run(args);
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.message) process.stderr.write(`arch ${cmd.name}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ModelError) {
      if (e.message) process.stderr.write(`arch ${cmd.name}: ${e.message}\n`);
      return 1;
    }
    const handled = handledError(e);
    if (handled) {
      process.stderr.write(`arch ${cmd.name}: ${handled.message}\n`);
      return handled.code;
    }
    throw e;
  }
}

/** Errors from lower layers that carry their own clear message (set up as those layers land). */
const HANDLED: { match: (e: unknown) => boolean; code: number }[] = [
  { match: (e) => e instanceof CheckpointError, code: 1 },
  { match: (e) => e instanceof DataError || e instanceof FeedError, code: 2 },
  { match: (e) => e instanceof NoAdapterError, code: 3 },
  { match: (e) => e instanceof PlanLimitError, code: 2 },
];

export function registerHandledError(match: (e: unknown) => boolean, code: number): void {
  HANDLED.push({ match, code });
}

function handledError(e: unknown): { message: string; code: number } | null {
  for (const h of HANDLED) if (h.match(e)) return { message: (e as Error).message, code: h.code };
  return null;
}
