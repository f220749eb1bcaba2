// The attention template (src/ir/fuse/attention.ts finds the chain): one invocation per softmax
// row (a query position of one head), streaming over the key axis M:
//
//   for m:  s = scores(q . k[m])                       (the graph's own expression: scale, mask)
//           mx' = max(mx, s); c = exp(mx - mx'); p = exp(s - mx')
//           sum = sum * c + p;  acc = acc * c + p * v[m]
//   out = acc / sum
//
// which is softmax(scores) . v without the L x M scores or weights in memory. The running max
// starts at the lowest finite f32, so a row whose scores are all a mask constant gets uniform
// weights like the interpreter's softmax. q, k and v are read through their views (any layout).
//
// A causal mask (AttentionKernel.keyBound: scores = select(m <= bound, s, -1e30)) makes every key
// past the bound contribute exp(-1e30 - max) = 0 exactly, so the loop stops at the last unmasked
// key of the invocation's queries: half the keys on average in training, and in decoding only the
// positions filled so far. A query with no unmasked key at all takes every key, as the
// interpreter's softmax of all-equal scores does.

import type { AttentionKernel, FusedGraph } from '../../ir/fuse/types.js';
import { sizeOf } from '../../ir/fuse/resolve.js';
import { grid, indent, kernelEnv, preamble, storageBindings, type CodegenOptions, type KernelCode, perRowKernel } from './common.js';
import { Emitter, f32Lit, unflatten, type Coords } from './expr.js';

const WG = 64;
const UNROLL = 64;
const QUERIES = 4;

export function attentionKernel(fg: FusedGraph, k: AttentionKernel, opts: Required<CodegenOptions>): KernelCode {
  const g = fg.graph;
  const provided = new Map<number, { value: string; coords: Coords }>();
  const env = kernelEnv(fg, k, provided);
  const { decls, bindings } = storageBindings(fg, k, env, opts);
  const logits = g.nodes[k.logits]!;
  const out = g.nodes[k.node]!;
  const axesOfNode = (names: readonly string[], ...from: number[]) =>
    names.map((name) => ({ name, size: sizeOf(g.nodes[from.find((id) => g.nodes[id]!.type.axes.some((a) => a.name === name))!]!, name) }));
  const rowAxes = axesOfNode(k.rowAxes, k.logits);
  const logitAxes = new Set(logits.type.axes.map((a) => a.name));
  const headAxes = axesOfNode([...new Set([k.q, k.k].flatMap((id) => g.nodes[id]!.type.axes.map((a) => a.name)))].filter((a) => !logitAxes.has(a)), k.q);
  const valueAxes = axesOfNode(out.type.axes.map((a) => a.name).filter((a) => !k.rowAxes.includes(a)), k.node);
  const size = (axes: { size: number }[]) => axes.reduce((p, a) => p * a.size, 1);
  const rows = size(rowAxes);
  const keys = sizeOf(logits, k.axis);
  const HK = size(headAxes);
  const NV = size(valueAxes);
  // Head and value sums are unrolled (accumulators in registers: a dynamically indexed private
  // array costs a per-lane scatter on llvmpipe) when small; then each invocation also takes TQ
  // neighbouring queries along an axis that k and v do not have, so one load of k[m] and v[m]
  // serves TQ rows (loads, not FMAs, are the cost on llvmpipe) and q is loaded once, not per key.
  const unrolled = HK <= UNROLL && NV <= UNROLL;
  const kvAxes = new Set([k.k, k.v].flatMap((id) => g.nodes[id]!.type.axes.map((a) => a.name)));
  const qAxis = unrolled ? [...rowAxes].reverse().find((a) => a.size > 1 && !kvAxes.has(a.name)) : undefined;
  const TQ = qAxis ? Math.min(QUERIES, qAxis.size) : 1;
  const blocks = qAxis ? Math.ceil(qAxis.size / TQ) : 1;
  const space = rowAxes.map((a) => (a === qAxis ? { name: `${a.name}__block`, size: blocks } : a));
  const invocations = size(space);
  const { workgroups, nx } = grid(Math.ceil(invocations / WG), opts.maxWorkgroupsPerDimension);

  const body = new Emitter(env);
  const shared = unflatten(body, 'row', space, 'r');
  /** The coordinates of query t of this invocation (clamped: a duplicate past the end is not stored). */
  const rowsOf: Coords[] = Array.from({ length: TQ }, (_, t) => {
    if (!qAxis) return shared;
    const c: Coords = { ...shared, [qAxis.name]: body.bind(`min(${shared[`${qAxis.name}__block`]} * ${TQ} + ${t}, ${qAxis.size - 1})`, 'qi') };
    delete c[`${qAxis.name}__block`];
    return c;
  });
  const valid = (t: number): string | undefined => (qAxis && t > 0 ? `${shared[`${qAxis.name}__block`]} * ${TQ} + ${t} < ${qAxis.size}` : undefined);
  body.lines.push(`var mx: array<f32, ${TQ}>;`, `var total: array<f32, ${TQ}>;`);
  for (let t = 0; t < TQ; t++) body.lines.push(`mx[${t}] = ${f32Lit(-3.4028234663852886e38)};`, `total[${t}] = 0.0;`);
  const acc = (t: number, j: string | number) => (unrolled ? `acc${t}_${j}` : `acc[${j}]`);
  if (unrolled) for (let t = 0; t < TQ; t++) for (let j = 0; j < NV; j++) body.lines.push(`var ${acc(t, j)}: f32 = 0.0;`);
  else body.lines.push(`var acc: array<f32, ${NV}>;`);

  // unrolled: the head and value coordinates are constants, shared by the TQ queries so that
  // the emitter loads k[m] and v[m] once for all of them
  const headAt = unrolled ? Array.from({ length: HK }, (_, h) => unflatten(body, String(h), headAxes, 'hq')) : [];
  const valueAt = unrolled ? Array.from({ length: NV }, (_, j) => unflatten(body, String(j), valueAxes, 'vj')) : [];
  const perKey = new Emitter(env, body);
  for (let t = 0; t < TQ; t++) {
    const keyCoords: Coords = { ...rowsOf[t]!, [k.axis]: 'm' };
    const dot = `dot${t}`;
    perKey.lines.push(`var ${dot}: f32 = 0.0;`);
    // q does not depend on the key: loaded before the loop (into `body`) when unrolled
    const term = (e: Emitter, flat: string): string => {
      const c = { ...keyCoords, ...unflatten(e, flat, headAxes, 'hq') };
      return `${dot} = fma(${e.value(k.q, c)}, ${e.value(k.k, c)}, ${dot});`;
    };
    if (unrolled) {
      for (let h = 0; h < HK; h++) {
        const c = { ...keyCoords, ...headAt[h]! };
        const line = `${dot} = fma(${body.value(k.q, c)}, ${perKey.value(k.k, c)}, ${dot});`;
        perKey.lines.push(line);
      }
    } else {
      const e = new Emitter(env, perKey);
      const line = term(e, 'h');
      perKey.lines.push(`for (var h: i32 = 0; h < ${HK}; h++) {`, ...indent([...e.lines, line]), '}');
    }
    provided.set(k.logits, { value: dot, coords: keyCoords });
    const sc = perKey.value(k.scores, keyCoords);
    perKey.lines.push(
      `let mx_new${t} = max(mx[${t}], ${sc});`,
      `let rescale${t} = exp(mx[${t}] - mx_new${t});`,
      `let p${t} = exp(${sc} - mx_new${t});`,
      `total[${t}] = total[${t}] * rescale${t} + p${t};`,
      `mx[${t}] = mx_new${t};`,
    );
  }
  if (unrolled) {
    for (let j = 0; j < NV; j++) {
      for (let t = 0; t < TQ; t++) {
        const v = perKey.value(k.v, { ...rowsOf[t]!, [k.axis]: 'm', ...valueAt[j]! });
        perKey.lines.push(`${acc(t, j)} = fma(p${t}, ${v}, ${acc(t, j)} * rescale${t});`);
      }
    }
  } else {
    const e = new Emitter(env, perKey);
    // TQ is 1 here (queries are blocked only when unrolled)
    const v = e.value(k.v, { ...rowsOf[0]!, [k.axis]: 'm', ...unflatten(e, 'j', valueAxes, 'vj') });
    perKey.lines.push(`for (var j: i32 = 0; j < ${NV}; j++) {`, ...indent([...e.lines, `${acc(0, 'j')} = fma(p0, ${v}, ${acc(0, 'j')} * rescale0);`]), '}');
  }
  const limit = k.keyBound;
  let end = String(keys);
  if (limit) {
    const ends = rowsOf.map((c) => {
      const lim = body.value(limit.bound, c);
      const count = limit.strict ? `ceil(${lim} - ${f32Lit(limit.offset)})` : `floor(${lim} - ${f32Lit(limit.offset)}) + 1.0`;
      return body.bind(`i32(clamp(${count}, 0.0, ${f32Lit(keys)}))`, 'keys');
    });
    const most = ends.reduce((a, b) => `max(${a}, ${b})`);
    const least = ends.reduce((a, b) => `min(${a}, ${b})`);
    end = body.bind(`select(${most}, ${keys}, ${least} == 0)`, 'm_end');
  }
  body.lines.push(`for (var m: i32 = 0; m < ${end}; m++) {`, ...indent(perKey.lines), '}');

  for (let t = 0; t < TQ; t++) {
    const storeTerm = (e: Emitter, flat: string, j: string | number): string => {
      const c = { ...rowsOf[t]!, ...unflatten(e, flat, valueAxes, 'oj') };
      return `${env.bound.get(k.out)}[${e.offset(fg.tensors[k.out]!, c)}] = ${acc(t, j)} / total[${t}];`;
    };
    const lines: string[] = [];
    if (unrolled) {
      for (let j = 0; j < NV; j++) {
        const c = { ...rowsOf[t]!, ...valueAt[j]! };
        lines.push(`${env.bound.get(k.out)}[${body.offset(fg.tensors[k.out]!, c)}] = ${acc(t, j)} / total[${t}];`);
      }
    } else {
      const e = new Emitter(env, body);
      const line = storeTerm(e, 'j', 'j');
      lines.push(`for (var j: i32 = 0; j < ${NV}; j++) {`, ...indent([...e.lines, line]), '}');
    }
    const guard = valid(t);
    body.lines.push(...(guard ? [`if (${guard}) {`, ...indent(lines), '}'] : lines));
  }
  const code = perRowKernel(`attention: ${rows} rows x ${keys} keys${limit ? ' (up to the causal bound)' : ''}, head ${HK}, value ${NV}, ${TQ} queries per invocation`, preamble(env, decls, bindings), WG, nx, invocations, body.lines);
  return { name: k.name, code, workgroups, bindings };
}
