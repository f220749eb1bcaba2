// Where a step's time goes, for `arch profile` and the benchmarks: the forward + backward graph
// (or one KV-cache decoding step) compiled as training (or sampling) does, every fused kernel timed
// from the CPU (adapters like llvmpipe have no timestamp queries), set against what a dispatch
// costs when it does nothing; and the report of it as text.
import type { CheckedModel } from '../compiler/graph.js';
import { lower, CACHE_PREFIX, POSITION_INPUT } from '../compiler/lower.js';
import { initParams, prune, type Data } from '../ir/index.js';
import { maxOf } from '../report/extent.js';
import { fmtInt } from '../report/numbers.js';
import type { ArchDevice } from '../runtime/device.js';
import { compileGraph, type CompiledGraph } from '../runtime/executor.js';
import { checkFits } from '../runtime/fits.js';
import type { SessionEnv } from './env.js';
import { UsageError } from './errors.js';
import { PARAM_COPIES } from './fits.js';
import { fusedSummary, OPTIMIZER_DISPATCHES } from './kernels.js';
import { tokenInput, type Built } from './pipeline.js';
import { paramRoles, type ParamKind } from '../compiler/param-roles.js';
import { groupKernels, kernelOrigin, kindOf, layerOf, type KernelGroup, type KernelGroupKind } from './profile-groups.js';

export interface KernelProfile {
  name: string;
  kind: string;
  fused: string;
  ops: number;
  workgroups: number;
  /** The median over --repeats timings (each the mean of --reps dispatches). */
  ms: number;
  /** The fastest and slowest of those timings: the spread the median hides. */
  msMin: number;
  msMax: number;
  /** The first dispatch: includes the driver compiling the shader (llvmpipe JITs it then). */
  firstMs: number;
  /** Fraction of the summed kernel time. */
  share: number;
  /** Where most of its ops come from in the model (ir/origins.ts), its block instance, and what it does. */
  origin: string;
  layer: string;
  group: KernelGroupKind;
}

export interface Profile {
  model: string;
  /** What a step is: forward + backward of a training batch, or one decoded token. */
  what: 'training' | 'decoding';
  adapter: string;
  backend: string;
  symbols: Record<string, number>;
  tokensPerStep: number;
  kernels: KernelProfile[];
  /** Forward + backward, end to end: inputs written, every kernel, the loss read back (median). */
  stepMs: number;
  /** The kernels timed one at a time (less the submit round trip), summed. */
  kernelMs: number;
  dispatchesPerStep: number;
  /** A dispatch of a kernel that does (almost) nothing. */
  dispatchOverheadMs: number;
  /** dispatches x overhead / stepMs. */
  overheadShare: number;
  /** Fusion, WGSL generation and pipeline creation on the host. */
  hostCompileMs: number;
  /** The extra cost of every kernel's first dispatch (shader compiled by the driver). */
  firstDispatchMs: number;
  tokensPerS: number;
  /** How many times every kernel was timed (--repeats): its ms is the median. */
  repeats: number;
  /** Kernel time summed by layer (block instance; `outside the blocks` for the rest) and by kind. */
  byLayer: KernelGroup[];
  byGroup: KernelGroup[];
  /** The kernels timed one by one add up to more than the step end to end (see formatProfile). */
  kernelsExceedStep: boolean;
}

export interface ProfileOptions {
  steps: number;
  reps: number;
  /** Times every kernel is timed (each of --reps dispatches); the median is reported (default 1). */
  repeats?: number;
  unfused?: boolean;
  /** The parameters' roles (compiler/param-roles.ts), to group kernels by kind. */
  roles?: ReadonlyMap<string, ParamKind>;
}

/** Random inputs of the right sizes: token ids below their class count, floats in [-1, 1). */
export function randomInputs(built: Built, symbols: Record<string, number>, seed = 1): Record<string, Data> {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const out: Record<string, Data> = {};
  for (const [name, id] of built.graph.inputs) {
    const node = built.graph.nodes[id]!;
    const n = node.type.axes.reduce((acc, a) => acc * (typeof a.size === 'number' ? a.size : symbols[a.size] ?? 1), 1);
    if (node.type.dtype === 'i32') {
      const classes = built.lowered.inputs.get(name)?.classes ?? 2;
      out[name] = Int32Array.from({ length: n }, () => Math.floor(rand() * classes));
    } else {
      out[name] = Float32Array.from({ length: n }, () => rand() * 2 - 1);
    }
  }
  return out;
}

export async function profileTraining(
  dev: ArchDevice,
  modelName: string,
  built: Built,
  symbols: Record<string, number>,
  o: ProfileOptions,
): Promise<Profile> {
  const t0 = performance.now();
  const c = await compileGraph(dev, built.graph, symbols, { unfused: o.unfused });
  const tokens = Object.entries(symbols).filter(([k]) => k !== 'seed').reduce((a, [, v]) => a * v, 1);
  const inputs = randomInputs(built, symbols);
  return profileCompiled(dev, c, performance.now() - t0, initParams(built.lowered.graph, {}, 1), { model: modelName, what: 'training', symbols, tokens }, (i) =>
    c.run({ inputs, seed: i }, ['loss']), o);
}

/** One step of KV-cache decoding: the decode graph `arch sample` compiles, at one position. */
export async function profileDecoding(
  env: SessionEnv,
  dev: ArchDevice,
  model: CheckedModel,
  /** The position to decode at, from the context length (the CLI checks --position against it); default: the middle. */
  position: ((context: number) => number) | undefined,
  o: ProfileOptions,
): Promise<Profile> {
  const lowered = lower(model, { decode: true });
  const caches = [...lowered.graph.outputs.keys()].filter((k) => k.startsWith(CACHE_PREFIX));
  if (caches.length === 0) throw new UsageError(`${model.name} has no attention whose keys a cache could hold: --decode profiles causal language models`);
  const t = tokenInput(lower(model), model.name);
  const context = t.maxLength ?? 1;
  const at = position === undefined ? Math.floor(context / 2) : position(context);
  const graph = prune(lowered.graph, ['logits', ...caches]);
  const symbols = { [t.batchSymbol]: 1, [t.lengthSymbol]: 1, seed: 0 };
  checkFits(graph, { symbols, paramCopies: PARAM_COPIES.inference, limits: dev.limits, memoryBytes: env.host.memoryBytes() });
  const t0 = performance.now();
  const c = await compileGraph(dev, graph, symbols, { unfused: o.unfused, state: Object.fromEntries(caches.map((k) => [k, k])) });
  const inputs = { [t.name]: Int32Array.of(1), [POSITION_INPUT]: Float32Array.of(at) };
  return profileCompiled(dev, c, performance.now() - t0, initParams(graph, {}, 1), { model: model.name, what: 'decoding', symbols: { position: at }, tokens: 1 }, () =>
    c.run({ inputs }, ['logits']), { ...o, roles: o.roles ?? paramRoles(model) });
}

async function profileCompiled(
  dev: ArchDevice,
  c: CompiledGraph,
  hostCompileMs: number,
  params: Record<string, ArrayLike<number>>,
  about: { model: string; what: Profile['what']; symbols: Record<string, number>; tokens: number },
  step: (i: number) => Promise<unknown>,
  o: ProfileOptions,
): Promise<Profile> {
  try {
    c.setParams(Object.fromEntries(Object.entries(params).map(([k, v]) => [k, Float32Array.from(v)])));
    // Kernels one at a time first, so that each one's first dispatch is its very first (the driver's compile).
    const repeats = Math.max(1, o.repeats ?? 1);
    const rounds = [await c.timeKernels(o.reps)];
    for (let r = 1; r < repeats; r++) rounds.push(await c.timeKernels(o.reps));
    const stepMs = await timeSteps(step, o.steps);
    // Each kernel's timing includes one submit-and-wait round trip spread over its reps: take it out.
    const roundTrip = await roundTripMs(dev.device);
    const timed = (t: { ms: number }) => Math.max(1e-3, t.ms - roundTrip / o.reps);
    const timings = rounds[0]!.map((first, i) => {
      const all = rounds.map((round) => timed(round[i]!)).sort((a, b) => a - b);
      return { ms: median(all), min: all[0]!, max: all.at(-1)!, firstMs: first.firstMs };
    });
    const dispatchOverheadMs = await emptyDispatchMs(dev.device, Math.max(50, o.reps * 10), roundTrip);
    const kernelMs = timings.reduce((a, t) => a + t.ms, 0);
    const kernels: KernelProfile[] = c.plan.kernels.map((k, i) => {
      const origin = k.labels.at(-1) ?? kernelOrigin(k.origins);
      return {
        name: k.name,
        kind: k.kind,
        fused: k.ops.length ? fusedSummary(k.ops) : 'a layout copy',
        ops: k.ops.length,
        workgroups: k.workgroups[0] * k.workgroups[1] * k.workgroups[2],
        ms: timings[i]!.ms,
        msMin: timings[i]!.min,
        msMax: timings[i]!.max,
        firstMs: timings[i]!.firstMs,
        share: kernelMs > 0 ? timings[i]!.ms / kernelMs : 0,
        origin,
        layer: layerOf(origin) ?? OUTSIDE_BLOCKS,
        group: o.roles ? kindOf(origin, o.roles) : 'other',
      };
    });
    kernels.sort((a, b) => b.ms - a.ms);
    const dispatches = c.plan.dispatchesPerRun;
    const tokens = about.tokens;
    return {
      model: about.model,
      what: about.what,
      adapter: dev.info.adapterName,
      backend: dev.info.backend,
      symbols: about.symbols,
      tokensPerStep: tokens,
      kernels,
      stepMs,
      kernelMs,
      dispatchesPerStep: dispatches,
      dispatchOverheadMs,
      overheadShare: Math.min(1, (dispatches * dispatchOverheadMs) / stepMs),
      hostCompileMs,
      firstDispatchMs: timings.reduce((a, t) => a + Math.max(0, t.firstMs - t.ms), 0),
      tokensPerS: (tokens / stepMs) * 1000,
      repeats,
      byLayer: groupKernels(kernels, (k) => k.layer, kernelMs),
      byGroup: groupKernels(kernels, (k) => k.group, kernelMs),
      kernelsExceedStep: kernelMs > stepMs,
    };
  } finally {
    c.destroy();
  }
}

const OUTSIDE_BLOCKS = 'outside the blocks';
const median = (sorted: readonly number[]): number => {
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
};

/** Median milliseconds of a step, run end to end (after one untimed warm-up run). */
export async function timeSteps(step: (i: number) => Promise<unknown>, steps: number): Promise<number> {
  await step(0);
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await step(i + 1);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** A submit of an empty command buffer and the wait for it: the fixed cost of any timing. */
export async function roundTripMs(device: GPUDevice): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    device.queue.submit([device.createCommandEncoder().finish()]);
    await device.queue.onSubmittedWorkDone();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** What one dispatch costs when the kernel does next to nothing: timed like timeKernels does. */
export async function emptyDispatchMs(device: GPUDevice, reps: number, roundTrip = 0): Promise<number> {
  const code = '@group(0) @binding(0) var<storage, read_write> x: array<u32>;\n@compute @workgroup_size(1) fn main() { x[0] = x[0] + 1u; }\n';
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
  const buffer = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
  const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer } }] });
  const once = async (n: number): Promise<number> => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    for (let i = 0; i < n; i++) pass.dispatchWorkgroups(1);
    pass.end();
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  await once(1);
  let best = Infinity;
  for (let r = 0; r < 3; r++) best = Math.min(best, Math.max(0, (await once(reps)) - roundTrip) / reps);
  buffer.destroy();
  return best;
}

const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

export function formatProfile(p: Profile, top = Number.MAX_SAFE_INTEGER): string {
  const shown = p.kernels.slice(0, top);
  const nameW = Math.min(48, Math.max(6, maxOf(shown.map((k) => k.name.length))));
  const cut = (s: string, w: number) => (s.length > w ? s.slice(0, w - 1) + '…' : s);
  const lines = [
    `${p.model} on ${p.adapter} (${p.backend}), ${Object.entries(p.symbols).filter(([k]) => k !== 'seed').map(([k, v]) => `${k} = ${v}`).join(', ')}: ${p.what === 'decoding' ? 'one decoding step (KV cache)' : 'forward + backward'}`,
    '',
    `${'kernel'.padEnd(nameW)}  ${'kind'.padEnd(11)} ${'workgroups'.padStart(10)} ${'ms'.padStart(8)}${p.repeats > 1 ? ` ${'min-max'.padStart(13)}` : ''} ${'share'.padStart(6)} ${'cum.'.padStart(6)}  ${'layer'.padEnd(10)} ${'role'.padEnd(10)} fuses`,
  ];
  let cum = 0;
  for (const k of shown) {
    cum += k.share;
    const spread = p.repeats > 1 ? ` ${`${ms(k.msMin)}-${ms(k.msMax)}`.padStart(13)}` : '';
    lines.push(
      `${cut(k.name, nameW).padEnd(nameW)}  ${k.kind.padEnd(11)} ${fmtInt(k.workgroups).padStart(10)} ${ms(k.ms).padStart(8)}${spread} ${pct(k.share).padStart(6)} ${pct(cum).padStart(6)}  ${cut(k.layer, 10).padEnd(10)} ${k.group.padEnd(10)} ${k.ops ? `${k.ops} ops: ` : ''}${k.fused}`,
    );
  }
  if (shown.length < p.kernels.length) lines.push(`... ${p.kernels.length - shown.length} more kernels, ${pct(1 - cum)} of the kernel time`);
  // where the time goes by kind of kernel (all of them, not only those shown)
  const kinds = new Map<string, { ms: number; n: number }>();
  for (const k of p.kernels) {
    const e = kinds.get(k.kind) ?? { ms: 0, n: 0 };
    kinds.set(k.kind, { ms: e.ms + k.ms, n: e.n + 1 });
  }
  const byKind = [...kinds].sort((a, b) => b[1].ms - a[1].ms).map(([kind, e]) => `${kind} ${ms(e.ms)} ms (${e.n}, ${pct(e.ms / p.kernelMs)})`);
  const overheadMs = p.dispatchesPerStep * p.dispatchOverheadMs;
  lines.push(
    '',
    p.what === 'decoding'
      ? `step (one token, end to end):          ${ms(p.stepMs)} ms = ${fmtInt(Math.round(p.tokensPerS))} tokens/s one submit a token (\`arch sample\` chains 16 a submit)`
      : `step (forward + backward, end to end): ${ms(p.stepMs)} ms for ${fmtInt(p.tokensPerStep)} tokens = ${fmtInt(Math.round(p.tokensPerS))} tokens/s`,
    `kernels timed one by one:              ${ms(p.kernelMs)} ms in ${fmtInt(p.dispatchesPerStep)} dispatches${p.what === 'decoding' ? '' : ` (+${OPTIMIZER_DISPATCHES} optimizer dispatches in a training step)`}`,
    `by kind (kernels, share):              ${byKind.join(', ')}`,
    ...groupLines(p),
    `dispatch overhead:                     ${(p.dispatchOverheadMs * 1000).toFixed(0)} us per dispatch (an empty kernel) x ${fmtInt(p.dispatchesPerStep)} = ${ms(overheadMs)} ms, ${pct(p.overheadShare)} of the step`,
    `compile:                               ${ms(p.hostCompileMs)} ms on the host (fusion, WGSL, pipelines) + ${ms(p.firstDispatchMs)} ms at first dispatches (the driver's shader compile)`,
  );
  if (p.kernelsExceedStep)
    lines.push(
      '',
      `note: the kernels timed one by one add up to ${ms(p.kernelMs)} ms, more than the ${ms(p.stepMs)} ms step: each was timed alone, in a`,
      '      submit of its own, so it lost what a step shares (work overlapping across kernels on the device, inputs still in',
      "      cache from the kernel before, one submit for all). Their shares rank the kernels; the step's time is the total.",
    );
  if (p.overheadShare > 0.3) {
    lines.push(
      '',
      `note: ${pct(p.overheadShare)} of the step is fixed cost per dispatch, not arithmetic: at this size the kernels are too small to`,
      '      keep the device busy. A larger --batch (or --length) raises the work per dispatch at almost the same step cost.',
    );
  }
  return lines.join('\n') + '\n';
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** The kernel time by layer and by role, and what the repeats measured. */
function groupLines(p: Profile): string[] {
  const list = (gs: KernelGroup[]) => gs.map((g) => `${g.name} ${ms(g.ms)} ms (${pct(g.share)})`).join(', ');
  return [
    `by layer (median kernel ms, share):    ${list(p.byLayer)}`,
    `by role:                               ${list(p.byGroup)}${p.what === 'training' ? `; optimizer: ${OPTIMIZER_DISPATCHES} dispatches a training step, not timed here` : ''}`,
    `timing:                                every kernel timed ${p.repeats} time${p.repeats === 1 ? '' : 's'} (each the mean of --reps dispatches)${p.repeats > 1 ? ', the median shown with its min-max' : '; --repeats N for a median and its spread'}`,
  ];
}

/** Profiles of the same step on several backends, side by side; those that opened no adapter say why. */
export function formatComparison(runs: readonly { backend: string; profile?: Profile; why?: string }[]): string {
  const done = runs.filter((r): r is { backend: string; profile: Profile } => r.profile !== undefined);
  const first = done[0]!.profile;
  const w = Math.max(12, ...done.map((r) => `${r.backend} (${r.profile.adapter})`.length)) + 2;
  const row = (label: string, f: (p: Profile) => string) => `${label.padEnd(34)}${done.map((r) => f(r.profile).padStart(w)).join('')}`;
  const groups = [...new Set(done.flatMap((r) => r.profile.byGroup.map((g) => g.name)))];
  const groupMs = (p: Profile, name: string) => p.byGroup.find((g) => g.name === name)?.ms ?? 0;
  const lines = [
    `${first.model}, ${Object.entries(first.symbols).filter(([k]) => k !== 'seed').map(([k, v]) => `${k} = ${v}`).join(', ')}: ${first.what === 'decoding' ? 'one decoding step (KV cache)' : 'forward + backward'} on each backend`,
    '',
    `${''.padEnd(34)}${done.map((r) => `${r.backend} (${r.profile.adapter})`.padStart(w)).join('')}`,
    row('step, end to end (ms)', (p) => ms(p.stepMs)),
    row('tokens/s', (p) => fmtInt(Math.round(p.tokensPerS))),
    row('kernels timed one by one (ms)', (p) => ms(p.kernelMs)),
    row('dispatch overhead (us)', (p) => (p.dispatchOverheadMs * 1000).toFixed(0)),
    row('compile, host + driver (ms)', (p) => ms(p.hostCompileMs + p.firstDispatchMs)),
    ...groups.map((g) => row(`  ${g} (median kernel ms)`, (p) => ms(groupMs(p, g)))),
  ];
  const missing = runs.filter((r) => !r.profile);
  if (missing.length) lines.push('', ...missing.map((r) => `${r.backend}: no adapter here (${r.why})`));
  if (done.length === 1) lines.push('', `one adapter here (${done[0]!.backend}): nothing to compare it with`);
  return lines.join('\n') + '\n';
}
