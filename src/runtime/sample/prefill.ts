// Filling a KV cache for many positions in one pass. The decoder feeds one position a step; a
// prompt, or a window that restarts past the context (`--window refill`), would cost a step a
// token. The prefill graph is the forward pass with each value the cache holds as an output of
// the cache's own name (lower's `prefill`), compiled at the number of positions filled; its
// outputs are copied into the decoding graph's cache rows 0.. in the same submit.
import type { Graph } from '../../ir/index.js';
import type { ArchDevice } from '../device.js';
import { compileGraph, PlanLimitError, type CompiledGraph } from '../executor.js';

/** What a prefill needs of the decoder: its token input, the symbols, the parameters. */
export interface PrefillSpec {
  input: string;
  batchSymbol: string;
  lengthSymbol: string;
  params: Record<string, Float32Array>;
}

export interface Prefill {
  /** Writes the cached values of `tokens` (at positions 0..) into the decoder's caches; false
   *  (nothing written) where the pass does not fit beside the decoder (PlanLimitError): then the
   *  decoder feeds them a step a token, as without a prefill. */
  fill(tokens: number[]): Promise<boolean>;
  destroy(): void;
}

/** Lengths compiled at once: a prompt's, and a restarting window's (always the same). */
const KEPT = 2;

/** A byte range of one cache: `count` runs of `bytes`, `srcStride` apart in the pass's output and
 *  `dstStride` apart in the cache. */
type Rows = { count: number; bytes: number; srcStride: number; dstStride: number };

/** The pass at one length, and its copies into the decoder's caches (planned when it compiles). */
type AtLength = { c: CompiledGraph; copy: (encoder: GPUCommandEncoder) => void };

export function prefiller(dev: ArchDevice, graph: Graph, decoder: CompiledGraph, cacheNames: string[], s: PrefillSpec): Prefill {
  const compiled = new Map<number, AtLength>();
  let refused = false; // the pass did not fit beside the decoder once: not tried again (steps serve)
  // (the pass stops at the last cached value: the last block's queries, its MLP, the head are not in it)
  const params = Object.fromEntries(Object.entries(s.params).filter(([name]) => graph.params.has(name)));
  const at = async (length: number): Promise<AtLength> => {
    const found = compiled.get(length);
    if (found) return found;
    if (compiled.size >= KEPT) {
      const [oldest, old] = compiled.entries().next().value as [number, AtLength];
      old.c.destroy();
      compiled.delete(oldest);
    }
    // (its own copy of the weights it reads, beside the decoder's)
    const c = await compileGraph(dev, graph, { [s.batchSymbol]: 1, [s.lengthSymbol]: length, seed: 0 }, { reservedBytes: decoder.deviceBytes });
    c.setParams(params);
    const copies = cacheNames.map((name) => ({ from: c.outputBuffer(name), to: decoder.inputBuffer(name), rows: rowsOf(c, decoder, name) }));
    const copy = (encoder: GPUCommandEncoder) => {
      for (const { from, to, rows } of copies) {
        for (let i = 0; i < rows.count; i++) encoder.copyBufferToBuffer(from, i * rows.srcStride, to, i * rows.dstStride, rows.bytes);
      }
    };
    const entry = { c, copy };
    compiled.set(length, entry);
    return entry;
  };
  return {
    async fill(tokens) {
      if (refused) return false;
      let pass: AtLength;
      try {
        pass = await at(tokens.length);
      } catch (e) {
        if (!(e instanceof PlanLimitError)) throw e;
        refused = true;
        return false;
      }
      await pass.c.run({ inputs: { [s.input]: Int32Array.from(tokens) }, after: pass.copy }, []);
      return true;
    },
    destroy() {
      for (const { c } of compiled.values()) c.destroy();
      compiled.clear();
    },
  };
}

/** Where one cache's prefilled positions go: the two tensors have the same axes in the same order
 *  but one (the key axis) longer in the cache; everything before it is the runs, after it a row. */
function rowsOf(prefill: CompiledGraph, decoder: CompiledGraph, name: string): Rows {
  const shape = (c: CompiledGraph, t: number | undefined) => {
    if (t === undefined) throw new Error(`prefill: no tensor '${name}'`);
    const tensor = c.fused.tensors[t]!;
    const node = c.fused.graph.nodes[tensor.node]!;
    return tensor.layout.map((a) => node.type.axes.find((x) => x.name === a)!.size as number);
  };
  const src = shape(prefill, prefill.fused.outputs.get(name));
  const dst = shape(decoder, decoder.fused.inputs.get(name));
  const differ = src.flatMap((n, i) => (n !== dst[i] ? [i] : []));
  if (src.length !== dst.length || differ.length > 1) throw new Error(`prefill: '${name}' is [${src}] in the pass and [${dst}] in the cache`);
  const key = differ[0] ?? 0;
  const count = src.slice(0, key).reduce((p, n) => p * n, 1);
  const row = src.slice(key + 1).reduce((p, n) => p * n, 4);
  return { count, bytes: src[key]! * row, srcStride: src[key]! * row, dstStride: dst[key]! * row };
}
