// Index lists for the scatter template (scatter.ts): the positions of each index value, in order,
// built on the device before the scatter runs, so that a row of the table sums only its own
// positions instead of sweeping them all (GPT-2's token table: 50257 rows, each sweeping every
// position of the batch, was most of a training step on llvmpipe).
//
// A counting sort in five dispatches, every one of them parallel and deterministic (no atomics),
// since llvmpipe stops an invocation's loops after 65535 iterations in all (docs/llvmpipe.md,
// Loops) and a single invocation would loop over the whole table:
//   zero    per value:    count[v] = 0
//   rank    per position: rank[j] = positions before j with j's value; the first of them writes
//                        the value's count
//   chunks  per 64 values: each value's offset within its chunk, and the chunk's total
//   bases   one invocation: the chunks' totals scanned into their bases (|table| / 64 of them)
//   place   per position: positions[base + offset + rank] = j
// Positions keep their order within a value, so the scatter's sums are the sweep's, to the bit.
// The lists live in the kernel's scratch buffer (KernelBinding 'scratch'), in i32 words:
// count [table] | offset [table] | base [chunks] | rank [index] | positions [index].

import type { FusedGraph, RowKernel } from '../../ir/fuse/types.js';
import { grid, indent, kernelEnv, perRowKernel, preamble, sizeWords, storageBindings, type CodegenOptions, type KernelBinding, type KernelPart } from './common.js';
import { Emitter, unflatten, type SizedAxis as Axis } from './expr.js';
import { Sizes } from './sizes.js';

/** Values a chunk of the offset scan covers. */
const CHUNK = 64;
const WG = 64;

export interface IndexLists {
  /** The dispatches that build the lists, in order (before the scatter's own). */
  parts: KernelPart[];
  words: number;
  /** The most loop iterations one invocation of the build runs (a rank: every position). */
  loopIterations: number;
  /** The scatter's loop over row `v`'s positions, binding `j` (the position) in its body. */
  loop(sizes: Sizes, v: string, body: string[]): string[];
}

/** The index of a scatter kernel whose scatterAdds all sum by one index that it reads as a tensor
 *  of its own, over the positions `positions` (the reduced axes) into `table` rows. */
export interface ListSpec {
  axis: string; // the table's axis (the scatter's)
  index: number; // the index tensor's node
  tensor: number; // ... and the fused tensor the kernel reads it from
  table: number;
  positions: Axis[];
}

export function indexLists(fg: FusedGraph, k: RowKernel, spec: ListSpec, opts: Required<CodegenOptions>): IndexLists {
  const T = spec.positions.reduce((p, a) => p * a.size, 1);
  const chunks = Math.ceil(spec.table / CHUNK);
  const words = 2 * spec.table + chunks + 2 * T;
  /** Where each region starts, as a size of the part's uniform. */
  const at = (s: Sizes, region: 'offset' | 'base' | 'rank' | 'positions'): string => {
    const start = { offset: spec.table, base: 2 * spec.table, rank: 2 * spec.table + chunks, positions: 2 * spec.table + chunks + T }[region];
    return s.ref(`lists:${region}`, start);
  };

  /** One dispatch: `invocations` of it (an invocation per `row`), reading the index where asked. */
  const part = (what: string, invocations: number, withIndex: boolean, body: (e: Emitter, s: Sizes, indexAt: (e: Emitter, flat: string, prefix: string) => string) => string[]): KernelPart => {
    const env = kernelEnv(fg, { ...k, members: [] }, new Map(), new Sizes(opts.uniformSizes, true));
    const { decls, bindings } = withIndex ? storageBindings(fg, { ...k, reads: [spec.tensor], writes: [] }, env, { ...opts, textureReads: 0 }) : { decls: [] as string[], bindings: [] as KernelBinding[] };
    decls.push(`@group(0) @binding(${bindings.length}) var<storage, read_write> lists: array<i32>;`);
    bindings.push({ kind: 'scratch', binding: bindings.length, words, access: 'read_write' });
    const e = new Emitter(env);
    /** The index at flat position `flat`, its loads emitted into `into`. */
    const indexAt = (into: Emitter, flat: string, prefix: string) => into.value(spec.index, unflatten(into, flat, spec.positions, prefix));
    const lines = body(e, env.sizes, indexAt);
    const count = env.sizes.ref(`lists:${what}`, invocations);
    const pre = preamble(env, decls, bindings); // (after every size is asked for: it declares them)
    const code = perRowKernel(`index lists, ${what}: ${invocations} invocation(s), ${spec.table} values, ${T} positions`, pre, WG, count, lines, env.sizes.prologue());
    return { code, workgroups: grid(Math.ceil(invocations / WG), opts.maxWorkgroupsPerDimension).workgroups, bindings, ...sizeWords(env.sizes) };
  };

  const V = (s: Sizes) => s.ref('lists:table', spec.table);
  const N = (s: Sizes) => s.ref('lists:index', T);
  const parts = [
    part('zero', spec.table, false, () => ['lists[row] = 0;']),
    part('rank', T, true, (e, s, indexAt) => {
      const x = indexAt(e, 'row', 'q');
      const other = new Emitter(e.env, e);
      const y = indexAt(other, 'i', 'p');
      return [
        ...e.lines,
        `let x = ${x};`,
        `if (x < 0 || x >= ${V(s)}) { return; }`,
        'var before = 0;',
        'var all = 0;',
        `for (var i: i32 = 0; i < ${N(s)}; i++) {`,
        ...indent([...other.lines, `if (${y} == x) {`, '  all += 1;', '  before += select(0, 1, i < row);', '}']),
        '}',
        `lists[${at(s, 'rank')} + row] = before;`,
        'if (before == 0) { lists[x] = all; }',
      ];
    }),
    part('chunks', chunks, false, (_e, s) => [
      'var sum = 0;',
      `for (var c: i32 = 0; c < ${CHUNK}; c++) {`,
      `  let v = row * ${CHUNK} + c;`,
      `  if (v >= ${V(s)}) { break; }`,
      `  lists[${at(s, 'offset')} + v] = sum;`,
      '  sum += lists[v];',
      '}',
      `lists[${at(s, 'base')} + row] = sum;`,
    ]),
    part('bases', 1, false, (_e, s) => ['var sum = 0;', `for (var c: i32 = 0; c < ${s.ref('lists:chunks', chunks)}; c++) {`, `  let total = lists[${at(s, 'base')} + c];`, `  lists[${at(s, 'base')} + c] = sum;`, '  sum += total;', '}']),
    part('place', T, true, (e, s, indexAt) => {
      const x = indexAt(e, 'row', 'q');
      return [...e.lines, `let x = ${x};`, `if (x < 0 || x >= ${V(s)}) { return; }`, `lists[${at(s, 'positions')} + lists[${at(s, 'base')} + x / ${CHUNK}] + lists[${at(s, 'offset')} + x] + lists[${at(s, 'rank')} + row]] = row;`];
    }),
  ];
  return {
    parts,
    words,
    loopIterations: Math.max(T, chunks),
    loop: (s, v, body) => [
      `let first = lists[${at(s, 'base')} + ${v} / ${CHUNK}] + lists[${at(s, 'offset')} + ${v}];`,
      `for (var p = first; p < first + lists[${v}]; p++) {`,
      ...indent([`let j = lists[${at(s, 'positions')} + p];`, ...body]),
      '}',
    ],
  };
}
