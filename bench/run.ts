// `npm run bench [-- --quick] [-- --out FILE]`: the figures the issues set targets for, measured on
// the adapter in use, printed and written as JSON (bench/results/latest.json by default).
//
//   contraction GFLOP/s at 128^3, 256^3, 512^3 (warm; target >= 1.5 at 512^3 on llvmpipe)
//   elementwise GB/s
//   dispatches per training step, fused and unfused; forward + backward step time, fused and unfused
//   training tokens/s on the speed configuration (target >= 250 on llvmpipe)
//   sampling tokens/s with the KV cache (target >= 300)
//   `arch check models/gpt2.arch` wall time (target: well under a second)
//   distinct pipelines of the speed config's training graph, and its cold first training step
//   GPT-2 small's training plan at B = 8, L = 1024: buffers, textures and slabs (no device)
//
// Timings are from the CPU side (llvmpipe has no timestamp queries). On a machine shared with
// other work, wall-clock figures are low and noisy: the load average is recorded with them.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { availableParallelism, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { openDevice } from '../src/host/node/device.js';
import { DEFAULT_LIMITS } from '../src/runtime/executor.js';
import { benchContraction, benchElementwise } from './matmul.js';
import { dispatchCounts, speedGraph, stepTime, trainingSpeed, LONG_CONFIG, SPEED_CONFIG } from './training.js';
import type { SamplingSpeed } from './sampling.js';
import { checkTime } from './startup.js';
import { coldFirstStep, pipelineCount } from './coldstart.js';
import { gpt2TrainingMemory } from './memory.js';

const TARGETS = {
  contraction512Gflops: 1.5,
  trainingTokensPerS: 250,
  samplingTokensPerS: 300,
  checkMs: 1000,
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const outAt = args.indexOf('--out');
  const outFile = outAt >= 0 ? args[outAt + 1]! : 'bench/results/latest.json';
  const reps = quick ? 2 : 3;
  const log = (s: string) => process.stdout.write(s + '\n');

  const loadBefore = loadavg();
  const dev = await openDevice({ workload: 'throughput' });
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    command: `npm run bench${quick ? ' -- --quick' : ''}`,
    quick,
    adapter: dev.info.adapterName,
    backend: dev.info.backend,
    cpuFallback: dev.info.isFallbackCpu,
    cores: availableParallelism(),
    node: process.version,
    loadAverageBefore: loadBefore.map((x) => Number(x.toFixed(2))),
    config: { ...SPEED_CONFIG, model: 'gpt-nano: V=65 (char-level), L=64, D=128, 4 blocks, 4 heads, GELU, pre-norm, learned positions, tied head, AdamW' },
    targets: TARGETS,
  };
  log(`adapter: ${dev.info.adapterName} (${dev.info.backend}), ${availableParallelism()} cores, load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')}`);
  try {
    const contraction = [];
    for (const size of [128, 256, 512]) {
      const r = await benchContraction(dev.device, 'default (texture)', size, {}, reps);
      contraction.push({ size, gflops: round(r.gflops), cpuTimeGflops: round(r.cpuGflops), compileAndFirstMs: Math.round(r.pipelineMs) });
      log(`contraction ${size}^3: ${r.gflops.toFixed(2)} GFLOP/s (${r.cpuGflops.toFixed(2)} by CPU time), first dispatch after ${r.pipelineMs.toFixed(0)} ms`);
    }
    results.contraction = contraction;

    const ew = await benchElementwise(dev.device, 1, reps);
    results.elementwise = { what: 'z = x + y, 4M f32 (48 MiB moved)', gbs: round(ew.gbs), cpuTimeGbs: round(ew.cpuGbs) };
    log(`elementwise add, 4M f32: ${ew.gbs.toFixed(2)} GB/s (${ew.cpuGbs.toFixed(2)} by CPU time)`);

    const { built, symbols } = speedGraph();
    const dispatches = dispatchCounts(built, symbols, { ...DEFAULT_LIMITS, ...dev.limits });
    results.dispatchesPerStep = dispatches;
    results.pipelines = pipelineCount(SPEED_CONFIG, { ...DEFAULT_LIMITS, ...dev.limits });
    log(`dispatches per training step: ${dispatches.fused} fused, ${dispatches.unfused} unfused (each with ${dispatches.optimizer} optimizer dispatches)`);

    const fused = await stepTime(dev, built, symbols, {}, quick ? 3 : 5);
    log(`forward + backward step, fused: ${fused.ms.toFixed(1)} ms (${fused.cpuMs.toFixed(1)} by CPU time; ${fused.kernels} kernels; compile + first run ${(fused.compileMs / 1000).toFixed(1)} s)`);
    let unfused = null;
    if (!quick) {
      unfused = await stepTime(dev, built, symbols, { unfused: true }, 3);
      log(`forward + backward step, unfused: ${unfused.ms.toFixed(1)} ms (${unfused.cpuMs.toFixed(1)} by CPU time; ${unfused.kernels} kernels; compile + first run ${(unfused.compileMs / 1000).toFixed(1)} s)`);
    }
    results.step = { what: 'forward + backward, end to end, median', fused: roundAll(fused), unfused: unfused && roundAll(unfused) };

    // attention streamed (forward and backward) against the materialised chain, at L = 256
    const long = speedGraph(LONG_CONFIG);
    const streamed = await stepTime(dev, long.built, long.symbols, {}, quick ? 3 : 5);
    const chain = await stepTime(dev, long.built, long.symbols, { flashAttention: false }, quick ? 3 : 5);
    results.attention = {
      what: `forward + backward at L = ${LONG_CONFIG.length}, B = ${LONG_CONFIG.batch} (the speed config's 512 tokens a step), end to end, median; bytes: the memory plan's buffers`,
      streamed: roundAll(streamed),
      materialised: roundAll(chain),
    };
    for (const [what, r] of [['streamed', streamed], ['materialised (flashAttention: false)', chain]] as const) {
      log(`attention at L = ${LONG_CONFIG.length}, ${what}: ${r.ms.toFixed(1)} ms a step (${r.cpuMs.toFixed(1)} by CPU time; ${r.kernels} kernels; ${(r.bytes / 2 ** 20).toFixed(1)} MiB of buffers)`);
    }

    const train = await trainingSpeed(dev, quick ? 8 : 30);
    results.training = { ...train, tokensPerS: round(train.tokensPerS), cpuTokensPerS: round(train.cpuTokensPerS), msPerStep: round(train.msPerStep), firstStepMs: Math.round(train.firstStepMs), finalLoss: round(train.finalLoss) };
    log(`training on ${train.data}: ${train.tokensPerS.toFixed(0)} tokens/s (${train.cpuTokensPerS.toFixed(0)} by CPU time; ${train.msPerStep.toFixed(1)} ms per step of ${train.tokensPerStep} tokens; first step after ${(train.firstStepMs / 1000).toFixed(1)} s)`);

  } finally {
    dev.destroy();
  }

  // Sampling as `arch sample` runs it: a process of its own, on the calling thread ('latency');
  // and, for comparison, with Mesa's thread pool ('throughput', what training uses).
  const runs = quick ? 1 : 3;
  const sampling = samplingRuns(quick ? 24 : 63, 'latency', runs);
  const pooled = samplingRuns(quick ? 24 : 63, 'throughput', runs);
  results.sampling = sampling.status === 'measured' && pooled.status === 'measured' ? { ...sampling, threadPoolTokensPerS: pooled.tokensPerS } : sampling;
  log(
    sampling.status === 'measured'
      ? `sampling (KV cache): ${sampling.tokensPerS.toFixed(0)} tokens/s (${sampling.cpuTokensPerS.toFixed(0)} by CPU time; median of ${runs} processes x ${sampling.repeats} generations of ${sampling.tokens} tokens, range ${sampling.rangeTokensPerS.join('-')}; ${pooled.status === 'measured' ? pooled.tokensPerS.toFixed(0) : '?'} with the thread pool)`
      : `sampling: unavailable (${sampling.reason})`,
  );

  const checks = (['bundle', 'modules'] as const).map((entry) => checkTime(entry, quick ? 3 : 5));
  results.check = checks.map((c) => ({ ...c, bestMs: Math.round(c.bestMs), medianMs: Math.round(c.medianMs), ...(c.cpuMs === undefined ? {} : { cpuMs: Math.round(c.cpuMs) }) }));
  for (const c of checks) log(`arch check models/gpt2.arch (${c.entry === 'bundle' ? 'bundled CLI' : 'unbundled modules'}): ${c.medianMs.toFixed(0)} ms median, ${c.bestMs.toFixed(0)} ms best (wall, fresh process${c.cpuMs === undefined ? '' : `; the median run ${c.cpuMs.toFixed(0)} ms of CPU`})`);
  const pipelines = results.pipelines as ReturnType<typeof pipelineCount>;
  const cold = coldFirstStep();
  results.coldStart = cold;
  log(`cold start: ${pipelines.pipelines} distinct pipelines for ${pipelines.kernels} kernels (${pipelines.literalPipelines} with literal sizes; ${pipelines.newAtOtherBatch} new at batch ${SPEED_CONFIG.batch + 1}); first training step ${cold.firstStepS.toFixed(1)} s with Mesa's shader cache disabled${cold.cpuS === undefined ? '' : ` (the process: ${cold.cpuS.toFixed(1)} s of CPU)`}`);
  const memory = gpt2TrainingMemory(8, 1024);
  results.gpt2TrainingMemory = memory;
  const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;
  log(`GPT-2 small training plan, B = 8, L = 1024: training graph ${gb(memory.train.buffers)} of buffers + ${gb(memory.train.textures)} of textures, evaluation graph ${gb(memory.eval.buffers)} + ${gb(memory.eval.textures)}, slabs ${gb(memory.slab.params)} + ${gb(memory.slab.grads)}`);
  results.loadAverageAfter = loadavg().map((x) => Number(x.toFixed(2)));

  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, JSON.stringify(results, null, 2) + '\n');
  log(`written to ${outFile}`);
}

/** The environment as the user gave it: opening this process's device sets Mesa's thread count in
 *  process.env (OpenDeviceOptions.workload), which a child must not inherit, since each child
 *  chooses its own workload. */
const USER_ENV = { ...process.env };

/** The median process (by its median tokens/s) of `runs` fresh processes; the range spans all
 *  their repeats. */
function samplingRuns(tokens: number, workload: 'latency' | 'throughput', runs: number): SamplingSpeed {
  const child = fileURLToPath(new URL('./sampling-child.js', import.meta.url));
  const results: SamplingSpeed[] = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, [child, String(tokens), workload], { encoding: 'utf8', env: USER_ENV });
    const line = r.stdout.trim().split('\n').at(-1) ?? '';
    try {
      results.push(JSON.parse(line) as SamplingSpeed);
    } catch {
      results.push({ status: 'unavailable', reason: `the sampling process failed (exit ${r.status}): ${r.stderr.trim().split('\n').at(-1) ?? ''}` });
    }
  }
  const measured = results.filter((r) => r.status === 'measured').sort((a, b) => a.tokensPerS - b.tokensPerS);
  if (measured.length === 0) return results[0]!;
  const m = measured[Math.floor(measured.length / 2)]!;
  return {
    ...m,
    tokensPerS: round(m.tokensPerS),
    msPerToken: round(m.msPerToken),
    cpuTokensPerS: round(m.cpuTokensPerS),
    rangeTokensPerS: [round(measured[0]!.rangeTokensPerS[0]), round(measured.at(-1)!.rangeTokensPerS[1])],
    stepwiseTokensPerS: round(m.stepwiseTokensPerS),
    compileAndFirstMs: Math.round(m.compileAndFirstMs),
  };
}

const round = (x: number): number => Number(x.toFixed(x >= 100 ? 0 : 2));
const roundAll = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v])) as T;

await main();
