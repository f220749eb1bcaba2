// GraphBuilder: one method per primitive, each doing shape inference. Mistakes here are the
// compiler's bugs (the language's checker rejects user errors first), so they throw plain Errors.
// Identical nodes are shared (hash-consing), which gives common-subexpression elimination for free.

import { normSize, sizeEq, sizeMul } from './size.js';
import type {
  Axis, BinaryFn, DType, Graph, Node, Op, ParamInit, ReduceFn, Size, TensorType, UnaryFn,
} from './types.js';
import { BINARY_FNS, REDUCE_FNS, UNARY_FNS } from './types.js';

export function formatAxes(axes: readonly Axis[]): string {
  return `[${axes.map((a) => (a.size === a.name ? a.name : `${a.name}=${a.size}`)).join(', ')}]`;
}

function axisIndex(t: TensorType, name: string): number {
  return t.axes.findIndex((a) => a.name === name);
}

function normAxis(a: Axis): Axis {
  if (typeof a.name !== 'string' || a.name === '') throw new Error(`axis name must be a non-empty string`);
  return { name: a.name, size: normSize(a.size) };
}

function checkAxes(axes: readonly Axis[], what: string): Axis[] {
  const out = axes.map(normAxis);
  const seen = new Set<string>();
  for (const a of out) {
    if (seen.has(a.name)) throw new Error(`${what}: axis '${a.name}' appears twice in ${formatAxes(out)}`);
    seen.add(a.name);
  }
  return out;
}

/** Axes of a, then axes of b that a lacks; same-named axes must have equal sizes. */
export function unionAxes(a: readonly Axis[], b: readonly Axis[], what: string): Axis[] {
  const out = [...a];
  for (const ax of b) {
    const same = out.find((o) => o.name === ax.name);
    if (!same) out.push(ax);
    else if (!sizeEq(same.size, ax.size)) {
      throw new Error(`${what}: axis '${ax.name}' has size ${same.size} in one operand and ${ax.size} in the other`);
    }
  }
  return out;
}

export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly inputs = new Map<string, number>();
  private readonly params = new Map<string, number>();
  private readonly outputs = new Map<string, number>();
  private readonly interned = new Map<string, number>();

  /** A builder that continues an existing graph (node ids are kept). */
  static from(graph: Graph): GraphBuilder {
    const b = new GraphBuilder();
    for (const n of graph.nodes) {
      const copy: Node = { ...n, inputs: [...n.inputs] };
      b.nodes.push(copy);
      if (n.op.kind !== 'input' && n.op.kind !== 'param') b.interned.set(b.key(n.op, n.inputs, n.type), n.id);
    }
    for (const [k, v] of graph.inputs) b.inputs.set(k, v);
    for (const [k, v] of graph.params) b.params.set(k, v);
    for (const [k, v] of graph.outputs) b.outputs.set(k, v);
    return b;
  }

  node(id: number): Node {
    const n = this.nodes[id];
    if (!n) throw new Error(`no node %${id}`);
    return n;
  }

  type(id: number): TensorType {
    return this.node(id).type;
  }

  private key(op: Op, inputs: readonly number[], type: TensorType): string {
    return JSON.stringify([op, inputs, type]);
  }

  private push(op: Op, inputs: number[], type: TensorType): number {
    for (const i of inputs) this.node(i);
    const interning = op.kind !== 'input' && op.kind !== 'param';
    const key = interning ? this.key(op, inputs, type) : '';
    if (interning) {
      const hit = this.interned.get(key);
      if (hit !== undefined) return hit;
    }
    const id = this.nodes.length;
    this.nodes.push({ id, op, inputs, type });
    if (interning) this.interned.set(key, id);
    return id;
  }

  private f32(id: number, what: string): TensorType {
    const t = this.type(id);
    if (t.dtype !== 'f32') throw new Error(`${what}: operand %${id} must be f32, is ${t.dtype}`);
    return t;
  }

  private axisOf(t: TensorType, name: string, what: string): number {
    const i = axisIndex(t, name);
    if (i < 0) throw new Error(`${what}: no axis '${name}' in ${formatAxes(t.axes)}`);
    return i;
  }

  // ---- sources ----

  input(name: string, axes: readonly Axis[], dtype: DType = 'f32'): number {
    if (this.inputs.has(name)) throw new Error(`input '${name}' declared twice`);
    const id = this.push({ kind: 'input', name }, [], { axes: checkAxes(axes, `input ${name}`), dtype });
    this.inputs.set(name, id);
    return id;
  }

  param(name: string, axes: readonly Axis[], init: ParamInit): number {
    if (this.params.has(name)) throw new Error(`param '${name}' declared twice`);
    const id = this.push({ kind: 'param', name, init: { ...init } }, [], {
      axes: checkAxes(axes, `param ${name}`), dtype: 'f32',
    });
    this.params.set(name, id);
    return id;
  }

  /** A scalar. A string is a size expression resolved at run time (e.g. 'L' for a mean over L). */
  constant(value: number | string): number {
    const v = typeof value === 'string' ? normSize(value) : value;
    return this.push({ kind: 'const', value: v }, [], { axes: [], dtype: 'f32' });
  }

  /** The size of an axis as a scalar f32 (symbolic sizes resolve at run time). */
  sizeOf(size: Size): number {
    return this.constant(size);
  }

  /** f32 values index + offset along one axis; a string offset is a size expression ('P'). */
  iota(axis: Axis, offset: number | string = 0): number {
    const ax = normAxis(axis);
    const off = typeof offset === 'string' ? normSize(offset) : offset;
    return this.push({ kind: 'iota', axis: ax, offset: off }, [], { axes: [ax], dtype: 'f32' });
  }

  random(axes: readonly Axis[], stream: number): number {
    if (!Number.isInteger(stream) || stream < 0 || stream > 0xffffffff) throw new Error(`random: stream must be a u32`);
    return this.push({ kind: 'random', stream }, [], { axes: checkAxes(axes, 'random'), dtype: 'f32' });
  }

  // ---- elementwise ----

  unary(fn: UnaryFn, x: number): number {
    if (!(UNARY_FNS as readonly string[]).includes(fn)) throw new Error(`unknown unary fn '${fn}'`);
    const t = this.f32(x, fn);
    return this.push({ kind: 'unary', fn }, [x], { axes: t.axes, dtype: 'f32' });
  }

  binary(fn: BinaryFn, a: number, b: number): number {
    if (!(BINARY_FNS as readonly string[]).includes(fn)) throw new Error(`unknown binary fn '${fn}'`);
    const ta = this.f32(a, fn);
    const tb = this.f32(b, fn);
    return this.push({ kind: 'binary', fn }, [a, b], { axes: unionAxes(ta.axes, tb.axes, fn), dtype: 'f32' });
  }

  /** cond != 0 ? a : b. Result axes: a's, then b's that a lacks, then cond's that both lack. */
  select(cond: number, a: number, b: number): number {
    const tc = this.f32(cond, 'select');
    const ta = this.f32(a, 'select');
    const tb = this.f32(b, 'select');
    const axes = unionAxes(unionAxes(ta.axes, tb.axes, 'select'), tc.axes, 'select');
    return this.push({ kind: 'select' }, [cond, a, b], { axes, dtype: 'f32' });
  }

  cast(x: number, to: DType): number {
    const t = this.type(x);
    if (t.dtype === to) return x;
    return this.push({ kind: 'cast', to }, [x], { axes: t.axes, dtype: to });
  }

  // ---- reductions and contraction ----

  reduce(fn: ReduceFn, x: number, axis: string): number {
    if (!(REDUCE_FNS as readonly string[]).includes(fn)) throw new Error(`unknown reduce fn '${fn}'`);
    const t = this.f32(x, `reduce ${fn}`);
    const i = this.axisOf(t, axis, `reduce ${fn}`);
    return this.push({ kind: 'reduce', fn, axis }, [x], { axes: t.axes.filter((_, j) => j !== i), dtype: 'f32' });
  }

  /**
   * Einsum named by axes: the result has axes `out` (each from a or b); axes that both operands
   * have and `out` lacks are summed. An axis in one operand only must appear in `out`.
   */
  contract(a: number, b: number, out: readonly string[]): number {
    const ta = this.f32(a, 'contract');
    const tb = this.f32(b, 'contract');
    const all = unionAxes(ta.axes, tb.axes, 'contract');
    const outSet = new Set(out);
    if (outSet.size !== out.length) throw new Error(`contract: repeated axis in out [${out.join(', ')}]`);
    const axes = out.map((name) => {
      const ax = all.find((x) => x.name === name);
      if (!ax) throw new Error(`contract: out axis '${name}' is in neither ${formatAxes(ta.axes)} nor ${formatAxes(tb.axes)}`);
      return ax;
    });
    for (const ax of all) {
      const inA = axisIndex(ta, ax.name) >= 0;
      const inB = axisIndex(tb, ax.name) >= 0;
      if (!outSet.has(ax.name) && !(inA && inB)) {
        throw new Error(`contract: axis '${ax.name}' is in one operand only and not in out; reduce it first`);
      }
    }
    return this.push({ kind: 'contract', out: [...out] }, [a, b], { axes, dtype: 'f32' });
  }

  // ---- indexing ----

  /**
   * out[i.., r..] = table[axis = index[i..], r..]: out axes are index's axes, then table's other
   * axes that index lacks; table axes that index also has are batch axes matched by name.
   */
  gather(table: number, index: number, axis: string): number {
    const tt = this.type(table);
    const ti = this.type(index);
    if (ti.dtype !== 'i32') throw new Error(`gather: index %${index} must be i32, is ${ti.dtype}`);
    const i = this.axisOf(tt, axis, 'gather');
    if (axisIndex(ti, axis) >= 0) throw new Error(`gather: the index must not have the gathered axis '${axis}'`);
    const rest = tt.axes.filter((_, j) => j !== i);
    const axes = unionAxes(ti.axes, rest, 'gather');
    return this.push({ kind: 'gather', axis }, [table, index], { axes, dtype: tt.dtype });
  }

  /**
   * The transpose of gather: out[axis = index[i..], ..] += values[i.., ..]. Out axes are `out`
   * (default: `axis`, then values' axes that index lacks); values' axes not in out must be index
   * axes; index axes named in out are batch axes.
   */
  scatterAdd(values: number, index: number, axis: Axis, out?: readonly string[]): number {
    const tv = this.f32(values, 'scatterAdd');
    const ti = this.type(index);
    if (ti.dtype !== 'i32') throw new Error(`scatterAdd: index %${index} must be i32, is ${ti.dtype}`);
    const ax = normAxis(axis);
    unionAxes(tv.axes, ti.axes, 'scatterAdd');
    for (const a of ti.axes) {
      if (axisIndex(tv, a.name) < 0) throw new Error(`scatterAdd: values ${formatAxes(tv.axes)} lack index axis '${a.name}'`);
    }
    if (axisIndex(tv, ax.name) >= 0 || axisIndex(ti, ax.name) >= 0) {
      throw new Error(`scatterAdd: axis '${ax.name}' must be new (not in values or index)`);
    }
    const names = out ?? [ax.name, ...tv.axes.filter((a) => axisIndex(ti, a.name) < 0).map((a) => a.name)];
    const axes = checkAxes(names.map((n) => {
      if (n === ax.name) return ax;
      const v = tv.axes[axisIndex(tv, n)];
      if (!v) throw new Error(`scatterAdd: out axis '${n}' is not in values ${formatAxes(tv.axes)}`);
      return v;
    }), 'scatterAdd');
    if (!names.includes(ax.name)) throw new Error(`scatterAdd: out [${names.join(', ')}] lacks '${ax.name}'`);
    for (const v of tv.axes) {
      if (!names.includes(v.name) && axisIndex(ti, v.name) < 0) {
        throw new Error(`scatterAdd: values axis '${v.name}' is neither in out nor an index axis`);
      }
    }
    return this.push({ kind: 'scatterAdd', axis: ax, out: [...names] }, [values, index], { axes, dtype: 'f32' });
  }

  // ---- layout ----

  permute(x: number, order: readonly string[]): number {
    const t = this.type(x);
    if (order.length !== t.axes.length || new Set(order).size !== order.length) {
      throw new Error(`permute: order [${order.join(', ')}] is not a permutation of ${formatAxes(t.axes)}`);
    }
    const axes = order.map((n) => t.axes[this.axisOf(t, n, 'permute')]!);
    if (axes.every((a, i) => a === t.axes[i])) return x;
    return this.push({ kind: 'permute', order: [...order] }, [x], { axes, dtype: t.dtype });
  }

  split(x: number, axis: string, into: readonly Axis[]): number {
    const t = this.type(x);
    const i = this.axisOf(t, axis, 'split');
    const parts = checkAxes(into, 'split');
    const whole = t.axes[i]!;
    if (!sizeEq(sizeMul(...parts.map((p) => p.size)), whole.size)) {
      throw new Error(`split: ${formatAxes(parts)} does not multiply to ${whole.name}=${whole.size}`);
    }
    const axes = [...t.axes.slice(0, i), ...parts, ...t.axes.slice(i + 1)];
    checkAxes(axes, 'split');
    return this.push({ kind: 'split', axis, into: parts }, [x], { axes, dtype: t.dtype });
  }

  /** Merge axes into one. If they are not adjacent and in order, a permute moves them next to the first. */
  merge(x: number, names: readonly string[], into: Axis): number {
    let t = this.type(x);
    if (names.length === 0) throw new Error('merge: no axes');
    const idx = names.map((n) => this.axisOf(t, n, 'merge'));
    const first = idx[0]!;
    if (!idx.every((v, j) => v === first + j)) {
      const others = t.axes.map((a) => a.name).filter((n) => !names.includes(n));
      const at = t.axes.slice(0, first).filter((a) => !names.includes(a.name)).length;
      x = this.permute(x, [...others.slice(0, at), ...names, ...others.slice(at)]);
      t = this.type(x);
    }
    const start = this.axisOf(t, names[0]!, 'merge');
    const merged = t.axes.slice(start, start + names.length);
    const ax = normAxis(into);
    if (!sizeEq(sizeMul(...merged.map((m) => m.size)), ax.size)) {
      throw new Error(`merge: ${formatAxes(merged)} does not multiply to ${ax.name}=${ax.size}`);
    }
    const axes = [...t.axes.slice(0, start), ax, ...t.axes.slice(start + names.length)];
    checkAxes(axes, 'merge');
    return this.push({ kind: 'merge', axes: [...names], into: ax }, [x], { axes, dtype: t.dtype });
  }

  rename(x: number, from: string, to: string): number {
    if (from === to) return x;
    const t = this.type(x);
    const i = this.axisOf(t, from, 'rename');
    const axes = t.axes.map((a, j) => (j === i ? { name: to, size: a.size } : a));
    checkAxes(axes, 'rename');
    return this.push({ kind: 'rename', from, to }, [x], { axes, dtype: t.dtype });
  }

  slice(x: number, axis: string, start: Size, size: Size): number {
    const t = this.type(x);
    const i = this.axisOf(t, axis, 'slice');
    const full = t.axes[i]!.size;
    const s0 = normSize(start);
    const n = normSize(size);
    if (typeof full === 'number' && typeof s0 === 'number' && typeof n === 'number' && s0 + n > full) {
      throw new Error(`slice: [${s0}, ${s0 + n}) is outside ${axis}=${full}`);
    }
    const axes = t.axes.map((a, j) => (j === i ? { name: a.name, size: n } : a));
    return this.push({ kind: 'slice', axis, start: s0, size: n }, [x], { axes, dtype: t.dtype });
  }

  pad(x: number, axis: string, start: Size, fullSize: Size): number {
    const t = this.type(x);
    const i = this.axisOf(t, axis, 'pad');
    const n = t.axes[i]!.size;
    const s0 = normSize(start);
    const full = normSize(fullSize);
    if (typeof full === 'number' && typeof s0 === 'number' && typeof n === 'number' && s0 + n > full) {
      throw new Error(`pad: [${s0}, ${s0 + n}) is outside ${axis}=${full}`);
    }
    const axes = t.axes.map((a, j) => (j === i ? { name: a.name, size: full } : a));
    return this.push({ kind: 'pad', axis, start: s0, fullSize: full }, [x], { axes, dtype: t.dtype });
  }

  /** Broadcast to `to`, which holds every axis of x (same sizes), in any order. */
  expand(x: number, to: readonly Axis[]): number {
    const t = this.type(x);
    const axes = checkAxes(to, 'expand');
    for (const a of t.axes) {
      const o = axes.find((b) => b.name === a.name);
      if (!o || !sizeEq(o.size, a.size)) throw new Error(`expand: ${formatAxes(axes)} lacks ${a.name}=${a.size}`);
    }
    if (axes.length === t.axes.length && axes.every((a, i) => a.name === t.axes[i]!.name)) return x;
    return this.push({ kind: 'expand', to: axes }, [x], { axes, dtype: t.dtype });
  }

  // ---- conveniences built from primitives ----

  add(a: number, b: number): number { return this.binary('add', a, b); }
  sub(a: number, b: number): number { return this.binary('sub', a, b); }
  mul(a: number, b: number): number { return this.binary('mul', a, b); }
  div(a: number, b: number): number { return this.binary('div', a, b); }
  neg(x: number): number { return this.unary('neg', x); }
  scale(x: number, c: number | string): number { return this.binary('mul', x, this.constant(c)); }
  sum(x: number, axis: string): number { return this.reduce('sum', x, axis); }

  /** sum over axis times 1/size (the size may be a runtime symbol). */
  mean(x: number, axis: string): number {
    const t = this.type(x);
    const size = t.axes[this.axisOf(t, axis, 'mean')]!.size;
    return this.mul(this.reduce('sum', x, axis), this.unary('recip', this.sizeOf(size)));
  }

  /** a and b laid end to end along `axis` (same name in both): pad each, then add. */
  concat(a: number, b: number, axis: string): number {
    const ta = this.type(a);
    const tb = this.type(b);
    const na = ta.axes[this.axisOf(ta, axis, 'concat')]!.size;
    const nb = tb.axes[this.axisOf(tb, axis, 'concat')]!.size;
    const full = sizeMulAdd(na, nb);
    return this.add(this.pad(a, axis, 0, full), this.pad(b, axis, na, full));
  }

  // ---- graph ----

  output(name: string, id: number): void {
    this.node(id);
    if (this.outputs.has(name)) throw new Error(`output '${name}' declared twice`);
    this.outputs.set(name, id);
  }

  label(id: number, text: string): number {
    this.node(id).label = text;
    return id;
  }

  build(): Graph {
    return {
      nodes: this.nodes.map((n) => ({ ...n, inputs: [...n.inputs] })),
      inputs: new Map(this.inputs),
      params: new Map(this.params),
      outputs: new Map(this.outputs),
    };
  }
}

function sizeMulAdd(a: Size, b: Size): Size {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  throw new Error(`concat: symbolic sizes ${a} + ${b} are not supported (sizes are products of symbols)`);
}
