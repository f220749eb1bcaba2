// The reference interpreter: the definition of what every primitive means. Plain strided loops
// over named axes; values are computed in float64 and stored per node in Float32Array (f32 mode,
// so every op rounds like float32) or Float64Array (f64 mode, for finite-difference checks).

import { evalSize } from './size.js';
import { randomUniform } from './random.js';
import type { Axis, Graph, Node, Op, OpOf, TensorType, UnaryFn, BinaryFn } from './types.js';

export type Data = Float32Array | Float64Array | Int32Array;

export interface Feeds {
  inputs: Record<string, Data>;
  params: Record<string, Float32Array | Float64Array>;
  /** Runtime symbols: axis sizes ('B', 'L', ...) and 'seed' for random. */
  symbols: Record<string, number>;
}

export interface InterpretOptions {
  precision?: 'f32' | 'f64';
}

/** A computed tensor: its type with every size resolved to a number, and its row-major data. */
export interface Value {
  type: TensorType;
  data: Data;
}

export function numel(t: TensorType): number {
  return t.axes.reduce((n, a) => n * (a.size as number), 1);
}

export function resolveType(t: TensorType, symbols: Record<string, number>): TensorType {
  return { dtype: t.dtype, axes: t.axes.map((a) => ({ name: a.name, size: evalSize(a.size, symbols) })) };
}

const UNARY: Record<UnaryFn, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  recip: (x) => 1 / x,
  tanh: Math.tanh,
  sin: Math.sin,
  cos: Math.cos,
};

const BINARY: Record<BinaryFn, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  max: (a, b) => (a >= b ? a : b),
  min: (a, b) => (a <= b ? a : b),
  // floored modulo: the result has b's sign (for a, b >= 0 it equals WGSL's %)
  mod: (a, b) => a - b * Math.floor(a / b),
  lt: (a, b) => (a < b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
};

function shapeOf(t: TensorType): number[] {
  return t.axes.map((a) => a.size as number);
}

function stridesOf(t: TensorType): Map<string, number> {
  const m = new Map<string, number>();
  let s = 1;
  for (let i = t.axes.length - 1; i >= 0; i--) {
    const a = t.axes[i]!;
    m.set(a.name, s);
    s *= a.size as number;
  }
  return m;
}

/** For each axis of `over`, the stride of the same-named axis in `t`, or 0 when t lacks it. */
function stridesOver(t: TensorType, over: readonly Axis[]): number[] {
  const m = stridesOf(t);
  return over.map((a) => m.get(a.name) ?? 0);
}

/**
 * Visit every multi-index of `shape` in row-major order, passing the flat offset into each of
 * several tensors (one stride list per tensor, aligned with shape).
 */
function walk(shape: readonly number[], strides: readonly number[][], visit: (offs: number[]) => void): void {
  const n = shape.length;
  const k = strides.length;
  if (shape.some((s) => s === 0)) return;
  const idx = new Array<number>(n).fill(0);
  const offs = new Array<number>(k).fill(0);
  for (;;) {
    visit(offs);
    let d = n - 1;
    for (; d >= 0; d--) {
      idx[d]!++;
      for (let j = 0; j < k; j++) offs[j]! += strides[j]![d]!;
      if (idx[d]! < shape[d]!) break;
      for (let j = 0; j < k; j++) offs[j]! -= strides[j]![d]! * shape[d]!;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

type Ctx = {
  node: Node;
  type: TensorType; // resolved
  args: Value[];
  symbols: Record<string, number>;
  feeds: Feeds;
  alloc: (t: TensorType) => Data;
};

type Impl<K extends Op['kind']> = (op: OpOf<K>, c: Ctx) => Data;

function fill(c: Ctx, f: (i: number) => number): Data {
  const out = c.alloc(c.type);
  for (let i = 0; i < out.length; i++) out[i] = f(i);
  return out;
}

function fromFeed(c: Ctx, what: string, src: Data | undefined): Data {
  if (!src) throw new Error(`interpret: no feed for ${what}`);
  const out = c.alloc(c.type);
  if (src.length !== out.length) {
    throw new Error(`interpret: ${what} has ${src.length} elements, expected ${out.length} for ${JSON.stringify(c.type.axes)}`);
  }
  if (out instanceof Int32Array && !(src instanceof Int32Array) && src.some((v) => !Number.isInteger(v))) {
    throw new Error(`interpret: ${what} is i32 but was fed non-integers`);
  }
  out.set(src);
  return out;
}

/** out[flat over `over`] = f(args at the same named position); missing axes broadcast. */
function elementwise(c: Ctx, f: (xs: number[]) => number): Data {
  const out = c.alloc(c.type);
  const st = c.args.map((a) => stridesOver(a.type, c.type.axes));
  const xs = new Array<number>(c.args.length);
  let i = 0;
  walk(shapeOf(c.type), st, (offs) => {
    for (let j = 0; j < xs.length; j++) xs[j] = c.args[j]!.data[offs[j]!]!;
    out[i++] = f(xs);
  });
  return out;
}

/** out[i] = x[offset of the same named position], over the output's axes (permute, expand, slice). */
function relayout(c: Ctx, x: Value, base = 0): Data {
  const out = c.alloc(c.type);
  let i = 0;
  walk(shapeOf(c.type), [stridesOver(x.type, c.type.axes)], (offs) => {
    out[i++] = x.data[base + offs[0]!]!;
  });
  return out;
}

/** Accumulate in float64, then store in the node's precision. */
function accumulate(c: Ctx, acc: Float64Array): Data {
  const out = c.alloc(c.type);
  out.set(acc);
  return out;
}

const IMPL: { [K in Op['kind']]: Impl<K> } = {
  input: (op, c) => fromFeed(c, `input '${op.name}'`, c.feeds.inputs[op.name]),
  param: (op, c) => fromFeed(c, `param '${op.name}'`, c.feeds.params[op.name]),
  const: (op, c) => fill(c, () => (typeof op.value === 'number' ? op.value : evalSize(op.value, c.symbols))),
  iota: (op, c) => {
    const off = typeof op.offset === 'number' ? op.offset : evalSize(op.offset, c.symbols);
    return fill(c, (i) => i + off);
  },
  random: (op, c) => {
    const seed = c.symbols.seed;
    if (seed === undefined) throw new Error(`interpret: random needs the runtime symbol 'seed'`);
    return fill(c, (i) => randomUniform(seed, op.stream, i));
  },
  unary: (op, c) => {
    const f = UNARY[op.fn];
    const x = c.args[0]!.data;
    return fill(c, (i) => f(x[i]!));
  },
  binary: (op, c) => {
    const f = BINARY[op.fn];
    return elementwise(c, (xs) => f(xs[0]!, xs[1]!));
  },
  select: (_op, c) => elementwise(c, (xs) => (xs[0]! !== 0 ? xs[1]! : xs[2]!)),
  cast: (op, c) => {
    const x = c.args[0]!.data;
    return fill(c, (i) => (op.to === 'i32' ? Math.trunc(x[i]!) : x[i]!));
  },
  reduce: (op, c) => {
    const x = c.args[0]!;
    const acc = new Float64Array(numel(c.type)).fill(op.fn === 'sum' ? 0 : -Infinity);
    const outSt = stridesOver(c.type, x.type.axes); // 0 along the reduced axis
    const inSt = stridesOver(x.type, x.type.axes);
    const f = op.fn === 'sum' ? (a: number, v: number) => a + v : (a: number, v: number) => (v > a ? v : a);
    walk(shapeOf(x.type), [outSt, inSt], (offs) => {
      acc[offs[0]!] = f(acc[offs[0]!]!, x.data[offs[1]!]!);
    });
    return accumulate(c, acc);
  },
  contract: (_op, c) => {
    const [a, b] = c.args as [Value, Value];
    const summed = a.type.axes.filter(
      (ax) => b.type.axes.some((bx) => bx.name === ax.name) && !c.type.axes.some((o) => o.name === ax.name),
    );
    const over = [...c.type.axes, ...summed];
    const acc = new Float64Array(numel(c.type));
    const st = [stridesOver(c.type, over), stridesOver(a.type, over), stridesOver(b.type, over)];
    walk(over.map((x) => x.size as number), st, (offs) => {
      acc[offs[0]!]! += a.data[offs[1]!]! * b.data[offs[2]!]!;
    });
    return accumulate(c, acc);
  },
  gather: (op, c) => {
    const [table, index] = c.args as [Value, Value];
    const size = table.type.axes.find((a) => a.name === op.axis)!.size as number;
    const stride = stridesOf(table.type).get(op.axis)!;
    const out = c.alloc(c.type);
    let i = 0;
    walk(shapeOf(c.type), [stridesOver(index.type, c.type.axes), stridesOver(table.type, c.type.axes)], (offs) => {
      const k = index.data[offs[0]!]!;
      out[i++] = k >= 0 && k < size ? table.data[offs[1]! + k * stride]! : 0;
    });
    return out;
  },
  scatterAdd: (op, c) => {
    const [values, index] = c.args as [Value, Value];
    const size = c.type.axes.find((a) => a.name === op.axis.name)!.size as number;
    const stride = stridesOf(c.type).get(op.axis.name)!;
    const acc = new Float64Array(numel(c.type));
    const over = values.type.axes;
    walk(shapeOf(values.type), [stridesOver(index.type, over), stridesOver(c.type, over), stridesOver(values.type, over)], (offs) => {
      const k = index.data[offs[0]!]!;
      if (k >= 0 && k < size) acc[offs[1]! + k * stride]! += values.data[offs[2]!]!;
    });
    return accumulate(c, acc);
  },
  permute: (_op, c) => relayout(c, c.args[0]!),
  expand: (_op, c) => relayout(c, c.args[0]!),
  // split / merge / rename reinterpret the same row-major buffer
  split: (_op, c) => c.args[0]!.data,
  merge: (_op, c) => c.args[0]!.data,
  rename: (_op, c) => c.args[0]!.data,
  slice: (op, c) => {
    const x = c.args[0]!;
    const start = evalSize(op.start, c.symbols);
    const full = x.type.axes.find((a) => a.name === op.axis)!.size as number;
    const size = c.type.axes.find((a) => a.name === op.axis)!.size as number;
    if (start < 0 || start + size > full) throw new Error(`interpret: slice [${start}, ${start + size}) outside ${op.axis}=${full}`);
    return relayout(c, x, start * stridesOf(x.type).get(op.axis)!);
  },
  pad: (op, c) => {
    const x = c.args[0]!;
    const start = evalSize(op.start, c.symbols);
    const size = x.type.axes.find((a) => a.name === op.axis)!.size as number;
    const full = c.type.axes.find((a) => a.name === op.axis)!.size as number;
    if (start < 0 || start + size > full) throw new Error(`interpret: pad [${start}, ${start + size}) outside ${op.axis}=${full}`);
    const out = c.alloc(c.type);
    const base = start * stridesOf(c.type).get(op.axis)!;
    let i = 0;
    walk(shapeOf(x.type), [stridesOver(c.type, x.type.axes)], (offs) => {
      out[base + offs[0]!] = x.data[i++]!;
    });
    return out;
  },
};

/** Evaluate every node (index = node id). Nodes that no output needs are skipped (undefined). */
export function evaluate(graph: Graph, feeds: Feeds, opts: InterpretOptions = {}): (Value | undefined)[] {
  const precision = opts.precision ?? 'f32';
  const alloc = (t: TensorType): Data => {
    const n = numel(t);
    if (t.dtype === 'i32') return new Int32Array(n);
    return precision === 'f64' ? new Float64Array(n) : new Float32Array(n);
  };
  const needed = new Array<boolean>(graph.nodes.length).fill(false);
  for (const id of graph.outputs.values()) needed[id] = true;
  for (let id = graph.nodes.length - 1; id >= 0; id--) {
    if (needed[id]) for (const i of graph.nodes[id]!.inputs) needed[i] = true;
  }
  const values: (Value | undefined)[] = new Array(graph.nodes.length);
  for (const node of graph.nodes) {
    if (!needed[node.id]) continue;
    const type = resolveType(node.type, feeds.symbols);
    const args = node.inputs.map((i) => values[i]!);
    const impl = IMPL[node.op.kind] as Impl<Op['kind']>;
    const data = impl(node.op, { node, type, args, symbols: feeds.symbols, feeds, alloc });
    values[node.id] = { type, data };
  }
  return values;
}

/** Run a graph; returns every output by name. */
export function interpret(graph: Graph, feeds: Feeds, opts: InterpretOptions = {}): Map<string, Value> {
  const values = evaluate(graph, feeds, opts);
  const out = new Map<string, Value>();
  for (const [name, id] of graph.outputs) out.set(name, values[id]!);
  return out;
}
