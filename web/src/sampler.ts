// Sampling in the page as `arch sample` does it on WebGPU: the KV-cache decoder, tokens chosen
// with temperature, top-k and top-p from the same Rng, streamed as they come.
import { CACHE_PREFIX, POSITION_INPUT, Rng, cachedDecoder, generate, lower, prune, type ArchDevice, type CheckedModel, type InputSpec, type Lowered, type Weights } from './core.js';

export interface SampleRequest {
  prompt: number[];
  tokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
}

/** The token input's name, batch and length symbols, vocabulary and context, as tokenInput finds them. */
export function tokenInfo(l: Lowered, roles: InputSpec[]): { name: string; batch: string; length: string; vocab: number; context: number } {
  const tokens = roles.find((r) => r.role === 'tokens')!;
  return {
    name: tokens.name,
    batch: tokens.symbols[0]!,
    length: tokens.symbols[1]!,
    vocab: l.inputs.get(tokens.name)!.classes!,
    context: l.symbols.get(tokens.symbols[1]!)?.max ?? 1,
  };
}

export async function sampleTokens(device: ArchDevice, model: CheckedModel, roles: InputSpec[], weights: Weights, req: SampleRequest, onToken: (t: number) => void): Promise<number[]> {
  const lowered = lower(model, { decode: true });
  const t = tokenInfo(lower(model), roles);
  const caches = [...lowered.graph.outputs.keys()].filter((k) => k.startsWith(CACHE_PREFIX));
  const spec = { input: t.name, batchSymbol: t.batch, lengthSymbol: t.length, vocab: t.vocab, maxContext: t.context, params: Object.fromEntries(weights) };
  const dec = await cachedDecoder(device, prune(lowered.graph, ['logits', ...caches]), POSITION_INPUT, caches, spec);
  try {
    let prompt = req.prompt.length ? req.prompt : [0];
    if (prompt.length > t.context) prompt = prompt.slice(prompt.length - t.context);
    return await generate(dec, prompt, req.tokens, { temperature: req.temperature, topK: req.topK, topP: req.topP }, new Rng(req.seed), onToken, t.context);
  } finally {
    dec.destroy();
  }
}
