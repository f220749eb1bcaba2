// The row template: reductions that share their rows and reduced axes, in one kernel.
//
// A row is one element of `rowAxes`; the reduced axes (flattened) are swept by `lanes`
// invocations. lanes > 1: one workgroup per row, partial results combined by a tree in workgroup
// memory; lanes = 1 (short rows): one invocation per row, 64 rows per workgroup. Reductions run in
// order, each a sweep of the row whose term may read earlier results (held in registers: softmax
// reads its max while it sums). Then the outputs: values over the row are stored once, values over
// row + reduced axes in one more sweep (softmax's probabilities, layernorm's normalised row).
// A nested kernel (RowKernel.inner, one row: cross-entropy's mean) runs another row kernel's
// reductions as serial loops at each element of its sweep.

import type { Node } from '../../ir/types.js';
import type { FusedGraph, RowKernel } from '../../ir/fuse/types.js';
import { sizeOf } from '../../ir/fuse/resolve.js';
import { flatInvocation, grid, indent, kernelEnv, preamble, sizeWords, storageBindings, storeTo, type CodegenOptions, type KernelCode } from './common.js';
import { Sizes } from './sizes.js';
import { Emitter, HELPERS, unflatten, type Coords, type EmitEnv } from './expr.js';
import { dagOf } from '../../ir/fuse/views.js';
import { isScatterRow, scatterKernel } from './scatter.js';
import { contiguousBy4, innermostAxis, laneCoords } from './quad.js';

/**
 * Invocations per row: one invocation per row when there are rows enough to fill the machine and
 * each is at most 1024 long (llvmpipe runs workgroup memory and barriers through coroutines and a
 * per-lane load loop: a tree per row made the GPT's causal softmax ~2x slower than a plain loop);
 * else a workgroup of TREE_LANES per row, combined by a tree.
 */
export function rowLanes(reduced: number, rows = 1): number {
  if (rows >= 256 && reduced <= 1024) return 1;
  return reduced >= 32 ? TREE_LANES : 1;
}

/** Lanes of a row's tree: one SIMD batch of llvmpipe (256-bit, 8 f32). Each barrier switches
 *  between a workgroup's batches as coroutines, so 64 lanes made a layernorm of one 128-wide row
 *  (decoding) 2.3x slower than 8 (docs/llvmpipe.md); training steps measured no slower. */
const TREE_LANES = 8;

export function rowKernel(fg: FusedGraph, k: RowKernel, opts: Required<CodegenOptions>): KernelCode {
  if (isScatterRow(fg, k)) return scatterKernel(fg, k, opts);
  const g = fg.graph;
  const provided = new Map<number, { value: string; coords: Coords }>();
  const env = kernelEnv(fg, k, provided, new Sizes(opts.uniformSizes, true));
  const first = g.nodes[k.reductions[0]!]!;
  const rowAxes = k.rowAxes.map((n) => ({ name: n, size: sizeOf(first, n) }));
  const src = fg.graph.nodes[k.terms[0]!]!;
  const redAxes = k.redAxes.map((n) => ({ name: n, size: sizeOf(src, n) }));
  const rows = rowAxes.reduce((p, a) => p * a.size, 1);
  const reduced = redAxes.reduce((p, a) => p * a.size, 1);
  const lanes = rowLanes(reduced, rows);
  // a row per invocation sweeps 4 elements an iteration where the innermost reduced axis allows
  // and a tensor it reads is stored along it (one texel serves the 4); summed along another axis
  // (a bias gradient over B and L) the 4 would be 4 fetches, and B mod 4 a pipeline of its own
  const last = redAxes.at(-1);
  const alongLast = last !== undefined && k.reads.some((t) => innermostAxis(g.nodes[fg.tensors[t]!.node]!, fg.tensors[t]!.layout) === last.name);
  const quadAxis = lanes === 1 && !k.inner && alongLast && last.size % 4 === 0 ? last.name : undefined;
  if (quadAxis) env.texel4 = new Set();
  const { decls, bindings } = storageBindings(fg, k, env, opts, (t) => contiguousBy4(fg, t));
  const perGroup = lanes === 1 ? 64 : 1;
  const { workgroups } = grid(Math.ceil(rows / perGroup), opts.maxWorkgroupsPerDimension);

  const body = new Emitter(env);
  const rowCoords = unflatten(body, 'row', rowAxes, 'r');
  const start = lanes === 1 ? '0' : 'i32(lid.x)';
  /** A sweep over the reduced axes: `each` emits into the loop body's emitter. */
  const sweep = (each: (e: Emitter, coords: Coords) => string[]): void => {
    const e = new Emitter(env, body);
    const coords = { ...rowCoords, ...unflatten(e, 'j', redAxes, 'q') };
    const tail = laneCoords(e, coords, quadAxis).flatMap((c) => each(e, c));
    body.lines.push(`for (var j: i32 = ${start}; j < ${env.sizes.ref('reduced', reduced)}; j += ${quadAxis ? 4 : lanes}) {`, ...indent([...e.lines, ...tail]), '}');
  };

  const isMaxOf = (node: Node): boolean => {
    const isMax = node.op.kind === 'reduce' && node.op.fn === 'max';
    if (isMax) env.helpers.set('inf_f32', HELPERS.inf_f32!);
    return isMax;
  };
  // the interpreter's max keeps the first of equal values: v > acc ? v : acc
  const combineFor = (isMax: boolean) => (a: string, v: string) => (isMax ? `select(${a}, ${v}, ${v} > ${a})` : `${a} + ${v}`);

  // A nested row kernel (RowKernel.inner): its reductions are computed, one serial loop each,
  // at every element of a sweep whose term reads them, and stored (where they are tensors) in
  // the first such sweep; each element is one lane's, so the stores do not race.
  const inner = k.inner;
  const innerSet = new Set(inner?.reductions ?? []);
  const innerWrites = k.writes.filter((t) => innerSet.has(fg.tensors[t]!.node));
  let innerStored = false;
  const innerAt = (e: Emitter, coords: Coords): string[] => {
    if (!inner) return [];
    const innerAxes = inner.redAxes.map((n) => ({ name: n, size: sizeOf(g.nodes[inner.terms[0]!]!, n) }));
    const count = innerAxes.reduce((p, a) => p * a.size, 1);
    inner.reductions.forEach((r, i) => {
      const node = g.nodes[r]!;
      const isMax = isMaxOf(node);
      e.lines.push(`var inner${i}: f32 = ${isMax ? '(-inf_f32())' : '0.0'};`);
      const e2 = new Emitter(env, e);
      const at = { ...coords, ...unflatten(e2, 'u', innerAxes, 'w') };
      const v = term(e2, node, inner.terms[i]!, at);
      e.lines.push(`for (var u: i32 = 0; u < ${env.sizes.ref('inner', count)}; u++) {`, ...indent([...e2.lines, `inner${i} = ${combineFor(isMax)(`inner${i}`, v)};`]), '}');
      provided.set(r, { value: `inner${i}`, coords });
    });
    if (innerStored) return [];
    innerStored = true;
    return innerWrites.map((t) => storeTo(env, t, e.offset(fg.tensors[t]!, coords), e.value(fg.tensors[t]!.node, coords)));
  };
  const readsInner = (id: number): boolean => inner !== undefined && dagOf(g, id, (x) => fg.primary.has(x)).reads.some((r) => innerSet.has(r.node));

  k.reductions.forEach((r, i) => {
    const node = g.nodes[r]!;
    const isMax = isMaxOf(node);
    const acc = `acc${i}`;
    body.lines.push(`var ${acc}: f32 = ${isMax ? '(-inf_f32())' : '0.0'};`);
    const combine = combineFor(isMax);
    sweep((e, coords) => {
      const stores = readsInner(k.terms[i]!) ? innerAt(e, coords) : [];
      return [`${acc} = ${combine(acc, term(e, node, k.terms[i]!, coords))};`, ...stores];
    });
    let result = acc;
    if (lanes > 1) {
      result = `res${i}`;
      body.lines.push(...treeReduce(lanes, acc, result, combine));
    }
    provided.set(r, { value: result, coords: rowCoords });
  });

  const rowSet = new Set(k.rowAxes);
  const outer = k.writes.filter((t) => !innerWrites.includes(t));
  if (innerWrites.length > 0 && !innerStored) throw new Error(`codegen: ${k.name} writes a nested reduction that no sweep computes`);
  const onRow = outer.filter((t) => g.nodes[fg.tensors[t]!.node]!.type.axes.every((a) => rowSet.has(a.name)));
  const full = outer.filter((t) => !onRow.includes(t));
  if (onRow.length > 0) {
    const e = new Emitter(env, body);
    const stores = onRow.map((t) => storeTo(env, t, e.offset(fg.tensors[t]!, rowCoords), e.value(fg.tensors[t]!.node, rowCoords)));
    body.lines.push(lanes > 1 ? 'if (lid.x == 0u) {' : '{', ...indent([...e.lines, ...stores]), '}');
  }
  if (full.length > 0) {
    sweep((e, coords) => full.map((t) => storeTo(env, t, e.offset(fg.tensors[t]!, coords), e.value(fg.tensors[t]!.node, coords))));
  }

  const rowIndex = lanes === 1 ? [`let row = i32(${flatInvocation(perGroup)});`] : ['let row = i32(wid.x + wid.y * nw.x);'];
  const rowCount = env.sizes.ref('rows', rows);
  const code = [
    `// row: ${rows} rows x ${reduced}, ${lanes} lane(s) per row${inner ? `, each element of the row a nested row of ${inner.redAxes.join(' ')}` : ''}`,
    ...preamble(env, decls, bindings),
    ...(lanes > 1 ? [`var<workgroup> red: array<f32, ${lanes}>;`] : []),
    `@compute @workgroup_size(${lanes === 1 ? perGroup : lanes})`,
    'fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) nw: vec3u) {',
    ...indent(env.sizes.prologue()),
    ...indent(rowIndex),
    `  if (row >= ${rowCount}) { return; }`,
    ...indent(body.lines),
    '}',
    '',
  ].join('\n');
  const loopIterations = rowLoops(fg, k, Math.ceil(reduced / (quadAxis ? 4 : lanes)), lanes, full.length > 0, readsInner);
  return { name: k.name, code, workgroups, bindings, ...sizeWords(env.sizes), loopIterations };
}

/** An invocation's loop iterations (PlanLimits.maxLoopIterations): each sweep over the lane's
 *  `share` of the row, a nested row's loops at every element of the sweeps that read it, a sweep
 *  of stores (`stores`), the trees' rounds. */
function rowLoops(fg: FusedGraph, k: RowKernel, share: number, lanes: number, stores: boolean, readsInner: (id: number) => boolean): number {
  const inner = k.inner;
  const nested = inner ? inner.reductions.length * inner.redAxes.reduce((p, n) => p * sizeOf(fg.graph.nodes[inner.terms[0]!]!, n), 1) : 0;
  const sweeps = k.terms.reduce((sum, t) => sum + share * (1 + (readsInner(t) ? nested : 0)), 0);
  return sweeps + (stores ? share : 0) + k.reductions.length * Math.log2(lanes);
}

/** The lanes' partial results combined in workgroup memory, halving the lanes each round. */
function treeReduce(lanes: number, acc: string, result: string, combine: (a: string, v: string) => string): string[] {
  return [
    `red[lid.x] = ${acc};`,
    'workgroupBarrier();',
    `for (var s = ${lanes / 2}u; s > 0u; s >>= 1u) {`,
    `  if (lid.x < s) { red[lid.x] = ${combine('red[lid.x]', 'red[lid.x + s]')}; }`,
    '  workgroupBarrier();',
    '}',
    `let ${result} = red[0];`,
    'workgroupBarrier();',
  ];
}

/** One element of a reduction's sweep (scatterAdd rows have their own template: scatter.ts). */
function term(e: Emitter, r: Node, summed: number, coords: Coords): string {
  if (r.op.kind === 'reduce') return e.value(summed, coords);
  throw new Error(`codegen: %${r.id} (${r.op.kind}) is not a row reduction`);
}

export type { EmitEnv };
