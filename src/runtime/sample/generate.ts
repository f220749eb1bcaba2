// Autoregressive generation over any backend that gives the next-token logits.
import type { Rng } from '../data/index.js';
import { chooseToken, type ChooseOptions } from './choose.js';

export interface LogitsSource {
  /** Logits for the position after `context` (a decoder with a KV cache feeds only what's new). */
  next(context: number[]): Promise<Float32Array>;
}

export async function generate(src: LogitsSource, prompt: number[], count: number, o: ChooseOptions, rng: Rng, onToken: (t: number) => void, maxContext: number): Promise<number[]> {
  const context = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    // Past the model's context, the oldest tokens slide out.
    const window = context.length > maxContext ? context.slice(context.length - maxContext) : context;
    const t = chooseToken(await src.next(window), o, rng);
    context.push(t);
    out.push(t);
    onToken(t);
  }
  return out;
}
