// A reduction removes its axis, so a consumer may legally have another axis of the same name
// and a different size (the KV cache writes a one-position sum into a context-long M). Fusing
// that consumer into the reduction's row kernel once read the wrong M; the kernels must agree
// with the interpreter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder, interpret } from '../src/ir/index.js';
import { openDevice, type ArchDevice } from '../src/host/node/device.js';
import { compileGraph } from '../src/runtime/executor.js';

let dev: ArchDevice;
beforeAll(async () => {
  dev = await openDevice();
});
afterAll(() => dev?.destroy());

describe('a reduced axis and a same-named axis of another size', () => {
  for (const newLen of [1, 3]) {
    it(`sum over M=${newLen} written into M=6 at a position`, async () => {
      const b = new GraphBuilder();
      const x = b.input('x', [{ name: 'B', size: 2 }, { name: 'M', size: newLen }, { name: 'K', size: 5 }]);
      const prev = b.input('prev', [{ name: 'B', size: 2 }, { name: 'M', size: 6 }, { name: 'K', size: 5 }]);
      const pos = b.input('pos', []);
      const here = b.binary('eq', b.iota({ name: 'M', size: 6 }), pos);
      b.output('upd', b.permute(b.select(here, b.reduce('sum', x, 'M'), prev), ['B', 'M', 'K']));
      const g = b.build();
      const inputs = {
        x: Float32Array.from({ length: 10 * newLen }, (_, i) => i + 1),
        prev: Float32Array.from({ length: 60 }, (_, i) => 100 + i),
        pos: Float32Array.of(2),
      };
      const ref = interpret(g, { inputs, params: {}, symbols: {} }).get('upd')!.data;
      const compiled = await compileGraph(dev, g, {});
      const out = (await compiled.run({ inputs }, ['upd'])).upd!;
      compiled.destroy();
      expect(Array.from(out)).toEqual(Array.from(ref));
      expect(out[2 * 5]).not.toBe(100 + 2 * 5); // position 2 was overwritten
    });
  }
});
