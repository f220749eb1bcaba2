// Autoregressive generation over any backend that gives the next-token logits.
import type { Rng } from '../../data/index.js';
import { chooseToken, type ChooseOptions } from './choose.js';

export type OnToken = (t: number) => void;

export interface LogitsSource {
  /** Logits for the position after `context` (a decoder with a KV cache feeds only what's new). */
  next(context: number[]): Promise<Float32Array>;
  /** A source that chooses tokens itself (the KV-cache decoder, on the GPU): it gives exactly the
   *  tokens `stepwise` would, with the same Rng draws, and may call onToken in bursts. */
  generate?(prompt: number[], count: number, o: ChooseOptions, rng: Rng, onToken: OnToken, maxContext: number): Promise<number[]>;
}

export async function generate(src: LogitsSource, prompt: number[], count: number, o: ChooseOptions, rng: Rng, onToken: OnToken, maxContext: number): Promise<number[]> {
  if (src.generate) return src.generate(prompt, count, o, rng, onToken, maxContext);
  return stepwise(src, prompt, count, o, rng, onToken, maxContext);
}

/** One token at a time: logits back to the CPU, chosen there. */
export async function stepwise(src: LogitsSource, prompt: number[], count: number, o: ChooseOptions, rng: Rng, onToken: OnToken, maxContext: number): Promise<number[]> {
  const context = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = chooseToken(await src.next(slide(context, maxContext)), o, rng);
    context.push(t);
    out.push(t);
    onToken(t);
  }
  return out;
}

/** Past the model's context, the oldest tokens slide out. */
export const slide = (context: number[], maxContext: number): number[] =>
  context.length > maxContext ? context.slice(context.length - maxContext) : context;
