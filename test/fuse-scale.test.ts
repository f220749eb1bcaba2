import { it } from 'vitest';
import { GraphBuilder } from '../src/ir/builder.js';
import { differentiate } from '../src/ir/autodiff.js';
import { fuse } from '../src/ir/fuse/fuse.js';
import { generateKernel } from '../src/codegen/wgsl/index.js';
import { tinyGpt } from './ir-helpers.js';
it('scale', () => {
  const b = new GraphBuilder();
  const { loss } = tinyGpt(b, { B: 'B', L: 64, V: 65, D: 64, H: 4, layers: 12 });
  b.output('loss', loss);
  const fwd = b.build();
  const g = differentiate(fwd, 'loss', [...fwd.params.keys()]);
  const t = performance.now();
  const f = fuse(g, { B: 2 });
  const t1 = performance.now();
  for (const k of f.kernels) generateKernel(f, k);
  console.log(`nodes ${g.nodes.length} kernels ${f.kernels.length} fuse ${(t1 - t).toFixed(0)} ms codegen ${(performance.now() - t1).toFixed(0)} ms`);
});
