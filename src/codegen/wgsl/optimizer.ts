// The optimizer's kernels, over a slab: every parameter in one buffer, every gradient in another
// at the same offsets. Three dispatches per step whatever the model: partial sums of squares of
// the gradients, their total (the global norm, and the clipping scale), and AdamW itself; a slab
// larger than one binding may hold is swept in ranges, a sum-of-squares and an AdamW dispatch
// each (the runtime binds each range; `partials` then holds every range's partial sums).
// The arithmetic is the CPU reference's (src/runtime/train/adamw.ts), element for element; the
// hyper-parameters come in one uniform whose layout is hyper.ts's.
import { hyperStruct } from './hyper.js';

export const SUMSQ_WORKGROUPS = 64;
const WG = 64;

/** partials[w] = sum of g*g over the w-th stride of the slab (vec4 elements). */
export function sumsqKernel(n4: number): string {
  return `// gradient norm, pass 1: partial sums of squares
@group(0) @binding(0) var<storage, read> g: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
var<workgroup> acc: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  var s = 0.0;
  for (var i = wid.x * ${WG}u + lid.x; i < ${n4}u; i += ${SUMSQ_WORKGROUPS * WG}u) {
    let x = g[i];
    s += dot(x, x);
  }
  acc[lid.x] = s;
  workgroupBarrier();
  for (var w = ${WG / 2}u; w > 0u; w >>= 1u) {
    if (lid.x < w) { acc[lid.x] += acc[lid.x + w]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { partials[wid.x] = acc[0]; }
}`;
}

/** norm[0] = the global gradient norm, norm[1] = the scale that clips it to `gradClip` (0: no clipping),
 *  from the partial sums of `ranges` ranges of the slab. */
export function normKernel(ranges = 1): string {
  return `// gradient norm, pass 2: the total and the clipping scale
${hyperStruct()}
@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> norm: array<f32>;
@group(0) @binding(2) var<uniform> h: Hyper;
@compute @workgroup_size(1)
fn main() {
  var s = 0.0;
  for (var i = 0u; i < ${SUMSQ_WORKGROUPS * ranges}u; i++) { s += partials[i]; }
  let n = sqrt(s);
  norm[0] = n;
  norm[1] = select(1.0, h.gradClip / n, h.gradClip > 0.0 && n > h.gradClip);
}`;
}

/** One AdamW step over the slab; decoupled weight decay on vec4 elements before decayEnd. */
export function adamwKernel(): string {
  return `// AdamW over every parameter at once
${hyperStruct()}
@group(0) @binding(0) var<storage, read_write> p: array<vec4f>;
@group(0) @binding(1) var<storage, read> g: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> m: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> v: array<vec4f>;
@group(0) @binding(4) var<storage, read> norm: array<f32>;
@group(0) @binding(5) var<uniform> h: Hyper;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * ${WG}u;
  if (i >= h.n4) { return; }
  let grad = g[i] * norm[1];
  let mi = h.beta1 * m[i] + (1.0 - h.beta1) * grad;
  let vi = h.beta2 * v[i] + (1.0 - h.beta2) * grad * grad;
  m[i] = mi;
  v[i] = vi;
  let wd = select(0.0, h.weightDecay, i < h.decayEnd);
  let pi = p[i];
  p[i] = pi - h.lr * ((mi / h.c1) / (sqrt(vi / h.c2) + h.eps) + wd * pi);
}`;
}

/** acc = (first ? 0 : acc) + g * scale: gradient accumulation over micro-batches. */
export function accumulateKernel(): string {
  return `// gradient accumulation
struct Acc { scale: f32, first: u32, n4: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> g: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> acc: array<vec4f>;
@group(0) @binding(2) var<uniform> a: Acc;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * ${WG}u;
  if (i >= a.n4) { return; }
  let prev = select(acc[i], vec4f(0.0), a.first == 1u);
  acc[i] = prev + g[i] * a.scale;
}`;
}

export const OPTIMIZER_WORKGROUP = WG;

/** Workgroups for n4 vec4 elements, folded into 2-D under the per-dimension limit. */
export function elementGrid(n4: number, maxPerDim: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n4 / WG));
  if (groups <= maxPerDim) return [groups, 1, 1];
  return [maxPerDim, Math.ceil(groups / maxPerDim), 1];
}
