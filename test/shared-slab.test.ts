// CompileOptions.sharedSlab: an evaluation graph binds the training graph's parameter slab in
// place of a copy of its own (0.5 GB for GPT-2 small): it reads whatever the training graph's
// parameters are now, and a graph whose slab would be laid out otherwise is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { differentiate, initParams, interpret } from '../src/ir/index.js';
import { openDevice, type ArchDevice } from '../src/host/node/device.js';
import { compileGraph } from '../src/runtime/executor.js';
import { lowerModel, randomInputs, tinySymbols } from './model-helpers.js';
import { rng } from './ir-helpers.js';

let dev: ArchDevice;
beforeAll(async () => {
  dev = await openDevice();
});
afterAll(() => dev?.destroy());

describe('an evaluation graph on the training graph’s slab', () => {
  it('reads the training graph’s parameters as they are now, with no copy', async () => {
    const l = lowerModel('models/gpt-nano.arch', { V: 13, L: 7, D: 12, H: 3 });
    const names = [...l.graph.params.keys()];
    const train = differentiate(l.graph, 'loss', names);
    const symbols = tinySymbols(l, 7, 2);
    const inputs = randomInputs(l, symbols, rng(5));
    const t = await compileGraph(dev, train, symbols, { slab: names });
    const e = await compileGraph(dev, l.graph, symbols, { slab: names, sharedSlab: t.slab! });
    expect(e.slab!.params).toBe(t.slab!.params);
    for (const scale of [1, 3]) {
      const params = initParams(l.graph, symbols, 2);
      for (const v of Object.values(params)) for (let i = 0; i < v.length; i++) v[i] = v[i]! * scale;
      t.setParams(params);
      const want = interpret(l.graph, { inputs, params, symbols }).get('loss')!.data[0]!;
      const got = (await e.run({ inputs }, ['loss'])).loss![0]!;
      expect(Math.abs(got - want), `scale ${scale}: ${got} against ${want}`).toBeLessThan(1e-4 * Math.abs(want));
    }
    e.destroy();
    // the evaluation graph's end leaves the training graph's slab alone
    const after = await t.run({ inputs }, ['loss']);
    expect(Number.isFinite(after.loss![0]!)).toBe(true);
    // the same parameters in another order: another layout, refused
    await expect(compileGraph(dev, l.graph, symbols, { slab: [...names].reverse(), sharedSlab: t.slab! })).rejects.toThrow(/lays out its parameters differently/);
    t.destroy();
  });
});
