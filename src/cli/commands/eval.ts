import { cliEnv } from '../load.js';
import { oneFile, SET_HELP, UsageError, type CommandSpec } from '../args.js';
import { modelWithCheckpoint } from '../../session/checkpoint-model.js';
import { readRegularFile } from '../../host/node/files.js';
import { utf8Text } from '../../data/files.js';
import { tokenFeeds, tokenInput } from '../../session/pipeline.js';
import { checkModelFits, PARAM_COPIES } from '../../session/fits.js';
import { interpret, prune } from '../../ir/index.js';
import { compileGraph } from '../../runtime/executor.js';
import { BACKEND_HELP, KERNELS_HELP, deviceFor, parseBackend, parseKernels } from '../device.js';

/** Token rows as JSON take ~6 bytes a token: 64 MiB is ten million tokens, far more than one
 *  evaluation batch runs at once. */
const MAX_TOKENS_FILE = 64 * 2 ** 20;

/** Reads T.json as JSON, before any model or checkpoint is loaded: a bad file is reported first. */
export function readTokenFile(path: string): unknown {
  const hint = '\n  hint: the file holds an array of rows of token ids, e.g. [[1, 2, 3], [4, 5, 6]]';
  const text = utf8Text(readRegularFile(path, MAX_TOKENS_FILE, (p) => new UsageError(`--tokens ${path}: ${p.kind === 'missing' ? 'no such file' : `${p.text}`}${hint}`)));
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--tokens ${path}: not valid JSON (${(e as Error).message})${hint}`);
  }
  return raw;
}

/** Checks T.json's contents against the model: rows of token ids, each of length seq+1, all the same length. */
export function readTokenRows(path: string, raw: unknown, vocab: number, maxLength: number | undefined): number[][] {
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every((r) => Array.isArray(r)))
    throw new UsageError(`--tokens ${path}: expected a non-empty array of rows of token ids, e.g. [[1, 2, 3], [4, 5, 6]]`);
  const rows = raw as unknown[][];
  const len = rows[0]!.length;
  rows.forEach((r, i) => {
    if (r.length !== len) throw new UsageError(`--tokens ${path}: row ${i} has ${r.length} tokens, row 0 has ${len}; every row must have the same length`);
    r.forEach((t, j) => {
      if (!Number.isInteger(t) || (t as number) < 0 || (t as number) >= vocab)
        throw new UsageError(`--tokens ${path}: row ${i}, position ${j}: ${JSON.stringify(t)} is not a token id of this model (0 .. ${vocab - 1})`);
    });
  });
  if (len < 2) throw new UsageError(`--tokens ${path}: rows need at least 2 tokens (inputs are row[:-1], targets row[1:])`);
  if (maxLength !== undefined && len - 1 > maxLength)
    throw new UsageError(`--tokens ${path}: rows of ${len} tokens give ${len - 1} positions, more than the model's context of ${maxLength}`);
  return rows as number[][];
}

export const evalCommand: CommandSpec = {
  name: 'eval',
  summary: 'the mean next-token cross-entropy of a model on rows of tokens',
  usage: 'arch eval FILE --weights W.safetensors --tokens T.json [--set NAME=VALUE ...] [--backend interpreter|webgpu] [--kernels auto|gpu|cpu] [--json]',
  options: {
    set: { type: 'string', multiple: true },
    weights: { type: 'string' },
    tokens: { type: 'string' },
    backend: { type: 'string' },
    kernels: { type: 'string' },
    json: { type: 'boolean' },
  },
  help: [
    SET_HELP,
    ['--weights W', 'a safetensors checkpoint: arch\'s own (its --set values come with it), or GPT-2\'s (Hugging Face names)'],
    ['--tokens T', 'a JSON array of rows of token ids; each row is seq+1 long (inputs row[:-1], targets row[1:])'],
    BACKEND_HELP,
    KERNELS_HELP,
    ['--json', 'print {"loss": <number>}'],
  ],
  examples: ['arch eval models/gpt-nano.arch --weights runs/nano/checkpoint.safetensors --tokens rows.json'],
  async run(args) {
    const file = oneFile(args, evalCommand);
    if (!args.values.weights) throw new UsageError('--weights is required: a safetensors checkpoint');
    if (!args.values.tokens) throw new UsageError('--tokens is required: a JSON array of rows of token ids');
    const backend = parseBackend(args.values.backend);
    const kernels = parseKernels(args.values.kernels);
    const tokens = readTokenFile(String(args.values.tokens));
    // The checkpoint's --set values come with it, as in arch sample.
    const { built, fitted } = modelWithCheckpoint(cliEnv, file, String(args.values.weights), args.sets);
    const weights = fitted.weights;
    const t = tokenInput(built.lowered, file);
    const rows = readTokenRows(String(args.values.tokens), tokens, t.classes, t.maxLength);
    checkModelFits(built, { batch: rows.length, paramCopies: PARAM_COPIES.inference, memoryBytes: cliEnv.host.memoryBytes() });
    const feeds = tokenFeeds(built.lowered, file, rows);
    const graph = prune(built.graph, ['loss']);
    let loss: number;
    if (backend === 'interpreter') loss = interpret(graph, { inputs: feeds.inputs, params: Object.fromEntries(weights), symbols: feeds.symbols }).get('loss')!.data[0]!;
    else {
      const device = await deviceFor(backend, false, 'throughput', kernels);
      try {
        const compiled = await compileGraph(device, graph, feeds.symbols);
        compiled.setParams(Object.fromEntries(weights));
        loss = (await compiled.run({ inputs: feeds.inputs }, ['loss'])).loss![0]!;
        compiled.destroy();
      } finally {
        device.destroy();
      }
    }
    process.stdout.write(args.values.json ? JSON.stringify({ loss }) + '\n' : `loss ${loss.toFixed(4)} (${rows.length} rows x ${rows[0]!.length - 1} positions, ${backend})\n`);
    return 0;
  },
};
