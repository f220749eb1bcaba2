// ONNX export: every model in models/ and every variant of gpt2.arch, lowered to ONNX, run by
// onnxruntime-node, gives the reference interpreter's outputs within 1e-4 and its greedy tokens
// exactly, at batch sizes and lengths other than the ones it was exported with.
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { initParams, interpret, type Graph } from '../src/ir/index.js';
import { forwardOutputs, toOnnx } from '../src/export/onnx.js';
import { encodeOnnx, OPSET } from '../src/export/onnx-proto.js';
import type { Lowered } from '../src/compiler/lower.js';
import { argmaxRows, lowerModel, randomInputs, tinySymbols, TINY_MODELS } from './model-helpers.js';
import { rng } from './ir-helpers.js';

const TINY_GPT = { V: 11, L: 6, D: 8, H: 2, N: 2 };
const CASES: [string, string, Record<string, string | number>][] = [
  ...TINY_MODELS,
  ['gpt2 residual=off', 'models/gpt2.arch', { ...TINY_GPT, residual: 'off' }],
  ['gpt2 scale=off norm=post', 'models/gpt2.arch', { ...TINY_GPT, scale: 'off', norm: 'post' }],
  ['gpt2 G=1 untied relu post', 'models/gpt2.arch', { ...TINY_GPT, G: 1, head: 'untied', act: 'relu', norm: 'post', pos: 'sinusoidal' }],
];

function weightsOf(l: Lowered, seed: number): Map<string, Float32Array> {
  // Larger than the init's 0.02 so logits differ clearly and greedy tokens are well defined.
  return new Map(Object.entries(initParams(l.graph, {}, seed)).map(([k, v]) => [k, Float32Array.from(v, (x) => (x === 0 ? 0.1 : x === 1 ? 1.1 : x * 20))]));
}

async function session(l: Lowered, weights: Map<string, Float32Array>): Promise<{ sess: ort.InferenceSession; outputs: string[]; bytes: Uint8Array }> {
  const outputs = forwardOutputs(l);
  const bytes = encodeOnnx(toOnnx(l.graph, { outputs, weights, name: 'test' }), 'test');
  return { sess: await ort.InferenceSession.create(bytes), outputs, bytes };
}

/** ORT's outputs and the interpreter's for the same token ids at the given sizes. */
async function both(l: Lowered, graph: Graph, sess: ort.InferenceSession, outputs: string[], weights: Map<string, Float32Array>, symbols: Record<string, number>, seed: number) {
  const inputs = randomInputs(l, symbols, rng(seed));
  const ref = interpret(graph, { inputs, params: Object.fromEntries(weights), symbols });
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of sess.inputNames) {
    const dims = graph.nodes[graph.inputs.get(name)!]!.type.axes.map((a) => (typeof a.size === 'number' ? a.size : symbols[a.size]!));
    feeds[name] = new ort.Tensor('int64', BigInt64Array.from(inputs[name]!, (v) => BigInt(v)), dims);
  }
  const got = await sess.run(feeds);
  return outputs.map((name) => ({ name, ref: ref.get(name)!, got: got[name]! }));
}

describe('ONNX export', () => {
  it('writes ONNX IR 9, opset 18, with the weights as initializers and symbolic batch and length', async () => {
    const l = lowerModel('models/gpt2.arch', TINY_GPT);
    const weights = weightsOf(l, 1);
    const m = toOnnx(l.graph, { outputs: forwardOutputs(l), weights, name: 'gpt2' });
    expect(OPSET).toBeGreaterThanOrEqual(17);
    expect(m.inputs).toEqual([{ name: 'tokens_BLV', dtype: 'int64', dims: ['B', 'L'] }]);
    expect(m.outputs).toEqual([{ name: 'logits', dtype: 'float', dims: ['B', 'L', 11] }]);
    expect(m.initializers.find((t) => t.name === 'wte')).toMatchObject({ dims: [11, 8], dtype: 'float' });
    const ops = new Set(m.nodes.map((n) => n.op));
    for (const op of ['Gather', 'Einsum', 'ReduceMax', 'ReduceSum', 'Where', 'Reshape', 'Tanh']) expect(ops, op).toContain(op);
  });

  it('every model and variant runs in onnxruntime with the interpreter\'s logits (1e-4) and greedy tokens', async () => {
    for (const [what, file, sets] of CASES) {
      const l = lowerModel(file, sets);
      const weights = weightsOf(l, 2);
      const { sess, outputs } = await session(l, weights);
      expect(outputs, what).toContain('logits');
      for (const { name, ref, got } of await both(l, l.graph, sess, outputs, weights, tinySymbols(l, 4), 3)) {
        expect(got.dims, `${what} ${name}`).toEqual(ref.type.axes.map((a) => a.size));
        const r = ref.data as Float32Array;
        const g = got.data as Float32Array;
        let worst = 0;
        for (let i = 0; i < r.length; i++) worst = Math.max(worst, Math.abs(r[i]! - g[i]!));
        expect(worst, `${what} ${name}: max |ort - interpreter|`).toBeLessThan(1e-4);
        const width = ref.type.axes.at(-1)!.size as number;
        expect(argmaxRows(g, width), `${what} ${name}: greedy tokens`).toEqual(argmaxRows(r, width));
      }
      await sess.release();
    }
  });

  it('one exported model runs at two batch sizes and lengths (symbolic dims)', async () => {
    const l = lowerModel('models/encoder-decoder.arch', { V: 7, S: 6, L: 6, D: 8, H: 2 });
    const weights = weightsOf(l, 4);
    const { sess, outputs } = await session(l, weights);
    for (const [B, len] of [[1, 2], [3, 5]] as const) {
      const symbols = { ...tinySymbols(l, len, B), S: len + 1 };
      const [logits] = await both(l, l.graph, sess, outputs, weights, symbols, B);
      expect(logits!.got.dims).toEqual([B, len, 7]);
      const r = logits!.ref.data as Float32Array;
      const g = logits!.got.data as Float32Array;
      for (let i = 0; i < r.length; i++) expect(Math.abs(r[i]! - g[i]!)).toBeLessThan(1e-4);
    }
    await sess.release();
  });
});
