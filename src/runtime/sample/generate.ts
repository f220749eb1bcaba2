// Autoregressive generation over any backend that gives the next-token logits.
import type { Rng } from '../../data/index.js';
import { chooseToken, type ChooseOptions } from './choose.js';

export type OnToken = (t: number) => void;

/** Which tokens the next one sees once the context is longer than the model's: `slide` or `refill`. */
export type Window = (context: number[], maxContext: number) => number[];

export interface LogitsSource {
  /** Logits for the position after `context` (a decoder with a KV cache feeds only what's new). */
  next(context: number[]): Promise<Float32Array>;
  /** A source that chooses tokens itself (the KV-cache decoder, on the GPU): it gives exactly the
   *  tokens `stepwise` would, with the same Rng draws, and may call onToken in bursts. */
  generate?(prompt: number[], count: number, o: ChooseOptions, rng: Rng, onToken: OnToken, maxContext: number, window?: Window): Promise<number[]>;
}

export async function generate(src: LogitsSource, prompt: number[], count: number, o: ChooseOptions, rng: Rng, onToken: OnToken, maxContext: number, window: Window = slide): Promise<number[]> {
  if (src.generate) return src.generate(prompt, count, o, rng, onToken, maxContext, window);
  return stepwise(src, prompt, count, o, rng, onToken, maxContext, window);
}

/** One token at a time: logits back to the CPU, chosen there. */
export async function stepwise(src: LogitsSource, prompt: number[], count: number, o: ChooseOptions, rng: Rng, onToken: OnToken, maxContext: number, window: Window = slide): Promise<number[]> {
  const context = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = chooseToken(await src.next(window(context, maxContext)), o, rng);
    context.push(t);
    out.push(t);
    onToken(t);
  }
  return out;
}

/** Past the model's context, the oldest tokens slide out: every token sees the last `maxContext`. */
export const slide: Window = (context, maxContext) => (context.length > maxContext ? context.slice(context.length - maxContext) : context);

/**
 * Past the model's context, the window restarts with its last half and grows again until full: a
 * token sees between half the context and all of it. What KV-cache samplers of models with learned
 * positions commonly do (nanoGPT-style peers among them), since a window that restarts keeps its
 * cache for the tokens that follow, where a sliding one shifts every position. A function of the
 * context's length alone (the generation starting from at most `maxContext` tokens), so a decoder
 * with a cache and one without see the same windows.
 */
export const refill: Window = (context, maxContext) => {
  const kept = Math.max(1, maxContext >> 1);
  let start = 0;
  // the window [start, n) restarts when it would hold maxContext + 1 tokens
  while (context.length - start > maxContext) start += maxContext + 1 - kept;
  return start === 0 ? context : context.slice(start);
};

/** The windows by the names `arch sample --window` and the playground give them. */
export const WINDOWS = { slide, refill } as const satisfies Record<string, Window>;
export type WindowName = keyof typeof WINDOWS;
