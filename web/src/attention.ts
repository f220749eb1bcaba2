// Attention maps for a prompt, as `arch attention` computes them (src/session/attention.ts): the
// forward pass on the reference interpreter with every softmax's weights as an output, split into
// one [query, key] map per head by the core's splitHeads. The session's attentionMaps reads its
// model and weights from files; the page has them in memory.
import { ATTENTION_PREFIX, interpret, lower, prune, splitHeads, tokenInput, type CheckedModel, type Weights } from './core.js';
import { FILE } from './analysis.js';

export interface LayerMaps {
  name: string;
  heads: Float32Array[]; // n x n each, row = query
}

export function attentionMaps(model: CheckedModel, weights: Weights, ids: number[]): LayerMaps[] {
  const lowered = lower(model, { attentionMaps: true });
  const g = lowered.graph;
  const names = [...g.outputs.keys()].filter((k) => k.startsWith(ATTENTION_PREFIX));
  if (!names.length) return [];
  const t = tokenInput(lowered, FILE);
  const context = t.maxLength ?? ids.length;
  const prompt = ids.length > context ? ids.slice(ids.length - context) : ids;
  const n = prompt.length;
  const out = interpret(prune(g, names), { inputs: { [t.name]: Int32Array.from(prompt) }, params: Object.fromEntries(weights), symbols: { [t.batchSymbol]: 1, [t.lengthSymbol]: n, seed: 0 } });
  const lengthAxis = g.nodes[g.inputs.get(t.name)!]!.type.axes[1]!.name;
  return names.map((name) => {
    const sizes = g.nodes[g.outputs.get(name)!]!.type.axes.map((a) => a.size);
    return { name: name.slice(ATTENTION_PREFIX.length), heads: splitHeads(out.get(name)!, t.batchSymbol, t.lengthSymbol, lengthAxis, n, sizes) };
  });
}
