// Four elements a texel: an invocation (or a row sweep's iteration) that handles 4 consecutive
// elements along an innermost axis reads each tensor stored contiguously along its own innermost
// axis as rgba32float texels, one fetch for the 4 (EmitEnv.texel4, quadLanes; on llvmpipe the
// fetch instruction, not the memory, is the cost: docs/llvmpipe.md).

import { layoutStrides, sizeOf } from '../../ir/fuse/resolve.js';
import type { FusedGraph } from '../../ir/fuse/types.js';
import type { Node } from '../../ir/types.js';
import type { Coords, Emitter } from './expr.js';

/** The coordinates of an invocation's elements: `coords`, or with an `inner` axis, the 4 along it
 *  from `coords` (a multiple of 4 there), registered as lanes (EmitEnv.quadLanes). */
export function laneCoords(e: Emitter, coords: Coords, inner: string | undefined): Coords[] {
  if (inner === undefined) return [coords];
  const base = coords[inner]!;
  const lanes = (e.env.quadLanes ??= new Map());
  lanes.set(base, { base, lane: 0 });
  return [0, 1, 2, 3].map((lane) => {
    const c = lane === 0 ? base : e.bind(`${base} + ${lane}`, 'c');
    lanes.set(c, { base, lane });
    return { ...coords, [inner]: c };
  });
}

/** The axis a tensor stored in `layout` is contiguous along: its last axis longer than 1. */
export function innermostAxis(node: Node, layout: readonly string[]): string | undefined {
  return layout.filter((a) => sizeOf(node, a) !== 1).at(-1);
}

/** Tensor t stored with its innermost axis contiguous and every other stride a multiple of 4, so
 *  that 4 consecutive elements along that axis from a multiple of 4 are one rgba32float texel. */
export function contiguousBy4(fg: FusedGraph, t: number): boolean {
  const tensor = fg.tensors[t]!;
  const node = fg.graph.nodes[tensor.node]!;
  const axes = tensor.layout.filter((a) => sizeOf(node, a) !== 1);
  const strides = layoutStrides(node, tensor.layout);
  return axes.length > 0 && axes.slice(0, -1).every((a) => strides[a]! % 4 === 0);
}
