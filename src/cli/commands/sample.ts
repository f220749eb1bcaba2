// `arch sample`: flags in, text streamed out. Preparing the model, the logits source and the
// graded task examples are the session's (src/session/sample.ts).
import { cliEnv } from '../load.js';
import { SET_HELP, UsageError, oneFile, type CommandSpec, type ParsedArgs } from '../args.js';
import { FLAG_MAX, numberFlag, RULES, tokenIdsFlag } from '../options.js';
import { BACKEND_HELP, KERNELS_HELP, parseBackend, parseKernels } from '../device.js';
import { Rng } from '../../data/index.js';
import { generate, WINDOWS, type WindowName } from '../../runtime/sample/generate.js';
import { checkCache, gradeTask, logitsSource, prepareSampling, promptIds, type PreparedSampling } from '../../session/sample.js';

export const sampleCommand: CommandSpec = {
  name: 'sample',
  summary: 'generate text from a trained model, streaming it as it comes',
  usage: 'arch sample FILE --weights W [--prompt TEXT | --prompt-tokens 1,2,3] [--tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--greedy] [--window slide|refill] [--json] [--no-cache | --check-cache]',
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
    window: { type: 'string' },
    json: { type: 'boolean' },
    'no-cache': { type: 'boolean' },
    'check-cache': { type: 'boolean' },
    examples: { type: 'string' },
    backend: { type: 'string' },
    kernels: { type: 'string' },
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
    ['--window slide|refill', 'past the model\'s context: slide (default) gives every token the last L tokens (exact, one full pass a token); refill restarts the window with its last half and keeps the KV cache (a token sees L/2 to L tokens; faster)'],
    ['--json', 'print {"tokens": [...], "text": "...", "tokens_per_s": ...} at the end instead of streaming'],
    ['--no-cache', 'recompute the whole context for every token instead of using the KV cache'],
    ['--check-cache', 'generate --tokens N with the KV cache and without it, and report whether the tokens are identical (or the first position where they differ) and both speeds'],
    ['--examples N', 'for a model trained on a task, with no prompt: how many fresh examples to answer (greedily, unless --temperature/--top-k/--top-p) and grade (default 5)'],
    BACKEND_HELP,
    KERNELS_HELP,
    SET_HELP,
  ],
  examples: ['arch sample models/gpt-nano.arch --weights runs/gpt_nano/checkpoint.safetensors --prompt "ROMEO:" --tokens 300'],
  run: runSample,
};

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
    window: windowFlag(args),
  };
}

function windowFlag(args: ParsedArgs): WindowName {
  const w = String(args.values.window ?? 'slide');
  if (!Object.hasOwn(WINDOWS, w)) throw new UsageError(`--window ${w}: expected ${Object.keys(WINDOWS).join(' or ')}`);
  return w as WindowName;
}
type SampleFlags = ReturnType<typeof sampleFlags>;

/** The model and checkpoint named on the command line, ready to sample. */
function prepare(args: ParsedArgs): PreparedSampling {
  const file = oneFile(args, sampleCommand);
  if (!args.values.weights) throw new UsageError('--weights is required: a checkpoint from arch train, or a safetensors weights file');
  return prepareSampling(cliEnv, file, String(args.values.weights), args.sets);
}

/** The logits source the flags ask for; its note (sampling without the cache, and why) to stderr. */
async function sourceFor(args: ParsedArgs, p: PreparedSampling) {
  const source = await logitsSource(cliEnv, p, { backend: parseBackend(args.values.backend), kernels: parseKernels(args.values.kernels), noCache: Boolean(args.values['no-cache']) });
  if (source.note) process.stderr.write(source.note + '\n');
  return source;
}

async function runSample(args: ParsedArgs): Promise<number> {
  const f = sampleFlags(args);
  if (args.values['check-cache'] && args.values['no-cache']) throw new UsageError('--check-cache runs with the cache and without it; drop --no-cache');
  const p = prepare(args);
  const { tokenizer } = p;
  if (args.values['check-cache']) return runCheckCache(args, p, f);
  if (p.taskSpec && args.values.prompt === undefined && args.values['prompt-tokens'] === undefined) return runGradeTask(args, p, f);
  const prompt = promptIds(cliEnv, p, {
    promptTokens: args.values['prompt-tokens'] !== undefined ? f.promptTokens! : undefined,
    prompt: args.values.prompt !== undefined ? String(args.values.prompt) : undefined,
    weights: String(args.values.weights),
  });
  const o = f.choose;
  const count = f.count;
  const rng = new Rng(f.seed);
  const json = Boolean(args.values.json);
  const decode = (ids: number[]) => (tokenizer ? tokenizer.decode(ids) : ids.join(' ') + ' ');
  const { src, close } = await sourceFor(args, p);
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
    }, p.L, WINDOWS[f.window]);
    // the time includes the prompt and, in a fresh process, the driver compiling shaders at first use
    const elapsed = (performance.now() - started) / 1000;
    const rate = out.length / Math.max(elapsed, 1e-9);
    if (json) process.stdout.write(JSON.stringify({ prompt_tokens: prompt, tokens: out, text: decode(out), elapsed_s: elapsed, tokens_per_s: rate, window: f.window }) + '\n');
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
async function runGradeTask(args: ParsedArgs, p: PreparedSampling, f: SampleFlags): Promise<number> {
  // A task's question has one right answer: grade the model's most likely one unless asked to sample.
  const sampling = ['temperature', 'top-k', 'top-p'].some((k) => args.values[k] !== undefined);
  const choose = sampling ? f.choose : { temperature: 0, topK: 0, topP: 1 };
  const { src, close } = await sourceFor(args, p);
  let r: Awaited<ReturnType<typeof gradeTask>>;
  try {
    r = await gradeTask(src, p, { examples: f.examples, seed: f.seed, choose }, (e) => {
      if (!args.values.json) process.stdout.write(`${e.prompt}${e.completion}  ${e.correct ? '\u2713' : `\u2717 (expected ${e.expected})`}\n`);
    });
  } finally {
    close();
  }
  if (args.values.json) process.stdout.write(JSON.stringify({ task: r.task, accuracy: r.accuracy, examples: r.examples }) + '\n');
  else process.stdout.write(`${r.task}: ${r.examples.filter((e) => e.correct).length}/${r.examples.length} correct\n`);
  return 0;
}

/** --check-cache: the same generation with and without the KV cache, compared. */
async function runCheckCache(args: ParsedArgs, p: PreparedSampling, f: SampleFlags): Promise<number> {
  const given = args.values.prompt !== undefined || args.values['prompt-tokens'] !== undefined;
  // No prompt for a task model (or one without a tokenizer): token 0, which every vocabulary has.
  const prompt = !given && (p.taskSpec || !p.tokenizer) ? [0] : promptIds(cliEnv, p, {
    promptTokens: args.values['prompt-tokens'] !== undefined ? f.promptTokens! : undefined,
    prompt: args.values.prompt !== undefined ? String(args.values.prompt) : undefined,
    weights: String(args.values.weights),
  });
  const r = await checkCache(cliEnv, p, { backend: parseBackend(args.values.backend), kernels: parseKernels(args.values.kernels), prompt, count: f.count, choose: f.choose, seed: f.seed, window: WINDOWS[f.window] });
  if (args.values.json) {
    process.stdout.write(JSON.stringify({ prompt_tokens: prompt, ...r }) + '\n');
    return 0;
  }
  const n = r.cached.tokens.length;
  if (r.identical) process.stdout.write(`identical: the ${n} tokens generated with the KV cache are those of the full forward pass\n`);
  else {
    const i = r.first_difference!;
    process.stdout.write(`different: the tokens first differ at generated position ${i} (prompt position ${prompt.length + i}): ${r.cached.tokens[i] ?? 'none'} with the cache, ${r.full.tokens[i] ?? 'none'} without\n`);
  }
  if (r.cache_unsafe) process.stdout.write(`  why: ${r.cache_unsafe}; arch sample uses the full forward pass for this model\n`);
  const rate = (x: number) => `${x.toFixed(0)} tokens/s`;
  process.stdout.write(`  speed: ${rate(r.cached.tokens_per_s)} with the cache, ${rate(r.full.tokens_per_s)} without (first-use shader compiles included)\n`);
  return 0;
}
