// The KV-cache decoder's own paths: the GPU token chooser picks exactly the CPU chooser's token,
// and chains of decoding steps in one submit give exactly the tokens of one step per submit with
// the token chosen on the CPU (greedy and sampled, the same Rng, across a sliding context).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lower, CACHE_PREFIX, POSITION_INPUT } from '../src/compiler/lower.js';
import { initParams, prune } from '../src/ir/index.js';
import { Rng } from '../src/data/index.js';
import { openDevice, type ArchDevice } from '../src/host/node/device.js';
import { argmax, chooseWithDraw, isGreedy, type ChooseOptions } from '../src/runtime/sample/choose.js';
import { cachedDecoder, fullDecoder, windowedDecoder, type CachedDecoder } from '../src/runtime/sample/decoders.js';
import { generate, refill, slide, stepwise } from '../src/runtime/sample/generate.js';
import { GpuChooser } from '../src/runtime/sample/gpu-chooser.js';
import { prefiller } from '../src/runtime/sample/prefill.js';
import { prefillGraph, webgpuDecoder } from '../src/session/sample.js';
import { compileModel } from './model-helpers.js';

let dev: ArchDevice;
beforeAll(async () => {
  dev = await openDevice();
});
afterAll(() => dev?.destroy());

const OPTIONS: ChooseOptions[] = [
  { temperature: 0, topK: 0, topP: 1 },
  { temperature: 1, topK: 1, topP: 1 },
  { temperature: 1, topK: 0, topP: 1 },
  { temperature: 0.3, topK: 0, topP: 1 },
  { temperature: 2.5, topK: 0, topP: 1 },
  { temperature: 0.8, topK: 5, topP: 1 },
  { temperature: 1, topK: 0, topP: 0.9 },
  { temperature: 0.7, topK: 20, topP: 0.5 },
  { temperature: 1e-3, topK: 0, topP: 0.95 }, // nearly greedy: most weights underflow to 0
];

/** Rows of logits of several kinds: spread out, heavily tied, and with a few -inf. */
function logitRows(vocab: number, rows: number, seed: number): Float32Array[] {
  const r = new Rng(seed);
  return Array.from({ length: rows }, (_, i) => {
    const kind = i % 3;
    return Float32Array.from({ length: vocab }, () => {
      if (kind === 1) return r.int(4) - 2; // ties everywhere
      if (kind === 2 && r.float() < 0.1) return -Infinity;
      return r.normal() * 3;
    });
  });
}

describe('the window past the context', () => {
  const windows = (rule: typeof slide, prompt: number, count: number, maxContext: number) => {
    const context = Array.from({ length: prompt }, (_, i) => i);
    const seen: number[][] = [];
    for (let i = 0; i < count; i++) {
      seen.push([...rule(context, maxContext)]);
      context.push(context.length);
    }
    return seen;
  };

  it('slide: the last maxContext tokens, always', () => {
    for (const w of windows(slide, 2, 30, 8)) expect(w.length).toBe(Math.min(8, w.at(-1)! + 1));
    expect(windows(slide, 2, 30, 8).at(-1)).toEqual([23, 24, 25, 26, 27, 28, 29, 30]);
  });

  for (const maxContext of [1, 2, 7, 8, 64]) {
    it(`refill: grows to maxContext, then restarts with the last half, at maxContext=${maxContext}`, () => {
      const seen = windows(refill, 1, 5 * maxContext + 3, maxContext);
      const kept = Math.max(1, maxContext >> 1);
      for (const [i, w] of seen.entries()) {
        expect(w.at(-1)).toBe(i); // the newest token is always in
        expect(w.length).toBeLessThanOrEqual(maxContext);
        expect(w.length).toBeGreaterThanOrEqual(Math.min(i + 1, kept));
        const before = seen[i - 1];
        // each window extends the one before, or restarts with the last `kept` tokens of it plus the new one
        if (before !== undefined && w[0] !== before[0]) {
          expect(before.length).toBe(maxContext);
          expect(w).toEqual([...before.slice(before.length - kept + 1), i]);
        } else if (before !== undefined) expect(w).toEqual([...before, i]);
      }
    });
  }
});

describe('the GPU token chooser', () => {
  for (const vocab of [7, 65, 300]) {
    it(`picks the CPU chooser's token for every option, V=${vocab}`, async () => {
      const device = dev.device;
      const rows = 24;
      const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
      const logits = device.createBuffer({ size: vocab * 4, usage: storage });
      const all = device.createBuffer({ size: rows * vocab * 4, usage: storage });
      const token = device.createBuffer({ size: 16, usage: storage });
      const position = device.createBuffer({ size: 16, usage: storage });
      const chooser = new GpuChooser(device, { logits, token, position }, vocab, rows);
      try {
        const data = logitRows(vocab, rows, vocab);
        data.forEach((row, i) => device.queue.writeBuffer(all, i * vocab * 4, row));
        for (const [n, o] of OPTIONS.entries()) {
          const rng = new Rng(100 + n);
          const draws = Array.from({ length: rows }, () => rng.float());
          chooser.begin(o, isGreedy(o) ? [] : draws);
          device.queue.writeBuffer(position, 0, Float32Array.of(7));
          const encoder = device.createCommandEncoder();
          for (let i = 0; i < rows; i++) {
            encoder.copyBufferToBuffer(all, i * vocab * 4, logits, 0, vocab * 4);
            chooser.encode(encoder);
          }
          chooser.encodeReadback(encoder, rows);
          device.queue.submit([encoder.finish()]);
          const got = await chooser.read(rows);
          const want = data.map((row, i) => (isGreedy(o) ? argmax(row) : chooseWithDraw(row, o, draws[i]!)));
          expect(got, JSON.stringify(o)).toEqual(want);
          // Not all the same token: the draws and rows do decide.
          if (!isGreedy(o) && o.temperature >= 0.3) expect(new Set(got).size).toBeGreaterThan(2);
        }
        // The chooser feeds the next step: the last token, and the position advanced once per choice.
        const probe = device.createBuffer({ size: 32, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        const encoder = device.createCommandEncoder();
        encoder.copyBufferToBuffer(token, 0, probe, 0, 16);
        encoder.copyBufferToBuffer(position, 0, probe, 16, 16);
        device.queue.submit([encoder.finish()]);
        await probe.mapAsync(GPUMapMode.READ);
        const bytes = probe.getMappedRange();
        const lastOptions = OPTIONS.at(-1)!;
        const rng = new Rng(100 + OPTIONS.length - 1);
        const draws = Array.from({ length: rows }, () => rng.float());
        expect(new Int32Array(bytes, 0, 1)[0]).toBe(chooseWithDraw(data[rows - 1]!, lastOptions, draws[rows - 1]!));
        expect(new Float32Array(bytes, 16, 1)[0]).toBe(7 + rows);
        probe.unmap();
        probe.destroy();
      } finally {
        chooser.destroy();
        for (const b of [logits, all, token, position]) b.destroy();
      }
    });
  }
});

describe('chained decoding', () => {
  const L = 12;
  const V = 11;
  let decoders: CachedDecoder[];
  let make: (params: Record<string, Float32Array>) => Promise<CachedDecoder>;
  const paramsFor = (seed: number) => {
    const model = compileModel('models/gpt-nano.arch', { V, L, D: 16, H: 2, N: 2 });
    return Object.fromEntries(Object.entries(initParams(prune(lower(model).graph, ['logits']), {}, seed)).map(([k, v]) => [k, Float32Array.from(v, (x) => x * 4)]));
  };
  beforeAll(async () => {
    const model = compileModel('models/gpt-nano.arch', { V, L, D: 16, H: 2, N: 2 });
    const dec = lower(model, { decode: true });
    const caches = [...dec.graph.outputs.keys()].filter((k) => k.startsWith(CACHE_PREFIX));
    const graph = prune(dec.graph, ['logits', ...caches]);
    const spec = { input: 'tokens_BLV', batchSymbol: 'B', lengthSymbol: 'L', vocab: V, maxContext: L };
    make = (params) => cachedDecoder(dev, graph, POSITION_INPUT, caches, { ...spec, params }, { chain: 4 });
    const params = paramsFor(3);
    decoders = await Promise.all([1, 4, 64].map((chain) => cachedDecoder(dev, graph, POSITION_INPUT, caches, { ...spec, params }, { chain })));
  });

  it('new parameters after a run reach every kernel (the textures of weights are refilled)', async () => {
    const d = decoders[1]!;
    const greedy = OPTIONS[0]!;
    const run = (x: CachedDecoder) => x.generate([2, 7], 9, greedy, new Rng(1), () => {}, L);
    const first = await run(d);
    const other = paramsFor(8);
    const fresh = await make(other);
    try {
      const want = await run(fresh);
      expect(want).not.toEqual(first);
      d.compiled.setParams(other);
      expect(await run(d)).toEqual(want);
      d.compiled.setParams(paramsFor(3));
      expect(await run(d)).toEqual(first);
    } finally {
      fresh.destroy();
    }
  });
  afterAll(() => decoders?.forEach((d) => d.destroy()));

  it('past the context, the windowed decoder runs the full pass, with the tokens and draws of the cache alone', async () => {
    const o = OPTIONS[2]!;
    const full = prune(lower(compileModel('models/gpt-nano.arch', { V, L, D: 16, H: 2, N: 2 })).graph, ['logits']);
    const spec = { input: 'tokens_BLV', batchSymbol: 'B', lengthSymbol: 'L', vocab: V, maxContext: L, params: paramsFor(3) };
    let passes = 0;
    const windowed = windowedDecoder(await make(paramsFor(3)), async () => {
      const f = await fullDecoder(dev, full, spec);
      return {
        next: (c) => {
          passes++;
          return f.next(c);
        },
        destroy: f.destroy,
      };
    });
    try {
      for (const prompt of [[3, 1, 4], Array.from({ length: L + 3 }, (_, i) => i % V)]) {
        const reference = await stepwise(decoders[0]!, prompt, 20, o, new Rng(9), () => {}, L);
        const streamed: number[] = [];
        const rng = new Rng(9);
        passes = 0;
        expect(await windowed.generate!(prompt, 20, o, rng, (t) => streamed.push(t), L)).toEqual(reference);
        expect(streamed).toEqual(reference);
        // the tokens whose window extends the first come from the cache; the rest, one pass each
        expect(passes).toBe(prompt.length < L ? 20 - (L - prompt.length + 1) : 19);
        const after = new Rng(9);
        for (let i = 0; i < 20; i++) after.float();
        expect(rng.float()).toBe(after.float());
      }
    } finally {
      windowed.destroy();
    }
  });

  it('with --window refill, the cache gives the tokens of the full pass over the same windows, refilled rather than re-run', async () => {
    const full = prune(lower(compileModel('models/gpt-nano.arch', { V, L, D: 16, H: 2, N: 2 })).graph, ['logits']);
    const spec = { input: 'tokens_BLV', batchSymbol: 'B', lengthSymbol: 'L', vocab: V, maxContext: L, params: paramsFor(3) };
    const reference = await fullDecoder(dev, full, spec);
    const cached = await make(paramsFor(3));
    let positions = 0;
    const encode = cached.compiled.encode.bind(cached.compiled);
    cached.compiled.encode = (e) => {
      positions++;
      encode(e);
    };
    const windowed = windowedDecoder(cached, async () => {
      throw new Error('refill never needs the full pass');
    });
    try {
      for (const o of [OPTIONS[0]!, OPTIONS[6]!]) {
        const prompt = [3, 1, 4];
        const count = 3 * L;
        const want = await stepwise(reference, prompt, count, o, new Rng(9), () => {}, L, refill);
        positions = 0;
        const got = await generate(windowed, prompt, count, o, new Rng(9), () => {}, L, refill);
        expect(got).toEqual(want);
        // sliding windows see other tokens: the two rules part once the context is full
        const slid = await stepwise(reference, prompt, count, o, new Rng(9), () => {}, L, slide);
        expect(slid.slice(0, L - prompt.length + 1)).toEqual(got.slice(0, L - prompt.length + 1));
        expect(got).not.toEqual(slid); // the window did change what later tokens see
        // one position a token, plus the refills (L/2 positions each), where sliding costs a full pass a token
        if (o === OPTIONS[0]) expect(positions).toBeLessThanOrEqual(prompt.length + count + Math.ceil(count / (L - (L >> 1))) * (L >> 1));
      }
    } finally {
      windowed.destroy();
      reference.destroy();
    }
  });

  it('a long prompt and every restarted window fill the cache in one pass, with the tokens of a step a token', async () => {
    const model = compileModel('models/gpt-nano.arch', { V, L, D: 16, H: 2, N: 2 });
    const dec = lower(model, { decode: true });
    const caches = [...dec.graph.outputs.keys()].filter((k) => k.startsWith(CACHE_PREFIX));
    const prefill = prune(lower(model, { prefill: true }).graph, caches);
    // the pass ends at the last cached value: the last block's queries and MLP and the head are not in it
    expect(prefill.params.size).toBeLessThan(dec.graph.params.size);
    const spec = { input: 'tokens_BLV', batchSymbol: 'B', lengthSymbol: 'L', vocab: V, maxContext: L, params: paramsFor(3) };
    const filled = await cachedDecoder(dev, prune(dec.graph, ['logits', ...caches]), POSITION_INPUT, caches, spec, { chain: 4, prefill, prefillMin: 2 });
    let steps = 0;
    const encode = filled.compiled.encode.bind(filled.compiled);
    filled.compiled.encode = (e) => {
      steps++;
      encode(e);
    };
    try {
      for (const o of [OPTIONS[0]!, OPTIONS[6]!]) {
        const prompt = Array.from({ length: L - 2 }, (_, i) => (i * 7) % V);
        for (const window of [slide, refill]) {
          const count = window === refill ? 3 * L : 2;
          const want = await generate(decoders[1]!, prompt, count, o, new Rng(4), () => {}, L, window);
          steps = 0;
          expect(await generate(filled, prompt, count, o, new Rng(4), () => {}, L, window)).toEqual(want);
          // all the prompt but its last token in one pass: then a step a token chosen (the last
          // prompt token's, and each chosen token's but the last)
          if (window === slide && o === OPTIONS[0]) expect(steps).toBe(count);
          // and each restarted window but its last token (L/2 - 1 of them) in a pass too
          if (window === refill && o === OPTIONS[0]) expect(steps).toBeLessThanOrEqual(count + 1 + Math.ceil(count / (L + 1 - (L >> 1))));
        }
        // a context given token by token (next) is filled the same way
        const context = [...prompt, 5];
        const logits = await filled.next(context);
        const reference = await decoders[0]!.next(context);
        logits.forEach((v, i) => expect(v).toBeCloseTo(reference[i]!, 4));
      }
      // a pass that does not fit beside the decoder (here: a host of one byte) is refused: the
      // decoder then feeds a step a token
      const cramped = prefiller({ ...dev, hostMemoryBytes: 1 }, prefill, filled.compiled, caches, spec);
      expect(await cramped.fill([1, 2, 3])).toBe(false);
      cramped.destroy();
    } finally {
      filled.destroy();
    }
  });

  it("with the gpu kernels, sampling fills a long prompt in one pass and gives the cpu kernels' tokens", async () => {
    const model = compileModel('models/gpt-nano.arch', { V, L: 24, D: 16, H: 2, N: 2 });
    const forward = prune(lower(model).graph, ['logits']);
    const params = Object.fromEntries(Object.entries(initParams(forward, {}, 3)).map(([k, v]) => [k, Float32Array.from(v, (x) => x * 4)]));
    const spec = { input: 'tokens_BLV', batchSymbol: 'B', lengthSymbol: 'L', vocab: V, maxContext: 24, params };
    const gpu = await openDevice({ kernels: 'gpu' });
    const caches = [...lower(model, { decode: true }).graph.outputs.keys()].filter((k) => k.startsWith(CACHE_PREFIX));
    expect(prefillGraph(dev, model, caches)).toBeUndefined();
    expect([...prefillGraph(gpu, model, caches)!.outputs.keys()].sort()).toEqual([...caches].sort());
    const [onCpu, onGpu] = await Promise.all([webgpuDecoder(dev, model, forward, spec), webgpuDecoder(gpu, model, forward, spec)]);
    try {
      const prompt = Array.from({ length: 20 }, (_, i) => (i * 5) % V);
      const want = await generate(onCpu, prompt, 6, OPTIONS[0]!, new Rng(1), () => {}, 24);
      expect(new Set(want).size).toBeGreaterThan(1);
      expect(await generate(onGpu, prompt, 6, OPTIONS[0]!, new Rng(1), () => {}, 24)).toEqual(want);
    } finally {
      onCpu.destroy();
      onGpu.destroy();
      gpu.destroy();
    }
  });

  for (const o of [OPTIONS[0]!, OPTIONS[2]!, OPTIONS[5]!, OPTIONS[7]!]) {
    it(`gives the tokens of one step per submit, chosen on the CPU: ${JSON.stringify(o)}`, async () => {
      const [one] = decoders;
      // 3 prompt tokens + 20 generated: the context (12) fills and slides.
      const prompt = [3, 1, 4];
      const reference = await stepwise(one!, prompt, 20, o, new Rng(9), () => {}, L);
      expect(new Set(reference).size).toBeGreaterThan(1);
      for (const d of decoders) {
        const streamed: number[] = [];
        const rng = new Rng(9);
        const out = await d.generate(prompt, 20, o, rng, (t) => streamed.push(t), L);
        expect(out).toEqual(reference);
        expect(streamed).toEqual(reference);
        // Exactly one draw per sampled token, as the CPU loop takes.
        const after = new Rng(9);
        if (!isGreedy(o)) for (let i = 0; i < 20; i++) after.float();
        expect(rng.float()).toBe(after.float());
      }
      // A second prompt that extends the first reuses the cache and agrees too.
      const longer = [...prompt, ...reference.slice(0, 2)];
      expect(await decoders[1]!.generate(longer, 5, o, new Rng(2), () => {}, L)).toEqual(await stepwise(one!, longer, 5, o, new Rng(2), () => {}, L));
    });
  }
});
