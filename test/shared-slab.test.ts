// CompileOptions.sharedSlab: one graph binds another's parameter slab in place of a copy of its
// own (0.5 GB for GPT-2 small; the trainer's training graph binds its evaluation graph's): it
// reads whatever those parameters are now, its gradients are its own, and a graph whose slab
// would be laid out otherwise is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { differentiate, gradName, initParams, interpret } from '../src/ir/index.js';
import { openDevice, type ArchDevice } from '../src/host/node/device.js';
import { compileGraph } from '../src/runtime/executor.js';
import { lowerModel, randomInputs, tinySymbols } from './model-helpers.js';
import { rng } from './ir-helpers.js';

let dev: ArchDevice;
beforeAll(async () => {
  dev = await openDevice();
});
afterAll(() => dev?.destroy());

/** A tiny gpt-nano: its forward graph, its training graph, the parameter names, sizes and inputs. */
function tiny(seed: number) {
  const l = lowerModel('models/gpt-nano.arch', { V: 13, L: 7, D: 12, H: 3 });
  const names = [...l.graph.params.keys()];
  const symbols = tinySymbols(l, 7, 2);
  return { l, names, train: differentiate(l.graph, 'loss', names), symbols, inputs: randomInputs(l, symbols, rng(seed)) };
}

describe('one graph on another’s parameter slab', () => {
  it('an evaluation graph reads the training graph’s parameters as they are now, with no copy', async () => {
    const { l, names, train, symbols, inputs } = tiny(5);
    const t = await compileGraph(dev, train, symbols, { slab: names });
    const e = await compileGraph(dev, l.graph, symbols, { slab: names, sharedSlab: t.slab! });
    expect(e.slab!.params).toBe(t.slab!.params);
    let want = 0;
    for (const scale of [1, 3]) {
      const params = initParams(l.graph, symbols, 2);
      for (const v of Object.values(params)) for (let i = 0; i < v.length; i++) v[i] = v[i]! * scale;
      t.setParams(params);
      want = interpret(l.graph, { inputs, params, symbols }).get('loss')!.data[0]!;
      const got = (await e.run({ inputs }, ['loss'])).loss![0]!;
      expect(Math.abs(got - want), `scale ${scale}: ${got} against ${want}`).toBeLessThan(1e-4 * Math.abs(want));
    }
    e.destroy();
    // the evaluation graph's end leaves the training graph's slab, and its parameters, alone
    const after = (await t.run({ inputs }, ['loss'])).loss![0]!;
    expect(Math.abs(after - want), `${after} against ${want}`).toBeLessThan(1e-4 * Math.abs(want));
    // the same parameters in another order: another layout, refused
    await expect(compileGraph(dev, l.graph, symbols, { slab: [...names].reverse(), sharedSlab: t.slab! })).rejects.toThrow(/lays out its parameters differently/);
    t.destroy();
  });

  it('the training graph on the evaluation graph’s slab (as the trainer compiles them): its loss and gradients from the shared parameters, its own gradient slab', async () => {
    const { l, names, train, symbols, inputs } = tiny(9);
    const e = await compileGraph(dev, l.graph, symbols, { slab: names });
    const t = await compileGraph(dev, train, symbols, { slab: names, sharedSlab: e.slab! });
    expect(t.slab!.params).toBe(e.slab!.params);
    expect(e.slab!.grads).toBeNull();
    expect(t.slab!.grads).not.toBeNull();
    const params = initParams(l.graph, symbols, 4);
    e.setParams(params);
    const want = interpret(train, { inputs, params, symbols });
    const outs = ['loss', ...names.map(gradName)];
    const got = await t.run({ inputs }, outs);
    for (const name of outs) {
      const r = want.get(name)!.data;
      let worst = 0;
      for (let i = 0; i < r.length; i++) worst = Math.max(worst, Math.abs(got[name]![i]! - r[i]!) / (1e-3 + Math.abs(r[i]!)));
      expect(worst, name).toBeLessThan(1e-2);
    }
    t.destroy();
    e.destroy();
  });
});
