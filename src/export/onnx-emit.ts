// Building an ONNX graph: fresh tensor names, constants (shared), and run-time sizes. A size the
// IR knows only as a symbol ('B', 'L', 'B*L') is read from the shape of a graph input that has
// an axis of that size, so batch and sequence length stay symbolic dimensions of the model.
import { normSize, type Axis, type Size } from '../ir/index.js';
import { ExportError } from './error.js';
import type { AttrValue, OnnxNode, OnnxTensor } from './onnx-proto.js';

export class OnnxEmitter {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private count = 0;
  private consts = new Map<string, string>();
  private symbolDims = new Map<string, string>();

  /** symbol -> [input tensor, axis index] for every symbolic axis of a graph input. */
  constructor(private readonly symbolSources: Map<string, [string, number]>) {}

  fresh(hint: string): string {
    return `${hint}#${this.count++}`;
  }

  /** One node with one output; returns the output's name. */
  op(op: string, inputs: string[], attrs?: Record<string, AttrValue>, out?: string): string {
    const name = out ?? this.fresh(op);
    this.nodes.push({ op, inputs, outputs: [name], attrs });
    return name;
  }

  /** A constant int64 tensor (1-D, or a scalar with `scalar`), shared by every use. */
  ints(values: number[], scalar = false): string {
    const key = `i${scalar ? 's' : ''}:${values.join(',')}`;
    let name = this.consts.get(key);
    if (!name) {
      name = this.fresh('const');
      this.initializers.push({ name, dtype: 'int64', dims: scalar ? [] : [values.length], data: BigInt64Array.from(values.map(BigInt)) });
      this.consts.set(key, name);
    }
    return name;
  }

  /** A constant float tensor of the given dims (a scalar by default), shared by every use. */
  floats(values: number[] | Float32Array, dims: number[] = []): string {
    const data = Float32Array.from(values);
    const key = `f:${dims.join('x')}:${Array.from(data).join(',')}`;
    let name = this.consts.get(key);
    if (!name) {
      name = this.fresh('const');
      this.initializers.push({ name, dtype: 'float', dims, data });
      this.consts.set(key, name);
    }
    return name;
  }

  /** A size as a 1-D int64 tensor of one element: a constant, or read from an input's shape. */
  size(s: Size): string {
    const norm = normSize(s);
    if (typeof norm === 'number') return this.ints([norm]);
    let out: string | undefined;
    for (const factor of norm.split('*')) {
      const part = /^\d+$/.test(factor) ? this.ints([Number(factor)]) : this.symbol(factor);
      out = out === undefined ? part : this.op('Mul', [out, part]);
    }
    return out!;
  }

  /** The shape of tensors with these axes as a 1-D int64 tensor (constant when every size is). */
  shape(axes: readonly Axis[]): string {
    if (axes.every((a) => typeof normSize(a.size) === 'number')) return this.ints(axes.map((a) => normSize(a.size) as number));
    return this.op('Concat', axes.map((a) => this.size(a.size)), { axis: 0 });
  }

  /** start + size as a 1-D int64 tensor. */
  sum(a: Size, b: Size): string {
    const [x, y] = [normSize(a), normSize(b)];
    if (typeof x === 'number' && typeof y === 'number') return this.ints([x + y]);
    if (x === 0) return this.size(y);
    return this.op('Add', [this.size(x), this.size(y)]);
  }

  private symbol(sym: string): string {
    let name = this.symbolDims.get(sym);
    if (!name) {
      const src = this.symbolSources.get(sym);
      if (!src) throw new ExportError(`the size '${sym}' is known only at run time and no input of the exported graph has an axis of that size`);
      name = this.op('Shape', [src[0]], { start: src[1], end: src[1] + 1 });
      this.symbolDims.set(sym, name);
    }
    return name;
  }
}
