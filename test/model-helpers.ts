// Shared by tests that run whole models: compile a models/ file with --set values, lower it,
// and make inputs for it.
import { readFileSync } from 'node:fs';
import { compileSource } from '../src/compiler/compile.js';
import type { CheckedModel } from '../src/compiler/graph.js';
import { lower, type Lowered } from '../src/compiler/lower.js';
import { argmax } from '../src/runtime/sample/choose.js';

export function compileModel(file: string, sets: Record<string, string | number> = {}): CheckedModel {
  const r = compileSource(file, readFileSync(file, 'utf8'), new Map(Object.entries(sets).map(([k, v]) => [k, String(v)])));
  if (!r.model) throw new Error(`${file}: ${r.diagnostics.map((d) => `${d.span.start.line}:${d.span.start.col} ${d.message}`).join('; ')}`);
  return r.model;
}

export function lowerModel(file: string, sets: Record<string, string | number> = {}, training = false): Lowered {
  return lower(compileModel(file, sets), { training });
}

/** Random token ids for every token input (and its next), sized by the given symbols. */
export function randomInputs(l: Lowered, symbols: Record<string, number>, rand: () => number): Record<string, Int32Array> {
  const out: Record<string, Int32Array> = {};
  for (const [name, id] of l.graph.inputs) {
    const info = l.inputs.get(name)!;
    const n = l.graph.nodes[id]!.type.axes.reduce((p, a) => p * (typeof a.size === 'number' ? a.size : symbols[a.size]!), 1);
    out[name] = Int32Array.from({ length: n }, () => Math.floor(rand() * info.classes!));
  }
  return out;
}

/** Runtime sizes: batch 2 and every sequence length at min(max, len). */
export function tinySymbols(l: Lowered, len = 4, batch = 2): Record<string, number> {
  const s: Record<string, number> = { seed: 7 };
  for (const [sym, info] of l.symbols) s[sym] = info.max === undefined ? batch : Math.min(info.max, len);
  return s;
}

const TINY_GPT = { V: 11, L: 6, D: 8, H: 2, N: 2 };

/** Every model in models/ and every gpt2.arch variant, at sizes the interpreter runs in a moment. */
export const TINY_MODELS: [string, string, Record<string, string | number>][] = [
  ['gpt-nano', 'models/gpt-nano.arch', { V: 13, L: 7, D: 12, H: 3 }],
  ['gpt2 default', 'models/gpt2.arch', TINY_GPT],
  ['gpt2 act=relu', 'models/gpt2.arch', { ...TINY_GPT, act: 'relu' }],
  ['gpt2 norm=post', 'models/gpt2.arch', { ...TINY_GPT, norm: 'post' }],
  ['gpt2 pos=sinusoidal', 'models/gpt2.arch', { ...TINY_GPT, pos: 'sinusoidal' }],
  ['gpt2 pos=none', 'models/gpt2.arch', { ...TINY_GPT, pos: 'none' }],
  ['gpt2 head=untied', 'models/gpt2.arch', { ...TINY_GPT, head: 'untied' }],
  ['gpt2 G=1 (multi-query)', 'models/gpt2.arch', { ...TINY_GPT, G: 1 }],
  ['transformer', 'models/transformer.arch', { V: 9, L: 5, D: 8, H: 2, N: 2 }],
  ['encoder-classifier', 'models/encoder-classifier.arch', { V: 7, L: 5, C: 3, D: 8, H: 2 }],
  ['encoder-decoder', 'models/encoder-decoder.arch', { V: 7, S: 4, L: 5, D: 8, H: 2 }],
  ['gpt-gqa', 'models/gpt-gqa.arch', { V: 9, L: 5, D: 16, H: 4, G: 2 }],
];

/** The greedy choice of every row of `width` logits. */
export function argmaxRows(data: ArrayLike<number>, width: number): number[] {
  return Array.from({ length: data.length / width }, (_, r) => argmax(Array.prototype.slice.call(data, r * width, (r + 1) * width) as number[]));
}
