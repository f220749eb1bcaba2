// The row template: reductions that share their rows and reduced axes, in one kernel.
//
// A row is one element of `rowAxes`; the reduced axes (flattened) are swept by `lanes`
// invocations. lanes > 1: one workgroup per row, partial results combined by a tree in workgroup
// memory; lanes = 1 (short rows): one invocation per row, 64 rows per workgroup. Reductions run in
// order, each a sweep of the row whose term may read earlier results (held in registers: softmax
// reads its max while it sums). Then the outputs: values over the row are stored once, values over
// row + reduced axes in one more sweep (softmax's probabilities, layernorm's normalised row).

import type { Node } from '../../ir/types.js';
import type { FusedGraph, RowKernel } from '../../ir/fuse/types.js';
import { sizeOf } from '../../ir/fuse/resolve.js';
import { axesOf, grid, indent, kernelEnv, preamble, storageBindings, type CodegenOptions, type KernelCode } from './common.js';
import { Emitter, HELPERS, unflatten, type Coords, type EmitEnv } from './expr.js';
import { isScatterRow, scatterKernel } from './scatter.js';

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
  const env = kernelEnv(fg, k, provided);
  const { decls, bindings } = storageBindings(fg, k, env, opts);
  const first = g.nodes[k.reductions[0]!]!;
  const rowAxes = k.rowAxes.map((n) => ({ name: n, size: sizeOf(first, n) }));
  const src = fg.graph.nodes[k.terms[0]!]!;
  const redAxes = k.redAxes.map((n) => ({ name: n, size: sizeOf(src, n) }));
  const rows = rowAxes.reduce((p, a) => p * a.size, 1);
  const reduced = redAxes.reduce((p, a) => p * a.size, 1);
  const lanes = rowLanes(reduced, rows);
  const perGroup = lanes === 1 ? 64 : 1;
  const { workgroups, nx } = grid(Math.ceil(rows / perGroup), opts.maxWorkgroupsPerDimension);

  const body = new Emitter(env);
  const rowCoords = unflatten(body, 'row', rowAxes, 'r');
  const start = lanes === 1 ? '0' : 'i32(lid.x)';
  /** A sweep over the reduced axes: `each` emits into the loop body's emitter. */
  const sweep = (each: (e: Emitter, coords: Coords) => string[]): void => {
    const e = new Emitter(env, body);
    const coords = { ...rowCoords, ...unflatten(e, 'j', redAxes, 'q') };
    const tail = each(e, coords);
    body.lines.push(`for (var j: i32 = ${start}; j < ${reduced}; j += ${lanes}) {`, ...indent([...e.lines, ...tail]), '}');
  };

  k.reductions.forEach((r, i) => {
    const node = g.nodes[r]!;
    const isMax = node.op.kind === 'reduce' && node.op.fn === 'max';
    if (isMax) env.helpers.set('inf_f32', HELPERS.inf_f32!);
    const acc = `acc${i}`;
    body.lines.push(`var ${acc}: f32 = ${isMax ? '(-inf_f32())' : '0.0'};`);
    // the interpreter's max keeps the first of equal values: v > acc ? v : acc
    const combine = (a: string, v: string) => (isMax ? `select(${a}, ${v}, ${v} > ${a})` : `${a} + ${v}`);
    sweep((e, coords) => [`${acc} = ${combine(acc, term(e, node, k.terms[i]!, coords))};`]);
    let result = acc;
    if (lanes > 1) {
      body.lines.push(
        `red[lid.x] = ${acc};`,
        'workgroupBarrier();',
        `for (var s = ${lanes / 2}u; s > 0u; s >>= 1u) {`,
        `  if (lid.x < s) { red[lid.x] = ${combine('red[lid.x]', 'red[lid.x + s]')}; }`,
        '  workgroupBarrier();',
        '}',
        `let res${i} = red[0];`,
        'workgroupBarrier();',
      );
      result = `res${i}`;
    }
    provided.set(r, { value: result, coords: rowCoords });
  });

  const rowSet = new Set(k.rowAxes);
  const onRow = k.writes.filter((t) => g.nodes[fg.tensors[t]!.node]!.type.axes.every((a) => rowSet.has(a.name)));
  const full = k.writes.filter((t) => !onRow.includes(t));
  if (onRow.length > 0) {
    const e = new Emitter(env, body);
    const stores = onRow.map((t) => `${env.bound.get(t)}[${e.offset(fg.tensors[t]!, rowCoords)}] = ${e.value(fg.tensors[t]!.node, rowCoords)};`);
    body.lines.push(lanes > 1 ? 'if (lid.x == 0u) {' : '{', ...indent([...e.lines, ...stores]), '}');
  }
  if (full.length > 0) {
    sweep((e, coords) => full.map((t) => `${env.bound.get(t)}[${e.offset(fg.tensors[t]!, coords)}] = ${e.value(fg.tensors[t]!.node, coords)};`));
  }

  const rowIndex = lanes === 1
    ? [`let row = i32(gid.x + gid.y * ${nx * perGroup}u);`]
    : [`let row = i32(wid.x + wid.y * ${nx}u);`];
  const code = [
    `// row: ${rows} rows x ${reduced}, ${lanes} lane(s) per row`,
    ...preamble(env, decls, bindings),
    ...(lanes > 1 ? [`var<workgroup> red: array<f32, ${lanes}>;`] : []),
    `@compute @workgroup_size(${lanes === 1 ? perGroup : lanes})`,
    'fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {',
    ...indent(rowIndex),
    `  if (row >= ${rows}) { return; }`,
    ...indent(body.lines),
    '}',
    '',
  ].join('\n');
  return { name: k.name, code, workgroups, bindings };
}

/** One element of a reduction's sweep (scatterAdd rows have their own template: scatter.ts). */
function term(e: Emitter, r: Node, summed: number, coords: Coords): string {
  if (r.op.kind === 'reduce') return e.value(summed, coords);
  throw new Error(`codegen: %${r.id} (${r.op.kind}) is not a row reduction`);
}

export type { EmitEnv };
