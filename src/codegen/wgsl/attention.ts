// The attention template (src/ir/fuse/attention.ts finds the kernels): one invocation per row of
// the contraction it computes, streaming over the summed axes. At every step it recomputes the
// L x M operand from the dot products it reads (q . k, and in the backward dout . v):
//
//   forward (online softmax over the keys m):
//     s = scores(q . k[m])                       (the graph's own expression: scale, mask)
//     mx' = max(mx, s); c = exp(mx - mx'); p = exp(s - mx')
//     sum = sum * c + p;  acc = acc * c + p * v[m]          out = acc / sum  (max, sum kept)
//   backward (dq over keys, dk and dv over queries):
//     p = the region's expression at this step (weights recomputed from q . k, the max and sum;
//         dscores = w * (dout . v - D), through the mask and scale)
//     acc = acc + p * x[step]                               out = acc
//
// which is FlashAttention's scheme: no L x M scores, weights or gradients in memory. The running
// max starts at the lowest finite f32, so a row whose scores are all a mask constant gets uniform
// weights like the interpreter's softmax. Every tensor is read through its view (any layout).
//
// A causal mask (AttentionKernel.keyBound: scores = select(m <= bound, s, -1e30)) makes every key
// past the bound contribute exp(-1e30 - max) = 0 exactly, so the forward stops at the last
// unmasked key of the invocation's queries: half the keys on average in training, and in decoding
// only the positions filled so far. A query with no unmasked key at all takes every key, as the
// interpreter's softmax of all-equal scores does.

import type { AttentionKernel, FusedGraph } from '../../ir/fuse/types.js';
import type { Node } from '../../ir/types.js';
import { sizeOf } from '../../ir/fuse/resolve.js';
import { dagOf } from '../../ir/fuse/views.js';
import { grid, indent, kernelEnv, preamble, sizeWords, storageBindings, storeTo, type CodegenOptions, type KernelCode, perRowKernel } from './common.js';
import { Sizes } from './sizes.js';
import { Emitter, f32Lit, unflatten, type Coords } from './expr.js';

const WG = 64;
const UNROLL = 64;
const QUERIES = 4;

type Axes = { name: string; size: number }[];

/** The coordinates of flat index i over `axes`, as literals: the emitter then shares a load
 *  between a dot product's head sum and the accumulation when both read one tensor there. */
function literal(i: number, axes: Axes): Coords {
  const c: Coords = {};
  for (let j = axes.length - 1; j >= 0; j--) {
    c[axes[j]!.name] = String(i % axes[j]!.size);
    i = Math.floor(i / axes[j]!.size);
  }
  return c;
}

export function attentionKernel(fg: FusedGraph, k: AttentionKernel, opts: Required<CodegenOptions>): KernelCode {
  const g = fg.graph;
  const provided = new Map<number, { value: string; coords: Coords }>();
  const env = kernelEnv(fg, k, provided, new Sizes(opts.uniformSizes, true));
  const ref = (key: string, value: number) => env.sizes.ref(key, value);
  const { decls, bindings } = storageBindings(fg, k, env, opts);
  const namesOf = (n: Node) => n.type.axes.map((a) => a.name);
  const axesOf = (names: readonly string[], ...from: Node[]): Axes =>
    names.map((name) => ({ name, size: sizeOf(from.find((n) => n.type.axes.some((a) => a.name === name))!, name) }));
  const size = (axes: Axes) => axes.reduce((p, a) => p * a.size, 1);
  const pairs = g.nodes[k.pairs]!;
  const rowAxes = axesOf(k.rowAxes, pairs);
  const limit = k.keyBound;
  // a bounded axis goes outermost, so that its range is one range of steps
  const streamAxes = axesOf(limit ? [limit.axis, ...k.stream.filter((a) => a !== limit.axis)] : k.stream, pairs);
  const steps = size(streamAxes);
  const streamed = (n: Node) => n.type.axes.some((a) => k.stream.includes(a.name));
  // the kernel and its siblings (siblings.ts: same rows and steps, e.g. dk and dv), each its own
  // operand, other operand, accumulators and output
  const parts = [k, ...(k.siblings ?? [])].map((part) => {
    const out = g.nodes[part.node]!;
    const valueAxes = axesOf(namesOf(out).filter((a) => !k.rowAxes.includes(a)), out);
    // the tensors the operand's expression reads (the dots are computed, not read)
    const reads = dagOf(g, part.softmax?.scores ?? part.pairs, (id) => fg.primary.has(id) || part.dots.includes(id)).reads.filter((r) => !part.dots.includes(r.node));
    return { k: part, valueAxes, NV: size(valueAxes), reads };
  });
  const dotIds = [...new Set(parts.flatMap((p) => p.k.dots))];
  const dots = dotIds.map((id) => {
    const d = g.nodes[id]!;
    const [a, b] = d.inputs.map((i) => g.nodes[i]!) as [Node, Node];
    const head = axesOf([...new Set([...namesOf(a), ...namesOf(b)])].filter((x) => !namesOf(d).includes(x)), a, b);
    // the operand fixed for a row is loaded once, before the loop
    const [fixed, moving] = streamed(a) ? [b, a] : [a, b];
    return { id, head, fixed: streamed(fixed) ? undefined : fixed, moving, both: [a, b] as const };
  });
  // Head and value sums are unrolled (accumulators in registers: a dynamically indexed private
  // array costs a per-lane scatter on llvmpipe) when small; then each invocation also takes TQ
  // neighbouring rows along an axis that nothing read per step has, so one load of k[m] and v[m]
  // serves TQ rows (loads, not FMAs, are the cost on llvmpipe).
  const unrolled = dots.every((d) => size(d.head) <= UNROLL) && parts.every((p) => p.NV <= UNROLL);
  const perStep = [...parts.map((p) => g.nodes[p.k.x]!), ...dots.flatMap((d) => (d.fixed ? [d.moving] : d.both)), ...parts.flatMap((p) => p.reads.map((r) => g.nodes[r.node]!)).filter(streamed)];
  const stepAxes = new Set(perStep.flatMap(namesOf));
  const qAxis = unrolled ? [...rowAxes].reverse().find((a) => a.size > 1 && !stepAxes.has(a.name)) : undefined;
  const TQ = qAxis ? Math.min(QUERIES, qAxis.size) : 1;
  const blocks = qAxis ? Math.ceil(qAxis.size / TQ) : 1;
  const space = rowAxes.map((a) => (a === qAxis ? { name: `${a.name}__block`, size: blocks } : a));
  const invocations = size(space);
  const { workgroups } = grid(Math.ceil(invocations / WG), opts.maxWorkgroupsPerDimension);

  const body = new Emitter(env);
  const shared = unflatten(body, 'row', space, 'r');
  /** The coordinates of row t of this invocation (clamped: a duplicate past the end is not stored). */
  const rowsOf: Coords[] = Array.from({ length: TQ }, (_, t) => {
    if (!qAxis) return shared;
    const c: Coords = { ...shared, [qAxis.name]: body.bind(`min(${shared[`${qAxis.name}__block`]} * ${TQ} + ${t}, ${ref(`last:${qAxis.name}`, qAxis.size - 1)})`, 'qi') };
    delete c[`${qAxis.name}__block`];
    return c;
  });
  const valid = (t: number): string | undefined => (qAxis && t > 0 ? `${shared[`${qAxis.name}__block`]} * ${TQ} + ${t} < ${ref(`n:${qAxis.name}`, qAxis.size)}` : undefined);
  // siblings are backward kernels: only a lone forward kernel has a softmax
  const soft = k.softmax;
  if (soft) {
    body.lines.push(`var mx: array<f32, ${TQ}>;`, `var total: array<f32, ${TQ}>;`);
    for (let t = 0; t < TQ; t++) body.lines.push(`mx[${t}] = ${f32Lit(-3.4028234663852886e38)};`, `total[${t}] = 0.0;`);
  }
  const acc = (i: number, t: number, j: string | number) => (unrolled ? `acc${i}_${t}_${j}` : `acc${i}[${j}]`);
  parts.forEach((part, i) => {
    if (unrolled) for (let t = 0; t < TQ; t++) for (let j = 0; j < part.NV; j++) body.lines.push(`var ${acc(i, t, j)}: f32 = 0.0;`);
    else body.lines.push(`var acc${i}: array<f32, ${part.NV}>;`);
  });
  // values fixed for a row (a backward's max, sum and D) are loaded before the loop
  for (const c of rowsOf) for (const part of parts) for (const r of part.reads) if (r.preserving && !streamed(g.nodes[r.node]!)) body.value(r.node, c);

  // unrolled: the head and value coordinates are constants, shared by the TQ rows so that the
  // emitter loads each per-step value once for all of them
  const perStepEmitter = new Emitter(env, body);
  const stepCoords = streamAxes.length === 1 ? { [streamAxes[0]!.name]: 's' } : unflatten(perStepEmitter, 's', streamAxes, 'st');
  const p = (i: number, t: number) => `p${i}_${t}`;
  for (let t = 0; t < TQ; t++) {
    const at: Coords = { ...rowsOf[t]!, ...stepCoords };
    dots.forEach((d, i) => {
      const dot = `dot${t}_${i}`;
      perStepEmitter.lines.push(`var ${dot}: f32 = 0.0;`);
      if (unrolled) {
        for (let h = 0; h < size(d.head); h++) {
          const c = { ...at, ...literal(h, d.head) };
          const load = (n: Node) => (n === d.fixed ? body : perStepEmitter).value(n.id, c);
          perStepEmitter.lines.push(`${dot} = fma(${load(d.both[0])}, ${load(d.both[1])}, ${dot});`);
        }
      } else {
        const e = new Emitter(env, perStepEmitter);
        const c = { ...at, ...unflatten(e, 'h', d.head, 'hq') };
        const line = `${dot} = fma(${e.value(d.both[0].id, c)}, ${e.value(d.both[1].id, c)}, ${dot});`;
        perStepEmitter.lines.push(`for (var h: i32 = 0; h < ${ref(`head${i}`, size(d.head))}; h++) {`, ...indent([...e.lines, line]), '}');
      }
      provided.set(d.id, { value: dot, coords: at });
    });
    if (soft) {
      const sc = perStepEmitter.value(soft.scores, at);
      perStepEmitter.lines.push(
        `let mx_new${t} = max(mx[${t}], ${sc});`,
        `let rescale${t} = exp(mx[${t}] - mx_new${t});`,
        `let ${p(0, t)} = exp(${sc} - mx_new${t});`,
        `total[${t}] = total[${t}] * rescale${t} + ${p(0, t)};`,
        `mx[${t}] = mx_new${t};`,
      );
    } else parts.forEach((part, i) => perStepEmitter.lines.push(`let ${p(i, t)} = ${perStepEmitter.value(part.k.pairs, at)};`));
  }
  const kept = (i: number, t: number, j: string | number) => (soft ? `${acc(i, t, j)} * rescale${t}` : acc(i, t, j));
  parts.forEach((part, i) => {
    if (unrolled) {
      for (let j = 0; j < part.NV; j++) {
        for (let t = 0; t < TQ; t++) {
          const x = perStepEmitter.value(part.k.x, { ...rowsOf[t]!, ...stepCoords, ...literal(j, part.valueAxes) });
          perStepEmitter.lines.push(`${acc(i, t, j)} = fma(${p(i, t)}, ${x}, ${kept(i, t, j)});`);
        }
      }
    } else {
      const e = new Emitter(env, perStepEmitter);
      // TQ is 1 here (rows are blocked only when unrolled)
      const x = e.value(part.k.x, { ...rowsOf[0]!, ...stepCoords, ...unflatten(e, 'j', part.valueAxes, 'vj') });
      perStepEmitter.lines.push(`for (var j: i32 = 0; j < ${ref(`nv${i}`, part.NV)}; j++) {`, ...indent([...e.lines, `${acc(i, 0, 'j')} = fma(${p(i, 0)}, ${x}, ${kept(i, 0, 'j')});`]), '}');
    }
  });
  let [start, end] = ['0', ref('steps', steps)];
  if (limit) {
    // per row: the live steps of the bounded axis are [0, count), or [first, size) with `lower`
    const size = streamAxes[0]!.size;
    const inner = steps / size;
    const edges = rowsOf.map((c) => {
      const lim = `${body.value(limit.bound, c)} - ${f32Lit(limit.offset)}`;
      const edge = limit.lower ? (limit.strict ? `floor(${lim}) + 1.0` : `ceil(${lim})`) : limit.strict ? `ceil(${lim})` : `floor(${lim}) + 1.0`;
      return body.bind(`i32(clamp(${edge}, 0.0, f32(${ref('bounded', size)})))`, 'edge');
    });
    const most = edges.reduce((a, b) => `max(${a}, ${b})`);
    const least = edges.reduce((a, b) => `min(${a}, ${b})`);
    const times = (x: string) => (inner === 1 ? x : `(${x}) * ${ref('inner', inner)}`);
    if (limit.lower) start = body.bind(times(least), 's_start');
    // the forward's query with no live key at all takes every key (the softmax of equal scores)
    else if (soft) end = body.bind(`select(${times(most)}, ${ref('steps', steps)}, ${least} == 0)`, 's_end');
    else end = body.bind(times(most), 's_end');
  }
  body.lines.push(`for (var s: i32 = ${start}; s < ${end}; s++) {`, ...indent(perStepEmitter.lines), '}');

  const store = (node: number, e: Emitter, coords: Coords, value: string): string | undefined => {
    const t = fg.primary.get(node);
    if (t === undefined || !k.writes.includes(t)) return undefined;
    return storeTo(env, t, e.offset(fg.tensors[t]!, coords), value);
  };
  const result = (i: number, t: number, j: string | number) => (soft ? `${acc(i, t, j)} / total[${t}]` : acc(i, t, j));
  for (let t = 0; t < TQ; t++) {
    const lines: string[] = [];
    parts.forEach((part, i) => {
      const tensor = fg.tensors[part.k.out]!;
      if (unrolled) {
        for (let j = 0; j < part.NV; j++) lines.push(storeTo(env, part.k.out, body.offset(tensor, { ...rowsOf[t]!, ...literal(j, part.valueAxes) }), result(i, t, j)));
      } else {
        const e = new Emitter(env, body);
        const line = storeTo(env, part.k.out, e.offset(tensor, { ...rowsOf[t]!, ...unflatten(e, 'j', part.valueAxes, 'oj') }), result(i, t, 'j'));
        lines.push(`for (var j: i32 = 0; j < ${ref(`nv${i}`, part.NV)}; j++) {`, ...indent([...e.lines, line]), '}');
      }
    });
    // the forward's max and sum, for the backward
    if (soft) for (const [node, value] of [[soft.max, `mx[${t}]`], [soft.sum, `total[${t}]`]] as const) {
      const line = store(node, body, rowsOf[t]!, value);
      if (line) lines.push(line);
    }
    const guard = valid(t);
    body.lines.push(...(guard ? [`if (${guard}) {`, ...indent(lines), '}'] : lines));
  }
  const what = soft ? 'attention' : `attention backward${parts.length > 1 ? `, ${parts.length} gradients` : ''}`;
  const bounded = limit ? ` (${limit.lower ? 'from' : 'up to'} the causal bound)` : '';
  const header = `${what}: ${size(rowAxes)} rows x ${steps} steps over ${streamAxes.map((a) => a.name).join(' ')}${bounded}, ${dots.length} dot product(s) of ${dots.map((d) => size(d.head)).join(', ')}, value ${parts.map((x) => x.NV).join(', ')}, ${TQ} rows per invocation`;
  const count = ref('invocations', invocations);
  const code = perRowKernel(header, preamble(env, decls, bindings), WG, count, body.lines, env.sizes.prologue());
  return { name: k.name, code, workgroups, bindings, ...sizeWords(env.sizes) };
}
