// The attention template (src/ir/fuse/attention.ts finds the kernels), its variant for CPU
// adapters such as llvmpipe (attention-flash.ts is the GPU one, CodegenOptions.kernels: 'gpu';
// both share attention-setup.ts): one invocation per row, or TQ rows, of the contraction it
// computes, streaming over the summed axes. At every step it recomputes the
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
import { grid, indent, preamble, sizeWords, type CodegenOptions, type KernelCode, perRowKernel } from './common.js';
import { Emitter, unflatten, type Coords } from './expr.js';
import { attentionHeader, literal, setupAttention, sizeOfAxes, softmaxInit, softmaxStep, stepRange, storeRow, type AttentionSetup, type Axes } from './attention-setup.js';
import { flashAttention } from './attention-flash.js';

const WG = 64;
const UNROLL = 64;
const QUERIES = 4;

/** The gpu variant (attention-flash.ts) where it applies, else rows per invocation. */
export function attentionKernel(fg: FusedGraph, k: AttentionKernel, opts: Required<CodegenOptions>): KernelCode {
  const a = setupAttention(fg, k, opts);
  return (opts.kernels === 'gpu' ? flashAttention(a, opts.maxWorkgroupsPerDimension) : undefined) ?? rowsKernel(a, opts);
}

/** How rows are laid out over invocations: TQ neighbouring rows along qAxis per invocation. */
interface Blocking {
  unrolled: boolean;
  qAxis: Axes[number] | undefined;
  TQ: number;
  /** The row space with qAxis counted in blocks of TQ: one invocation per element. */
  space: Axes;
}

/**
 * Head and value sums are unrolled (accumulators in registers: a dynamically indexed private
 * array costs a per-lane scatter on llvmpipe) when small; then each invocation also takes TQ
 * neighbouring rows along an axis that nothing read per step has, so one load of k[m] and v[m]
 * serves TQ rows (loads, not FMAs, are the cost on llvmpipe). The gpu variant's fallback (a
 * kernel attention-flash.ts does not take) has one row per invocation: TQ rows' unrolled sums
 * would spill a GPU's registers.
 */
function blocking(a: AttentionSetup, opts: Required<CodegenOptions>): Blocking {
  const g = a.fg.graph;
  const { parts, dots, streamed, namesOf } = a;
  const unrolled = dots.every((d) => sizeOfAxes(d.head) <= UNROLL) && parts.every((p) => p.NV <= UNROLL);
  const perStep = [...parts.map((p) => g.nodes[p.k.x]!), ...dots.flatMap((d) => (d.fixed ? [d.moving] : d.both)), ...parts.flatMap((p) => p.reads.map((r) => g.nodes[r.node]!)).filter(streamed)];
  const stepAxes = new Set(perStep.flatMap(namesOf));
  const qAxis = unrolled && opts.kernels !== 'gpu' ? [...a.rowAxes].reverse().find((x) => x.size > 1 && !stepAxes.has(x.name)) : undefined;
  const TQ = qAxis ? Math.min(QUERIES, qAxis.size) : 1;
  const blocks = qAxis ? Math.ceil(qAxis.size / TQ) : 1;
  return { unrolled, qAxis, TQ, space: a.rowAxes.map((x) => (x === qAxis ? { name: `${x.name}__block`, size: blocks } : x)) };
}

/** The CPU variant: one invocation per TQ rows, streaming over every step. */
function rowsKernel(a: AttentionSetup, opts: Required<CodegenOptions>): KernelCode {
  const { env, ref, k } = a;
  const b = blocking(a, opts);
  const { unrolled, qAxis, TQ } = b;
  const invocations = sizeOfAxes(b.space);
  const { workgroups } = grid(Math.ceil(invocations / WG), opts.maxWorkgroupsPerDimension);
  const body = new Emitter(env);
  const shared = unflatten(body, 'row', b.space, 'r');
  /** The coordinates of row t of this invocation (clamped: a duplicate past the end is not stored). */
  const rowsOf: Coords[] = Array.from({ length: TQ }, (_, t) => {
    if (!qAxis) return shared;
    const c: Coords = { ...shared, [qAxis.name]: body.bind(`min(${shared[`${qAxis.name}__block`]} * ${TQ} + ${t}, ${ref(`last:${qAxis.name}`, qAxis.size - 1)})`, 'qi') };
    delete c[`${qAxis.name}__block`];
    return c;
  });
  const valid = (t: number): string | undefined => (qAxis && t > 0 ? `${shared[`${qAxis.name}__block`]} * ${TQ} + ${t} < ${ref(`n:${qAxis.name}`, qAxis.size)}` : undefined);
  // siblings are backward kernels: only a lone forward kernel has a softmax
  if (k.softmax) body.lines.push(...softmaxInit(TQ));
  const acc = (i: number, t: number, j: string | number) => (unrolled ? `acc${i}_${t}_${j}` : `acc${i}[${j}]`);
  a.parts.forEach((part, i) => {
    if (unrolled) for (let t = 0; t < TQ; t++) for (let j = 0; j < part.NV; j++) body.lines.push(`var ${acc(i, t, j)}: f32 = 0.0;`);
    else body.lines.push(`var acc${i}: array<f32, ${part.NV}>;`);
  });
  // values fixed for a row (a backward's max, sum and D) are loaded before the loop
  const g = a.fg.graph;
  for (const c of rowsOf) for (const part of a.parts) for (const r of part.reads) if (r.preserving && !a.streamed(g.nodes[r.node]!)) body.value(r.node, c);
  const perStep = stepLines(a, body, rowsOf, unrolled, acc);
  const { start, end } = stepRange(a, body, rowsOf);
  body.lines.push(`for (var s: i32 = ${start}; s < ${end}; s++) {`, ...indent(perStep), '}');
  const result = (t: number) => (i: number, j: string | number) => (k.softmax ? `${acc(i, t, j)} / total[${t}]` : acc(i, t, j));
  for (let t = 0; t < TQ; t++) {
    const lines = storeRow(a, body, rowsOf[t]!, t, unrolled, result(t));
    const guard = valid(t);
    body.lines.push(...(guard ? [`if (${guard}) {`, ...indent(lines), '}'] : lines));
  }
  const header = attentionHeader(a, `${TQ} rows per invocation`);
  // every size is asked for before the preamble declares the uniform
  const count = ref('invocations', invocations);
  const code = perRowKernel(header, preamble(env, a.decls, a.bindings), WG, count, body.lines, env.sizes.prologue());
  return { name: k.name, code, workgroups, bindings: a.bindings, ...sizeWords(env.sizes) };
}

/** One step's statements for every row: the dot products, the operand (the online softmax's
 *  weight, or the backward's expression), and the accumulation. Unrolled, the head and value
 *  coordinates are constants, shared by the TQ rows so that the emitter loads each per-step value
 *  once for all of them. */
function stepLines(a: AttentionSetup, body: Emitter, rowsOf: Coords[], unrolled: boolean, acc: (i: number, t: number, j: string | number) => string): string[] {
  const { env, ref, streamAxes, provided } = a;
  const soft = a.k.softmax;
  const e = new Emitter(env, body);
  const stepCoords = streamAxes.length === 1 ? { [streamAxes[0]!.name]: 's' } : unflatten(e, 's', streamAxes, 'st');
  const p = (i: number, t: number) => `p${i}_${t}`;
  rowsOf.forEach((row, t) => {
    const at: Coords = { ...row, ...stepCoords };
    a.dots.forEach((d, i) => {
      const dot = `dot${t}_${i}`;
      e.lines.push(`var ${dot}: f32 = 0.0;`);
      if (unrolled) {
        for (let h = 0; h < sizeOfAxes(d.head); h++) {
          const c = { ...at, ...literal(h, d.head) };
          const load = (n: Node) => (n === d.fixed ? body : e).value(n.id, c);
          e.lines.push(`${dot} = fma(${load(d.both[0])}, ${load(d.both[1])}, ${dot});`);
        }
      } else {
        const h = new Emitter(env, e);
        const c = { ...at, ...unflatten(h, 'h', d.head, 'hq') };
        const line = `${dot} = fma(${h.value(d.both[0].id, c)}, ${h.value(d.both[1].id, c)}, ${dot});`;
        e.lines.push(`for (var h: i32 = 0; h < ${ref(`head${i}`, sizeOfAxes(d.head))}; h++) {`, ...indent([...h.lines, line]), '}');
      }
      provided.set(d.id, { value: dot, coords: at });
    });
    if (soft) e.lines.push(...softmaxStep(e.value(soft.scores, at), t));
    else a.parts.forEach((part, i) => e.lines.push(`let ${p(i, t)} = ${e.value(part.k.pairs, at)};`));
  });
  const kept = (i: number, t: number, j: string | number) => (soft ? `${acc(i, t, j)} * rescale${t}` : acc(i, t, j));
  a.parts.forEach((part, i) => {
    if (unrolled) {
      for (let j = 0; j < part.NV; j++) {
        rowsOf.forEach((row, t) => {
          const x = e.value(part.k.x, { ...row, ...stepCoords, ...literal(j, part.valueAxes) });
          e.lines.push(`${acc(i, t, j)} = fma(${p(i, t)}, ${x}, ${kept(i, t, j)});`);
        });
      }
    } else {
      const v = new Emitter(env, e);
      // one row per invocation here (rows are blocked only when unrolled)
      const x = v.value(part.k.x, { ...rowsOf[0]!, ...stepCoords, ...unflatten(v, 'j', part.valueAxes, 'vj') });
      e.lines.push(`for (var j: i32 = 0; j < ${ref(`nv${i}`, part.NV)}; j++) {`, ...indent([...v.lines, `${acc(i, 0, 'j')} = fma(${p(i, 0)}, ${x}, ${kept(i, 0, 'j')});`]), '}');
    }
  });
  return e.lines;
}
