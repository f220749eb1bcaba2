// Sampling speed for `npm run bench`: tokens/s of KV-cache decoding (one position per token) on the
// speed configuration, through the runtime's decoder as `arch sample` uses it: chains of steps in
// one submit with the token chosen on the GPU. For comparison, the same decoder one token per
// submit with the logits read back and the token chosen on the CPU (`stepwise`).
import { availableParallelism } from 'node:os';
import { loadModel } from '../src/cli/load.js';
import { tokenInput } from '../src/cli/pipeline.js';
import { lower, CACHE_PREFIX, POSITION_INPUT } from '../src/compiler/lower.js';
import { initParams, prune } from '../src/ir/index.js';
import { Rng } from '../src/runtime/data/index.js';
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
      /** Tokens per second of process CPU time / cores: what an idle machine would give. */
      cpuTokensPerS: number;
      /** One token per submit, chosen on the CPU: the decoder before chaining. */
      stepwiseTokensPerS: number;
      compileAndFirstMs: number;
      decoder: 'kv-cache';
      chain: number;
    }
  | { status: 'unavailable'; reason: string };

const GREEDY = { temperature: 0, topK: 0, topP: 1 };

export async function samplingSpeed(dev: ArchDevice, tokens: number, chain = 16): Promise<SamplingSpeed> {
  try {
    const { model } = loadModel(SPEED_CONFIG.file, new Map(Object.entries(SPEED_CONFIG.sets)), { quietWarnings: true });
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
      const timed = async (how: typeof generate) => {
        const c0 = process.cpuUsage();
        const w0 = performance.now();
        await how(dec, [0], count, GREEDY, new Rng(1), none, maxContext);
        const cpu = process.cpuUsage(c0);
        return { ms: performance.now() - w0, cpuMs: (cpu.user + cpu.system) / 1000 / availableParallelism() };
      };
      await stepwise(dec, [0], 2, GREEDY, new Rng(1), none, maxContext);
      const step = await timed(stepwise);
      const chained = await timed(generate);
      return {
        status: 'measured',
        tokens: count,
        tokensPerS: (1000 * count) / chained.ms,
        msPerToken: chained.ms / count,
        cpuTokensPerS: (1000 * count) / chained.cpuMs,
        stepwiseTokensPerS: (1000 * count) / step.ms,
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
