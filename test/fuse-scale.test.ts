// The fusion pass and codegen on a 12-layer GPT's forward + backward (no device): every kernel
// stays under the binding limit, every materialised read has a writer before it, and fusion
// needs far fewer kernels than one per op.

import { expect, it } from 'vitest';
import { differentiate } from '../src/ir/autodiff.js';
import { GraphBuilder } from '../src/ir/builder.js';
import { fuse } from '../src/ir/fuse/fuse.js';
import { generateKernel } from '../src/codegen/wgsl/index.js';
import { tinyGpt } from './ir-helpers.js';

it('a 12-layer GPT forward + backward fuses under the binding limit, in a valid order', () => {
  const b = new GraphBuilder();
  const { loss } = tinyGpt(b, { B: 'B', L: 64, V: 65, D: 64, H: 4, layers: 12 });
  b.output('loss', loss);
  const fwd = b.build();
  const g = differentiate(fwd, 'loss', [...fwd.params.keys()]);
  const t0 = performance.now();
  const f = fuse(g, { B: 2 });
  const ms = performance.now() - t0;
  const unfused = fuse(g, { B: 2 }, { unfused: true });
  console.log(`${g.nodes.length} nodes: ${f.kernels.length} kernels fused (${unfused.kernels.length} unfused), fusion ${ms.toFixed(0)} ms`);
  expect(f.kernels.length).toBeLessThan(unfused.kernels.length / 2);
  const written = new Set<number>([...f.inputs.values(), ...f.params.values()]);
  for (const k of f.kernels) {
    expect(new Set([...k.reads, ...k.writes]).size).toBeLessThanOrEqual(8);
    for (const t of k.reads) expect(written.has(t), `${k.name} reads tensor ${t} before it is written`).toBe(true);
    for (const t of k.writes) written.add(t);
    expect(generateKernel(f, k).code).toContain('@compute');
  }
  for (const t of f.outputs.values()) expect(written.has(t)).toBe(true);
});
