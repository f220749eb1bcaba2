// A graph with every symbolic size resolved for one binding of the runtime symbols, so that
// fusion and codegen see numbers only (kernels are specialised per binding). 'seed' stays a
// runtime value: the random op reads it when the kernel runs.

import { evalSize } from '../size.js';
import type { Axis, Graph, Node, Op, Size } from '../types.js';

export function resolveGraph(graph: Graph, symbols: Record<string, number>): Graph {
  const n = (s: Size): number => evalSize(s, symbols);
  const ax = (a: Axis): Axis => ({ name: a.name, size: n(a.size) });
  const op = (o: Op): Op => {
    switch (o.kind) {
      case 'const': return { kind: 'const', value: typeof o.value === 'number' ? o.value : n(o.value) };
      case 'iota': return { kind: 'iota', axis: ax(o.axis), offset: n(o.offset) };
      case 'scatterAdd': return { ...o, axis: ax(o.axis) };
      case 'split': return { ...o, into: o.into.map(ax) };
      case 'merge': return { ...o, into: ax(o.into) };
      case 'slice': return { ...o, start: n(o.start), size: n(o.size) };
      case 'pad': return { ...o, start: n(o.start), fullSize: n(o.fullSize) };
      case 'expand': return { kind: 'expand', to: o.to.map(ax) };
      default: return o;
    }
  };
  const nodes: Node[] = graph.nodes.map((x) => ({
    ...x,
    op: op(x.op),
    inputs: [...x.inputs],
    type: { dtype: x.type.dtype, axes: x.type.axes.map(ax) },
  }));
  return skipWholeSlices({ nodes, inputs: new Map(graph.inputs), params: new Map(graph.params), outputs: new Map(graph.outputs) });
}

/** A slice or pad that covers its whole axis (learned positions at the full context, and their
 *  gradient) is its input: readers and outputs are pointed past it, so no kernel copies it. The
 *  node stays (ids are positions) and nothing reads it. */
function skipWholeSlices(g: Graph): Graph {
  const sources = new Set([...g.inputs.values(), ...g.params.values()]);
  const outputs = new Set(g.outputs.values());
  const to = g.nodes.map((n) => n.id);
  for (const n of g.nodes) {
    n.inputs = n.inputs.map((i) => to[i]!);
    const o = n.op;
    if (o.kind !== 'slice' && o.kind !== 'pad') continue;
    const whole = g.nodes[n.inputs[0]!]!.type.axes.find((a) => a.name === o.axis)?.size;
    const covers = o.start === 0 && (o.kind === 'slice' ? o.size : o.fullSize) === whole;
    // an output stays a tensor of its own rather than become an input or a parameter
    if (covers && !(outputs.has(n.id) && sources.has(n.inputs[0]!))) to[n.id] = n.inputs[0]!;
  }
  for (const [name, id] of g.outputs) g.outputs.set(name, to[id]!);
  return g;
}

/** Size of a resolved axis. */
export function sizeOf(node: Node, axis: string): number {
  const a = node.type.axes.find((x) => x.name === axis);
  if (!a) throw new Error(`node %${node.id} has no axis '${axis}'`);
  return a.size as number;
}

export function numelOf(node: Node): number {
  return node.type.axes.reduce((p, a) => p * (a.size as number), 1);
}

/** Row-major strides of a node's values stored in `layout` order, by axis name. */
export function layoutStrides(node: Node, layout: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  let s = 1;
  for (let i = layout.length - 1; i >= 0; i--) {
    out[layout[i]!] = s;
    s *= sizeOf(node, layout[i]!);
  }
  return out;
}
