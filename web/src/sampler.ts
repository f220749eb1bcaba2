// Sampling in the page as `arch sample` does it on WebGPU: the KV-cache decoder (the full pass once
// the context slides, and always for a model whose positions see later ones), tokens chosen with
// temperature, top-k and top-p from the same Rng, streamed as they come.
import {
  CACHE_PREFIX,
  POSITION_INPUT,
  Rng,
  cacheUnsafeReason,
  cachedDecoder,
  fullDecoder,
  generate,
  lower,
  prune,
  tokenInput,
  windowedDecoder,
  type ArchDevice,
  type CheckedModel,
  type Weights,
} from './core.js';
import { FILE } from './analysis.js';

export interface SampleRequest {
  prompt: number[];
  tokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
}

export async function sampleTokens(device: ArchDevice, model: CheckedModel, weights: Weights, req: SampleRequest, onToken: (t: number) => void): Promise<number[]> {
  const lowered = lower(model, { decode: true });
  const forward = lower(model);
  const ti = tokenInput(forward, FILE);
  const t = { name: ti.name, batch: ti.batchSymbol, length: ti.lengthSymbol, vocab: ti.classes, context: ti.maxLength ?? 1 };
  const caches = [...lowered.graph.outputs.keys()].filter((k) => k.startsWith(CACHE_PREFIX));
  const spec = { input: t.name, batchSymbol: t.batch, lengthSymbol: t.length, vocab: t.vocab, maxContext: t.context, params: Object.fromEntries(weights) };
  const full = prune(forward.graph, ['logits']);
  const dec = cacheUnsafeReason(model)
    ? await fullDecoder(device, full, spec, { exactLength: true })
    : windowedDecoder(await cachedDecoder(device, prune(lowered.graph, ['logits', ...caches]), POSITION_INPUT, caches, spec), () => fullDecoder(device, full, spec));
  try {
    let prompt = req.prompt.length ? req.prompt : [0];
    if (prompt.length > t.context) prompt = prompt.slice(prompt.length - t.context);
    return await generate(dec, prompt, req.tokens, { temperature: req.temperature, topK: req.topK, topP: req.topP }, new Rng(req.seed), onToken, t.context);
  } finally {
    dec.destroy();
  }
}
