// Sampling from a trained model, for any host: the model and checkpoint prepared, where the
// next-token logits come from (the interpreter, or WebGPU with or without a KV cache), the prompt
// as ids, and a task model's examples graded. Streaming the text is the host's (arch sample).
import type { CheckedModel } from '../compiler/graph.js';
import { lower, CACHE_PREFIX, POSITION_INPUT } from '../compiler/lower.js';
import { cacheUnsafeReason } from '../compiler/decode-keys.js';
import { Rng, taskFromSpec, isTaskSpec, type Tokenizer } from '../data/index.js';
import { interpret, prune, type Graph } from '../ir/index.js';
import type { ChooseOptions } from '../runtime/sample/choose.js';
import { chooseKernels, type ArchDevice, type KernelChoice } from '../runtime/device.js';
import { cachedDecoder, fullDecoder, windowedDecoder, type DecoderSpec } from '../runtime/sample/decoders.js';
import { generate, slide, type LogitsSource, type Window } from '../runtime/sample/generate.js';
import { checkpointTokenizer, modelWithCheckpoint } from './checkpoint-model.js';
import type { SessionEnv } from './env.js';
import { UsageError } from './errors.js';
import { checkModelFits, PARAM_COPIES } from './fits.js';
import { type buildGraph, tokenInput } from './pipeline.js';

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

export interface PreparedSampling {
  file: string;
  model: CheckedModel;
  built: ReturnType<typeof buildGraph>;
  t: ReturnType<typeof tokenInput>;
  weights: Map<string, Float32Array>;
  tokenizer?: Tokenizer;
  taskSpec?: string;
  L: number;
}

/** The model and checkpoint for sampling: compiled with the checkpoint's --set values, weights
 *  fitted, its tokenizer, and the task it was trained on (if any). */
export function prepareSampling(env: SessionEnv, file: string, weightsPath: string, sets: Map<string, string>): PreparedSampling {
  const { ckpt, model, built, fitted } = modelWithCheckpoint(env, file, weightsPath, sets);
  if (!built.graph.outputs.has('logits')) throw new UsageError(`${file} has no logits_* tensor to sample from`);
  const t = tokenInput(built.lowered, file);
  checkModelFits(built, { batch: 1, paramCopies: PARAM_COPIES.inference, memoryBytes: env.host.memoryBytes() });
  const tokenizer = checkpointTokenizer(ckpt, t.classes);
  const taskSpec = ckpt.meta?.data && isTaskSpec(ckpt.meta.data) ? ckpt.meta.data : undefined;
  return { file, model, built, t, weights: fitted.weights, tokenizer, taskSpec, L: t.maxLength ?? 1 << 20 };
}

export interface SourceOptions {
  backend: string;
  kernels?: KernelChoice;
  /** The full forward pass for every token instead of the KV cache. */
  noCache?: boolean;
  /** The KV cache even for a model it does not compute (to show the difference: --check-cache). */
  forceCache?: boolean;
}

/** Where next-token logits come from: the interpreter, or WebGPU with (default) or without a KV
 *  cache. A model whose positions see later ones samples without the cache, with a note why. */
export async function logitsSource(env: SessionEnv, p: PreparedSampling, o: SourceOptions): Promise<{ src: LogitsSource; close: () => void; note?: string }> {
  const backend = o.backend;
  const params = Object.fromEntries(p.weights);
  const { t } = p;
  if (backend === 'interpreter') return { src: interpreterSource(prune(p.built.graph, ['logits']), params, t.name, t.batchSymbol, t.lengthSymbol, t.classes), close: () => {} };
  const unsafe = cacheUnsafeReason(p.model);
  const noCache = fullPassOnly(p.model, o);
  const note = unsafe && noCache && !o.noCache ? `note: ${p.file}: ${unsafe}; sampling with the full forward pass over the context for every token instead (slower)` : undefined;
  // one position per dispatch chain: on a CPU adapter, no thread pool (see OpenDeviceOptions)
  const device = await env.host.openDevice({ backend: backend === 'webgpu' ? undefined : backend, workload: noCache ? 'throughput' : 'latency', kernels: o.kernels });
  const spec = { input: t.name, batchSymbol: t.batchSymbol, lengthSymbol: t.lengthSymbol, vocab: t.classes, maxContext: p.L, params };
  let dec: LogitsSource & { destroy(): void };
  try {
    dec = await webgpuDecoder(device, p.model, p.built.graph, spec, { noCache: o.noCache, forceCache: o.forceCache });
  } catch (e) {
    device.destroy();
    throw e;
  }
  return { src: dec, note, close: () => { dec.destroy(); device.destroy(); } };
}

type CacheChoice = Pick<SourceOptions, 'noCache' | 'forceCache'>;

/** Whether sampling runs the full pass for every token: asked for, or a model the cache does not
 *  compute (unless the cache is forced, to compare). */
function fullPassOnly(model: CheckedModel, o: CacheChoice): boolean {
  return Boolean(o.noCache) || (cacheUnsafeReason(model) !== undefined && !o.forceCache);
}

/**
 * Next-token logits on a WebGPU device, for every host (the CLI through logitsSource, the
 * playground): the KV-cache decoder, with the full pass once the window slides; the full pass
 * alone for a model whose positions see later ones (at the context's own length, which padding
 * would change) or when asked (`noCache`); the cache alone with `forceCache`, to compare.
 */
export async function webgpuDecoder(device: ArchDevice, model: CheckedModel, forward: Graph, spec: DecoderSpec, o: CacheChoice = {}): Promise<LogitsSource & { destroy(): void }> {
  const full = () => fullDecoder(device, prune(forward, ['logits']), spec, { exactLength: cacheUnsafeReason(model) !== undefined });
  if (fullPassOnly(model, o)) return full();
  const lowered = lower(model, { decode: true });
  const caches = [...lowered.graph.outputs.keys()].filter((k) => k.startsWith(CACHE_PREFIX));
  const cached = await cachedDecoder(device, prune(lowered.graph, ['logits', ...caches]), POSITION_INPUT, caches, spec, { prefill: prefillGraph(device, model, caches) });
  return o.forceCache ? cached : windowedDecoder(cached, full);
}

/** The pass that fills a cache for many positions at once, where the gpu kernels run: on a GPU a
 *  prompt or a restarting window then costs one pass (runtime/sample/prefill.ts). On llvmpipe the
 *  pass's first compile in a process and its own copy of the weights cost more than it saves in
 *  all but long runs (docs/benchmarks.md), so the cpu kernels feed a step a token. */
export function prefillGraph(device: ArchDevice, model: CheckedModel, caches: string[]): Graph | undefined {
  if (chooseKernels(device.kernels, device.info, device.device.limits) !== 'gpu') return undefined;
  return prune(lower(model, { prefill: true }).graph, caches);
}

export interface CacheCheck {
  identical: boolean;
  /** The first generated position (0-based) where the two differ; null when identical. */
  first_difference: number | null;
  cached: { tokens: number[]; tokens_per_s: number };
  full: { tokens: number[]; tokens_per_s: number };
  /** Why the KV cache does not compute this model, when it does not (then they may differ). */
  cache_unsafe?: string;
}

/** The same generation with the KV cache and with the full forward pass for every token: the
 *  tokens compared, and both speeds (each includes its first-use shader compiles). */
export async function checkCache(env: SessionEnv, p: PreparedSampling, o: { backend: string; kernels?: KernelChoice; prompt: number[]; count: number; choose: ChooseOptions; seed: number; window?: Window }): Promise<CacheCheck> {
  if (o.backend === 'interpreter') throw new UsageError('--check-cache compares the KV-cache decoder with the full forward pass on WebGPU; the interpreter has no cache (drop --backend interpreter)');
  const run = async (cache: boolean) => {
    const { src, close } = await logitsSource(env, p, { backend: o.backend, kernels: o.kernels, noCache: !cache, forceCache: cache });
    try {
      const started = performance.now();
      const tokens = await generate(src, o.prompt, o.count, o.choose, new Rng(o.seed), () => {}, p.L, o.window ?? slide);
      return { tokens, tokens_per_s: tokens.length / Math.max((performance.now() - started) / 1000, 1e-9) };
    } finally {
      close();
    }
  };
  const cached = await run(true);
  const full = await run(false);
  const at = cached.tokens.findIndex((tok, i) => full.tokens[i] !== tok);
  const first = at >= 0 ? at : cached.tokens.length !== full.tokens.length ? Math.min(cached.tokens.length, full.tokens.length) : -1;
  return { identical: first < 0, first_difference: first < 0 ? null : first, cached, full, cache_unsafe: cacheUnsafeReason(p.model) };
}

/** The prompt as token ids: given as ids (checked against the vocabulary) or as text for the
 *  checkpoint's tokenizer (default a newline); at least one token, at most the context (the last
 *  ones are kept, with a warning to env.log). */
export function promptIds(env: SessionEnv, p: PreparedSampling, o: { promptTokens?: number[]; prompt?: string; weights: string }): number[] {
  let prompt: number[];
  if (o.promptTokens !== undefined) {
    prompt = o.promptTokens;
    const bad = prompt.find((x) => !Number.isInteger(x) || x < 0 || x >= p.t.classes);
    if (bad !== undefined) throw new UsageError(`--prompt-tokens: ${bad} is not a token id of this model (0 .. ${p.t.classes - 1})`);
  } else {
    if (!p.tokenizer) throw new UsageError(`${o.weights} carries no tokenizer; give the prompt as ids with --prompt-tokens`);
    prompt = p.tokenizer.encode(o.prompt ?? '\n');
  }
  if (prompt.length === 0) prompt = [0];
  if (prompt.length > p.L) {
    env.log(`warning: the prompt has ${prompt.length} tokens, more than the model's context of ${p.L}; keeping the last ${p.L}\n`);
    prompt = prompt.slice(prompt.length - p.L);
  }
  return prompt;
}

export interface GradedExample {
  prompt: string;
  completion: string;
  expected: string;
  correct: boolean;
}

/** A model trained on a built-in task, answering `n` fresh examples of it; each is graded and
 *  passed to `onExample` as it comes. */
export async function gradeTask(
  src: LogitsSource,
  p: PreparedSampling,
  o: { examples: number; seed: number; choose: ChooseOptions },
  onExample: (r: GradedExample) => void = () => {},
): Promise<{ task: string; accuracy: number; examples: GradedExample[] }> {
  const task = taskFromSpec(p.taskSpec!.slice('task:'.length));
  const rng = new Rng(o.seed);
  const length = Math.min(p.L, Math.max(task.contextLength, task.minContextLength));
  const results: GradedExample[] = [];
  for (let i = 0; i < o.examples; i++) {
    const ex = task.example(rng, length);
    const out = await generate(src, ex.prompt, ex.answer.length, o.choose, rng, () => {}, p.L);
    const r = { prompt: task.format(ex.prompt), completion: task.format(out), expected: task.format(ex.answer), correct: task.check(ex.prompt, out) };
    results.push(r);
    onExample(r);
  }
  return { task: task.name, accuracy: results.filter((r) => r.correct).length / results.length, examples: results };
}
