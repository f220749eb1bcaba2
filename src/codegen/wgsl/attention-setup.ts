// What both attention variants share (attention.ts: a row per invocation, for llvmpipe;
// attention-flash.ts: query tiles per workgroup, for GPUs): the kernel's rows, steps, dot
// products and parts read off the fused graph, the causal bound's range of steps, and the stores.

import type { AttentionKernel, FusedGraph } from '../../ir/fuse/types.js';
import type { Node } from '../../ir/types.js';
import { sizeOf } from '../../ir/fuse/resolve.js';
import { dagOf } from '../../ir/fuse/views.js';
import { indent, kernelEnv, storageBindings, storeTo, type CodegenOptions, type KernelBinding } from './common.js';
import { Sizes } from './sizes.js';
import { Emitter, f32Lit, unflatten, type Coords, type SizedAxis } from './expr.js';
import { contiguousBy4 } from './quad.js';

export type Axes = SizedAxis[];

/** Head and value sums up to this long are unrolled by the CPU variant (attention.ts). */
const UNROLL = 64;

export const sizeOfAxes = (axes: Axes) => axes.reduce((p, a) => p * a.size, 1);

/** The coordinates of flat index i over `axes`, as literals: the emitter then shares a load
 *  between a dot product's head sum and the accumulation when both read one tensor there. */
export function literal(i: number, axes: Axes): Coords {
  const c: Coords = {};
  for (let j = axes.length - 1; j >= 0; j--) {
    c[axes[j]!.name] = String(i % axes[j]!.size);
    i = Math.floor(i / axes[j]!.size);
  }
  return c;
}

/** One output of the kernel (the kernel itself, or a sibling sharing its rows and steps). */
export interface AttentionPart {
  k: AttentionKernel;
  valueAxes: Axes;
  NV: number;
  /** The tensors the operand's expression reads (the dots are computed, not read). */
  reads: { node: number; preserving: boolean }[];
}

/** A dot product the kernel computes per step (q . k, dout . v) over its `head` axes. */
export interface AttentionDot {
  id: number;
  head: Axes;
  /** The operand fixed for a row (loaded once, before the loop), if one is. */
  fixed: Node | undefined;
  moving: Node;
  both: readonly [Node, Node];
}

export interface AttentionSetup {
  fg: FusedGraph;
  k: AttentionKernel;
  env: ReturnType<typeof kernelEnv>;
  /** The dot products' values at a step, which the emitter takes instead of computing them. */
  provided: Map<number, { value: string; coords: Coords }>;
  ref: (key: string, value: number) => string;
  decls: string[];
  bindings: KernelBinding[];
  rowAxes: Axes;
  /** The summed axes, a bounded one outermost (so that its range is one range of steps). */
  streamAxes: Axes;
  steps: number;
  parts: AttentionPart[];
  dots: AttentionDot[];
  /** Every head and value sum at most UNROLL long: the CPU variant unrolls them. */
  unrolled: boolean;
  streamed: (n: Node) => boolean;
  namesOf: (n: Node) => string[];
}

export function setupAttention(fg: FusedGraph, k: AttentionKernel, opts: Required<CodegenOptions>): AttentionSetup {
  const g = fg.graph;
  const provided = new Map<number, { value: string; coords: Coords }>();
  const env = kernelEnv(fg, k, provided, new Sizes(opts.uniformSizes, true));
  const ref = (key: string, value: number) => env.sizes.ref(key, value);
  const namesOf = (n: Node) => n.type.axes.map((a) => a.name);
  const axesOf = (names: readonly string[], ...from: Node[]): Axes =>
    names.map((name) => ({ name, size: sizeOf(from.find((n) => n.type.axes.some((a) => a.name === name))!, name) }));
  const pairs = g.nodes[k.pairs]!;
  const limit = k.keyBound;
  const streamAxes = axesOf(limit ? [limit.axis, ...k.stream.filter((a) => a !== limit.axis)] : k.stream, pairs);
  const streamed = (n: Node) => n.type.axes.some((a) => k.stream.includes(a.name));
  const parts = [k, ...(k.siblings ?? [])].map((part) => {
    const out = g.nodes[part.node]!;
    const valueAxes = axesOf(namesOf(out).filter((a) => !k.rowAxes.includes(a)), out);
    const reads = dagOf(g, part.softmax?.scores ?? part.pairs, (id) => fg.primary.has(id) || part.dots.includes(id)).reads.filter((r) => !part.dots.includes(r.node));
    return { k: part, valueAxes, NV: sizeOfAxes(valueAxes), reads };
  });
  const dots = [...new Set(parts.flatMap((p) => p.k.dots))].map((id) => {
    const d = g.nodes[id]!;
    const [a, b] = d.inputs.map((i) => g.nodes[i]!) as [Node, Node];
    const head = axesOf([...new Set([...namesOf(a), ...namesOf(b)])].filter((x) => !namesOf(d).includes(x)), a, b);
    const [fixed, moving] = streamed(a) ? [b, a] : [a, b];
    return { id, head, fixed: streamed(fixed) ? undefined : fixed, moving, both: [a, b] as const };
  });
  const unrolled = dots.every((d) => sizeOfAxes(d.head) <= UNROLL) && parts.every((p) => p.NV <= UNROLL);
  // the CPU variant's unrolled sums read at literal head and value coordinates, 4 of which share
  // a texel of a tensor contiguous along that axis (q, k, v, dout: expr.ts, laneOf)
  if (unrolled && opts.kernels !== 'gpu') env.texel4 = new Set();
  const { decls, bindings } = storageBindings(fg, k, env, opts, (t) => contiguousBy4(fg, t));
  return { fg, k, env, provided, ref, decls, bindings, rowAxes: axesOf(k.rowAxes, pairs), streamAxes, steps: sizeOfAxes(streamAxes), parts, dots, unrolled, streamed, namesOf };
}

/**
 * The steps [start, end) the rows `rowsOf` need, as WGSL i32 expressions bound in `body`: all of
 * them, or with a causal bound (AttentionKernel.keyBound) the live steps of the bounded axis,
 * [0, count) or [first, size) with `lower`, over all the rows.
 */
export function stepRange(a: AttentionSetup, body: Emitter, rowsOf: Coords[]): { start: string; end: string } {
  const { ref, steps } = a;
  const limit = a.k.keyBound;
  if (!limit) return { start: '0', end: ref('steps', steps) };
  const size = a.streamAxes[0]!.size;
  const inner = steps / size;
  const edges = rowsOf.map((c) => {
    const lim = `${body.value(limit.bound, c)} - ${f32Lit(limit.offset)}`;
    const edge = limit.lower ? (limit.strict ? `floor(${lim}) + 1.0` : `ceil(${lim})`) : limit.strict ? `ceil(${lim})` : `floor(${lim}) + 1.0`;
    return body.bind(`i32(clamp(${edge}, 0.0, f32(${ref('bounded', size)})))`, 'edge');
  });
  const most = edges.reduce((x, y) => `max(${x}, ${y})`);
  const least = edges.reduce((x, y) => `min(${x}, ${y})`);
  const times = (x: string) => (inner === 1 ? x : `(${x}) * ${ref('inner', inner)}`);
  if (limit.lower) return { start: body.bind(times(least), 's_start'), end: ref('steps', steps) };
  // the forward's query with no live key at all takes every key (the softmax of equal scores)
  if (a.k.softmax) return { start: '0', end: body.bind(`select(${times(most)}, ${ref('steps', steps)}, ${least} == 0)`, 's_end') };
  return { start: '0', end: body.bind(times(most), 's_end') };
}

/**
 * The stores of row `t` (coordinates `row`): each part's values from `result(i, j)` (j a literal
 * index when `unrolled`, else the loop's `j`), and the forward's max and sum, for the backward,
 * from `mx[t]` and `total[t]`.
 */
export function storeRow(a: AttentionSetup, body: Emitter, row: Coords, t: number, unrolled: boolean, result: (i: number, j: string | number) => string): string[] {
  const { fg, env, k, ref } = a;
  const lines: string[] = [];
  a.parts.forEach((part, i) => {
    const tensor = fg.tensors[part.k.out]!;
    if (unrolled) {
      for (let j = 0; j < part.NV; j++) lines.push(storeTo(env, part.k.out, body.offset(tensor, { ...row, ...literal(j, part.valueAxes) }), result(i, j)));
    } else {
      const e = new Emitter(env, body);
      const line = storeTo(env, part.k.out, e.offset(tensor, { ...row, ...unflatten(e, 'j', part.valueAxes, 'oj') }), result(i, 'j'));
      lines.push(`for (var j: i32 = 0; j < ${ref(`nv${i}`, part.NV)}; j++) {`, ...indent([...e.lines, line]), '}');
    }
  });
  const soft = k.softmax;
  if (soft) {
    for (const [node, value] of [[soft.max, `mx[${t}]`], [soft.sum, `total[${t}]`]] as const) {
      const at = fg.primary.get(node);
      if (at !== undefined && k.writes.includes(at)) lines.push(storeTo(env, at, body.offset(fg.tensors[at]!, row), value));
    }
  }
  return lines;
}

/** The online softmax's update at a step for row t, with the step's score `sc`; the step's
 *  weight is then p0_t and the accumulators are rescaled by rescale{t}. */
export function softmaxStep(sc: string, t: number): string[] {
  return [
    `let mx_new${t} = max(mx[${t}], ${sc});`,
    `let rescale${t} = exp(mx[${t}] - mx_new${t});`,
    `let p0_${t} = exp(${sc} - mx_new${t});`,
    `total[${t}] = total[${t}] * rescale${t} + p0_${t};`,
    `mx[${t}] = mx_new${t};`,
  ];
}

/** The running max's and sum's declarations for TQ rows: the max starts at the lowest finite
 *  f32, so a row whose scores are all a mask constant gets uniform weights. */
export function softmaxInit(TQ: number): string[] {
  const lines = [`var mx: array<f32, ${TQ}>;`, `var total: array<f32, ${TQ}>;`];
  for (let t = 0; t < TQ; t++) lines.push(`mx[${t}] = ${f32Lit(-3.4028234663852886e38)};`, `total[${t}] = 0.0;`);
  return lines;
}

/** The kernel's comment line. */
export function attentionHeader(a: AttentionSetup, how: string): string {
  const limit = a.k.keyBound;
  const what = a.k.softmax ? 'attention' : `attention backward${a.parts.length > 1 ? `, ${a.parts.length} gradients` : ''}`;
  const bounded = limit ? ` (${limit.lower ? 'from' : 'up to'} the causal bound)` : '';
  return `${what}: ${sizeOfAxes(a.rowAxes)} rows x ${a.steps} steps over ${a.streamAxes.map((x) => x.name).join(' ')}${bounded}, ${a.dots.length} dot product(s) of ${a.dots.map((d) => sizeOfAxes(d.head)).join(', ')}, value ${a.parts.map((x) => x.NV).join(', ')}, ${how}`;
}
