// What a kernel may read from its own registers: dagOf says, per materialised read, whether every
// path to it keeps the coordinates of the read node's own axes (src/ir/fuse/views.ts).

import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../src/ir/builder.js';
import { dagOf } from '../src/ir/fuse/views.js';
import type { Axis } from '../src/ir/types.js';

const ax = (name: string, size: number): Axis => ({ name, size });
const [B, V] = [ax('B', 3), ax('V', 5)];

describe('dagOf: preserving reads', () => {
  it("a gather's table keeps every coordinate but the gathered axis", () => {
    const b = new GraphBuilder();
    const logits = b.input('logits', [B, V]);
    const top = b.reduce('max', logits, 'V'); // [B]
    const target = b.input('target', [B], 'i32');
    // shifted[b, v] = logits[b, v] - top[b], read at v = target[b]
    const picked = b.gather(b.sub(logits, top), target, 'V');
    const stop = new Set([logits, top, target]);
    const reads = new Map(dagOf(b.build(), picked, (id) => stop.has(id)).reads.map((r) => [r.node, r.preserving]));
    expect(reads.get(top)).toBe(true); // [B]: the gather changes only V
    expect(reads.get(logits)).toBe(false); // [B, V]: read at V = the target
    expect(reads.get(target)).toBe(true);
  });

  it('a rename or a slice changes the coordinates (not preserving)', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [B]);
    const renamed = b.unary('exp', b.rename(x, 'B', 'C'));
    // the renamed axis is the one whose coordinate is another's (a contraction's epilogue can give both)
    expect(dagOf(b.build(), renamed, (id) => id === x).reads).toEqual([{ node: x, preserving: false, changed: ['B'] }]);
  });

  it('two paths, one preserving and one not: not preserving', () => {
    const b = new GraphBuilder();
    const logits = b.input('logits', [B, V]);
    const target = b.input('target', [B], 'i32');
    const both = b.add(b.gather(logits, target, 'V'), b.reduce('sum', logits, 'V'));
    const reads = new Map(dagOf(b.build(), both, (id) => id === logits || id === target).reads.map((r) => [r.node, r.preserving]));
    expect(reads.get(logits)).toBe(false);
  });
});
