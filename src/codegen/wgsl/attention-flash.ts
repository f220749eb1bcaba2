// The attention template's GPU variant, after FlashAttention-2: a workgroup per tile of rows.
//
// A workgroup of FLASH_ROWS invocations takes that many neighbouring rows (queries in the forward
// and dq, keys in dk and dv) of one (batch, head, ...); each invocation keeps its row's fixed
// dot-product operands (q; or k and v) in private arrays and its outputs, and the forward's
// running max and sum, in registers. Steps are walked TILE_STEPS at a time: the workgroup stages
// the tile's per-step operands (each dot product's moving operand, and each output's accumulated
// value, read through their views) in workgroup memory, cooperatively and once for all its rows,
// waits at a barrier, and each invocation runs the tile's steps: the dot products from its
// private operands and the staged ones, the graph's own expression (the forward's scores and
// online softmax; a backward's recomputed weights and gradients, which read the row's saved max,
// sum and D loaded before the loop), the accumulation from the staged values. With a causal
// bound, the workgroup walks only the tiles some row of it needs (the extremes of its rows'
// ranges, shared through workgroup atomics), and a row skips the steps outside its own range.
//
// It covers kernels with one summed axis, every dot product's operand fixed for a row, a row
// axis that no staged operand has, and staged tiles within WORKGROUP_BYTES; any other kernel
// (grouped-query backward kernels summing over two axes, very wide heads) returns undefined and
// runs the CPU variant's template with one row per invocation (attention.ts). Not measured on a
// GPU (none where it was written): checked for correctness against the interpreter on llvmpipe.

import type { Node } from '../../ir/types.js';
import { grid, indent, preamble, sizeWords, type KernelCode } from './common.js';
import { Emitter, unflatten, type Coords } from './expr.js';
import { attentionHeader, sizeOfAxes, softmaxInit, softmaxStep, stepRange, storeRow, type AttentionSetup, type Axes } from './attention-setup.js';

/** Rows per workgroup (one per invocation). */
const FLASH_ROWS = 64;
/** Steps per tile staged in workgroup memory. */
const TILE_STEPS = 16;
/** Workgroup memory a kernel may use: WebGPU's default limit (maxComputeWorkgroupStorageSize). */
export const WORKGROUP_BYTES = 16384;
/** The causal bound's atomics and their uniform copies. */
const BOUND_BYTES = 16;

/** A per-step operand staged in workgroup memory: `inner` values per step over `axes`. */
interface Staged {
  name: string;
  node: Node;
  inner: number;
  axes: Axes;
}

interface FlashPlan {
  /** Per dot product: its fixed operand (a private array `fixed{i}`) and its staged moving one. */
  dots: { id: number; fixed: Node; head: Axes; D: number; staged: Staged }[];
  /** Per part: its staged value. */
  values: Staged[];
  rowAxis: Axes[number];
}

function flashPlan(a: AttentionSetup): FlashPlan | undefined {
  const g = a.fg.graph;
  if (a.streamAxes.length !== 1 || a.dots.some((d) => !d.fixed)) return undefined;
  const dots = a.dots.map((d, i) => {
    const D = sizeOfAxes(d.head);
    return { id: d.id, fixed: d.fixed!, head: d.head, D, staged: { name: `dot_tile${i}`, node: d.moving, inner: D, axes: d.head } };
  });
  const values = a.parts.map((p, i) => ({ name: `value_tile${i}`, node: g.nodes[p.k.x]!, inner: p.NV, axes: p.valueAxes }));
  const staged = [...dots.map((d) => d.staged), ...values];
  if (staged.reduce((n, s) => n + s.inner * TILE_STEPS * 4, BOUND_BYTES) > WORKGROUP_BYTES) return undefined;
  // staged once for the workgroup's rows: no staged operand may vary along the row axis
  const stagedAxes = new Set(staged.map((s) => s.node).flatMap(a.namesOf));
  const rowAxis = [...a.rowAxes].reverse().find((x) => x.size > 1 && !stagedAxes.has(x.name));
  return rowAxis ? { dots, values, rowAxis } : undefined;
}

/** The kernel, where it applies (flashPlan). */
export function flashAttention(a: AttentionSetup, maxWorkgroupsPerDimension: number): KernelCode | undefined {
  const plan = flashPlan(a);
  if (!plan) return undefined;
  const { env, ref, k } = a;
  const { rowAxis } = plan;
  const space = a.rowAxes.map((x) => (x === rowAxis ? { name: `${x.name}__tile`, size: Math.ceil(x.size / FLASH_ROWS) } : x));
  const tiles = sizeOfAxes(space);
  const body = new Emitter(env);
  const shared = unflatten(body, 'tile', space, 'r');
  const ri = body.bind(`${shared[`${rowAxis.name}__tile`]} * ${FLASH_ROWS} + i32(lid.x)`, 'ri');
  const row: Coords = { ...shared, [rowAxis.name]: body.bind(`min(${ri}, ${ref(`last:${rowAxis.name}`, rowAxis.size - 1)})`, 'q') };
  delete row[`${rowAxis.name}__tile`];
  if (k.softmax) body.lines.push(...softmaxInit(1));
  plan.values.forEach((v, i) => body.lines.push(`var acc${i}: array<f32, ${v.inner}>;`));
  for (const [i, d] of plan.dots.entries()) {
    const f = new Emitter(env, body);
    const at = f.value(d.fixed.id, { ...row, ...unflatten(f, 'h', d.head, 'hq') });
    body.lines.push(`var fixed${i}: array<f32, ${d.D}>;`, `for (var h: i32 = 0; h < ${d.D}; h++) {`, ...indent([...f.lines, `fixed${i}[h] = ${at};`]), '}');
  }
  // values fixed for a row (a backward's max, sum and D) are loaded before the loop
  for (const part of a.parts) for (const r of part.reads) if (r.preserving && !a.streamed(a.fg.graph.nodes[r.node]!)) body.value(r.node, row);
  const { start, end } = stepRange(a, body, [row]);
  const [first, last] = k.keyBound ? workgroupRange(body, start, end, ref('steps', a.steps)) : [start, end];
  const stepAxis = a.streamAxes[0]!.name;
  const staged = [...plan.dots.map((d) => d.staged), ...plan.values];
  body.lines.push(
    `for (var step0: i32 = ${first}; step0 < ${last}; step0 += ${TILE_STEPS}) {`,
    ...indent(staged.flatMap((s) => stage(a, body, s, row, stepAxis))),
    '  workgroupBarrier();',
    `  for (var j: i32 = 0; j < ${TILE_STEPS}; j++) {`,
    ...indent(tileStep(a, body, plan, row, stepAxis, start, end), '    '),
    '  }',
    '  workgroupBarrier();',
    '}',
  );
  const stores = storeRow(a, body, row, 0, false, (i, j) => (k.softmax ? `acc${i}[${j}] / total[0]` : `acc${i}[${j}]`));
  body.lines.push(`if (${ri} < ${ref(`n:${rowAxis.name}`, rowAxis.size)}) {`, ...indent(stores), '}');
  const { workgroups } = grid(tiles, maxWorkgroupsPerDimension);
  const header = attentionHeader(a, `${FLASH_ROWS} rows per workgroup, ${TILE_STEPS} steps per tile in workgroup memory (gpu variant)`);
  // every size is asked for before the preamble declares the uniform
  const count = ref('tiles', tiles);
  const code = [
    `// ${header}`,
    ...preamble(env, a.decls, a.bindings),
    ...staged.map((s) => `var<workgroup> ${s.name}: array<f32, ${TILE_STEPS * s.inner}>;`),
    ...(k.keyBound ? ['var<workgroup> wg_end: atomic<i32>;', 'var<workgroup> wg_skip: atomic<i32>;', 'var<workgroup> wg_last: i32;', 'var<workgroup> wg_first: i32;'] : []),
    `@compute @workgroup_size(${FLASH_ROWS})`,
    'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) nw: vec3u) {',
    ...indent(env.sizes.prologue()),
    '  let tile = i32(wid.x + wid.y * nw.x);',
    `  if (tile >= ${count}) { return; }`,
    ...indent(body.lines),
    '}',
    '',
  ].join('\n');
  return { name: k.name, code, workgroups, bindings: a.bindings, ...sizeWords(env.sizes), loopIterations: flashLoops(a, plan) };
}

/** An invocation's loop iterations (KernelCode.loopIterations), counting the loops over a head
 *  or a value (constant bounds Mesa may unroll, or may not): the fixed operands' loads, per tile
 *  the staging and the tile's steps, the stores. */
function flashLoops(a: AttentionSetup, plan: FlashPlan): number {
  const staged = [...plan.dots.map((d) => d.staged), ...plan.values];
  const staging = staged.reduce((n, s) => n + Math.ceil((TILE_STEPS * s.inner) / FLASH_ROWS), 0);
  const heads = plan.dots.reduce((n, d) => n + d.D, 0);
  const values = plan.values.reduce((n, v) => n + v.inner, 0);
  return heads + Math.ceil(a.steps / TILE_STEPS) * (1 + staging + TILE_STEPS * (1 + heads + values)) + values;
}

/** The workgroup's steps [least start, largest end), as values every invocation agrees on (a
 *  loop with barriers must be uniform). Workgroup memory starts at zero, so the start's minimum
 *  is kept as the maximum of steps - start. */
function workgroupRange(body: Emitter, start: string, end: string, steps: string): [string, string] {
  body.lines.push(
    `atomicMax(&wg_end, ${end});`,
    `atomicMax(&wg_skip, ${steps} - ${start});`,
    'workgroupBarrier();',
    `if (lid.x == 0u) { wg_last = atomicLoad(&wg_end); wg_first = ${steps} - atomicLoad(&wg_skip); }`,
    'let last_step = workgroupUniformLoad(&wg_last);',
    'let first_step = workgroupUniformLoad(&wg_first);',
  );
  return ['first_step', 'last_step'];
}

/** Statements staging `s.node` at the tile's steps into its workgroup array ([step][inner]),
 *  zero past the last step. */
function stage(a: AttentionSetup, body: Emitter, s: Staged, row: Coords, stepAxis: string): string[] {
  const { env, ref, steps } = a;
  const e = new Emitter(env, body);
  const at = e.bind(`min(step0 + e / ${s.inner}, ${ref('laststep', steps - 1)})`, 'ks');
  const value = e.value(s.node.id, { ...row, [stepAxis]: at, ...unflatten(e, `(e % ${s.inner})`, s.axes, 'ke') });
  return [
    `for (var e: i32 = i32(lid.x); e < ${TILE_STEPS * s.inner}; e += ${FLASH_ROWS}) {`,
    ...indent([...e.lines, `${s.name}[e] = select(0.0, ${value}, step0 + e / ${s.inner} < ${ref('steps', steps)});`]),
    '}',
  ];
}

/** Step j of the tile for this invocation's row: the dot products from the fixed operands and
 *  the staged ones, the operand (online softmax, or a backward's expression), the accumulation
 *  of the staged values; nothing outside the row's own steps [start, end). */
function tileStep(a: AttentionSetup, body: Emitter, plan: FlashPlan, row: Coords, stepAxis: string, start: string, end: string): string[] {
  const e = new Emitter(a.env, body);
  const at: Coords = { ...row, [stepAxis]: 's' };
  const dots = plan.dots.flatMap((d, i) => {
    a.provided.set(d.id, { value: `dot${i}`, coords: at });
    return [`var dot${i}: f32 = 0.0;`, `for (var h: i32 = 0; h < ${d.D}; h++) { dot${i} = fma(fixed${i}[h], ${d.staged.name}[j * ${d.D} + h], dot${i}); }`];
  });
  const soft = a.k.softmax;
  const weights = soft ? softmaxStep(e.value(soft.scores, at), 0) : a.parts.map((p, i) => `let p${i}_0 = ${e.value(p.k.pairs, at)};`);
  const accumulate = plan.values.map((v, i) => {
    const kept = soft ? `acc${i}[x] * rescale0` : `acc${i}[x]`;
    return `for (var x: i32 = 0; x < ${v.inner}; x++) { acc${i}[x] = fma(p${i}_0, ${v.name}[j * ${v.inner} + x], ${kept}); }`;
  });
  const inside = start === '0' ? `s < ${end}` : `s >= ${start} && s < ${end}`;
  return ['let s = step0 + j;', `if (${inside}) {`, ...indent([...dots, ...e.lines, ...weights, ...accumulate]), '}'];
}
