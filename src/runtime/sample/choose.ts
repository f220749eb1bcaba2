// Choosing the next token from a row of logits: greedy, or sampled with temperature, top-k and
// top-p (nucleus) filtering. Pure functions of the logits and the RNG, so they are tested alone.
import type { Rng } from '../data/index.js';

export interface ChooseOptions {
  temperature: number; // 0: greedy
  topK: number; // 0: off
  topP: number; // 1: off
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/** The probabilities sampling draws from, after temperature, top-k and top-p; zeros elsewhere. */
export function filteredProbs(logits: ArrayLike<number>, o: ChooseOptions): Float64Array {
  const n = logits.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const keep = o.topK > 0 ? Math.min(o.topK, n) : n;
  const max = logits[order[0]!]!;
  const p = new Float64Array(n);
  let sum = 0;
  for (let r = 0; r < keep; r++) {
    const i = order[r]!;
    p[i] = Math.exp((logits[i]! - max) / o.temperature);
    sum += p[i]!;
  }
  for (let r = 0; r < keep; r++) p[order[r]!]! /= sum;
  if (o.topP < 1) {
    // The smallest set of most likely tokens whose probability reaches topP.
    let acc = 0;
    let r = 0;
    for (; r < keep; r++) {
      acc += p[order[r]!]!;
      if (acc >= o.topP) break;
    }
    let kept = 0;
    for (let q = 0; q < keep; q++) {
      if (q > r) p[order[q]!] = 0;
      else kept += p[order[q]!]!;
    }
    for (let q = 0; q <= r && q < keep; q++) p[order[q]!]! /= kept;
  }
  return p;
}

export function chooseToken(logits: ArrayLike<number>, o: ChooseOptions, rng: Rng): number {
  if (o.temperature <= 0 || o.topK === 1) return argmax(logits);
  const p = filteredProbs(logits, o);
  let u = rng.float();
  let last = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i]! <= 0) continue;
    last = i;
    u -= p[i]!;
    if (u < 0) return i;
  }
  return last;
}
