// The attention template's GPU variant, FlashAttention-2's forward: a workgroup per query tile.
//
// A workgroup of FLASH_QUERIES invocations takes that many neighbouring queries of one (batch,
// head, ...) row; each invocation keeps its query's q in a private array and its output row,
// running max and sum in registers. Keys are walked TILE_KEYS at a time: the workgroup stages the
// tile's k and v (the dot product's moving operand and the accumulated value, each read through
// its view) in workgroup memory, cooperatively and once for all its queries, waits at a barrier,
// and each invocation runs the online softmax over the tile (the graph's own score expression:
// scale, mask). With a causal bound, the workgroup stops after the last tile any of its queries
// needs (the largest of their bounds, shared through a workgroup atomic): tiles wholly past every
// query's bound are skipped, and a query skips the steps past its own bound inside a tile.
//
// It covers the forward of softmax attention with one dot product whose k and v tiles fit
// WORKGROUP_BYTES (head + value < 256), one summed axis and a query axis that neither k nor v has; any other
// kernel (the backward's dq, dk and dv above all) returns undefined and runs the CPU variant's
// template with one row per invocation (attention.ts). Not measured on a GPU (none where it was
// written): checked for correctness against the interpreter on llvmpipe.

import type { Node } from '../../ir/types.js';
import { grid, indent, preamble, sizeWords, type KernelCode } from './common.js';
import { Emitter, unflatten, type Coords } from './expr.js';
import { attentionHeader, sizeOfAxes, softmaxInit, softmaxStep, stepRange, storeRow, type AttentionDot, type AttentionSetup, type Axes } from './attention-setup.js';

/** Queries per workgroup (one per invocation). */
const FLASH_QUERIES = 64;
/** Keys per tile staged in workgroup memory. */
const TILE_KEYS = 16;
/** Workgroup memory a kernel may use: WebGPU's default limit (maxComputeWorkgroupStorageSize). */
export const WORKGROUP_BYTES = 16384;

interface FlashPlan {
  dot: AttentionDot & { fixed: Node };
  D: number;
  NV: number;
  qAxis: Axes[number];
}

function flashPlan(a: AttentionSetup): FlashPlan | undefined {
  const { k, dots, parts, streamAxes } = a;
  const [dot] = dots;
  const [part] = parts;
  if (!k.softmax || k.keyBound?.lower || parts.length !== 1 || dots.length !== 1 || streamAxes.length !== 1 || !dot?.fixed || !part) return undefined;
  const D = sizeOfAxes(dot.head);
  // k's and v's tiles and the causal bound's two words (heads and values up to 127 wide)
  if ((D + part.NV) * TILE_KEYS * 4 + 8 > WORKGROUP_BYTES) return undefined;
  // k and v are staged once for the workgroup's queries: neither may vary along the query axis
  const staged = new Set([dot.moving, a.fg.graph.nodes[part.k.x]!].flatMap(a.namesOf));
  const qAxis = [...a.rowAxes].reverse().find((x) => x.size > 1 && !staged.has(x.name));
  if (!qAxis) return undefined;
  return { dot: dot as FlashPlan['dot'], D, NV: part.NV, qAxis };
}

/** The kernel, where it applies (flashPlan). */
export function flashAttention(a: AttentionSetup, maxWorkgroupsPerDimension: number): KernelCode | undefined {
  const plan = flashPlan(a);
  if (!plan) return undefined;
  const { env, ref, k } = a;
  const { dot, D, NV, qAxis } = plan;
  const space = a.rowAxes.map((x) => (x === qAxis ? { name: `${x.name}__tile`, size: Math.ceil(x.size / FLASH_QUERIES) } : x));
  const tiles = sizeOfAxes(space);
  const body = new Emitter(env);
  const shared = unflatten(body, 'tile', space, 'r');
  const qi = body.bind(`${shared[`${qAxis.name}__tile`]} * ${FLASH_QUERIES} + i32(lid.x)`, 'qi');
  const row: Coords = { ...shared, [qAxis.name]: body.bind(`min(${qi}, ${ref(`last:${qAxis.name}`, qAxis.size - 1)})`, 'q') };
  delete row[`${qAxis.name}__tile`];
  body.lines.push(...softmaxInit(1), `var acc0: array<f32, ${NV}>;`, `var qv: array<f32, ${D}>;`);
  const q = new Emitter(env, body);
  const qAt = q.value(dot.fixed.id, { ...row, ...unflatten(q, 'h', dot.head, 'hq') });
  body.lines.push(`for (var h: i32 = 0; h < ${D}; h++) {`, ...indent([...q.lines, `qv[h] = ${qAt};`]), '}');
  const { end } = stepRange(a, body, [row]);
  const last = k.keyBound ? workgroupMax(body, end) : end;
  const stepAxis = a.streamAxes[0]!.name;
  body.lines.push(
    `for (var t0: i32 = 0; t0 < ${last}; t0 += ${TILE_KEYS}) {`,
    ...indent(stage(a, body, 'k_tile', dot.moving, D, dot.head, row, stepAxis)),
    ...indent(stage(a, body, 'v_tile', a.fg.graph.nodes[a.parts[0]!.k.x]!, NV, a.parts[0]!.valueAxes, row, stepAxis)),
    '  workgroupBarrier();',
    `  for (var j: i32 = 0; j < ${TILE_KEYS}; j++) {`,
    ...indent(tileStep(a, body, plan, row, stepAxis, end), '    '),
    '  }',
    '  workgroupBarrier();',
    '}',
  );
  const stores = storeRow(a, body, row, 0, false, (_i, j) => `acc0[${j}] / total[0]`);
  body.lines.push(`if (${qi} < ${ref(`n:${qAxis.name}`, qAxis.size)}) {`, ...indent(stores), '}');
  const { workgroups } = grid(tiles, maxWorkgroupsPerDimension);
  const header = attentionHeader(a, `${FLASH_QUERIES} queries per workgroup, ${TILE_KEYS} keys per tile in workgroup memory (gpu variant)`);
  // every size is asked for before the preamble declares the uniform
  const count = ref('tiles', tiles);
  const code = [
    `// ${header}`,
    ...preamble(env, a.decls, a.bindings),
    `var<workgroup> k_tile: array<f32, ${TILE_KEYS * D}>;`,
    `var<workgroup> v_tile: array<f32, ${TILE_KEYS * NV}>;`,
    ...(k.keyBound ? ['var<workgroup> wg_end: atomic<i32>;', 'var<workgroup> wg_last: i32;'] : []),
    `@compute @workgroup_size(${FLASH_QUERIES})`,
    'fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) nw: vec3u) {',
    ...indent(env.sizes.prologue()),
    '  let tile = i32(wid.x + wid.y * nw.x);',
    `  if (tile >= ${count}) { return; }`,
    ...indent(body.lines),
    '}',
    '',
  ].join('\n');
  return { name: k.name, code, workgroups, bindings: a.bindings, ...sizeWords(env.sizes) };
}

/** The largest of the workgroup's `end`s, as a value every invocation agrees on (a loop with
 *  barriers must be uniform). */
function workgroupMax(body: Emitter, end: string): string {
  body.lines.push(
    'atomicMax(&wg_end, ' + end + ');',
    'workgroupBarrier();',
    'if (lid.x == 0u) { wg_last = atomicLoad(&wg_end); }',
    'let last_step = workgroupUniformLoad(&wg_last);',
  );
  return 'last_step';
}

/** Statements staging `node` at the tile's steps into workgroup array `name` ([step][inner]),
 *  zero past the last step. */
function stage(a: AttentionSetup, body: Emitter, name: string, node: Node, inner: number, innerAxes: Axes, row: Coords, stepAxis: string): string[] {
  const { env, ref, steps } = a;
  const e = new Emitter(env, body);
  const at = e.bind(`min(t0 + e / ${inner}, ${ref('laststep', steps - 1)})`, 'ks');
  const value = e.value(node.id, { ...row, [stepAxis]: at, ...unflatten(e, `(e % ${inner})`, innerAxes, 'ke') });
  return [
    `for (var e: i32 = i32(lid.x); e < ${TILE_KEYS * inner}; e += ${FLASH_QUERIES}) {`,
    ...indent([...e.lines, `${name}[e] = select(0.0, ${value}, t0 + e / ${inner} < ${ref('steps', steps)});`]),
    '}',
  ];
}

/** Step j of the tile for this invocation's query: the dot product from q and the staged k, the
 *  online softmax, the accumulation of the staged v; nothing past the query's own last step. */
function tileStep(a: AttentionSetup, body: Emitter, plan: FlashPlan, row: Coords, stepAxis: string, end: string): string[] {
  const e = new Emitter(a.env, body);
  const at: Coords = { ...row, [stepAxis]: 's' };
  a.provided.set(plan.dot.id, { value: 'dot', coords: at });
  const lines = softmaxStep(e.value(a.k.softmax!.scores, at), 0);
  return [
    'let s = t0 + j;',
    `if (s < ${end}) {`,
    ...indent([
      'var dot: f32 = 0.0;',
      `for (var h: i32 = 0; h < ${plan.D}; h++) { dot = fma(qv[h], k_tile[j * ${plan.D} + h], dot); }`,
      ...e.lines,
      ...lines,
      `for (var x: i32 = 0; x < ${plan.NV}; x++) { acc0[x] = fma(p0_0, v_tile[j * ${plan.NV} + x], acc0[x] * rescale0); }`,
    ]),
    '}',
  ];
}
