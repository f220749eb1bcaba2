// Sampling speed for `npm run bench`: tokens/s of KV-cache decoding (one position per token) on the
// speed configuration, through the runtime's decoder as `arch sample` uses it. The decoder is new
// (the lead's sampling work): when it is absent or fails, the slot says so instead of a figure.
import { loadModel } from '../src/cli/load.js';
import { tokenInput } from '../src/cli/pipeline.js';
import { lower, CACHE_PREFIX, POSITION_INPUT } from '../src/compiler/lower.js';
import { initParams, prune } from '../src/ir/index.js';
import { Rng } from '../src/runtime/data/index.js';
import { cachedDecoder } from '../src/runtime/sample/decoders.js';
import { generate } from '../src/runtime/sample/generate.js';
import type { ArchDevice } from '../src/runtime/device.js';
import { SPEED_CONFIG } from './training.js';

export type SamplingSpeed =
  | { status: 'measured'; tokens: number; tokensPerS: number; msPerToken: number; compileAndFirstMs: number; decoder: 'kv-cache' }
  | { status: 'unavailable'; reason: string };

export async function samplingSpeed(dev: ArchDevice, tokens: number): Promise<SamplingSpeed> {
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
    });
    try {
      const stamps: number[] = [];
      // Stay inside the context: past it the window slides and the cache is rebuilt.
      const count = Math.min(tokens, maxContext - 1);
      await generate(dec, [0], count, { temperature: 0, topK: 0, topP: 1 }, new Rng(1), () => stamps.push(performance.now()), maxContext);
      const ms = (stamps.at(-1)! - stamps[0]!) / (stamps.length - 1);
      return { status: 'measured', tokens: count, tokensPerS: 1000 / ms, msPerToken: ms, compileAndFirstMs: stamps[0]! - t0, decoder: 'kv-cache' };
    } finally {
      dec.destroy();
    }
  } catch (e) {
    return { status: 'unavailable', reason: (e as Error).message.split('\n')[0]! };
  }
}
