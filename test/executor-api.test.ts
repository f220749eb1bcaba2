// The executor's API: params live on the GPU, runs reuse everything they compiled, the seed is a
// run-time value, oversized tensors are refused by name, and the plan / timings are exposed.

import { afterAll, describe, expect, it } from 'vitest';
import { differentiate } from '../src/ir/autodiff.js';
import { GraphBuilder } from '../src/ir/builder.js';
import { interpret } from '../src/ir/interpret.js';
import type { Axis } from '../src/ir/types.js';
import { compileGraph, describePlan } from '../src/runtime/executor.js';
import { device, randomFeeds } from './executor-helpers.js';
import { softmax } from './ir-helpers.js';

const ax = (name: string, size: number | string): Axis => ({ name, size });

afterAll(async () => (await device()).destroy());

function linearModel() {
  const b = new GraphBuilder();
  const x = b.input('x', [ax('N', 'N'), ax('I', 5)]);
  const w = b.param('w', [ax('I', 5), ax('O', 3)], { kind: 'normal', std: 1 });
  // dropout-style mask from the random op, so the seed matters
  const keep = b.binary('lt', b.random([ax('N', 'N'), ax('O', 3)], 7), b.constant(0.7));
  const y = b.mul(b.contract(x, w, ['N', 'O']), keep);
  let loss = b.mul(y, y);
  for (const a of ['N', 'O']) loss = b.reduce('sum', loss, a);
  b.output('y', y);
  b.output('loss', loss);
  return differentiate(b.build(), 'loss', ['w']);
}

describe('compileGraph', () => {
  it('keeps params on the GPU, exposes param and gradient buffers, and reruns with new inputs and seeds', async () => {
    const d = await device();
    const graph = linearModel();
    const symbols = { N: 6 };
    const c = await compileGraph(d, graph, symbols);
    const feeds = randomFeeds(graph, symbols, 3);
    c.setParams(feeds.params);
    expect(Array.from(await c.getParam('w'))).toEqual(Array.from(feeds.params.w!));
    expect(c.paramBuffer('w').size).toBeGreaterThanOrEqual(15 * 4);
    expect(c.outputBuffer('grad:w').size).toBeGreaterThanOrEqual(15 * 4);
    expect(() => c.paramBuffer('nope')).toThrow(/no param 'nope'/);

    for (const [i, seed] of [11, 12, 11].entries()) {
      const f = randomFeeds(graph, symbols, 10 + (i % 2));
      const out = await c.run({ inputs: f.inputs, seed }, ['loss', 'grad:w', 'y']);
      const ref = interpret(graph, { inputs: f.inputs, params: feeds.params, symbols: { ...symbols, seed } });
      expect(out.loss![0]).toBeCloseTo(ref.get('loss')!.data[0]!, 3);
      const gw = ref.get('grad:w')!.data;
      out['grad:w']!.forEach((v, j) => expect(v).toBeCloseTo(gw[j]!, 3));
      const y = ref.get('y')!.data;
      out.y!.forEach((v, j) => expect(v).toBeCloseTo(y[j]!, 4));
    }
    await expect(c.run({ inputs: {} }, ['loss'])).rejects.toThrow(/no value for input 'x'/);
    await expect(c.run(feeds, ['nope'])).rejects.toThrow(/no output 'nope'/);

    // the plan and per-kernel timings
    expect(c.plan.dispatchesPerRun).toBe(c.plan.kernels.length);
    for (const k of c.plan.kernels) {
      expect(k.wgsl).toContain('@compute');
      expect(k.ops.length).toBeGreaterThan(0);
    }
    expect(describePlan(c.plan)).toContain('dispatches per run');
    const times = await c.timeKernels(3);
    expect(times.map((t) => t.name)).toEqual(c.plan.kernels.map((k) => k.name));
    for (const t of times) expect(t.ms).toBeGreaterThan(0);
    c.destroy();
  });

  it('refuses a tensor larger than the largest buffer, naming it and its size', async () => {
    const d = await device();
    const b = new GraphBuilder();
    const x = b.input('huge_input', [ax('N', 'N'), ax('V', 50257)]);
    b.output('y', b.unary('exp', x));
    // 6 rows of 50257 floats: 1,206,168 bytes, over a 1 MiB buffer limit
    await expect(compileGraph(d, b.build(), { N: 6 }, { limits: { maxBufferSize: 1 << 20 } })).rejects.toThrow(/tensor (huge_input|y) \[N=6, V=50257\] needs 1206168 bytes, more than the adapter's largest buffer/);
  });

  it("writes a contraction's output larger than one binding in ranges of its buffer (GPT-2's logits on llvmpipe)", async () => {
    const d = await device();
    // 4096-byte bindings: 1024 floats a range; the logits are 7 x V floats, 3 ranges
    const limits = { maxStorageBufferBindingSize: 4096 };
    for (const [V, bias] of [[300, false], [301, true], [300, true]] as const) {
      const b = new GraphBuilder();
      const x = b.input('x', [ax('N', 7), ax('D', 8)]);
      const w = b.param('w', [ax('D', 8), ax('V', V)], { kind: 'normal', std: 1 });
      let logits = b.contract(x, w, ['N', 'V']);
      // a bias epilogue reads the old value's range too (vec4 stores at V = 300, single at 301)
      if (bias) logits = b.add(logits, b.param('bias', [ax('V', V)], { kind: 'normal', std: 1 }));
      b.output('logits', logits);
      b.output('lse', b.unary('log', b.reduce('sum', b.unary('exp', logits), 'V'))); // read back through a texture
      const graph = b.build();
      const c = await compileGraph(d, graph, {}, { limits });
      const ranges = c.plan.kernels.flatMap((k) => k.bindings).filter((x) => x.tensor === 'logits' && x.kind === 'storage');
      expect(ranges.length, `V = ${V}`).toBe(3);
      const feeds = randomFeeds(graph, {}, 5);
      c.setParams(feeds.params);
      const out = await c.run({ inputs: feeds.inputs }, ['logits', 'lse']);
      const ref = interpret(graph, { inputs: feeds.inputs, params: feeds.params, symbols: {} });
      for (const name of ['logits', 'lse']) {
        const want = ref.get(name)!.data;
        expect(out[name]!.length).toBe(want.length);
        out[name]!.forEach((v, i) => expect(v, `${name}[${i}] (V = ${V})`).toBeCloseTo(want[i]!, 3));
      }
      c.destroy();
    }
  });

  it('the gpu variant stores in ranges too, and an operand over the limit makes its kernel the cpu one (read through a texture)', async () => {
    const d = await device();
    const limits = { maxStorageBufferBindingSize: 4096 }; // 1024 floats a range
    // x [20, 4] . w [4, V]: w fits one binding (3,200 or 4,816 bytes), the logits (16,000+) do not
    for (const V of [200, 301]) {
      const b = new GraphBuilder();
      const w = b.param('w', [ax('D', 4), ax('V', V)], { kind: 'normal', std: 1 });
      const bias = b.param('bias', [ax('V', V)], { kind: 'normal', std: 1 });
      b.output('logits', b.add(b.contract(b.input('x', [ax('N', 20), ax('D', 4)]), w, ['N', 'V']), bias));
      const graph = b.build();
      const c = await compileGraph(d, graph, {}, { limits, kernels: 'gpu' });
      const [contraction] = c.plan.kernels.filter((k) => k.kind === 'contract');
      const ranges = contraction!.bindings.filter((x) => x.tensor === 'logits' && x.kind === 'storage');
      expect(ranges.length, `V = ${V}`).toBe(Math.ceil((20 * V) / 1024));
      // w over the limit at V = 301: this kernel alone is the cpu variant's, w a texture
      expect(contraction!.wgsl.includes('(gpu variant)'), `V = ${V}`).toBe(V === 200);
      expect(contraction!.bindings.some((x) => x.tensor === 'w' && x.kind === 'texture'), `V = ${V}`).toBe(V === 301);
      const feeds = randomFeeds(graph, {}, 6);
      c.setParams(feeds.params);
      const out = (await c.run({ inputs: feeds.inputs }, ['logits'])).logits!;
      const want = interpret(graph, { inputs: feeds.inputs, params: feeds.params, symbols: {} }).get('logits')!.data;
      expect(out.length).toBe(want.length);
      out.forEach((v, i) => expect(v, `logits[${i}] (V = ${V})`).toBeCloseTo(want[i]!, 3));
      c.destroy();
    }
  });

  it('writes elementwise, row and scatter outputs larger than one binding in ranges too', async () => {
    const d = await device();
    const limits = { maxStorageBufferBindingSize: 4096 }; // 1024 floats a range
    const b = new GraphBuilder();
    const [N, V, D] = [ax('N', 7), ax('V', 300), ax('D', 12)];
    const x = b.input('x', [N, V]);
    b.output('scaled', b.scale(b.unary('exp', b.scale(x, 0.1)), 2)); // elementwise, 2,100 floats
    b.output('probs', softmax(b, x, 'V')); // a row kernel's output over its rows and classes
    const tokens = b.input('tokens', [N], 'i32');
    const g = b.input('g', [N, D]);
    b.output('table_grad', b.scatterAdd(b.unary('tanh', g), tokens, V, ['V', 'D'])); // 3,600 floats
    const graph = b.build();
    const c = await compileGraph(d, graph, {}, { limits });
    for (const name of ['scaled', 'probs', 'table_grad']) {
      const ranges = c.plan.kernels.flatMap((k) => k.bindings).filter((x) => x.tensor === name && x.kind === 'storage');
      expect(ranges.length, name).toBe(Math.ceil(name === 'table_grad' ? 3600 / 1024 : 2100 / 1024));
    }
    const feeds = randomFeeds(graph, {}, 11, { tokens: 300 });
    const out = await c.run({ inputs: feeds.inputs }, ['scaled', 'probs', 'table_grad']);
    const ref = interpret(graph, { inputs: feeds.inputs, params: {}, symbols: {} });
    for (const name of ['scaled', 'probs', 'table_grad']) {
      const want = ref.get(name)!.data;
      expect(out[name]!.length).toBe(want.length);
      out[name]!.forEach((v, i) => expect(v, `${name}[${i}]`).toBeCloseTo(want[i]!, 4));
    }
    c.destroy();
  });

  it('names an unnamed oversized intermediate by what it is computed for, and says when the batch cannot help', async () => {
    const d = await device();
    const b = new GraphBuilder();
    const [V, D] = [300, 12];
    const table = b.param('wte', [ax('V', V), ax('D', D)], { kind: 'normal', std: 1 });
    const x = b.input('x', [ax('N', 'N'), ax('D', D)]);
    // an unlabelled [V, D, E] intermediate (the table times a ramp) feeds a named output
    const E = ax('E', 3);
    const ramp = b.mul(b.expand(table, [ax('V', V), ax('D', D), E]), b.iota(E));
    b.output('scores', b.contract(b.expand(x, [ax('N', 'N'), ax('D', D), E]), ramp, ['N', 'V']));
    const limits = { maxBufferSize: 20000 }; // the table is 14,400 bytes, the intermediate 43,200
    const err = await compileGraph(d, b.build(), { N: 2 }, { limits }).catch((e: Error) => e);
    expect(String(err)).toMatch(/tensor %\d+ \(part of scores\) \[V=300, D=12, E=3\] needs 43200 bytes, more than the adapter's largest buffer/);
    expect(String(err)).toContain('does not depend on the batch or sequence length');
  });

  it('large kernels read their inputs through textures, small ones through storage buffers; both match', async () => {
    const d = await device();
    for (const [rows, textured] of [[200, true], [10, false]] as const) {
      const b = new GraphBuilder();
      const x = b.input('x', [ax('R', rows), ax('C', 100)]);
      const y = b.input('y', [ax('R', rows), ax('C', 100)]);
      const s = b.reduce('sum', b.mul(x, y), 'C'); // a row kernel reading two inputs
      b.output('z', b.add(b.mul(x, s), y)); // and an elementwise one reading them again
      const graph = b.build();
      const c = await compileGraph(d, graph, {});
      const kinds = c.plan.kernels.flatMap((k) => k.bindings).filter((x) => x.tensor === 'x' || x.tensor === 'y').map((x) => x.kind);
      expect(new Set(kinds)).toEqual(new Set([textured ? 'texture' : 'storage']));
      const feeds = randomFeeds(graph, {}, 3);
      const out = await c.run({ inputs: feeds.inputs }, ['z']);
      const want = interpret(graph, { inputs: feeds.inputs, params: {}, symbols: {} }).get('z')!.data;
      out.z!.forEach((v, i) => expect(v, `z[${i}]`).toBeCloseTo(want[i]!, 3));
      c.destroy();
    }
  });

  it('reads a tensor larger than a storage binding through a texture (a GPT-2 token table on llvmpipe)', async () => {
    const d = await device();
    const b = new GraphBuilder();
    const [V, D] = [300, 12];
    const table = b.param('wte', [ax('V', V), ax('D', D)], { kind: 'normal', std: 1 });
    const tokens = b.input('tokens', [ax('N', 'N')], 'i32');
    const x = b.unary('tanh', b.gather(table, tokens, 'V'));
    b.output('x', x);
    b.output('logits', b.contract(x, table, ['N', 'V'])); // the tied head reads it too
    const graph = b.build();
    const limits = { maxStorageBufferBindingSize: 8192 }; // the table is 14,400 bytes, the logits 6,000
    const c = await compileGraph(d, graph, { N: 5 }, { limits });
    const wte = c.fused.params.get('wte')!;
    const bound = c.plan.kernels.flatMap((k) => k.bindings).filter((x) => x.tensor === 'wte');
    expect(bound.length).toBeGreaterThan(0);
    expect(bound.every((x) => x.kind === 'texture'), JSON.stringify(bound)).toBe(true);
    expect(wte).toBeDefined();
    const feeds = randomFeeds(graph, { N: 5 }, 4);
    const tok = Int32Array.of(0, 299, 17, 150, 299);
    c.setParams(feeds.params);
    const out = await c.run({ inputs: { tokens: tok } }, ['x', 'logits']);
    const ref = interpret(graph, { inputs: { tokens: tok }, params: feeds.params, symbols: { N: 5 } });
    for (const name of ['x', 'logits']) {
      const want = ref.get(name)!.data;
      out[name]!.forEach((v, i) => expect(v, `${name}[${i}]`).toBeCloseTo(want[i]!, 4));
    }
    c.destroy();
  });
});
