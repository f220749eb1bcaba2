// The attention template (src/ir/fuse/attention.ts finds the chain): one invocation per softmax
// row (a query position of one head), streaming over the key axis M:
//
//   for m:  s = scores(q . k[m])                       (the graph's own expression: scale, mask)
//           mx' = max(mx, s); c = exp(mx - mx'); p = exp(s - mx')
//           sum = sum * c + p;  acc = acc * c + p * v[m]
//   out = acc / sum
//
// which is softmax(scores) . v without the L x M scores or weights in memory. The running max
// starts at the lowest finite f32, so a row whose scores are all a mask constant gets uniform
// weights like the interpreter's softmax. q, k and v are read through their views (any layout).

import type { AttentionKernel, FusedGraph } from '../../ir/fuse/types.js';
import { sizeOf } from '../../ir/fuse/resolve.js';
import { grid, indent, kernelEnv, preamble, storageBindings, type CodegenOptions, type KernelCode } from './common.js';
import { Emitter, f32Lit, unflatten, type Coords } from './expr.js';

const WG = 64;

export function attentionKernel(fg: FusedGraph, k: AttentionKernel, opts: Required<CodegenOptions>): KernelCode {
  const g = fg.graph;
  const provided = new Map<number, { value: string; coords: Coords }>();
  const env = kernelEnv(fg, k, provided);
  const { decls, bindings } = storageBindings(fg, k, env);
  const logits = g.nodes[k.logits]!;
  const out = g.nodes[k.node]!;
  const axesOfNode = (names: readonly string[], ...from: number[]) =>
    names.map((name) => ({ name, size: sizeOf(g.nodes[from.find((id) => g.nodes[id]!.type.axes.some((a) => a.name === name))!]!, name) }));
  const rowAxes = axesOfNode(k.rowAxes, k.logits);
  const logitAxes = new Set(logits.type.axes.map((a) => a.name));
  const headAxes = axesOfNode([...new Set([k.q, k.k].flatMap((id) => g.nodes[id]!.type.axes.map((a) => a.name)))].filter((a) => !logitAxes.has(a)), k.q);
  const valueAxes = axesOfNode(out.type.axes.map((a) => a.name).filter((a) => !k.rowAxes.includes(a)), k.node);
  const size = (axes: { size: number }[]) => axes.reduce((p, a) => p * a.size, 1);
  const rows = size(rowAxes);
  const keys = sizeOf(logits, k.axis);
  const HK = size(headAxes);
  const NV = size(valueAxes);
  const { workgroups, nx } = grid(Math.ceil(rows / WG), opts.maxWorkgroupsPerDimension);

  const body = new Emitter(env);
  const rowCoords = unflatten(body, 'row', rowAxes, 'r');
  body.lines.push(`var mx: f32 = ${f32Lit(-3.4028234663852886e38)};`, 'var total: f32 = 0.0;', `var acc: array<f32, ${NV}>;`);

  // one key position
  const perKey = new Emitter(env, body);
  const keyCoords: Coords = { ...rowCoords, [k.axis]: 'm' };
  const dot = new Emitter(env, perKey);
  const headCoords = { ...keyCoords, ...unflatten(dot, 'h', headAxes, 'hq') };
  dot.lines.push(`dot = fma(${dot.value(k.q, headCoords)}, ${dot.value(k.k, headCoords)}, dot);`);
  perKey.lines.push('var dot: f32 = 0.0;', `for (var h: i32 = 0; h < ${HK}; h++) {`, ...indent(dot.lines), '}');
  provided.set(k.logits, { value: 'dot', coords: keyCoords });
  const s = perKey.value(k.scores, keyCoords);
  perKey.lines.push(
    `let mx_new = max(mx, ${s});`,
    'let rescale = exp(mx - mx_new);',
    `let p = exp(${s} - mx_new);`,
    'total = total * rescale + p;',
    'mx = mx_new;',
  );
  const val = new Emitter(env, perKey);
  const valueCoords = { ...keyCoords, ...unflatten(val, 'j', valueAxes, 'vj') };
  val.lines.push(`acc[j] = fma(p, ${val.value(k.v, valueCoords)}, acc[j] * rescale);`);
  perKey.lines.push(`for (var j: i32 = 0; j < ${NV}; j++) {`, ...indent(val.lines), '}');
  body.lines.push(`for (var m: i32 = 0; m < ${keys}; m++) {`, ...indent(perKey.lines), '}');

  const store = new Emitter(env, body);
  const outCoords = { ...rowCoords, ...unflatten(store, 'j', valueAxes, 'oj') };
  store.lines.push(`${env.bound.get(k.out)}[${store.offset(fg.tensors[k.out]!, outCoords)}] = acc[j] / total;`);
  body.lines.push(`for (var j: i32 = 0; j < ${NV}; j++) {`, ...indent(store.lines), '}');

  const code = [
    `// ${k.name}: ${rows} rows x ${keys} keys, head ${HK}, value ${NV}`,
    ...preamble(env, decls, bindings),
    `@compute @workgroup_size(${WG})`,
    'fn main(@builtin(global_invocation_id) gid: vec3u) {',
    `  let row = i32(gid.x + gid.y * ${nx * WG}u);`,
    `  if (row >= ${rows}) { return; }`,
    ...indent(body.lines),
    '}',
    '',
  ].join('\n');
  return { name: k.name, code, workgroups, bindings };
}
