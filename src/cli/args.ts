// Command-line parsing shared by every command: node's own parseArgs plus --set collection,
// help text, and the invocation error that exits with code 2.
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { UsageError } from '../session/errors.js';

export { UsageError };

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** One line per option, for --help. */
  help: [string, string][];
  examples?: string[];
  run(args: ParsedArgs): Promise<number>;
}

export interface ParsedArgs {
  positionals: string[];
  values: Record<string, string | boolean | string[] | undefined>;
  sets: Map<string, string>;
}

export const SET_HELP: [string, string] = ['--set NAME=VALUE', 'override a dim (--set D=64) or choose a variant (--set act=relu); repeatable'];

/** `--steps -1` as `--steps=-1`: parseArgs takes a value that starts with a dash for an option,
 *  and would say so instead of what the value may be (the option's own check then says that). */
function negativeValues(spec: CommandSpec, argv: string[]): string[] {
  const takesValue = (arg: string) => arg.startsWith('--') && spec.options[arg.slice(2)]?.type === 'string';
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (takesValue(arg) && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

export function parseCommand(spec: CommandSpec, argv: string[]): ParsedArgs {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: negativeValues(spec, argv), options: { ...spec.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = (e as Error).message.replace(/^Unknown option/, 'unknown option').replace(/\. To specify a positional.*$/s, '');
    throw new UsageError(`${msg}\nusage: ${spec.usage}\nrun \`arch ${spec.name} --help\` for the options`);
  }
  const sets = new Map<string, string>();
  const raw = (parsed.values as Record<string, unknown>).set as string | string[] | undefined;
  for (const s of Array.isArray(raw) ? raw : raw ? [raw] : []) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(String(s));
    if (!m) throw new UsageError(`--set ${s}: expected NAME=VALUE, e.g. --set D=64 or --set act=relu`);
    sets.set(m[1]!, m[2]!);
  }
  return { positionals: parsed.positionals, values: parsed.values as ParsedArgs['values'], sets };
}

export function helpText(spec: CommandSpec): string {
  const w = Math.max(...spec.help.map(([k]) => k.length), 10);
  const lines = [`arch ${spec.name}: ${spec.summary}`, '', `usage: ${spec.usage}`, '', 'options:'];
  for (const [k, v] of [...spec.help, ['-h, --help', 'show this help'] as [string, string]]) lines.push(`  ${k.padEnd(w)}  ${v}`);
  if (spec.examples?.length) lines.push('', 'examples:', ...spec.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

export function oneFile(args: ParsedArgs, spec: CommandSpec): string {
  if (args.positionals.length !== 1)
    throw new UsageError(`${args.positionals.length ? 'expected one model file' : 'missing the model file'}\nusage: ${spec.usage}`);
  return args.positionals[0]!;
}

export { fmtInt } from '../report/numbers.js';

/** A numeric option: its value, the fallback when absent, or a usage error saying what it expects.
 *  Flags use numberFlag with one of the rules of options.ts, which bound every value; this stays
 *  for code written against it. */
export function numberOption(args: ParsedArgs, name: string, fallback: number, ok: (n: number) => boolean = Number.isFinite, what = 'a number'): number {
  const v = args.values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (String(v).trim() === '' || !Number.isFinite(n) || !ok(n)) throw new UsageError(`--${name} ${v}: expected ${what}`);
  return n;
}
