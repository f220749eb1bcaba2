// The texture plan (src/runtime/executor/textures.ts): fills whose lives do not overlap share a
// texture of their shape, a parameter's texture is its own, a large fill read again after a gap
// is copied again rather than held; and on the device, GPT-2's training graph holds a fraction
// of the textures it read before.
import { describe, expect, it } from 'vitest';
import type { KernelCode } from '../src/codegen/wgsl/common.js';
import { planTextures, REFILL_BYTES, type TextureBinding } from '../src/runtime/executor/textures.js';
import { planGraph } from '../src/runtime/executor/plan.js';
import { DEFAULT_LIMITS, PlanLimitError } from '../src/runtime/executor/types.js';
import { hostBudget } from '../src/runtime/host-memory.js';
import { differentiate } from '../src/ir/index.js';
import { lowerModel } from './model-helpers.js';

/** A texture read of tensor `t`, `rows` texels of rgba32float in rows of 64. */
const read = (t: number, rows = 4): TextureBinding => ({
  kind: 'texture',
  binding: 0,
  tensor: t,
  format: 'rgba32float',
  width: 64,
  height: rows,
  copies: [{ bufferOffset: 0, bytesPerRow: 64 * 16, originY: 0, width: 64, height: rows }],
  bufferBytesNeeded: 64 * rows * 16,
});
const kernel = (...reads: TextureBinding[]): KernelCode => ({ name: 'k', code: '', workgroups: [1, 1, 1], bindings: reads });

/** No two lives sharing a slot overlap, and every read of every kernel has a life covering it. */
function expectSound(codes: KernelCode[], plan: ReturnType<typeof planTextures>) {
  plan.lives.forEach((a, i) =>
    plan.lives.forEach((b, j) => {
      if (i < j && a.slot === b.slot) expect(a.last < b.first || b.last < a.first, `lives ${i} and ${j} overlap in slot ${a.slot}`).toBe(true);
    }),
  );
  codes.forEach((c, k) => {
    for (const b of c.bindings) {
      if (b.kind !== 'texture') continue;
      const life = plan.lifeAt(k, b);
      expect(life.binding.tensor).toBe(b.tensor);
      expect(life.first <= k && k <= life.last).toBe(true);
    }
  });
}

describe('the texture plan', () => {
  it('fills whose lives do not overlap share a texture of their shape; overlapping ones and other shapes do not', () => {
    // tensor 1 read by kernels 0-1, tensor 2 by 2-3 (after 1's last read), tensor 3 by 1-2, tensor 4 another shape
    const codes = [kernel(read(1)), kernel(read(1), read(3)), kernel(read(2), read(3)), kernel(read(2), read(4, 8))];
    const plan = planTextures(codes, () => false);
    expectSound(codes, plan);
    const slotOf = (k: number, t: number) => plan.lifeAt(k, codes[k]!.bindings.find((b) => b.kind === 'texture' && b.tensor === t) as TextureBinding).slot;
    expect(slotOf(2, 2)).toBe(slotOf(0, 1));
    expect(slotOf(1, 3)).not.toBe(slotOf(1, 1));
    expect(slotOf(3, 4)).not.toBe(slotOf(3, 2));
    expect(plan.slots).toHaveLength(3);
    expect(plan.totalBytes).toBe(2 * 64 * 4 * 16 + 64 * 8 * 16);
  });

  it("a kept tensor's texture (a parameter's) is never shared, even where its life is over", () => {
    const codes = [kernel(read(1)), kernel(read(2)), kernel(read(3))];
    const plan = planTextures(codes, (t) => t === 1);
    expectSound(codes, plan);
    expect(new Set(plan.lives.map((l) => l.slot)).size).toBe(2);
    expect(plan.lives.find((l) => l.binding.tensor === 1)!.slot).not.toBe(plan.lives.find((l) => l.binding.tensor === 2)!.slot);
  });

  it('a large fill read again after a gap gets a second life (a second copy); a small one, or a kept one, keeps one', () => {
    const big = REFILL_BYTES / (64 * 16);
    const codes = [kernel(read(1, big), read(2), read(5, big)), kernel(read(3, big)), kernel(read(3, big)), kernel(read(1, big), read(2), read(5, big))];
    const plan = planTextures(codes, (t) => t === 5);
    expectSound(codes, plan);
    const livesOf = (t: number) => plan.lives.filter((l) => l.binding.tensor === t);
    expect(livesOf(1).map((l) => [l.first, l.last])).toEqual([[0, 0], [3, 3]]);
    expect(livesOf(2).map((l) => [l.first, l.last])).toEqual([[0, 3]]);
    expect(livesOf(3).map((l) => [l.first, l.last])).toEqual([[1, 2]]);
    expect(livesOf(5).map((l) => [l.first, l.last])).toEqual([[0, 3]]);
    // 1's two lives and 3's fit in one texture of their shape; 5 is kept apart
    expect(plan.slots.filter((s) => s.height === big)).toHaveLength(2);
  });

  it("GPT-2 small's training graph (B = 1, L = 1024) plans under a third of the texture bytes its fills read", () => {
    const l = lowerModel('models/gpt2.arch', {}, true);
    const g = differentiate(l.graph, 'loss', [...l.graph.params.keys()]);
    const symbols: Record<string, number> = { seed: 1 };
    for (const [sym, info] of l.symbols) symbols[sym] = info.max ?? 1;
    const p = planGraph(g, symbols, { kernels: 'cpu' });
    const fills = new Map<string, number>();
    for (const c of p.codes) for (const b of c.parts?.flatMap((x) => x.bindings) ?? c.bindings) if (b.kind === 'texture') fills.set(JSON.stringify([b.tensor, b.width, b.height, b.format]), b.width * b.height * (b.format === 'rgba32float' ? 16 : 4));
    const unshared = [...fills.values()].reduce((a, x) => a + x, 0);
    expect(p.plan.textureBytes).toBeLessThan(unshared / 3);
    // the parameters' textures alone (one each, kept) are a floor
    const params = new Set(p.fused.params.values());
    const kept = new Set(p.textures.lives.filter((x) => params.has(x.binding.tensor)).map((x) => x.slot));
    expect(p.plan.textureBytes).toBeGreaterThan([...kept].reduce((a, s) => a + p.textures.slots[s]!.bytes, 0));
    expectSound(p.codes, p.textures);
    // in the optimizer's slab the parameters are refilled every run, so their textures are shared too
    const slab = planGraph(g, symbols, { kernels: 'cpu', slab: [...l.graph.params.keys()] });
    expectSound(slab.codes, slab.textures);
    expect(slab.plan.textureBytes).toBeLessThan(p.plan.textureBytes * 0.7);
  }, 120_000);

  it("on a CPU adapter a plan past the share of the machine's memory a run may use is refused before anything is allocated, counting what the run holds beside it", () => {
    const l = lowerModel('models/gpt-nano.arch', { V: 13, L: 64, D: 64, H: 2, N: 2 }, true);
    const g = differentiate(l.graph, 'loss', [...l.graph.params.keys()]);
    const symbols: Record<string, number> = { seed: 1 };
    for (const [sym, info] of l.symbols) symbols[sym] = info.max ?? 8;
    const { deviceBytes } = planGraph(g, symbols, { kernels: 'cpu' });
    // a machine whose budget is just enough, and one a little smaller
    const enough = Math.ceil(deviceBytes / 0.75) + 1024;
    expect(hostBudget(enough)).toBeGreaterThanOrEqual(deviceBytes);
    const plan2 = (memory: number, reservedBytes = 0) => () => planGraph(g, symbols, { kernels: 'cpu', reservedBytes }, { ...DEFAULT_LIMITS, hostMemoryBytes: memory });
    expect(plan2(enough)).not.toThrow();
    expect(plan2(Math.floor(deviceBytes / 0.75) - 1024)).toThrow(PlanLimitError);
    expect(plan2(Math.floor(deviceBytes / 0.75) - 1024)).toThrow(/the plan needs [\d.]+ [KMG]iB of buffers and textures, more than the [\d.]+ [KMG]iB arch allows a run on this machine \(75% of its/);
    // what the run holds beside the graph counts too
    expect(plan2(enough, deviceBytes)).toThrow(/the run needs [\d.]+ [KMG]iB of buffers and textures \(this graph [\d.]+ [KMG]iB, beside [\d.]+ [KMG]iB of another graph/);
    // no host memory given (a GPU keeps its own): no such check
    expect(() => planGraph(g, symbols, { kernels: 'cpu', reservedBytes: 2 ** 50 })).not.toThrow();
  });
});
