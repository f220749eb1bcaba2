import { SET_HELP, UsageError, oneFile, type CommandSpec, type ParsedArgs } from '../args.js';
import { loadModel } from '../load.js';
import { buildGraph, tokenInput } from '../pipeline.js';
import { interpret, prune } from '../../ir/index.js';
import { lower, CACHE_PREFIX, POSITION_INPUT } from '../../compiler/lower.js';
import { cachedDecoder, fullDecoder } from '../../runtime/sample/decoders.js';
import { BACKEND_HELP, deviceFor, parseBackend } from '../device.js';
import type { ArchDevice } from '../../runtime/device.js';
import { Rng, tokenizerFromJSON, Gpt2Tokenizer, type Tokenizer } from '../../runtime/data/index.js';
import { loadCheckpoint } from '../../runtime/train/checkpoint.js';
import { matchParams, isGpt2Checkpoint, fromGpt2Names, paramShapes } from '../../runtime/weights.js';
import { generate, type LogitsSource } from '../../runtime/sample/generate.js';
import type { Graph } from '../../ir/index.js';

export const sampleCommand: CommandSpec = {
  name: 'sample',
  summary: 'generate text from a trained model, streaming it as it comes',
  usage: 'arch sample FILE --weights W [--prompt TEXT | --prompt-tokens 1,2,3] [--tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--greedy] [--json]',
  options: {
    set: { type: 'string', multiple: true },
    weights: { type: 'string' },
    prompt: { type: 'string' },
    'prompt-tokens': { type: 'string' },
    tokens: { type: 'string' },
    temperature: { type: 'string' },
    'top-k': { type: 'string' },
    'top-p': { type: 'string' },
    seed: { type: 'string' },
    greedy: { type: 'boolean' },
    json: { type: 'boolean' },
    'no-cache': { type: 'boolean' },
    backend: { type: 'string' },
  },
  help: [
    ['--weights W', 'a checkpoint from arch train (its tokenizer and --set values come with it), or a safetensors weights file'],
    ['--prompt TEXT', 'the text to continue (default: empty for tasks, a newline for text)'],
    ['--prompt-tokens 1,2,3', 'the prompt as token ids'],
    ['--tokens N', 'how many tokens to generate (default 200)'],
    ['--temperature T', 'softmax temperature (default 1; 0 is greedy)'],
    ['--top-k K', 'sample only from the K most likely tokens (0: all)'],
    ['--top-p P', 'sample only from the most likely tokens whose probabilities sum to P (1: all)'],
    ['--seed S', 'the sampling RNG seed (default 1)'],
    ['--greedy', 'always take the most likely token'],
    ['--json', 'print {"tokens": [...], "text": "..."} at the end instead of streaming'],
    ['--no-cache', 'recompute the whole context for every token instead of using the KV cache'],
    BACKEND_HELP,
    SET_HELP,
  ],
  examples: ['arch sample models/gpt-nano.arch --weights runs/gpt_nano/checkpoint.safetensors --prompt "ROMEO:" --tokens 300'],
  run: runSample,
};

const numArg = (args: ParsedArgs, name: string, fallback: number, ok: (n: number) => boolean, what: string): number => {
  const v = args.values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (String(v).trim() === '' || !ok(n)) throw new UsageError(`--${name} ${v}: expected ${what}`);
  return n;
};

/** Next-token logits from the forward graph on the interpreter: the whole context each time. */
function interpreterSource(graph: Graph, params: Record<string, Float32Array>, input: string, batchSym: string, lengthSym: string, vocab: number): LogitsSource {
  return {
    async next(context) {
      const out = interpret(graph, { inputs: { [input]: Int32Array.from(context) }, params, symbols: { [batchSym]: 1, [lengthSym]: context.length, seed: 0 } });
      const logits = out.get('logits')!.data;
      return Float32Array.from(logits.subarray((context.length - 1) * vocab, context.length * vocab));
    },
  };
}

async function runSample(args: ParsedArgs): Promise<number> {
  const file = oneFile(args, sampleCommand);
  if (!args.values.weights) throw new UsageError('--weights is required: a checkpoint from arch train, or a safetensors weights file');
  const ckpt = loadCheckpoint(String(args.values.weights));
  const sets = new Map([...Object.entries(ckpt.meta?.sets ?? {}), ...args.sets]);
  const { model } = loadModel(file, sets, { quietWarnings: true });
  const built = buildGraph(model);
  if (!built.graph.outputs.has('logits')) throw new UsageError(`${file} has no logits_* tensor to sample from`);
  const t = tokenInput(built.lowered, file);
  const shapes = paramShapes(built.graph);
  const raw = new Map([...ckpt.weights].map(([k, v]) => [k, { dtype: 'F32', shape: v.shape, data: v.data }]));
  const weights = matchParams(isGpt2Checkpoint(raw) ? fromGpt2Names(raw, shapes, String(args.values.weights)) : raw, shapes, String(args.values.weights), isGpt2Checkpoint(raw) ? 'GPT-2' : 'arch');
  const tokenizer: Tokenizer | undefined = ckpt.meta?.tokenizer ? tokenizerFromJSON(ckpt.meta.tokenizer) : t.classes === 50257 ? new Gpt2Tokenizer() : undefined;

  let prompt: number[];
  if (args.values['prompt-tokens'] !== undefined) {
    prompt = String(args.values['prompt-tokens']).split(',').filter((s) => s.trim()).map((s) => Number(s));
    const bad = prompt.find((x) => !Number.isInteger(x) || x < 0 || x >= t.classes);
    if (bad !== undefined) throw new UsageError(`--prompt-tokens: ${bad} is not a token id of this model (0 .. ${t.classes - 1})`);
  } else {
    if (!tokenizer) throw new UsageError(`${args.values.weights} carries no tokenizer; give the prompt as ids with --prompt-tokens`);
    const text = args.values.prompt !== undefined ? String(args.values.prompt) : tokenizer.kind === 'task' ? '' : '\n';
    prompt = tokenizer.encode(text);
  }
  if (prompt.length === 0) prompt = [0];
  const L = t.maxLength ?? prompt.length;
  if (prompt.length > L) {
    process.stderr.write(`warning: the prompt has ${prompt.length} tokens, more than the model's context of ${L}; keeping the last ${L}\n`);
    prompt = prompt.slice(prompt.length - L);
  }
  const greedy = Boolean(args.values.greedy);
  const o = {
    temperature: greedy ? 0 : numArg(args, 'temperature', 1, (n) => n >= 0, 'a number >= 0'),
    topK: numArg(args, 'top-k', 0, (n) => Number.isInteger(n) && n >= 0, 'a whole number >= 0'),
    topP: numArg(args, 'top-p', 1, (n) => n > 0 && n <= 1, 'a number in (0, 1]'),
  };
  const count = numArg(args, 'tokens', 200, (n) => Number.isInteger(n) && n >= 0, 'a whole number >= 0');
  const rng = new Rng(numArg(args, 'seed', 1, Number.isInteger, 'a whole number'));
  const json = Boolean(args.values.json);
  const decode = (ids: number[]) => (tokenizer ? tokenizer.decode(ids) : ids.join(' ') + ' ');
  const backend = parseBackend(args.values.backend);
  const params = Object.fromEntries(weights);
  let device: ArchDevice | undefined;
  let src: LogitsSource & { destroy?: () => void };
  if (backend === 'interpreter') src = interpreterSource(prune(built.graph, ['logits']), params, t.name, t.batchSymbol, t.lengthSymbol, t.classes);
  else {
    device = await deviceFor(backend);
    const spec = { input: t.name, batchSymbol: t.batchSymbol, lengthSymbol: t.lengthSymbol, vocab: t.classes, maxContext: L, params };
    if (args.values['no-cache']) src = await fullDecoder(device, prune(built.graph, ['logits']), spec);
    else {
      const dec = lower(model, { decode: true });
      const caches = [...dec.graph.outputs.keys()].filter((k) => k.startsWith(CACHE_PREFIX));
      src = await cachedDecoder(device, prune(dec.graph, ['logits', ...caches]), POSITION_INPUT, caches, spec);
    }
  }
  let printed = '';
  const generated: number[] = [];
  if (!json) process.stdout.write(decode(prompt));
  const out = await generate(src, prompt, count, o, rng, (tok) => {
    generated.push(tok);
    if (json) return;
    // Decode everything so far and print what is new: BPE tokens may join into one character.
    const text = decode(generated);
    if (text.startsWith(printed)) process.stdout.write(text.slice(printed.length));
    printed = text;
  }, L);
  src.destroy?.();
  device?.destroy();
  if (json) process.stdout.write(JSON.stringify({ prompt_tokens: prompt, tokens: out, text: decode(out) }) + '\n');
  else process.stdout.write('\n');
  return 0;
}
