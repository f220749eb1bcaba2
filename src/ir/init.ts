// Reference parameter initialisation (for tests and the interpreter; the runtime may use its own).
// Deterministic: normal samples come from the counter-based hash via Box-Muller.

import { numel, resolveType } from './interpret.js';
import { randomUniform } from './random.js';
import type { Graph, ParamInit } from './types.js';

export function initValues(init: ParamInit, n: number, seed: number, stream: number): Float64Array {
  const out = new Float64Array(n);
  if (init.kind === 'ones') out.fill(1);
  if (init.kind === 'normal') {
    for (let i = 0; i < n; i++) {
      const u1 = 1 - randomUniform(seed, stream, 2 * i); // (0, 1]: log is finite
      const u2 = randomUniform(seed, stream, 2 * i + 1);
      out[i] = init.std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
  }
  return out;
}

/** Initial values for every param of a graph (stream = the param's position in graph.params). */
export function initParams(graph: Graph, symbols: Record<string, number>, seed = 0): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  let stream = 0;
  for (const [name, id] of graph.params) {
    const node = graph.nodes[id]!;
    if (node.op.kind !== 'param') throw new Error(`params['${name}'] is not a param node`);
    out[name] = initValues(node.op.init, numel(resolveType(node.type, symbols)), seed, stream++);
  }
  return out;
}
