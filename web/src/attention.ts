// Attention maps for a prompt, as `arch attention` computes them: the forward pass on the reference
// interpreter with every softmax's weights as an output, split into one [query, key] map per head.
import { ATTENTION_PREFIX, interpret, lower, prune, type CheckedModel, type InputSpec, type Value, type Weights } from './core.js';
import { tokenInfo } from './sampler.js';

export interface LayerMaps {
  name: string;
  heads: Float32Array[]; // n x n each, row = query
}

/** The same split as src/cli/commands/attention.ts's splitHeads (one copy once it moves below cli):
 *  the batch and the two position axes are known, every other axis indexes heads, merged in order. */
function splitHeads(v: Value, sizes: readonly (string | number)[], batchSym: string, lengthSym: string, lengthAxis: string, n: number): Float32Array[] {
  const axes = v.type.axes;
  const strides = axes.map((_, i) => axes.slice(i + 1).reduce((a, x) => a * (x.size as number), 1));
  const batch = sizes.indexOf(batchSym);
  const seq = sizes.map((s, i) => (s === lengthSym && i !== batch ? i : -1)).filter((i) => i >= 0);
  const q = seq.find((i) => axes[i]!.name === lengthAxis) ?? seq[0]!;
  const k = seq.find((i) => i !== q)!;
  const heads = axes.map((_, i) => i).filter((i) => i !== batch && i !== q && i !== k);
  const count = heads.reduce((a, i) => a * (axes[i]!.size as number), 1);
  const out: Float32Array[] = [];
  for (let h = 0; h < count; h++) {
    let base = 0;
    let rest = h;
    for (let j = heads.length - 1; j >= 0; j--) {
      const size = axes[heads[j]!]!.size as number;
      base += (rest % size) * strides[heads[j]!]!;
      rest = Math.floor(rest / size);
    }
    const m = new Float32Array(n * n);
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) m[a * n + b] = v.data[base + a * strides[q]! + b * strides[k]!]!;
    out.push(m);
  }
  return out;
}

export function attentionMaps(model: CheckedModel, roles: InputSpec[], weights: Weights, ids: number[]): LayerMaps[] {
  const lowered = lower(model, { attentionMaps: true });
  const g = lowered.graph;
  const names = [...g.outputs.keys()].filter((k) => k.startsWith(ATTENTION_PREFIX));
  if (!names.length) return [];
  const t = tokenInfo(lowered, roles);
  const prompt = ids.length > t.context ? ids.slice(ids.length - t.context) : ids;
  const n = prompt.length;
  const out = interpret(prune(g, names), { inputs: { [t.name]: Int32Array.from(prompt) }, params: Object.fromEntries(weights), symbols: { [t.batch]: 1, [t.length]: n, seed: 0 } });
  const lengthAxis = g.nodes[g.inputs.get(t.name)!]!.type.axes[1]!.name;
  return names.map((name) => {
    const sizes = g.nodes[g.outputs.get(name)!]!.type.axes.map((a) => a.size);
    return { name: name.slice(ATTENTION_PREFIX.length), heads: splitHeads(out.get(name)!, sizes, t.batch, t.length, lengthAxis, n) };
  });
}
