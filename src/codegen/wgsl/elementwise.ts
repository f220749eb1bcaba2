// The elementwise template: one invocation per element of the kernel's space (or per 4, below);
// every written tensor's node is computed in place (its expression DAG inlined, materialised
// inputs loaded through their views) and stored in the tensor's own storage order.
//
// An in-place update (ElementwiseKernel.update) runs over one row of the state: its space lacks
// the updated axis, whose coordinate is the position, and only where the position is a valid
// index does it store (elsewhere the IR's select keeps the old value, which is already there).
//
// Where the innermost axis of the space is a multiple of 4 long, an invocation computes 4
// consecutive elements along it, and the textured reads stored contiguously along their own
// innermost axis (other strides multiples of 4) are rgba32float textures, 4 elements a texel:
// one texel fetch serves the 4 (on llvmpipe the fetch instruction, not the memory, is the cost:
// docs/llvmpipe.md).

import type { ElementwiseKernel, FusedGraph } from '../../ir/fuse/types.js';
import { axesOf, flatInvocation, GRID_PARAMS, grid, indent, kernelEnv, preamble, sizeWords, storageBindings, storeTo, validRow, type CodegenOptions, type KernelCode } from './common.js';
import { Emitter, unflatten } from './expr.js';
import { contiguousBy4, laneCoords } from './quad.js';
import { Sizes } from './sizes.js';

const WG = 64;

export function elementwiseKernel(fg: FusedGraph, k: ElementwiseKernel, opts: Required<CodegenOptions>): KernelCode {
  const env = kernelEnv(fg, k, undefined, new Sizes(opts.uniformSizes, true));
  const space = axesOf(fg, k.writes[0]!, k.space);
  const total = space.reduce((p, a) => p * a.size, 1);
  const inner = space.at(-1);
  const lanes = !k.update && inner !== undefined && inner.size % 4 === 0 ? 4 : 1;
  if (lanes === 4) env.texel4 = new Set();
  const { decls, bindings } = storageBindings(fg, k, env, opts, (t) => contiguousBy4(fg, t));
  const { workgroups } = grid(Math.ceil(total / lanes / WG), opts.maxWorkgroupsPerDimension);
  const e = new Emitter(env);
  const coords = unflatten(e, 'i', space, 'c');
  const stores: string[] = [];
  if (k.update) {
    const u = k.update;
    const tensor = fg.tensors[k.writes[0]!]!;
    const size = axesOf(fg, tensor, [u.axis])[0]!.size;
    const p = e.value(u.index, {});
    const at = { ...coords, [u.axis]: e.bind(`i32(${p})`, 'at') };
    const store = storeTo(env, k.writes[0]!, e.offset(tensor, at), e.value(u.value, coords));
    stores.push(`if (${validRow(p, env.sizes.ref(`state:${u.axis}`, size))}) {`, ...indent([store]), '}');
  }
  for (const at of k.update ? [] : laneCoords(e, coords, lanes === 4 ? inner!.name : undefined)) {
    for (const t of k.writes) {
      const tensor = fg.tensors[t]!;
      stores.push(storeTo(env, t, e.offset(tensor, at), e.value(tensor.node, at)));
    }
  }
  const count = env.sizes.ref('total', total);
  const code = [
    `// elementwise: ${total} elements${lanes === 4 ? ', 4 an invocation' : ''}`,
    ...preamble(env, decls, bindings),
    `@compute @workgroup_size(${WG})`,
    `fn main(${GRID_PARAMS}) {`,
    ...indent(env.sizes.prologue()),
    `  let i = i32(${flatInvocation(WG)})${lanes === 4 ? ' * 4' : ''};`,
    `  if (i >= ${count}) { return; }`,
    ...indent(e.lines),
    ...indent(stores),
    '}',
    '',
  ].join('\n');
  return { name: k.name, code, workgroups, bindings, ...sizeWords(env.sizes) };
}
