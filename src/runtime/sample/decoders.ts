// Next-token logits on a WebGPU device, two ways: the KV-cache decoder (one position per step:
// the cost of a token is one position, whatever the context), and the full forward pass over the
// context (padded to the model's length, which a causal model ignores; at the context's length
// for a model that is not causal), to check the first.
//
// The KV-cache decoder also generates on its own: it records chains of decoding steps into one
// submit, each step's token chosen on the GPU (gpu-chooser.ts) and fed to the next step there,
// and reads back only the chosen tokens, once per chain. The prompt (or a window that slid) is
// fed in the same submit, or, given a prefill pass (prefill.ts), filled by it first. The tokens
// are exactly those of choosing on the CPU (generate.ts's stepwise), Rng draws included.
import type { Graph } from '../../ir/index.js';
import type { Rng } from '../../data/index.js';
import type { ArchDevice } from '../device.js';
import { compileGraph, type CompiledGraph } from '../executor.js';
import { isGreedy, type ChooseOptions } from './choose.js';
import { stepwise, slide, type LogitsSource, type OnToken, type Window } from './generate.js';
import { GpuChooser } from './gpu-chooser.js';
import { prefiller } from './prefill.js';

export interface DecoderSpec {
  input: string; // the token input
  batchSymbol: string;
  lengthSymbol: string;
  vocab: number;
  maxContext: number;
  params: Record<string, Float32Array>;
}

export interface CachedDecoderOptions {
  /** Tokens chosen per submit (default 16): more is fewer round trips, fewer is finer streaming. */
  chain?: number;
  /** The forward pass with the cached values as outputs (lower's `prefill`): a run of more than
   *  `prefillMin` tokens from position 0 (a prompt, a window that restarts) fills the cache in one
   *  pass instead of a step a token. */
  prefill?: Graph;
  /** Default PREFILL_MIN. */
  prefillMin?: number;
}

/** Runs of at most this many tokens are fed a step a token: a few steps cost less than a pass and
 *  its first compile (a guess where the pass is used, on a GPU: unmeasured). */
export const PREFILL_MIN = 8;

export type CachedDecoder = Required<Pick<LogitsSource, 'next' | 'generate'>> & { destroy(): void; compiled: CompiledGraph };

/** With a KV cache: feeds only what is new since the last call, and restarts when the context slides. */
export async function cachedDecoder(dev: ArchDevice, graph: Graph, positionInput: string, cacheNames: string[], s: DecoderSpec, opts: CachedDecoderOptions = {}): Promise<CachedDecoder> {
  const device = dev.device;
  const compiled = await compileGraph(dev, graph, { [s.batchSymbol]: 1, [s.lengthSymbol]: 1, seed: 0 }, { state: Object.fromEntries(cacheNames.map((c) => [c, c])) });
  compiled.setParams(s.params);
  const chain = Math.max(1, opts.chain ?? 16);
  const tokenBuffer = compiled.inputBuffer(s.input);
  const positionBuffer = compiled.inputBuffer(positionInput);
  const chooser = new GpuChooser(device, { logits: compiled.outputBuffer('logits'), token: tokenBuffer, position: positionBuffer }, s.vocab, chain);
  // (token, position) pairs that a chain copies into the inputs, one pair per fed step.
  const feedBuffer = device.createBuffer({ size: Math.max(16, s.maxContext * 8), usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label: 'decoder: fed tokens' });

  const prefill = opts.prefill && prefiller(dev, opts.prefill, compiled, cacheNames, s);

  let fed: number[] = []; // the tokens whose keys and values are in the cache, at positions 0..
  /** Brings the cache to a prefix of `context` that leaves at least one token to feed (the last,
   *  whose logits choose the next). */
  const toFeed = async (context: number[]): Promise<number[]> => {
    const prefix = fed.length < context.length && fed.every((t, i) => context[i] === t);
    if (!prefix) {
      compiled.resetState();
      fed = [];
    }
    const rest = context.slice(fed.length);
    if (!prefill || fed.length > 0 || rest.length <= (opts.prefillMin ?? PREFILL_MIN)) return rest;
    const head = rest.slice(0, -1);
    if (!(await prefill.fill(head))) return rest;
    fed = head;
    return rest.slice(-1);
  };

  const step = async (token: number, position: number) => {
    const out = await compiled.run({ inputs: { [s.input]: Int32Array.of(token), [positionInput]: Float32Array.of(position) } }, ['logits']);
    return out.logits as Float32Array;
  };

  /** One submit: feed `feeds`, then choose `steps` tokens, each but the last fed back on the GPU. */
  const runChain = async (feeds: number[], steps: number, o: ChooseOptions, rng: Rng): Promise<number[]> => {
    chooser.begin(o, isGreedy(o) ? [] : Array.from({ length: steps }, () => rng.float()));
    const pairs = new ArrayBuffer(feeds.length * 8);
    const ids = new Int32Array(pairs);
    const positions = new Float32Array(pairs);
    feeds.forEach((t, j) => {
      ids[2 * j] = t;
      positions[2 * j + 1] = fed.length + j;
    });
    device.queue.writeBuffer(feedBuffer, 0, pairs);
    const encoder = device.createCommandEncoder();
    feeds.forEach((_, j) => {
      encoder.copyBufferToBuffer(feedBuffer, 8 * j, tokenBuffer, 0, 4);
      encoder.copyBufferToBuffer(feedBuffer, 8 * j + 4, positionBuffer, 0, 4);
      compiled.encode(encoder);
    });
    chooser.encode(encoder);
    for (let k = 1; k < steps; k++) {
      compiled.encode(encoder);
      chooser.encode(encoder);
    }
    chooser.encodeReadback(encoder, steps);
    device.queue.submit([encoder.finish()]);
    const tokens = await chooser.read(steps);
    fed.push(...feeds, ...tokens.slice(0, -1));
    return tokens;
  };

  const decoder: CachedDecoder = {
    compiled,
    async next(context) {
      let last: Float32Array | undefined;
      for (const t of await toFeed(context)) {
        last = await step(t, fed.length);
        fed.push(t);
      }
      return last!;
    },
    async generate(prompt, count, o, rng, onToken: OnToken, maxContext, windowOf: Window = slide) {
      if (!GpuChooser.supports(o, s.vocab)) return stepwise(decoder, prompt, count, o, rng, onToken, maxContext, windowOf);
      const context = [...prompt];
      const out: number[] = [];
      while (out.length < count) {
        const window = windowOf(context, maxContext);
        const feeds = await toFeed(window);
        // A chosen token is fed back while its position is inside the context.
        const steps = Math.min(count - out.length, chain, 1 + maxContext - window.length);
        for (const t of await runChain(feeds, steps, o, rng)) {
          context.push(t);
          out.push(t);
          onToken(t);
        }
      }
      return out;
    },
    destroy: () => {
      prefill?.destroy();
      chooser.destroy();
      feedBuffer.destroy();
      compiled.destroy();
    },
  };
  return decoder;
}

/** Without a cache: the whole context every step, at the model's full length (padding that a
 *  causal model ignores) or, with `exactLength` (a model whose positions see later ones, which
 *  padding would change), at the context's own length, compiled anew when that length changes. */
export async function fullDecoder(dev: ArchDevice, graph: Graph, s: DecoderSpec, opts: { exactLength?: boolean } = {}): Promise<LogitsSource & { destroy(): void }> {
  const compileAt = async (length: number) => {
    const c = await compileGraph(dev, graph, { [s.batchSymbol]: 1, [s.lengthSymbol]: length, seed: 0 });
    c.setParams(s.params);
    return c;
  };
  let length = opts.exactLength ? 1 : s.maxContext;
  let compiled = await compileAt(length);
  return {
    async next(context) {
      if (opts.exactLength && context.length !== length) {
        compiled.destroy();
        length = context.length;
        compiled = await compileAt(length);
      }
      const tokens = new Int32Array(length);
      tokens.set(context);
      const logits = (await compiled.run({ inputs: { [s.input]: tokens } }, ['logits'])).logits as Float32Array;
      return logits.slice((context.length - 1) * s.vocab, context.length * s.vocab);
    },
    destroy: () => compiled.destroy(),
  };
}

/**
 * The KV cache while the context fits the model, the full pass once it has slid. Past the context
 * every token sees a new window (learned positions shift with it), so a cache would be filled
 * anew for each token, one position at a time: `maxContext` cached steps where one pass over the
 * window does the same computation. The tokens are those of either decoder alone.
 */
export function windowedDecoder(cached: CachedDecoder, full: () => Promise<LogitsSource & { destroy(): void }>): LogitsSource & { destroy(): void } {
  let fullPass: (LogitsSource & { destroy(): void }) | undefined;
  return {
    next: (context) => cached.next(context),
    async generate(prompt, count, o, rng, onToken, maxContext, window = slide) {
      // a window that restarts keeps the cache useful past the context
      if (window !== slide) return cached.generate(prompt, count, o, rng, onToken, maxContext, window);
      // tokens whose window extends the first one (a prompt longer than the context: only the first)
      const fits = prompt.length >= maxContext ? 1 : maxContext - prompt.length + 1;
      const first = await cached.generate(prompt, Math.min(count, fits), o, rng, onToken, maxContext);
      if (first.length === count) return first;
      fullPass ??= await full();
      return [...first, ...(await stepwise(fullPass, [...prompt, ...first], count - first.length, o, rng, onToken, maxContext))];
    },
    destroy: () => {
      fullPass?.destroy();
      cached.destroy();
    },
  };
}
