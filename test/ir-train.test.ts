// End to end on the interpreter: an MLP trained with SGD, and a tiny GPT's forward + backward
// (initial loss near ln V, spot-checked gradients, and the time it takes).

import { describe, expect, it } from 'vitest';
import { differentiate } from '../src/ir/autodiff.js';
import { GraphBuilder } from '../src/ir/builder.js';
import { initParams } from '../src/ir/init.js';
import { interpret } from '../src/ir/interpret.js';
import type { Axis } from '../src/ir/types.js';
import { gradName } from '../src/ir/types.js';
import { crossEntropy, relu, rng, tinyGpt } from './ir-helpers.js';

const ax = (name: string, size: number | string): Axis => ({ name, size });

describe('training on the interpreter', () => {
  it('a 2-layer MLP learns XOR-like classes with SGD', () => {
    const N = ax('N', 'N');
    const I = ax('I', 2);
    const H = ax('H', 16);
    const C = ax('C', 2);
    const b = new GraphBuilder();
    const x = b.input('x', [N, I]);
    const y = b.input('y', [N], 'i32');
    const h = relu(b, b.add(b.contract(x, b.param('w1', [I, H], { kind: 'normal', std: 1 }), ['N', 'H']), b.param('b1', [H], { kind: 'zeros' })));
    const logits = b.add(b.contract(h, b.param('w2', [H, C], { kind: 'normal', std: 0.3 }), ['N', 'C']), b.param('b2', [C], { kind: 'zeros' }));
    b.output('loss', crossEntropy(b, logits, y, 'C'));
    const fwd = b.build();
    const names = [...fwd.params.keys()];
    const graph = differentiate(fwd, 'loss', names);

    const r = rng(5);
    const n = 64;
    const xs = new Float32Array(n * 2);
    const ys = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      xs[2 * i] = 2 * r() - 1;
      xs[2 * i + 1] = 2 * r() - 1;
      ys[i] = xs[2 * i]! * xs[2 * i + 1]! > 0 ? 1 : 0;
    }
    const symbols = { N: n };
    const params = initParams(fwd, symbols, 42);
    const losses: number[] = [];
    for (let step = 0; step < 300; step++) {
      const out = interpret(graph, { inputs: { x: xs, y: ys }, params, symbols });
      losses.push(out.get('loss')!.data[0]!);
      for (const p of names) {
        const g = out.get(gradName(p))!.data;
        const v = params[p]!;
        for (let i = 0; i < v.length; i++) v[i]! -= 0.5 * g[i]!;
      }
    }
    expect(losses[0]).toBeGreaterThan(0.6);
    expect(losses.at(-1)!).toBeLessThan(0.25);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! / 3);
  });

  it('a tiny GPT: loss ~ ln V at init, gradients match finite differences, forward+backward is fast', () => {
    const dims = { B: 'B', L: 16, V: 65, D: 32, H: 4, layers: 2 };
    const b = new GraphBuilder();
    const { loss } = tinyGpt(b, dims);
    b.output('loss', loss);
    const fwd = b.build();
    const names = [...fwd.params.keys()];
    const graph = differentiate(fwd, 'loss', names);
    const symbols = { B: 2 };
    const params = initParams(fwd, symbols, 1);
    const r = rng(9);
    const tokens = Int32Array.from({ length: 32 }, () => Math.floor(r() * 65));
    const targets = Int32Array.from({ length: 32 }, () => Math.floor(r() * 65));
    const feeds = { inputs: { tokens, targets }, params, symbols };

    interpret(graph, feeds); // warm up the JIT
    const t0 = performance.now();
    const out = interpret(graph, feeds);
    const ms = performance.now() - t0;
    console.log(`tiny GPT (D=32, 2 layers, B=2, L=16, V=65): ${graph.nodes.length} nodes, forward+backward ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(1000);
    expect(Math.abs(out.get('loss')!.data[0]! - Math.log(65))).toBeLessThan(0.05);

    // spot-check some gradient entries of several params in float64
    const exact = interpret(graph, feeds, { precision: 'f64' });
    const lossAt = () => interpret(fwd, feeds, { precision: 'f64' }).get('loss')!.data[0]!;
    for (const p of ['wte', 'wpe', 'h0.q.w', 'h1.fc.w', 'h0.ln1.g', 'lnf.b', 'h1.out.b']) {
      const v = params[p]!;
      const g = exact.get(gradName(p))!.data;
      for (let k = 0; k < 3; k++) {
        const i = Math.floor(r() * v.length);
        const x0 = v[i]!;
        v[i] = x0 + 1e-5;
        const up = lossAt();
        v[i] = x0 - 1e-5;
        const down = lossAt();
        v[i] = x0;
        const numeric = (up - down) / 2e-5;
        expect(Math.abs(g[i]! - numeric), `${p}[${i}]`).toBeLessThan(1e-8 + 1e-5 * Math.abs(numeric));
      }
    }
  });
});
