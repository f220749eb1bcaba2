// The scatter template: a row kernel whose reductions are all scatterAdds that sum over index
// axes (the embedding gradient d_wte[v, d] = sum_i [index[i] == v] * g[i, d]).
//
// One invocation per SB neighbouring output elements along a row axis other than the scatter
// axis (d, d+1, ...), the scatter axis slowest, so that neighbouring invocations share v. Each
// sweeps the index positions in order (deterministic, no atomics, the interpreter's order) and,
// only where the index matches (a branch: uniform across llvmpipe's SIMD lanes, since they share
// v), computes the fused value and adds it. One index load serves SB outputs; the value is
// computed |index| x |out| / |table| times in all, not |index| x |out|. Values over the row (an
// epilogue such as d_wte + the head's gradient) are stored after the sweep.

import type { FusedGraph, RowKernel } from '../../ir/fuse/types.js';
import type { Node } from '../../ir/types.js';
import { sizeOf } from '../../ir/fuse/resolve.js';
import { grid, indent, kernelEnv, preamble, sizeWords, storageBindings, storeTo, type CodegenOptions, type KernelCode, type KernelPart, perRowKernel } from './common.js';

type Axis = { name: string; size: number };
import { Sizes } from './sizes.js';
import { Emitter, unflatten, type Coords } from './expr.js';

const WG = 64;
/** Outputs per invocation along the blocked axis. */
const SB = 16;

export function isScatterRow(fg: FusedGraph, k: RowKernel): boolean {
  return k.reductions.every((r) => fg.graph.nodes[r]!.op.kind === 'scatterAdd');
}

export function scatterKernel(fg: FusedGraph, k: RowKernel, opts: Required<CodegenOptions>): KernelCode {
  const g = fg.graph;
  const provided = new Map<number, { value: string; coords: Coords }>();
  const env = kernelEnv(fg, k, provided, new Sizes(opts.uniformSizes, true));
  const { decls, bindings } = storageBindings(fg, k, env, opts);
  const nodes = k.reductions.map((r) => g.nodes[r]!);
  const first = nodes[0]!;
  const rowAxes = k.rowAxes.map((n) => ({ name: n, size: sizeOf(first, n) }));
  const redAxes = k.redAxes.map((n) => ({ name: n, size: sizeOf(g.nodes[first.inputs[0]!]!, n) }));
  const reduced = redAxes.reduce((p, a) => p * a.size, 1);
  const scatterAxes = new Set(nodes.map((n) => (n.op as { axis: { name: string } }).axis.name));
  const order = [...rowAxes.filter((a) => scatterAxes.has(a.name)), ...rowAxes.filter((a) => !scatterAxes.has(a.name))];
  const rowSet = new Set(k.rowAxes);
  const stores = k.writes.filter((t) => g.nodes[fg.tensors[t]!.node]!.type.axes.every((a) => rowSet.has(a.name)));
  if (stores.length !== k.writes.length) throw new Error(`codegen: ${k.name}: a scatter kernel writes only values over its rows`);

  const blockAxis = [...order].reverse().find((a) => a.size > 1 && !scatterAxes.has(a.name));
  const per = blockAxis ? Math.min(SB, blockAxis.size) : 1;
  const blockName = `${blockAxis?.name ?? ''}__block`;
  const space = order.map((a) => (a === blockAxis ? { name: blockName, size: Math.ceil(a.size / per) } : a));
  const invocations = space.reduce((p, a) => p * a.size, 1);
  const { workgroups } = grid(Math.ceil(invocations / WG), opts.maxWorkgroupsPerDimension);

  const body = new Emitter(env);
  const shared = unflatten(body, 'row', space, 'r');
  const rowsOf: Coords[] = Array.from({ length: per }, (_, t) => {
    if (!blockAxis) return shared;
    const { [blockName]: blk, ...rest } = shared;
    return { ...rest, [blockAxis.name]: body.bind(`min(${blk} * ${per} + ${t}, ${env.sizes.ref(`last:${blockAxis.name}`, blockAxis.size - 1)})`, 'bi') };
  });
  const acc = (i: number, t: number) => `acc${i}_${t}`;
  nodes.forEach((_, i) => {
    for (let t = 0; t < per; t++) body.lines.push(`var ${acc(i, t)}: f32 = 0.0;`);
  });

  const lists = indexLists(fg, k, nodes, rowAxes, redAxes, reduced, opts);
  const e = new Emitter(env, body);
  if (lists) e.lines.push(`let j = lists[${env.sizes.ref('lists:positions', lists.positionsAt)} + p];`);
  const positions = unflatten(e, 'j', redAxes, 'q');
  const loop: string[] = [];
  nodes.forEach((n, i) => {
    if (n.op.kind !== 'scatterAdd') throw new Error(`codegen: %${n.id} is not a scatterAdd`);
    // the branches by condition: the index usually does not depend on the blocked axis, so the
    // SB outputs share one index load and one branch
    const branches = new Map<string, Emitter>();
    for (let t = 0; t < per; t++) {
      const coords = { ...rowsOf[t]!, ...positions };
      const cond = `${e.value(n.inputs[1]!, coords)} == ${coords[n.op.axis.name]}`;
      const inner = branches.get(cond) ?? new Emitter(env, e);
      branches.set(cond, inner);
      const v = inner.value(n.inputs[0]!, coords);
      inner.lines.push(`${acc(i, t)} = ${acc(i, t)} + ${v};`);
    }
    for (const [cond, inner] of branches) loop.push(`if (${cond}) {`, ...indent(inner.lines), '}');
  });
  if (lists) {
    // only the positions where the index is this row's value, in order (the condition still holds)
    const v = shared[lists.axis]!;
    body.lines.push(`for (var p = lists[${v}]; p < lists[${v} + 1]; p++) {`, ...indent([...e.lines, ...loop]), '}');
  } else body.lines.push(`for (var j: i32 = 0; j < ${env.sizes.ref('reduced', reduced)}; j++) {`, ...indent([...e.lines, ...loop]), '}');

  for (let t = 0; t < per; t++) {
    nodes.forEach((n, i) => provided.set(n.id, { value: acc(i, t), coords: rowsOf[t]! }));
    const s = new Emitter(env, body);
    const lines = stores.map((x) => storeTo(env, x, s.offset(fg.tensors[x]!, rowsOf[t]!), s.value(fg.tensors[x]!.node, rowsOf[t]!)));
    const guard = blockAxis && t > 0 ? `${shared[blockName]} * ${per} + ${t} < ${env.sizes.ref(`n:${blockAxis.name}`, blockAxis.size)}` : 'true';
    body.lines.push(`if (${guard}) {`, ...indent([...s.lines, ...lines]), '}');
  }

  const count = env.sizes.ref('invocations', invocations);
  if (lists) {
    decls.push(`@group(0) @binding(${bindings.length}) var<storage, read> lists: array<i32>;`);
    bindings.push({ kind: 'scratch', binding: bindings.length, words: lists.words, access: 'read' });
  }
  const what = lists ? `${reduced} index positions, each row sweeping only its own` : `${reduced} index positions`;
  const code = perRowKernel(`scatter: ${invocations} invocations x ${per} outputs, ${what}`, preamble(env, decls, bindings), WG, count, body.lines, env.sizes.prologue());
  const scatter = { code, workgroups, bindings, ...sizeWords(env.sizes) };
  if (!lists) return { name: k.name, ...scatter };
  const parts = [lists.part, scatter];
  return { name: k.name, code: parts.map((q, i) => `// part ${i + 1} of 2 (a dispatch of its own)\n${q.code}`).join('\n'), workgroups, bindings: parts.flatMap((q) => q.bindings), parts };
}

/**
 * The positions of each index value, in order, built by a dispatch before the scatter (one
 * invocation: counts, their prefix sums, then the positions), so that a row sweeps only the
 * positions whose index is its value: |index| x |out| / |table| loads in all, not |index| x
 * |out| / SB (GPT-2's token table: 50257 rows, the sweep was most of a training step). The sums
 * keep the sweep's order, so the results are the same to the bit. Taken where the kernel's
 * scatterAdds all sum by one index that the kernel reads as a tensor of its own; else the sweep.
 * The lists live in a scratch buffer of the kernel (KernelBinding 'scratch'): offsets (table + 1),
 * positions (|index|), cursors (table).
 */
function indexLists(fg: FusedGraph, k: RowKernel, nodes: Node[], rowAxes: Axis[], redAxes: Axis[], reduced: number, opts: Required<CodegenOptions>): { axis: string; positionsAt: number; words: number; part: KernelPart } | undefined {
  const first = nodes[0]!;
  if (first.op.kind !== 'scatterAdd') return undefined;
  const axis = first.op.axis.name;
  const index = first.inputs[1]!;
  const same = nodes.every((n) => n.op.kind === 'scatterAdd' && n.op.axis.name === axis && n.inputs[1] === index);
  const tensor = k.reads.find((t) => fg.tensors[t]!.node === index);
  const redNames = new Set(redAxes.map((a) => a.name));
  if (!same || tensor === undefined || !fg.graph.nodes[index]!.type.axes.every((a) => redNames.has(a.name))) return undefined;
  const table = rowAxes.find((a) => a.name === axis)!.size;
  const env = kernelEnv(fg, { ...k, members: [] }, new Map(), new Sizes(opts.uniformSizes, true));
  const { decls, bindings } = storageBindings(fg, { ...k, reads: [tensor], writes: [] }, env, { ...opts, textureReads: 0 });
  decls.push(`@group(0) @binding(${bindings.length}) var<storage, read_write> lists: array<i32>;`);
  const words = 2 * table + 1 + reduced;
  bindings.push({ kind: 'scratch', binding: bindings.length, words, access: 'read_write' });
  const V = env.sizes.ref(`n:${axis}`, table);
  const T = env.sizes.ref('reduced', reduced);
  const at = (what: 'positions' | 'cursors') => (what === 'positions' ? `${V} + 1` : `${V} + 1 + ${T}`);
  /** Lines that bind `x`, the index at position j, and run `then` where it is a row of the table. */
  const sweep = (then: string[]): string[] => {
    const e = new Emitter(env);
    const x = e.value(index, unflatten(e, 'j', redAxes, 'q'));
    return [`for (var j: i32 = 0; j < ${T}; j++) {`, ...indent([...e.lines, `let x = ${x};`, `if (x >= 0 && x < ${V}) {`, ...indent(then), '}']), '}'];
  };
  const body = [
    `for (var v: i32 = 0; v <= ${V}; v++) { lists[v] = 0; }`,
    ...sweep(['lists[x + 1] += 1;']),
    `for (var v: i32 = 0; v < ${V}; v++) { lists[v + 1] += lists[v]; lists[${at('cursors')} + v] = lists[v]; }`,
    ...sweep([`let c = lists[${at('cursors')} + x];`, `lists[${at('positions')} + c] = j;`, `lists[${at('cursors')} + x] = c + 1;`]),
  ];
  const pre = preamble(env, decls, bindings);
  const code = [`// index lists: the positions of each of ${table} index values, in order, for the scatter after`, ...pre, '@compute @workgroup_size(1)', 'fn main() {', ...indent([...env.sizes.prologue(), ...body]), '}', ''].join('\n');
  return { axis, positionsAt: table + 1, words, part: { code, workgroups: [1, 1, 1], bindings, ...sizeWords(env.sizes) } };
}
