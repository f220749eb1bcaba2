import { it, expect } from 'vitest';
import { GraphBuilder } from '../src/ir/builder.js';
import { differentiate } from '../src/ir/autodiff.js';
import { compare } from './executor-helpers.js';
import { tinyGpt } from './ir-helpers.js';
import { describePlan } from '../src/runtime/executor.js';
for (const unfused of [false, true]) it(`gpt ${unfused}`, async () => {
  const b = new GraphBuilder();
  const { loss } = tinyGpt(b, { B: 'B', L: 7, V: 13, D: 12, H: 3, layers: 1 });
  b.output('loss', loss);
  const fwd = b.build();
  const g = differentiate(fwd, 'loss', [...fwd.params.keys()]);
  const t0 = performance.now();
  const r = await compare(g, { B: 2 }, { unfused, intRange: { tokens: 13, targets: 13 }, tol: { atol: 1e-4, rtol: 1e-3 } });
  console.log('compile+run ms', performance.now() - t0);
  console.log(describePlan(r.compiled.plan).split('\n').filter((l) => !l.startsWith('    ')).join('\n'));
  console.log(r.worst);
  expect(Math.max(...Object.values(r.worst))).toBeLessThan(1);
});
