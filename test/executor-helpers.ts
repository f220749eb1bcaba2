// Shared by the executor / wgsl / fuse suites: one Dawn device per test file, and a differential
// check of a graph run by the executor against the reference interpreter.

import { interpret, numel, resolveType } from '../src/ir/interpret.js';
import type { Data } from '../src/ir/interpret.js';
import type { Graph } from '../src/ir/types.js';
import { compileGraph, type CompileOptions, type CompiledGraph } from '../src/runtime/executor.js';
import { openDevice, type ArchDevice } from '../src/host/node/device.js';
import { randn, rng } from './ir-helpers.js';

let shared: Promise<ArchDevice> | undefined;
export function device(): Promise<ArchDevice> {
  shared ??= openDevice();
  return shared;
}

export interface Tolerance {
  atol: number;
  rtol: number;
}

export const F32: Tolerance = { atol: 1e-5, rtol: 1e-4 };

/** Random feeds for every input and param: f32 in (-1, 1), i32 in [0, range of its use). */
export function randomFeeds(
  graph: Graph,
  symbols: Record<string, number>,
  seed = 1,
  intRange: Record<string, number> = {},
): { inputs: Record<string, Data>; params: Record<string, Float32Array> } {
  const r = rng(seed);
  const inputs: Record<string, Data> = {};
  for (const [name, id] of graph.inputs) {
    const t = resolveType(graph.nodes[id]!.type, symbols);
    const n = numel(t);
    if (t.dtype === 'i32') inputs[name] = Int32Array.from({ length: n }, () => Math.floor(r() * (intRange[name] ?? 4)));
    else inputs[name] = Float32Array.from(randn(n, r));
  }
  const params: Record<string, Float32Array> = {};
  for (const [name, id] of graph.params) params[name] = Float32Array.from(randn(numel(resolveType(graph.nodes[id]!.type, symbols)), r));
  return { inputs, params };
}

export interface Comparison {
  compiled: CompiledGraph;
  kernels: number;
  /** Per output: the worst |gpu - ref| / (atol + rtol |ref|) (<= 1 passes). */
  worst: Record<string, number>;
  gpu: Record<string, Float32Array | Int32Array>;
  ref: Record<string, Data>;
}

/** Run `graph` on the device and in the interpreter with the same feeds; compare every output. */
export async function compare(
  graph: Graph,
  symbols: Record<string, number>,
  opts: CompileOptions & { tol?: Tolerance; seed?: number; intRange?: Record<string, number>; feeds?: ReturnType<typeof randomFeeds> } = {},
): Promise<Comparison> {
  const d = await device();
  const feeds = opts.feeds ?? randomFeeds(graph, symbols, opts.seed ?? 1, opts.intRange);
  const compiled = await compileGraph(d, graph, symbols, opts);
  const names = [...graph.outputs.keys()];
  const gpu = await compiled.run({ inputs: feeds.inputs, params: feeds.params, seed: symbols.seed }, names);
  const refMap = interpret(graph, { inputs: feeds.inputs, params: feeds.params, symbols });
  const tol = opts.tol ?? F32;
  const worst: Record<string, number> = {};
  const ref: Record<string, Data> = {};
  for (const name of names) {
    const want = refMap.get(name)!.data;
    const got = gpu[name]!;
    ref[name] = want;
    if (got.length !== want.length) throw new Error(`${name}: ${got.length} values, expected ${want.length}`);
    let w = 0;
    for (let i = 0; i < want.length; i++) {
      const diff = Math.abs(got[i]! - want[i]!);
      const e = diff === 0 || got[i] === want[i] ? 0 : diff / (tol.atol + tol.rtol * Math.abs(want[i]!));
      if (!(e <= w)) w = Number.isNaN(e) ? Infinity : e;
    }
    worst[name] = w;
  }
  return { compiled, kernels: compiled.plan.kernels.length, worst, gpu, ref };
}
