// The scatter template: a row kernel whose reductions are all scatterAdds that sum over index
// axes (the embedding gradient d_wte[v, d] = sum_i [index[i] == v] * g[i, d]).
//
// One invocation per SB neighbouring output elements along a row axis other than the scatter
// axis (d, d+1, ...), the scatter axis slowest, so that neighbouring invocations share v. Each
// sweeps the index positions in order (deterministic, no atomics, the interpreter's order) and,
// only where the index matches (a branch: uniform across llvmpipe's SIMD lanes, since they share
// v), computes the fused value and adds it. One index load serves SB outputs; the value is
// computed |index| x |out| / |table| times in all, not |index| x |out|. Values over the row (an
// epilogue such as d_wte + the head's gradient) are stored after the sweep. A large table sweeps
// only each row's own positions, from index lists built first (scatter-lists.ts).

import type { FusedGraph, RowKernel } from '../../ir/fuse/types.js';
import type { Node } from '../../ir/types.js';
import { indexLists, type ListSpec } from './scatter-lists.js';
import { sizeOf } from '../../ir/fuse/resolve.js';
import { grid, indent, kernelEnv, preamble, sizeWords, storageBindings, storeTo, type CodegenOptions, type KernelCode, perRowKernel } from './common.js';
import { Sizes } from './sizes.js';
import { Emitter, unflatten, type Coords, type SizedAxis as Axis } from './expr.js';

const WG = 64;
/** Outputs per invocation along the blocked axis. */
const SB = 16;
/**
 * Tables from this many rows sum from index lists (scatter-lists.ts): there the sweep reads the
 * index |table| x D / SB times a position (GPT-2's 50257 rows: most of a training step). A smaller
 * table (a character vocabulary) keeps the sweep: at 65 rows it costs ~2 ms of a ~160 ms step,
 * where the lists' five dispatches would be five pipelines more to compile at a cold start.
 */
const LISTS_FROM_ROWS = 1024;

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

  const lists = listSpec(fg, k, nodes, rowAxes, redAxes);
  const built = lists && indexLists(fg, k, lists, opts);
  const e = new Emitter(env, body);
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
  // with lists, only this row's positions, in order (the condition still holds for each)
  if (built) body.lines.push(...built.loop(env.sizes, shared[lists!.axis]!, [...e.lines, ...loop]));
  else body.lines.push(`for (var j: i32 = 0; j < ${env.sizes.ref('reduced', reduced)}; j++) {`, ...indent([...e.lines, ...loop]), '}');

  for (let t = 0; t < per; t++) {
    nodes.forEach((n, i) => provided.set(n.id, { value: acc(i, t), coords: rowsOf[t]! }));
    const s = new Emitter(env, body);
    const lines = stores.map((x) => storeTo(env, x, s.offset(fg.tensors[x]!, rowsOf[t]!), s.value(fg.tensors[x]!.node, rowsOf[t]!)));
    const guard = blockAxis && t > 0 ? `${shared[blockName]} * ${per} + ${t} < ${env.sizes.ref(`n:${blockAxis.name}`, blockAxis.size)}` : 'true';
    body.lines.push(`if (${guard}) {`, ...indent([...s.lines, ...lines]), '}');
  }

  const count = env.sizes.ref('invocations', invocations);
  if (built) {
    decls.push(`@group(0) @binding(${bindings.length}) var<storage, read> lists: array<i32>;`);
    bindings.push({ kind: 'scratch', binding: bindings.length, words: built.words, access: 'read' });
  }
  const what = built ? `${reduced} index positions, each row over its own (index lists)` : `${reduced} index positions`;
  const code = perRowKernel(`scatter: ${invocations} invocations x ${per} outputs, ${what}`, preamble(env, decls, bindings), WG, count, body.lines, env.sizes.prologue());
  const scatter = { code, workgroups, bindings, ...sizeWords(env.sizes) };
  // an invocation's loops: the sweep over every position, or the lists' build
  const loopIterations = built ? built.loopIterations : reduced;
  if (!built) return { name: k.name, ...scatter, loopIterations };
  const parts = [...built.parts, scatter];
  const joined = parts.map((q, i) => `// part ${i + 1} of ${parts.length} (a dispatch of its own)\n${q.code}`).join('\n');
  return { name: k.name, code: joined, workgroups, bindings: parts.flatMap((q) => q.bindings), parts, loopIterations };
}

/** The lists' spec where the kernel's scatterAdds all sum by one index that it reads as a tensor
 *  (over the positions alone) into a table of LISTS_FROM_ROWS rows or more; else the sweep. */
function listSpec(fg: FusedGraph, k: RowKernel, nodes: Node[], rowAxes: Axis[], redAxes: Axis[]): ListSpec | undefined {
  const first = nodes[0]!;
  if (first.op.kind !== 'scatterAdd') return undefined;
  const axis = first.op.axis.name;
  const index = first.inputs[1]!;
  const same = nodes.every((n) => n.op.kind === 'scatterAdd' && n.op.axis.name === axis && n.inputs[1] === index);
  const tensor = k.reads.find((t) => fg.tensors[t]!.node === index);
  const names = new Set(redAxes.map((a) => a.name));
  const table = rowAxes.find((a) => a.name === axis)!.size;
  if (!same || tensor === undefined || table < LISTS_FROM_ROWS || !fg.graph.nodes[index]!.type.axes.every((a) => names.has(a.name))) return undefined;
  return { axis, index, tensor, table, positions: redAxes };
}
