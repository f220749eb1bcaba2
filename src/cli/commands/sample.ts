import { cliEnv } from '../load.js';
import { SET_HELP, UsageError, oneFile, type CommandSpec, type ParsedArgs } from '../args.js';
import { checkpointTokenizer, modelWithCheckpoint } from '../../session/checkpoint-model.js';
import { FLAG_MAX, numberFlag, RULES, tokenIdsFlag } from '../options.js';
import { buildGraph, tokenInput } from '../../session/pipeline.js';
import { checkModelFits, PARAM_COPIES } from '../../session/fits.js';
import { interpret, prune } from '../../ir/index.js';
import { lower, CACHE_PREFIX, POSITION_INPUT } from '../../compiler/lower.js';
import { cachedDecoder, fullDecoder } from '../../runtime/sample/decoders.js';
import { BACKEND_HELP, deviceFor, parseBackend } from '../device.js';
import { Rng, taskFromSpec, isTaskSpec, type Tokenizer } from '../../data/index.js';
import { generate, type LogitsSource } from '../../runtime/sample/generate.js';
import type { Graph } from '../../ir/index.js';
import type { CheckedModel } from '../../compiler/graph.js';

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
    examples: { type: 'string' },
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
    ['--json', 'print {"tokens": [...], "text": "...", "tokens_per_s": ...} at the end instead of streaming'],
    ['--no-cache', 'recompute the whole context for every token instead of using the KV cache'],
    ['--examples N', 'for a model trained on a task, with no prompt: how many fresh examples to answer (greedily, unless --temperature/--top-k/--top-p) and grade (default 5)'],
    BACKEND_HELP,
    SET_HELP,
  ],
  examples: ['arch sample models/gpt-nano.arch --weights runs/gpt_nano/checkpoint.safetensors --prompt "ROMEO:" --tokens 300'],
  run: runSample,
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

interface Prepared {
  file: string;
  model: CheckedModel;
  built: ReturnType<typeof buildGraph>;
  t: ReturnType<typeof tokenInput>;
  weights: Map<string, Float32Array>;
  tokenizer?: Tokenizer;
  taskSpec?: string;
  L: number;
}

function prepare(args: ParsedArgs): Prepared {
  const file = oneFile(args, sampleCommand);
  if (!args.values.weights) throw new UsageError('--weights is required: a checkpoint from arch train, or a safetensors weights file');
  const { ckpt, model, built, fitted } = modelWithCheckpoint(cliEnv, file, String(args.values.weights), args.sets);
  if (!built.graph.outputs.has('logits')) throw new UsageError(`${file} has no logits_* tensor to sample from`);
  const t = tokenInput(built.lowered, file);
  checkModelFits(built, { batch: 1, paramCopies: PARAM_COPIES.inference, memoryBytes: cliEnv.host.memoryBytes() });
  const tokenizer = checkpointTokenizer(ckpt, t.classes);
  const taskSpec = ckpt.meta?.data && isTaskSpec(ckpt.meta.data) ? ckpt.meta.data : undefined;
  return { file, model, built, t, weights: fitted.weights, tokenizer, taskSpec, L: t.maxLength ?? 1 << 20 };
}

/** Where next-token logits come from: the interpreter, or WebGPU with (default) or without a KV cache. */
async function logitsSource(args: ParsedArgs, p: Prepared): Promise<{ src: LogitsSource; close: () => void }> {
  const backend = parseBackend(args.values.backend);
  const params = Object.fromEntries(p.weights);
  const { t } = p;
  if (backend === 'interpreter') return { src: interpreterSource(prune(p.built.graph, ['logits']), params, t.name, t.batchSymbol, t.lengthSymbol, t.classes), close: () => {} };
  // one position per dispatch chain: on a CPU adapter, no thread pool (see OpenDeviceOptions)
  const device = await deviceFor(backend, false, args.values['no-cache'] ? 'throughput' : 'latency');
  const spec = { input: t.name, batchSymbol: t.batchSymbol, lengthSymbol: t.lengthSymbol, vocab: t.classes, maxContext: p.L, params };
  let dec: LogitsSource & { destroy(): void };
  if (args.values['no-cache']) dec = await fullDecoder(device, prune(p.built.graph, ['logits']), spec);
  else {
    const lowered = lower(p.model, { decode: true });
    const caches = [...lowered.graph.outputs.keys()].filter((k) => k.startsWith(CACHE_PREFIX));
    dec = await cachedDecoder(device, prune(lowered.graph, ['logits', ...caches]), POSITION_INPUT, caches, spec);
  }
  return { src: dec, close: () => { dec.destroy(); device.destroy(); } };
}

/** Every numeric flag, checked before anything is loaded. */
function sampleFlags(args: ParsedArgs) {
  const greedy = Boolean(args.values.greedy);
  return {
    choose: {
      temperature: greedy ? 0 : numberFlag(args, 'temperature', 1, RULES.nonNegative),
      topK: numberFlag(args, 'top-k', 0, RULES.countOrZero(FLAG_MAX.dim)),
      topP: numberFlag(args, 'top-p', 1, RULES.fraction({ includeZero: false, includeOne: true })),
    },
    count: numberFlag(args, 'tokens', 200, RULES.countOrZero(FLAG_MAX.tokens)),
    examples: numberFlag(args, 'examples', 5, RULES.count(FLAG_MAX.tokens)),
    seed: numberFlag(args, 'seed', 1, RULES.seed),
    promptTokens: tokenIdsFlag(args, 'prompt-tokens'),
  };
}
type SampleFlags = ReturnType<typeof sampleFlags>;

async function runSample(args: ParsedArgs): Promise<number> {
  const f = sampleFlags(args);
  const p = prepare(args);
  const { t, tokenizer } = p;
  if (p.taskSpec && args.values.prompt === undefined && args.values['prompt-tokens'] === undefined) return gradeTask(args, p, f);
  let prompt: number[];
  if (args.values['prompt-tokens'] !== undefined) {
    prompt = f.promptTokens!;
    const bad = prompt.find((x) => !Number.isInteger(x) || x < 0 || x >= t.classes);
    if (bad !== undefined) throw new UsageError(`--prompt-tokens: ${bad} is not a token id of this model (0 .. ${t.classes - 1})`);
  } else {
    if (!tokenizer) throw new UsageError(`${args.values.weights} carries no tokenizer; give the prompt as ids with --prompt-tokens`);
    prompt = tokenizer.encode(args.values.prompt !== undefined ? String(args.values.prompt) : '\n');
  }
  if (prompt.length === 0) prompt = [0];
  if (prompt.length > p.L) {
    process.stderr.write(`warning: the prompt has ${prompt.length} tokens, more than the model's context of ${p.L}; keeping the last ${p.L}\n`);
    prompt = prompt.slice(prompt.length - p.L);
  }
  const o = f.choose;
  const count = f.count;
  const rng = new Rng(f.seed);
  const json = Boolean(args.values.json);
  const decode = (ids: number[]) => (tokenizer ? tokenizer.decode(ids) : ids.join(' ') + ' ');
  const { src, close } = await logitsSource(args, p);
  let printed = '';
  const generated: number[] = [];
  if (!json) process.stdout.write(decode(prompt));
  const started = performance.now();
  try {
    const out = await generate(src, prompt, count, o, rng, (tok) => {
      generated.push(tok);
      if (json) return;
      // Decode everything so far and print what is new: BPE tokens may join into one character.
      const text = decode(generated);
      if (text.startsWith(printed)) process.stdout.write(text.slice(printed.length));
      printed = text;
    }, p.L);
    // the time includes the prompt and, in a fresh process, the driver compiling shaders at first use
    const elapsed = (performance.now() - started) / 1000;
    const rate = out.length / Math.max(elapsed, 1e-9);
    if (json) process.stdout.write(JSON.stringify({ prompt_tokens: prompt, tokens: out, text: decode(out), elapsed_s: elapsed, tokens_per_s: rate }) + '\n');
    else {
      process.stdout.write('\n');
      if (process.stderr.isTTY) process.stderr.write(`${out.length} tokens in ${elapsed.toFixed(2)} s (${rate.toFixed(0)} tokens/s, prompt and first-use shader compiles included)\n`);
    }
  } finally {
    close();
  }
  return 0;
}

/** A model trained on a built-in task, sampled with no prompt: fresh examples, graded. */
async function gradeTask(args: ParsedArgs, p: Prepared, f: SampleFlags): Promise<number> {
  const task = taskFromSpec(p.taskSpec!.slice('task:'.length));
  const n = f.examples;
  const rng = new Rng(f.seed);
  // A task's question has one right answer: grade the model's most likely one unless asked to sample.
  const sampling = ['temperature', 'top-k', 'top-p'].some((k) => args.values[k] !== undefined);
  const o = sampling ? f.choose : { temperature: 0, topK: 0, topP: 1 };
  const length = Math.min(p.L, Math.max(task.contextLength, task.minContextLength));
  const { src, close } = await logitsSource(args, p);
  const results: { prompt: string; completion: string; expected: string; correct: boolean }[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const ex = task.example(rng, length);
      const out = await generate(src, ex.prompt, ex.answer.length, o, rng, () => {}, p.L);
      const r = { prompt: task.format(ex.prompt), completion: task.format(out), expected: task.format(ex.answer), correct: task.check(ex.prompt, out) };
      results.push(r);
      if (!args.values.json) process.stdout.write(`${r.prompt}${r.completion}  ${r.correct ? '\u2713' : `\u2717 (expected ${r.expected})`}\n`);
    }
  } finally {
    close();
  }
  const accuracy = results.filter((r) => r.correct).length / results.length;
  if (args.values.json) process.stdout.write(JSON.stringify({ task: task.name, accuracy, examples: results }) + '\n');
  else process.stdout.write(`${task.name}: ${results.filter((r) => r.correct).length}/${results.length} correct\n`);
  return 0;
}
