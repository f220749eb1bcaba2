// arch's IR -> an ONNX graph. Each ONNX tensor keeps its IR node's axes in the same order, so
// every op is a local translation: broadcasting by name becomes a Transpose/Unsqueeze to the
// result's order, a contraction an Einsum whose letters are the axes, a one-hot contraction a
// Gather, views a Reshape. Token ids are int64 (the IR's i32); run-time sizes (batch, lengths)
// are symbolic dimensions read from the inputs' shapes.
import { NEXT_SUFFIX, type Lowered } from '../compiler/lower.js';
import { normSize, prune, type Axis, type Graph, type Node, type OpOf } from '../ir/index.js';
import { ExportError } from './error.js';
import { OnnxEmitter } from './onnx-emit.js';
import type { OnnxModel, OnnxValue } from './onnx-proto.js';

const UNARY_OPS = { neg: 'Neg', exp: 'Exp', log: 'Log', sqrt: 'Sqrt', recip: 'Reciprocal', tanh: 'Tanh', sin: 'Sin', cos: 'Cos' } as const;
const ARITH_OPS = { add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div', max: 'Max', min: 'Min' } as const;
const COMPARE_OPS = { lt: 'Less', le: 'LessOrEqual', gt: 'Greater', ge: 'GreaterOrEqual', eq: 'Equal' } as const;

/** The outputs a forward pass exports: every output except the loss and what needs targets. */
export function forwardOutputs(l: Lowered): string[] {
  const g = l.graph;
  const targets = new Set([...l.inputs].filter(([name, i]) => i.shifted || name.endsWith(NEXT_SUFFIX)).map(([name]) => g.inputs.get(name)));
  const needsTargets = new Array<boolean>(g.nodes.length).fill(false);
  for (const n of g.nodes) needsTargets[n.id] = targets.has(n.id) || n.inputs.some((i) => needsTargets[i]);
  return [...g.outputs].filter(([name, id]) => name !== 'loss' && !needsTargets[id]).map(([name]) => name);
}

export interface OnnxExportOptions {
  /** The graph's outputs to export (default: every output). */
  outputs?: string[];
  weights: Map<string, Float32Array>;
  name: string;
  doc?: string;
  metadata?: Record<string, string>;
}

/** The forward graph as an ONNX model: inputs by their IR names, parameters as initializers. */
export function toOnnx(full: Graph, opts: OnnxExportOptions): OnnxModel {
  const graph = prune(full, opts.outputs ?? [...full.outputs.keys()]);
  const sources = new Map<string, [string, number]>();
  for (const [name, id] of graph.inputs)
    graph.nodes[id]!.type.axes.forEach((a, i) => {
      const s = normSize(a.size);
      if (typeof s === 'string' && !s.includes('*') && !sources.has(s)) sources.set(s, [name, i]);
    });
  const e = new OnnxEmitter(sources);
  const lowering = new Lowering(graph, e, opts.weights);
  for (const node of graph.nodes) lowering.node(node);
  const value = (name: string, id: number): OnnxValue => ({
    name,
    dtype: graph.nodes[id]!.type.dtype === 'i32' ? 'int64' : 'float',
    dims: graph.nodes[id]!.type.axes.map((a) => normSize(a.size)),
  });
  const outputs = [...graph.outputs].map(([name, id]) => {
    e.op('Identity', [lowering.name(id)], undefined, name);
    return value(name, id);
  });
  return {
    nodes: e.nodes,
    initializers: [...lowering.params, ...e.initializers],
    inputs: [...graph.inputs].map(([name, id]) => value(name, id)),
    outputs,
    name: opts.name,
    doc: opts.doc ?? '',
    metadata: opts.metadata ?? {},
  };
}

class Lowering {
  private names: string[] = [];
  /** The bool form of comparison results, for Where. */
  private bools = new Map<number, string>();
  readonly params: OnnxModel['initializers'] = [];

  constructor(private readonly g: Graph, private readonly e: OnnxEmitter, private readonly weights: Map<string, Float32Array>) {}

  name(id: number): string {
    return this.names[id]!;
  }

  private axes(id: number): Axis[] {
    return this.g.nodes[id]!.type.axes;
  }

  /** Input `id` with its axes in `out`'s order and a size-1 axis where it lacks one of out's. */
  private aligned(id: number, out: readonly Axis[], tensor = this.name(id)): string {
    const have = this.axes(id).map((a) => a.name);
    const order = out.map((a) => a.name).filter((n) => have.includes(n));
    let t = this.transposed(tensor, have, order);
    const missing = out.map((a, i) => (have.includes(a.name) ? -1 : i)).filter((i) => i >= 0);
    // Broadcasting aligns from the right: leading missing axes need nothing.
    if (missing.some((i, k) => i !== k) && order.length > 0) t = this.e.op('Unsqueeze', [t, this.e.ints(missing)]);
    return t;
  }

  private transposed(t: string, have: string[], want: string[]): string {
    if (have.length === want.length && have.every((n, i) => n === want[i])) return t;
    return this.e.op('Transpose', [t], { perm: want.map((n) => have.indexOf(n)) });
  }

  node(n: Node): void {
    const out = this.lower(n);
    this.names[n.id] = out;
  }

  private lower(n: Node): string {
    const op = n.op;
    const ax = n.type.axes;
    const [x, y] = n.inputs;
    const e = this.e;
    const label = n.label ? `${n.label}` : op.kind;
    switch (op.kind) {
      case 'input':
        return op.name;
      case 'param': {
        const w = this.weights.get(op.name);
        if (!w) throw new ExportError(`no weights for the parameter ${op.name}`);
        this.params.push({ name: op.name, dtype: 'float', dims: ax.map((a) => a.size as number), data: w });
        return op.name;
      }
      case 'const': {
        if (typeof op.value === 'number') return n.type.dtype === 'i32' ? e.ints([op.value], true) : e.floats([op.value]);
        const s = e.op('Squeeze', [e.size(op.value)], undefined);
        return n.type.dtype === 'i32' ? s : e.op('Cast', [s], { to: 1 });
      }
      case 'iota': {
        const [size, offset] = [normSize(op.axis.size), typeof op.offset === 'number' ? op.offset : normSize(op.offset)];
        if (typeof size === 'number' && typeof offset === 'number') return e.floats(Array.from({ length: size }, (_, i) => i + offset), [size]);
        const start = e.op('Squeeze', [e.size(offset)]);
        const limit = e.op('Squeeze', [e.sum(offset, size)]);
        return e.op('Cast', [e.op('Range', [start, limit, e.ints([1], true)])], { to: 1 }, e.fresh(label));
      }
      case 'random':
      case 'scatterAdd':
        throw new ExportError(`the IR op ${op.kind} belongs to training graphs; export the forward pass`);
      case 'unary':
        return e.op(UNARY_OPS[op.fn], [this.name(x!)], undefined, e.fresh(label));
      case 'binary':
        return this.binary(n, op, label);
      case 'select': {
        const cond = this.bools.get(x!) ? this.aligned(x!, ax, this.bools.get(x!)) : e.op('Cast', [this.aligned(x!, ax)], { to: 9 });
        return e.op('Where', [cond, this.aligned(y!, ax), this.aligned(n.inputs[2]!, ax)], undefined, e.fresh(label));
      }
      case 'cast':
        return e.op('Cast', [this.name(x!)], { to: op.to === 'i32' ? 7 : 1 });
      case 'reduce': {
        const i = this.axes(x!).findIndex((a) => a.name === op.axis);
        return e.op(op.fn === 'sum' ? 'ReduceSum' : 'ReduceMax', [this.name(x!), e.ints([i])], { keepdims: 0 }, e.fresh(label));
      }
      case 'contract':
        return this.einsum(n, label);
      case 'gather':
        return this.gather(n, op);
      case 'permute':
        return this.transposed(this.name(x!), this.axes(x!).map((a) => a.name), op.order);
      case 'split':
      case 'merge':
        return e.op('Reshape', [this.name(x!), this.reshapeTarget(this.axes(x!), ax)]);
      case 'rename':
        return this.name(x!);
      case 'slice': {
        const k = this.axes(x!).findIndex((a) => a.name === op.axis);
        return e.op('Slice', [this.name(x!), e.size(op.start), e.sum(op.start, op.size), e.ints([k])]);
      }
      case 'pad': {
        const k = this.axes(x!).findIndex((a) => a.name === op.axis);
        const size = this.axes(x!)[k]!.size;
        const start = normSize(op.start);
        const [full, inner] = [normSize(op.fullSize), normSize(size)];
        if (typeof full !== 'number' || typeof inner !== 'number' || typeof start !== 'number') throw new ExportError(`padding along a run-time size (${op.axis}) is not exported`);
        return e.op('Pad', [this.name(x!), e.ints([start, full - start - inner]), e.floats([0]), e.ints([k])]);
      }
      case 'expand': {
        const have = new Set(this.axes(x!).map((a) => a.name));
        const shape = e.shape(ax.map((a) => (have.has(a.name) ? { name: a.name, size: 1 } : a)));
        return e.op('Expand', [this.aligned(x!, ax), shape]);
      }
    }
  }

  private binary(n: Node, op: OpOf<'binary'>, label: string): string {
    const e = this.e;
    const [a, b] = [this.aligned(n.inputs[0]!, n.type.axes), this.aligned(n.inputs[1]!, n.type.axes)];
    if (op.fn === 'mod') return e.op('Sub', [a, e.op('Mul', [b, e.op('Floor', [e.op('Div', [a, b])])])], undefined, e.fresh(label)); // floored, as interpret.ts
    if (op.fn in ARITH_OPS) return e.op(ARITH_OPS[op.fn as keyof typeof ARITH_OPS], [a, b], undefined, e.fresh(label));
    const bool = op.fn === 'ne' ? e.op('Not', [e.op('Equal', [a, b])]) : e.op(COMPARE_OPS[op.fn as keyof typeof COMPARE_OPS], [a, b]);
    this.bools.set(n.id, bool);
    return e.op('Cast', [bool], { to: 1 }, e.fresh(label));
  }

  private einsum(n: Node, label: string): string {
    const [a, b] = n.inputs as [number, number];
    const letters = new Map<string, string>();
    const spell = (axes: Axis[]) =>
      axes.map((x) => {
        if (!letters.has(x.name)) letters.set(x.name, String.fromCharCode(97 + letters.size));
        return letters.get(x.name)!;
      }).join('');
    const equation = `${spell(this.axes(a))},${spell(this.axes(b))}->${spell(n.type.axes)}`;
    if (letters.size > 26) throw new ExportError(`a contraction over ${letters.size} axes has more than Einsum's 26 letters`);
    return this.e.op('Einsum', [this.name(a), this.name(b)], { equation }, this.e.fresh(label));
  }

  /** Without batch axes, ONNX's Gather; with them (index and table share axes), a one-hot contraction. */
  private gather(n: Node, op: OpOf<'gather'>): string {
    const [table, index] = n.inputs as [number, number];
    const tAxes = this.axes(table).map((a) => a.name);
    const iAxes = this.axes(index).map((a) => a.name);
    const e = this.e;
    if (!iAxes.some((a) => tAxes.includes(a))) {
      const k = tAxes.indexOf(op.axis);
      const out = e.op('Gather', [this.name(table), this.name(index)], { axis: k });
      const got = [...tAxes.slice(0, k), ...iAxes, ...tAxes.slice(k + 1)];
      return this.transposed(out, got, n.type.axes.map((a) => a.name));
    }
    const depth = this.axes(table).find((a) => a.name === op.axis)!.size as number;
    const onehot = e.op('OneHot', [this.name(index), e.ints([depth]), e.floats([0, 1], [2])], { axis: -1 });
    const letters = new Map([...new Set([...iAxes, op.axis, ...tAxes])].map((a, i) => [a, String.fromCharCode(97 + i)]));
    const spell = (axes: string[]) => axes.map((a) => letters.get(a)).join('');
    const equation = `${spell([...iAxes, op.axis])},${spell(tAxes)}->${spell(n.type.axes.map((a) => a.name))}`;
    return e.op('Einsum', [onehot, this.name(table)], { equation });
  }

  /** Reshape's target: 0 (keep) where the axis is unchanged, the size elsewhere. */
  private reshapeTarget(from: Axis[], to: Axis[]): string {
    const dims = to.map((a, i) => (from[i]?.name === a.name && normSize(from[i]!.size) === normSize(a.size) ? 0 : normSize(a.size)));
    if (dims.every((d) => typeof d === 'number')) return this.e.ints(dims as number[]);
    return this.e.op('Concat', dims.map((d) => (typeof d === 'number' ? this.e.ints([d]) : this.e.size(d))), { axis: 0 });
  }
}
