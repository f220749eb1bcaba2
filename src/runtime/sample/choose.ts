// Choosing the next token from a row of logits: greedy, or sampled with temperature, top-k and
// top-p (nucleus) filtering. Pure functions of the logits and the RNG, so they are tested alone.
//
// The arithmetic is f32, step by step (Math.fround after each operation), and uses only
// operations that IEEE f32 hardware rounds the same way everywhere: +, -, * and comparisons, no
// division, no library exp, and no multiply feeding an add (which a shader compiler could fuse
// into an FMA). So the GPU chooser (gpu-chooser.ts), which runs the same steps in WGSL, picks
// exactly the same token for the same logits and the same uniform draw:
//
//   order   tokens by logit, highest first, equal logits by index
//   keep    the first topK of them (all when topK is 0)
//   weight  w = 2^((l - max) * log2(e) / T), with the exponent quantised to 1/65536 and
//           computed from two 256-entry tables (weightTable) and an exponent shift; a
//           difference below 2^-120 counts as 0, an exponent of -126 or less gives 0
//   top-p   the smallest run of most likely tokens whose weights reach topP * (their total)
//   draw    threshold = u * (kept total), u = rng.float() rounded to f32; the first token in
//           rank order whose running weight sum exceeds it (the last one with a positive weight
//           when rounding leaves the threshold at the total)
import type { Rng } from '../../data/index.js';

export interface ChooseOptions {
  temperature: number; // 0: greedy
  topK: number; // 0: off
  topP: number; // 1: off
}

const f = Math.fround;
/** Differences smaller than this count as 0, so hardware that flushes subnormals agrees. */
export const TINY = 2 ** -120;

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

export const isGreedy = (o: ChooseOptions): boolean => o.temperature <= 0 || o.topK === 1;

/** 2^(j/256) and 2^(j/65536) for j < 256, as f32: a quantised exponent's two halves. */
export const weightTable: Float32Array<ArrayBuffer> = (() => {
  const t = new Float32Array(512);
  for (let j = 0; j < 256; j++) {
    t[j] = 2 ** (j / 256);
    t[256 + j] = 2 ** (j / 65536);
  }
  return t;
})();

/** The f32 multiplier of (logit - max) that gives the base-2 exponent of a token's weight. */
export const exponentScale = (temperature: number): number => f(Math.LOG2E / temperature);

/** A token's weight from (logit - max) <= 0, as both choosers compute it. */
export function weight(diff: number, scale: number): number {
  let d = f(diff);
  if (d > -TINY) d = 0;
  let y = f(d * scale);
  if (y > -TINY) y = 0;
  if (!(y > -126)) return 0;
  const q = Math.floor(y * 65536); // exact: y is an f32 in (-126, 0]
  const n = q >> 16;
  const j = q & 0xffff;
  return f(weightTable[j >> 8]! * weightTable[256 + (j & 255)]!) * 2 ** n; // 2^n: an exponent shift, exact
}

/** Tokens in rank order: highest logit first, equal logits by index. */
export function rankOrder(logits: ArrayLike<number>): number[] {
  return Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => (logits[b]! > logits[a]! ? 1 : logits[b]! < logits[a]! ? -1 : a - b));
}

interface Filtered {
  order: number[];
  weights: number[]; // by rank, for ranks 0..cut
  total: number; // f32 sum of weights[0..cut], in rank order
}

function filtered(logits: ArrayLike<number>, o: ChooseOptions): Filtered {
  const order = rankOrder(logits);
  const keep = o.topK > 0 ? Math.min(o.topK, order.length) : order.length;
  const max = logits[order[0]!]!;
  const scale = exponentScale(o.temperature);
  const weights: number[] = [];
  let sum = 0;
  for (let r = 0; r < keep; r++) {
    weights.push(weight(f(logits[order[r]!]! - max), scale));
    sum = f(sum + weights[r]!);
  }
  if (o.topP >= 1) return { order, weights, total: sum };
  const reach = f(f(o.topP) * sum);
  let acc = 0;
  for (let r = 0; r < keep; r++) {
    acc = f(acc + weights[r]!);
    if (acc >= reach) return { order, weights: weights.slice(0, r + 1), total: acc };
  }
  return { order, weights, total: acc };
}

/** The probabilities sampling draws from (up to f32 rounding of the draw), after temperature,
 *  top-k and top-p; zeros elsewhere. */
export function filteredProbs(logits: ArrayLike<number>, o: ChooseOptions): Float64Array {
  const { order, weights } = filtered(logits, o);
  const exact = weights.reduce((a, b) => a + b, 0);
  const p = new Float64Array(logits.length);
  weights.forEach((w, r) => (p[order[r]!] = w / exact));
  return p;
}

/** Sampling with a given uniform draw u in [0, 1): what chooseToken does after rng.float(). */
export function chooseWithDraw(logits: ArrayLike<number>, o: ChooseOptions, u: number): number {
  const { order, weights, total } = filtered(logits, o);
  const threshold = f(f(u) * total);
  let acc = 0;
  let last = order[0]!;
  for (let r = 0; r < weights.length; r++) {
    acc = f(acc + weights[r]!);
    if (weights[r]! > 0) last = order[r]!;
    if (threshold < acc) return order[r]!;
  }
  return last;
}

export function chooseToken(logits: ArrayLike<number>, o: ChooseOptions, rng: Rng): number {
  if (isGreedy(o)) return argmax(logits);
  return chooseWithDraw(logits, o, rng.float());
}
