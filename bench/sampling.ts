// Sampling speed for `npm run bench`: tokens/s of KV-cache decoding (one position per token) on the
// speed configuration, through the runtime's decoder as `arch sample` uses it: chains of steps in
// one submit with the token chosen on the GPU. For comparison, the same decoder one token per
// submit with the logits read back and the token chosen on the CPU (`stepwise`). Each is timed
// over `repeats` whole generations from one token (after a warm-up) and the median is reported:
// a generation is ~0.2 s, short enough for the machine's hiccups to move one by +-30 %.
import { availableParallelism } from 'node:os';
import { loadModel } from '../src/session/model.js';
import { nodeEnv } from '../src/host/node/index.js';
import { tokenInput } from '../src/session/pipeline.js';
import { lower, CACHE_PREFIX, POSITION_INPUT } from '../src/compiler/lower.js';
import { initParams, prune } from '../src/ir/index.js';
import { Rng } from '../src/data/index.js';
import { cachedDecoder } from '../src/runtime/sample/decoders.js';
import { generate, stepwise } from '../src/runtime/sample/generate.js';
import type { ArchDevice } from '../src/runtime/device.js';
import { SPEED_CONFIG } from './training.js';

export type SamplingSpeed =
  | {
      status: 'measured';
      tokens: number;
      tokensPerS: number;
      msPerToken: number;
      /** Tokens per second of process CPU time / `threads` (the cores llvmpipe keeps busy: one
       *  with the 'latency' workload): what an idle machine would give. */
      cpuTokensPerS: number;
      /** The slowest and fastest of the repeats. */
      rangeTokensPerS: [number, number];
      repeats: number;
      /** One token per submit, chosen on the CPU: the decoder before chaining. */
      stepwiseTokensPerS: number;
      compileAndFirstMs: number;
      decoder: 'kv-cache';
      chain: number;
    }
  | { status: 'unavailable'; reason: string };

const GREEDY = { temperature: 0, topK: 0, topP: 1 };

export async function samplingSpeed(dev: ArchDevice, tokens: number, opts: { chain?: number; repeats?: number; threads?: number } = {}): Promise<SamplingSpeed> {
  const chain = opts.chain ?? 16;
  const repeats = opts.repeats ?? 5;
  const threads = opts.threads ?? availableParallelism();
  try {
    const { model } = loadModel(nodeEnv(), SPEED_CONFIG.file, new Map(Object.entries(SPEED_CONFIG.sets)), { quietWarnings: true });
    const lowered = lower(model, { decode: true });
    const t = tokenInput(lower(model), SPEED_CONFIG.file);
    const caches = [...lowered.graph.outputs.keys()].filter((k) => k.startsWith(CACHE_PREFIX));
    const params = Object.fromEntries(Object.entries(initParams(lowered.graph, {}, 1)).map(([k, v]) => [k, Float32Array.from(v)]));
    const maxContext = t.maxLength ?? SPEED_CONFIG.length;
    const t0 = performance.now();
    const dec = await cachedDecoder(dev, prune(lowered.graph, ['logits', ...caches]), POSITION_INPUT, caches, {
      input: t.name, batchSymbol: t.batchSymbol, lengthSymbol: t.lengthSymbol, vocab: t.classes, maxContext, params,
    }, { chain });
    try {
      // Stay inside the context: past it the window slides and the cache is rebuilt.
      const count = Math.min(tokens, maxContext - 1);
      const none = () => {};
      await generate(dec, [0], 2, GREEDY, new Rng(1), none, maxContext); // shaders compile here
      const compileAndFirstMs = performance.now() - t0;
      /** The median of `repeats` generations of `count` tokens from one (ms and CPU ms), and the range. */
      const timed = async (how: typeof generate) => {
        const runs: { ms: number; cpuMs: number }[] = [];
        for (let r = 0; r < repeats; r++) {
          const c0 = process.cpuUsage();
          const w0 = performance.now();
          await how(dec, [0], count, GREEDY, new Rng(1), none, maxContext);
          const cpu = process.cpuUsage(c0);
          runs.push({ ms: performance.now() - w0, cpuMs: (cpu.user + cpu.system) / 1000 / threads });
        }
        runs.sort((a, b) => a.ms - b.ms);
        return { ...runs[Math.floor(runs.length / 2)]!, fastest: runs[0]!.ms, slowest: runs.at(-1)!.ms };
      };
      await stepwise(dec, [0], 2, GREEDY, new Rng(1), none, maxContext);
      const step = await timed(stepwise);
      const chained = await timed(generate);
      const perS = (ms: number) => (1000 * count) / ms;
      return {
        status: 'measured',
        tokens: count,
        tokensPerS: perS(chained.ms),
        msPerToken: chained.ms / count,
        cpuTokensPerS: perS(chained.cpuMs),
        rangeTokensPerS: [perS(chained.slowest), perS(chained.fastest)],
        repeats,
        stepwiseTokensPerS: perS(step.ms),
        compileAndFirstMs,
        decoder: 'kv-cache',
        chain,
      };
    } finally {
      dec.destroy();
    }
  } catch (e) {
    return { status: 'unavailable', reason: (e as Error).message.split('\n')[0]! };
  }
}
