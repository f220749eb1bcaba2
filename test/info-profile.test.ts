// `arch info`, `arch compile --emit plan|wgsl` and `arch profile` as a user runs them, plus the
// pieces under them: the device-free plan (identical to what the executor compiles on a device)
// and the stderr filter that keeps Dawn's native warnings out of the user's way.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createLineFilter, isDawnNoise as binIsDawnNoise } from '../bin/stderr-filter.js';
import { isDawnNoise, openDevice } from '../src/host/node/device.js';
import { compileGraph, DEFAULT_LIMITS, planGraph } from '../src/runtime/executor.js';
import { formatProfile, type Profile } from '../src/session/profile.js';
import { loadModel } from '../src/session/model.js';
import { nodeEnv } from '../src/host/node/index.js';
import { buildGraph } from '../src/session/pipeline.js';
import { bindSymbols } from '../src/session/kernels.js';

function arch(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync('node', ['bin/arch.js', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
const TINY = ['models/gpt-nano.arch', '--set', 'D=16', '--set', 'H=2', '--set', 'N=1'];

describe('arch info', () => {
  it('names the adapter and backend, lists limits, and keeps Dawn warnings off stderr', () => {
    const r = arch('info');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^adapter: +\S+/m);
    expect(r.out).toMatch(/llvmpipe|OpenGL ES|vulkan/i);
    expect(r.out).toMatch(/maxStorageBufferBindingSize +\d+/);
    expect(r.err).not.toMatch(/artificially reduced/);
  });

  it('--json gives the same adapter as data', () => {
    const r = arch('info', '--backend', 'opengles', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.backend).toBe('opengles');
    expect(j.adapterName).toMatch(/llvmpipe/);
    expect(j.limits.maxStorageBuffersPerShaderStage).toBeGreaterThanOrEqual(8);
    expect(Array.isArray(j.features)).toBe(true);
  });

  it('an unknown backend is a bad invocation (exit 2); a known one absent here exits 3 with the no-adapter paragraph', () => {
    const r = arch('info', '--backend', 'nonsense');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--backend nonsense: expected one of webgpu, interpreter, vulkan, opengles, metal, d3d12/);
    noStack(r.err);
    if (process.platform === 'darwin') return; // metal answers there
    const absent = arch('info', '--backend', 'metal');
    expect(absent.code).toBe(3);
    expect(absent.err).toMatch(/No WebGPU adapter could be opened\. Tried: metal/);
    expect(absent.err).toMatch(/--backend/);
    noStack(absent.err);
  });
});

describe('arch compile --emit plan|wgsl (no device needed)', () => {
  it('plan lists fused kernels with their ops, buffers and dispatches', () => {
    const r = arch('compile', ...TINY, '--emit', 'plan', '--grad', '--batch', '2', '--length', '8');
    expect(r.code, r.err).toBe(0);
    const m = /(\d+) kernels from (\d+) ops/.exec(r.out)!;
    const [kernels, ops] = [Number(m[1]), Number(m[2])];
    expect(kernels).toBeLessThan(ops / 2);
    // a group of sibling contractions runs as a dispatch per part (docs/kernels.md)
    const dispatches = Number(new RegExp(`^${kernels} kernels, (\\d+) dispatches per run, \\d+ buffers`, 'm').exec(r.out)![1]);
    expect(dispatches).toBeGreaterThanOrEqual(kernels);
    expect(dispatches).toBeLessThan(kernels * 1.2);
    expect(r.out).toMatch(/_contract.*\(contract,add\)/); // a contraction with its bias epilogue
    expect(r.out).toMatch(/^ +%\d+ = reduce\.sum/m);
    expect(r.out).toMatch(/^buffers:\n +#0 \d+ bytes \(persistent\)/m);
    const unfused = arch('compile', ...TINY, '--emit', 'plan', '--grad', '--batch', '2', '--length', '8', '--unfused');
    expect(Number(/(\d+) kernels from/.exec(unfused.out)![1])).toBeGreaterThan(kernels);
  });

  it('wgsl gives every kernel with a header saying what it fused', () => {
    const r = arch('compile', ...TINY, '--emit', 'wgsl', '--batch', '1', '--length', '4');
    expect(r.code, r.err).toBe(0);
    const kernels = Number(/(\d+) kernels from/.exec(r.out)![1]);
    expect(r.out.match(/^\/\/ ---- kernel \d+\/\d+: /gm)).toHaveLength(kernels);
    // one entry point a kernel, or a part (a dispatch of its own) of a sibling group
    const parts = r.out.match(/^\/\/ part \d+ of \d+ \(a dispatch of its own\)/gm)?.length ?? 0;
    const groups = r.out.match(/^\/\/ part 1 of \d+ \(a dispatch of its own\)/gm)?.length ?? 0;
    expect(r.out.match(/@compute @workgroup_size/g)).toHaveLength(kernels + parts - groups);
    expect(r.out).toMatch(/^\/\/ fuses \d+ ops: .*contract \+ add/m);
  });

  it('a bad size or a length past the model\'s is an invocation error', () => {
    expect(arch('compile', ...TINY, '--emit', 'plan', '--batch', '0').code).toBe(2);
    const r = arch('compile', ...TINY, '--emit', 'plan', '--length', '65');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/at most 64/);
  });

  it('the device-free plan, under the device\'s limits, is the plan the executor compiles on the device', async () => {
    const { model } = loadModel(nodeEnv(), 'models/gpt-nano.arch', new Map([['D', '16'], ['H', '2'], ['N', '1']]));
    const built = buildGraph(model, { grad: true, training: true });
    const symbols = bindSymbols(built, { batch: 2, length: 8 });
    const d = await openDevice();
    const offline = planGraph(built.graph, symbols, {}, { ...DEFAULT_LIMITS, ...d.limits }).plan;
    try {
      const c = await compileGraph(d, built.graph, symbols);
      expect(c.plan.kernels.map((k) => k.wgsl)).toEqual(offline.kernels.map((k) => k.wgsl));
      expect(c.plan.buffers).toEqual(offline.buffers);
      c.destroy();
    } finally {
      d.destroy();
    }
  });
});

describe('arch profile', () => {
  it('--decode times one step of KV-cache decoding, kernel by kernel', () => {
    const r = arch('profile', ...TINY, '--decode', '--position', '5', '--steps', '2', '--reps', '2', '--json');
    expect(r.code, r.err).toBe(0);
    const p = JSON.parse(r.out) as Profile;
    expect(p.what).toBe('decoding');
    expect(p.symbols).toEqual({ position: 5 });
    expect(p.tokensPerStep).toBe(1);
    expect(p.kernels.length).toBe(p.dispatchesPerStep);
    expect(p.kernels.reduce((a, k) => a + k.share, 0)).toBeCloseTo(1, 6);
    expect(p.stepMs).toBeGreaterThan(0);
    expect(p.tokensPerS).toBeCloseTo(1000 / p.stepMs, 6);
    expect(formatProfile(p)).toMatch(/one decoding step \(KV cache\)/);
    for (const [args, message] of [
      [['--decode', '--position', '99'], /--position 99: expected at most 63/],
      [['--position', '3'], /--position goes with --decode/],
    ] as const) {
      const bad = arch('profile', ...TINY, ...args);
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(message);
      noStack(bad.err);
    }
  });

  it('times every fused kernel of a training step; the shares add up to the whole', () => {
    const r = arch('profile', ...TINY, '--batch', '2', '--length', '8', '--steps', '2', '--reps', '2', '--json');
    expect(r.code, r.err).toBe(0);
    const p = JSON.parse(r.out) as Profile;
    // a group of sibling contractions is one kernel of several dispatches
    expect(p.dispatchesPerStep).toBeGreaterThanOrEqual(p.kernels.length);
    expect(p.kernels.length).toBeGreaterThan(10);
    const shares = p.kernels.reduce((a, k) => a + k.share, 0);
    expect(shares).toBeCloseTo(1, 6);
    for (const k of p.kernels) {
      expect(k.ms).toBeGreaterThan(0);
      expect(k.fused).not.toBe('');
    }
    expect(p.kernels.map((k) => k.ms)).toEqual([...p.kernels.map((k) => k.ms)].sort((a, b) => b - a));
    expect(p.stepMs).toBeGreaterThan(0);
    expect(p.dispatchOverheadMs).toBeGreaterThan(0);
    expect(p.overheadShare).toBeGreaterThan(0);
    expect(p.overheadShare).toBeLessThanOrEqual(1);
    expect(p.tokensPerStep).toBe(16);
    expect(p.tokensPerS).toBeCloseTo((16 / p.stepMs) * 1000, 6);
    expect(r.err).not.toMatch(/artificially reduced/);

    const text = formatProfile(p, 5);
    expect(text.match(/^k\d+_/gm)).toHaveLength(5);
    expect(text).toMatch(new RegExp(`${p.kernels.length - 5} more kernels`));
    expect(text).toMatch(/dispatch overhead: +\d+ us per dispatch/);
    // the by-kind line counts every kernel, not only the 5 shown
    const byKind = text.match(/^by kind \(kernels, share\): +(.*)$/m)![1]!;
    const counts = [...byKind.matchAll(/([a-z]+) [\d.]+ ms \((\d+), /g)];
    expect(counts.reduce((n, m) => n + Number(m[2]), 0)).toBe(p.kernels.length);
    expect(new Set(counts.map((m) => m[1]))).toEqual(new Set(p.kernels.map((k) => k.kind)));
  });

  it('--repeats: each kernel is timed N times, the median reported with its min-max; kernels grouped by layer and role', () => {
    const r = arch('profile', ...TINY, '--set', 'N=2', '--batch', '2', '--length', '8', '--steps', '2', '--reps', '2', '--repeats', '3', '--json');
    expect(r.code, r.err).toBe(0);
    const p = JSON.parse(r.out) as Profile;
    expect(p.repeats).toBe(3);
    for (const k of p.kernels) {
      expect(k.msMin).toBeLessThanOrEqual(k.ms);
      expect(k.ms).toBeLessThanOrEqual(k.msMax);
    }
    // A kernel named after a block instance's tensor is grouped under that instance and its role.
    const named = (re: RegExp) => p.kernels.filter((k) => re.test(k.name));
    for (const k of named(/^k\d+_contract_stream_1_causal_attention_q_out/)) expect([k.layer, k.group]).toEqual(['stream.1', 'attention']);
    for (const k of named(/^k\d+_contract_d_stream_0_mlp_out_w/)) expect([k.layer, k.group]).toEqual(['stream.0', 'mlp']);
    for (const k of named(/^k\d+_row_final_out/)) expect([k.layer, k.group]).toEqual(['outside the blocks', 'norm']);
    for (const k of named(/^k\d+_row_loss_top/)) expect(k.group).toBe('head+loss');
    expect(named(/_mlp_|_causal_attention_|_loss_top/).length).toBeGreaterThan(6);
    // The groups partition the kernels: their times add up to the kernel total.
    for (const groups of [p.byLayer, p.byGroup]) {
      expect(groups.reduce((a, g) => a + g.kernels, 0)).toBe(p.kernels.length);
      expect(groups.reduce((a, g) => a + g.ms, 0)).toBeCloseTo(p.kernelMs, 6);
    }
    expect(p.byLayer.map((g) => g.name).sort()).toEqual(['outside the blocks', 'stream.0', 'stream.1']);
    expect(p.byGroup.map((g) => g.name)).toEqual(expect.arrayContaining(['attention', 'mlp', 'norm', 'head+loss', 'embeddings']));
    expect(p.kernelsExceedStep).toBe(p.kernelMs > p.stepMs);
    const text = formatProfile(p);
    expect(text).toMatch(/^by layer \(median kernel ms, share\): +stream\.\d [\d.]+ ms/m);
    expect(text).toMatch(/^by role: +.*attention [\d.]+ ms.*; optimizer: 3 dispatches/m);
    expect(text).toContain('every kernel timed 3 times');
    // Summed one by one past the step: the text says so and why.
    const over = formatProfile({ ...p, kernelMs: p.stepMs * 2, kernelsExceedStep: true });
    expect(over).toMatch(/note: the kernels timed one by one add up to [\d.]+ ms, more than the [\d.]+ ms step: each was timed alone/);
  });

  it('--compare-backends profiles every backend that opens here, and names those that do not', () => {
    const r = arch('profile', ...TINY, '--batch', '2', '--length', '8', '--steps', '2', '--reps', '2', '--compare-backends', '--json');
    expect(r.code, r.err).toBe(0);
    const { backends } = JSON.parse(r.out) as { backends: { backend: string; profile?: Profile; why?: string }[] };
    expect(backends.map((b) => b.backend)).toEqual(['vulkan', 'opengles']);
    const ran = backends.filter((b) => b.profile);
    expect(ran.length).toBeGreaterThan(0);
    for (const b of ran) expect(b.profile!.stepMs).toBeGreaterThan(0);
    for (const b of backends.filter((x) => !x.profile)) expect(b.why).toBeTruthy();
    const text = arch('profile', ...TINY, '--batch', '2', '--length', '8', '--steps', '2', '--reps', '2', '--compare-backends');
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/^step, end to end \(ms\) +[\d.]+/m);
    if (ran.length === 1) expect(text.out).toContain(`one adapter here (${ran[0]!.backend}): nothing to compare it with`);
    expect(arch('profile', ...TINY, '--compare-backends', '--backend', 'opengles').code).toBe(2);
  });

  it('profile refuses the interpreter backend (exit 2)', () => {
    const r = arch('profile', ...TINY, '--backend', 'interpreter');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/WebGPU backend/);
  });
});

describe('the stderr filter in bin/arch.js', () => {
  const lines = [
    'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 90 to 16 to fit dynamic offset allocation limit.',
    '    at operator() (../../third_party/dawn/src/dawn/native/Adapter.cpp:123)',
    'Warning',
    'training gpt_nano: 3 steps',
    '  indented but ours',
    'warning: lower case is ours',
  ];
  it('agrees with the runtime on what is Dawn noise', () => {
    for (const l of lines) expect(binIsDawnNoise(l), l).toBe(isDawnNoise(l));
  });

  it('drops noise lines, passes the rest at once, and keeps a redrawn progress line live', () => {
    let out = '';
    const f = createLineFilter((s: string) => (out += s));
    f.write(Buffer.from('Warn'));
    f.write(Buffer.from('ing: artificially reduced\nstep 1'));
    expect(out).toBe('step 1'); // a partial line that can't be noise is not held back
    f.write(Buffer.from('/3\r\x1b[2Kstep 2/3'));
    expect(out).toBe('step 1/3\r\x1b[2Kstep 2/3');
    f.write(Buffer.from('\n    at operator() (x/third_party/dawn/y)\n  ours\n'));
    f.write(Buffer.from([0xc3])); // a UTF-8 character split across chunks
    f.write(Buffer.from([0xa9, 0x0a]));
    f.end();
    expect(out).toBe('step 1/3\r\x1b[2Kstep 2/3\n  ours\né\n');
  });
});
