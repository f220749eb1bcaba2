// The attention template (src/ir/fuse/attention.ts finds the kernels), its variant for CPU
// adapters such as llvmpipe (attention-flash.ts is the GPU one, CodegenOptions.kernels: 'gpu';
// both share attention-setup.ts): one invocation per row of the contraction it computes,
// streaming over the summed axes. At every step it recomputes the
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
// unmasked key of the invocation's query: half the keys on average in training, and in decoding
// only the positions filled so far. A query with no unmasked key at all takes every key, as the
// interpreter's softmax of all-equal scores does.

import type { AttentionKernel, FusedGraph } from '../../ir/fuse/types.js';
import type { Node } from '../../ir/types.js';
import { grid, indent, preamble, sizeWords, type CodegenOptions, type KernelCode, perRowKernel } from './common.js';
import { Emitter, unflatten, type Coords } from './expr.js';
import { attentionHeader, literal, setupAttention, sizeOfAxes, softmaxInit, softmaxStep, stepRange, storeRow, type AttentionSetup } from './attention-setup.js';
import { flashAttention } from './attention-flash.js';

const WG = 64;

/** The gpu variant (attention-flash.ts) where it applies, else a row per invocation. */
export function attentionKernel(fg: FusedGraph, k: AttentionKernel, opts: Required<CodegenOptions>): KernelCode {
  const a = setupAttention(fg, k, opts);
  return (opts.kernels === 'gpu' ? flashAttention(a, opts.maxWorkgroupsPerDimension) : undefined) ?? rowsKernel(a, opts);
}

/**
 * The CPU variant: one invocation per row, streaming over every step. Head and value sums are
 * unrolled (accumulators in registers: a dynamically indexed private array costs a per-lane
 * scatter on llvmpipe) when small, and then q, k, v and dout are read 4 elements a texel
 * (attention-setup.ts). One row, not a block of rows sharing each k[m] and v[m] load: every
 * extra row multiplies the registers held through the step loop, and llvmpipe's LLVM compile
 * time grows faster than that (docs/llvmpipe.md, Cold start).
 */
function rowsKernel(a: AttentionSetup, opts: Required<CodegenOptions>): KernelCode {
  const { env, ref, k, unrolled } = a;
  const invocations = sizeOfAxes(a.rowAxes);
  const { workgroups } = grid(Math.ceil(invocations / WG), opts.maxWorkgroupsPerDimension);
  const body = new Emitter(env);
  const row = unflatten(body, 'row', a.rowAxes, 'r');
  // siblings are backward kernels: only a lone forward kernel has a softmax
  if (k.softmax) body.lines.push(...softmaxInit(1));
  const acc = (i: number, j: string | number) => (unrolled ? `acc${i}_${j}` : `acc${i}[${j}]`);
  a.parts.forEach((part, i) => {
    if (unrolled) for (let j = 0; j < part.NV; j++) body.lines.push(`var ${acc(i, j)}: f32 = 0.0;`);
    else body.lines.push(`var acc${i}: array<f32, ${part.NV}>;`);
  });
  // values fixed for a row (a backward's max, sum and D) are loaded before the loop
  const g = a.fg.graph;
  for (const part of a.parts) for (const r of part.reads) if (r.preserving && !a.streamed(g.nodes[r.node]!)) body.value(r.node, row);
  const perStep = stepLines(a, body, row, unrolled, acc);
  const { start, end } = stepRange(a, body, [row]);
  body.lines.push(`for (var s: i32 = ${start}; s < ${end}; s++) {`, ...indent(perStep), '}');
  body.lines.push(...storeRow(a, body, row, 0, unrolled, (i, j) => (k.softmax ? `${acc(i, j)} / total[0]` : acc(i, j))));
  const header = attentionHeader(a, 'a row per invocation');
  // every size is asked for before the preamble declares the uniform
  const count = ref('invocations', invocations);
  const code = perRowKernel(header, preamble(env, a.decls, a.bindings), WG, count, body.lines, env.sizes.prologue());
  return { name: k.name, code, workgroups, bindings: a.bindings, ...sizeWords(env.sizes), loopIterations: streamLoops(a) };
}

/** An invocation's loop iterations (KernelCode.loopIterations): the steps, each with its head
 *  and value sums' chunks where they are not unrolled, and the stores of a row. */
function streamLoops(a: AttentionSetup): number {
  if (a.unrolled) return a.steps;
  const chunks = (n: number) => n / chunkOf(n);
  const perStep = 1 + a.dots.reduce((n, d) => n + chunks(sizeOfAxes(d.head)), 0) + a.parts.reduce((n, p) => n + chunks(p.NV), 0);
  return a.steps * perStep + a.parts.reduce((n, p) => n + p.NV, 0);
}

/**
 * A head or value sum too long to unroll is a loop, and every iteration of it counts against
 * llvmpipe's 65535 an invocation (docs/llvmpipe.md, Loops): at a head of 128 and 512 keys the
 * loops ran past it and the loss came out wrong. So each iteration takes up to 32 of the sum's
 * elements (the largest power of two, at most 32, dividing it), unrolled.
 */
function chunkOf(n: number): number {
  return [32, 16, 8, 4, 2].find((u) => n % u === 0) ?? 1;
}

/** `U` copies of a loop body, copy `x` emitted from a child of `parent`. */
function chunked(parent: Emitter, U: number, copy: (x: number, e: Emitter) => string): string[] {
  return Array.from({ length: U }, (_, x) => x).flatMap((x) => {
    const e = new Emitter(parent.env, parent);
    const line = copy(x, e);
    return [...e.lines, line];
  });
}

/** The loop index `name` at element `x` of its chunk. */
const at0 = (name: string, x: number) => (x === 0 ? name : `(${name} + ${x})`);

/** One step's statements: the dot products, the operand (the online softmax's weight, or the
 *  backward's expression), and the accumulation. Unrolled, the head and value coordinates are
 *  literals, so that the emitter loads a tensor read by both a dot product and the accumulation
 *  once, and 4 neighbouring elements from one texel. */
function stepLines(a: AttentionSetup, body: Emitter, row: Coords, unrolled: boolean, acc: (i: number, j: string | number) => string): string[] {
  const { env, ref, streamAxes, provided } = a;
  const soft = a.k.softmax;
  const e = new Emitter(env, body);
  const stepCoords = streamAxes.length === 1 ? { [streamAxes[0]!.name]: 's' } : unflatten(e, 's', streamAxes, 'st');
  const at: Coords = { ...row, ...stepCoords };
  a.dots.forEach((d, i) => {
    const dot = `dot${i}`;
    e.lines.push(`var ${dot}: f32 = 0.0;`);
    if (unrolled) {
      for (let h = 0; h < sizeOfAxes(d.head); h++) {
        const c = { ...at, ...literal(h, d.head) };
        const load = (n: Node) => (n === d.fixed ? body : e).value(n.id, c);
        e.lines.push(`${dot} = fma(${load(d.both[0])}, ${load(d.both[1])}, ${dot});`);
      }
    } else {
      const U = chunkOf(sizeOfAxes(d.head));
      const lines = chunked(e, U, (x, h) => {
        const c = { ...at, ...unflatten(h, at0('h', x), d.head, 'hq') };
        return `${dot} = fma(${h.value(d.both[0].id, c)}, ${h.value(d.both[1].id, c)}, ${dot});`;
      });
      e.lines.push(`for (var h: i32 = 0; h < ${ref(`head${i}`, sizeOfAxes(d.head))}; h += ${U}) {`, ...indent(lines), '}');
    }
    provided.set(d.id, { value: dot, coords: at });
  });
  if (soft) e.lines.push(...softmaxStep(e.value(soft.scores, at), 0));
  else a.parts.forEach((part, i) => e.lines.push(`let p${i}_0 = ${e.value(part.k.pairs, at)};`));
  const kept = (i: number, j: string | number) => (soft ? `${acc(i, j)} * rescale0` : acc(i, j));
  a.parts.forEach((part, i) => {
    if (unrolled) {
      for (let j = 0; j < part.NV; j++) {
        const x = e.value(part.k.x, { ...at, ...literal(j, part.valueAxes) });
        e.lines.push(`${acc(i, j)} = fma(p${i}_0, ${x}, ${kept(i, j)});`);
      }
    } else {
      const U = chunkOf(part.NV);
      const lines = chunked(e, U, (y, v) => {
        const j = at0('j', y);
        const x = v.value(part.k.x, { ...at, ...unflatten(v, j, part.valueAxes, 'vj') });
        return `${acc(i, j)} = fma(p${i}_0, ${x}, ${kept(i, j)});`;
      });
      e.lines.push(`for (var j: i32 = 0; j < ${ref(`nv${i}`, part.NV)}; j += ${U}) {`, ...indent(lines), '}');
    }
  });
  return e.lines;
}
