// Keeps only what the named outputs need: sampling wants logits, not the loss and its targets.
import type { Graph, Node } from './types.js';

export function prune(g: Graph, keep: string[]): Graph {
  const live = new Set<number>();
  const stack: number[] = [];
  for (const name of keep) {
    const id = g.outputs.get(name);
    if (id === undefined) throw new Error(`prune: no output '${name}'`);
    stack.push(id);
  }
  while (stack.length) {
    const id = stack.pop()!;
    if (live.has(id)) continue;
    live.add(id);
    stack.push(...g.nodes[id]!.inputs);
  }
  const renumber = new Map<number, number>();
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    if (!live.has(n.id)) continue;
    renumber.set(n.id, nodes.length);
    nodes.push({ ...n, id: nodes.length, inputs: n.inputs.map((i) => renumber.get(i)!) });
  }
  const remap = (m: Map<string, number>) => new Map([...m].filter(([, id]) => live.has(id)).map(([k, id]) => [k, renumber.get(id)!]));
  return { nodes, inputs: remap(g.inputs), params: remap(g.params), outputs: new Map(keep.map((k) => [k, renumber.get(g.outputs.get(k)!)!])) };
}
