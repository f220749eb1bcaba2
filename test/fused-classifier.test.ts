// The LM head fused with cross-entropy, in chunks of positions (src/ir/fuse/classifier.ts): loss
// and every gradient against the interpreter on the device, at awkward vocabularies and chunk
// sizes, with no B x L x V tensor in the plan; and the logits still produced when asked for.

import { afterAll, describe, expect, it } from 'vitest';
import { differentiate } from '../src/ir/autodiff.js';
import { fuse } from '../src/ir/fuse/fuse.js';
import type { FusedGraph } from '../src/ir/fuse/types.js';
import { numelOf } from '../src/ir/fuse/resolve.js';
import type { Graph } from '../src/ir/types.js';
import { gradName } from '../src/ir/types.js';
import { planGraph } from '../src/runtime/executor/plan.js';
import { DEFAULT_LIMITS } from '../src/runtime/executor/types.js';
import { compare, device, randomFeeds } from './executor-helpers.js';
import { lowerModel, randomInputs } from './model-helpers.js';
import { rng } from './ir-helpers.js';

const TOL = { atol: 1e-4, rtol: 1e-3 };

afterAll(async () => (await device()).destroy());

/** gpt-nano at a tiny width with vocabulary V: the training graph (loss and every gradient), or the forward. */
function nano(V: number, grads = true, L = 8, head = 'tied'): Graph {
  const g = lowerModel('models/gpt-nano.arch', { V, D: 8, H: 2, N: 1, L, head }, grads).graph;
  // what training and eval compile: the loss (and the gradients), not the logits
  const lossOnly = { ...g, outputs: new Map([['loss', g.outputs.get('loss')!]]) };
  return grads ? differentiate(lossOnly, 'loss', [...g.params.keys()]) : lossOnly;
}

/** The largest stored tensor over positions and classes (logits, their gradient), in elements. */
function largest(fg: FusedGraph): number {
  const over = (t: { node: number }) => ['L', 'V'].every((a) => fg.graph.nodes[t.node]!.type.axes.some((x) => x.name === a));
  return Math.max(0, ...fg.tensors.filter(over).map((t) => numelOf(fg.graph.nodes[t.node]!)));
}

/** Runs the graph on the device and in the interpreter with real token ids (targets < V). */
async function matches(graph: Graph, symbols: Record<string, number>, V: number, chunk: number): Promise<void> {
  const l = lowerModel('models/gpt-nano.arch', { V, D: 8, H: 2, N: 1, L: 8 });
  const feeds = randomFeeds(graph, symbols, 3);
  Object.assign(feeds.inputs, randomInputs(l, symbols, rng(5)));
  const r = await compare(graph, symbols, { tol: TOL, feeds, classifierChunk: chunk });
  for (const [name, w] of Object.entries(r.worst)) expect(w, name).toBeLessThanOrEqual(1);
  if (graph.outputs.has(gradName('wte'))) expect(r.gpu[gradName('wte')]!.some((v) => v !== 0)).toBe(true);
  r.compiled.destroy();
}

describe('the LM head and cross-entropy in chunks of positions', () => {
  it.each([
    // V, B, L, positions per chunk
    [37, 2, 8, 3],
    [65, 1, 8, 5],
    [1000, 2, 7, 2],
    [4099, 1, 5, 4],
  ])('V = %i, B = %i, L = %i, %i positions a chunk: loss and gradients match, no B x L x V tensor', async (V, B, L, per) => {
    const graph = nano(V);
    const symbols = { B, L, seed: 1 };
    const chunk = B * per * V;
    const fg = fuse(graph, symbols, { classifierChunk: chunk });
    // one chunk of logits at most, and never the whole
    expect(largest(fg)).toBe(B * per * V);
    await matches(graph, symbols, V, chunk);
  });

  it('an untied head (its own [D, V] matrix) matches too', async () => {
    const graph = nano(37, true, 8, 'untied');
    const symbols = { B: 2, L: 8, seed: 1 };
    expect(largest(fuse(graph, symbols, { classifierChunk: 2 * 3 * 37 }))).toBe(2 * 3 * 37);
    await matches(graph, symbols, 37, 2 * 3 * 37);
  });

  it('the memory plan holds a few chunks of logits, however many chunks there are', () => {
    // 3 positions of 1000 classes a chunk: 11 chunks at L = 32, 22 at L = 64
    const graph = nano(1000, true, 64);
    const chunk = 2 * 3 * 1000;
    const buffers = (L: number) => {
      const p = planGraph(graph, { B: 2, L, seed: 1 }, { classifierChunk: chunk });
      expect(largest(p.fused)).toBe(chunk);
      return new Set(p.fused.tensors.filter((t) => /logits_BLV@/.test(p.fused.graph.nodes[t.node]!.label ?? '')).map((t) => p.memory.bufferOf[t.id])).size;
    };
    const [short, long] = [buffers(32), buffers(64)];
    expect(short).toBeGreaterThan(0);
    expect(short).toBeLessThanOrEqual(8);
    expect(long).toBeLessThanOrEqual(short + 1);
  });

  it('a chunk as large as the logits leaves the graph as it was', () => {
    const graph = nano(37);
    const symbols = { B: 2, L: 8, seed: 1 };
    const whole = fuse(graph, symbols, { classifierChunk: 2 * 8 * 37 });
    const plain = fuse(graph, symbols, { classifierChunk: Infinity });
    expect(whole.kernels.length).toBe(plain.kernels.length);
    expect(largest(whole)).toBe(2 * 8 * 37);
  });

  it('eval (the forward alone) is chunked too', async () => {
    const graph = nano(1000, false);
    const symbols = { B: 2, L: 8, seed: 1 };
    const fg = fuse(graph, symbols, { classifierChunk: 2 * 3 * 1000 });
    expect(largest(fg)).toBe(2 * 3 * 1000);
    await matches(graph, symbols, 1000, 2 * 3 * 1000);
  });

  it('logits asked for (sampling) are produced whole', async () => {
    const graph = lowerModel('models/gpt-nano.arch', { V: 1000, D: 8, H: 2, N: 1, L: 8 }).graph;
    expect(graph.outputs.has('logits')).toBe(true);
    const symbols = { B: 2, L: 8, seed: 1 };
    expect(largest(fuse(graph, symbols, { classifierChunk: 2000 }))).toBe(2 * 8 * 1000);
    await matches(graph, symbols, 1000, 2000);
  });

  it("a tensor over the limits in a chunked graph gets its own advice (chunking renumbers the graph's nodes)", () => {
    const graph = nano(1000);
    const refusal = (B: number, maxBufferSize: number): string => {
      try {
        planGraph(graph, { B, L: 8, seed: 1 }, { classifierChunk: 2 * B * 1000 }, { ...DEFAULT_LIMITS, maxBufferSize });
      } catch (e) {
        return String(e);
      }
      return 'planned';
    };
    // the token table (1000 x 8 floats, 32,000 bytes) over the limit: the batch cannot help
    const table = refusal(2, 20000);
    expect(table).toMatch(/\[V=1000, D=8\] needs 32000 bytes/);
    expect(table).toContain('does not depend on the batch or sequence length');
    // at B = 64 a position-sized tensor (512 x 32 floats) is over a limit the table fits: it can
    const positions = refusal(64, 40000);
    expect(positions).toMatch(/needs 65536 bytes/);
    expect(positions).toContain('use a smaller batch or sequence length');
  });
});
