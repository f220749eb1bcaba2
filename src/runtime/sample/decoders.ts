// Next-token logits on a WebGPU device, two ways: the KV-cache decoder (one position per step:
// the cost of a token is one position, whatever the context), and the full forward pass over the
// context (padded to the model's length, which a causal model ignores), to check the first.
import type { Graph } from '../../ir/index.js';
import type { ArchDevice } from '../device.js';
import { compileGraph, type CompiledGraph } from '../executor.js';
import type { LogitsSource } from './generate.js';

export interface DecoderSpec {
  input: string; // the token input
  batchSymbol: string;
  lengthSymbol: string;
  vocab: number;
  maxContext: number;
  params: Record<string, Float32Array>;
}

/** With a KV cache: feeds only what is new since the last call, and restarts when the context slides. */
export async function cachedDecoder(dev: ArchDevice, graph: Graph, positionInput: string, cacheNames: string[], s: DecoderSpec): Promise<LogitsSource & { destroy(): void; compiled: CompiledGraph }> {
  const compiled = await compileGraph(dev, graph, { [s.batchSymbol]: 1, [s.lengthSymbol]: 1, seed: 0 }, { state: Object.fromEntries(cacheNames.map((c) => [c, c])) });
  compiled.setParams(s.params);
  let fed: number[] = []; // the tokens whose keys and values are in the cache, at positions 0..
  let last: Float32Array | undefined;
  const step = async (token: number, position: number) => {
    const out = await compiled.run({ inputs: { [s.input]: Int32Array.of(token), [positionInput]: Float32Array.of(position) } }, ['logits']);
    return out.logits as Float32Array;
  };
  return {
    compiled,
    async next(context) {
      // The cache holds a prefix of the context at the same positions, or it starts again
      // (a new prompt, or a context that slid past the model's length).
      const prefix = fed.length <= context.length && fed.every((t, i) => context[i] === t);
      if (!prefix || fed.length === context.length) {
        compiled.resetState();
        fed = [];
      }
      for (let p = fed.length; p < context.length; p++) {
        last = await step(context[p]!, p);
        fed.push(context[p]!);
      }
      return last!;
    },
    destroy: () => compiled.destroy(),
  };
}

/** Without a cache: the whole context every step, at the model's full length. */
export async function fullDecoder(dev: ArchDevice, graph: Graph, s: DecoderSpec): Promise<LogitsSource & { destroy(): void }> {
  const compiled = await compileGraph(dev, graph, { [s.batchSymbol]: 1, [s.lengthSymbol]: s.maxContext, seed: 0 });
  compiled.setParams(s.params);
  const tokens = new Int32Array(s.maxContext);
  return {
    async next(context) {
      tokens.fill(0);
      tokens.set(context);
      const logits = (await compiled.run({ inputs: { [s.input]: tokens } }, ['logits'])).logits as Float32Array;
      return logits.slice((context.length - 1) * s.vocab, context.length * s.vocab);
    },
    destroy: () => compiled.destroy(),
  };
}
