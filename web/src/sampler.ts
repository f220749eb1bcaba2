// Sampling in the page as `arch sample` does it on WebGPU: the KV-cache decoder (the full pass once
// the context slides, or the cache refilled with --window refill; always the full pass for a model
// whose positions see later ones), tokens chosen with temperature, top-k and top-p from the same
// Rng, streamed as they come.
import { Rng, WINDOWS, generate, lower, tokenInput, webgpuDecoder, type ArchDevice, type CheckedModel, type Weights, type WindowName } from './core.js';
import { FILE } from './analysis.js';

export interface SampleRequest {
  prompt: number[];
  tokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  /** Past the context: 'slide' (exact, a full pass a token) or 'refill' (the KV cache kept), as `arch sample --window`. */
  window: WindowName;
}

export async function sampleTokens(device: ArchDevice, model: CheckedModel, weights: Weights, req: SampleRequest, onToken: (t: number) => void): Promise<number[]> {
  const forward = lower(model);
  const t = tokenInput(forward, FILE);
  const context = t.maxLength ?? 1;
  const spec = { input: t.name, batchSymbol: t.batchSymbol, lengthSymbol: t.lengthSymbol, vocab: t.classes, maxContext: context, params: Object.fromEntries(weights) };
  const dec = await webgpuDecoder(device, model, forward.graph, spec);
  try {
    let prompt = req.prompt.length ? req.prompt : [0];
    if (prompt.length > context) prompt = prompt.slice(prompt.length - context);
    return await generate(dec, prompt, req.tokens, { temperature: req.temperature, topK: req.topK, topP: req.topP }, new Rng(req.seed), onToken, context, WINDOWS[req.window]);
  } finally {
    dec.destroy();
  }
}
