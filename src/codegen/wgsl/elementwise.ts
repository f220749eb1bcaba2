// The elementwise template: one invocation per element of the kernel's space; every written
// tensor's node is computed in place (its expression DAG inlined, materialised inputs loaded
// through their views) and stored in the tensor's own storage order.
//
// An in-place update (ElementwiseKernel.update) runs over one row of the state: its space lacks
// the updated axis, whose coordinate is the position, and only where the position is a valid
// index does it store (elsewhere the IR's select keeps the old value, which is already there).

import type { ElementwiseKernel, FusedGraph } from '../../ir/fuse/types.js';
import { axesOf, flatInvocation, GRID_PARAMS, grid, indent, kernelEnv, preamble, sizeWords, storageBindings, storeTo, validRow, type CodegenOptions, type KernelCode } from './common.js';
import { Emitter, unflatten } from './expr.js';
import { Sizes } from './sizes.js';

const WG = 64;

export function elementwiseKernel(fg: FusedGraph, k: ElementwiseKernel, opts: Required<CodegenOptions>): KernelCode {
  const env = kernelEnv(fg, k, undefined, new Sizes(opts.uniformSizes, true));
  const { decls, bindings } = storageBindings(fg, k, env, opts);
  const space = axesOf(fg, k.writes[0]!, k.space);
  const total = space.reduce((p, a) => p * a.size, 1);
  const { workgroups } = grid(Math.ceil(total / WG), opts.maxWorkgroupsPerDimension);
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
  for (const t of k.update ? [] : k.writes) {
    const tensor = fg.tensors[t]!;
    stores.push(storeTo(env, t, e.offset(tensor, coords), e.value(tensor.node, coords)));
  }
  const count = env.sizes.ref('total', total);
  const code = [
    `// elementwise: ${total} elements`,
    ...preamble(env, decls, bindings),
    `@compute @workgroup_size(${WG})`,
    `fn main(${GRID_PARAMS}) {`,
    ...indent(env.sizes.prologue()),
    `  let i = i32(${flatInvocation(WG)});`,
    `  if (i >= ${count}) { return; }`,
    ...indent(e.lines),
    ...indent(stores),
    '}',
    '',
  ].join('\n');
  return { name: k.name, code, workgroups, bindings, ...sizeWords(env.sizes) };
}
