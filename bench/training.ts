// Training-speed figures for `npm run bench`: dispatches per step and forward + backward step time,
// fused and unfused, and end-to-end training tokens/s through the same path as `arch train`.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../src/session/model.js';
import { nodeEnv } from '../src/host/node/index.js';
import { buildGraph, type Built } from '../src/session/pipeline.js';
import { bindSymbols, OPTIMIZER_DISPATCHES } from '../src/session/kernels.js';
import { randomInputs, timeSteps } from '../src/session/profile.js';
import { trainRun } from '../src/session/train.js';
import { claimRunDir } from '../src/host/node/index.js';
import { initParams } from '../src/ir/index.js';
import { compileGraph, DEFAULT_LIMITS, planGraph, type CompileOptions, type PlanLimits } from '../src/runtime/executor.js';
import { TRAIN_DEFAULTS } from '../src/runtime/train/loop.js';
import type { ArchDevice } from '../src/runtime/device.js';

import { SHAKESPEARE, SPEED_CONFIG, speedTrainRequest } from './speed-config.js';

export { SHAKESPEARE, SPEED_CONFIG };

/** The speed config at a longer context, the same 512 tokens a step: where streaming attention
 *  (no L x M tensor, forward or backward) shows against the materialised chain. */
export const LONG_CONFIG = { ...SPEED_CONFIG, sets: { ...SPEED_CONFIG.sets, L: '256' }, batch: 2, length: 256 };

export function speedGraph(config: typeof SPEED_CONFIG = SPEED_CONFIG): { built: Built; symbols: Record<string, number> } {
  const { model } = loadModel(nodeEnv(), config.file, new Map(Object.entries({ ...config.sets, V: '65' })), { quietWarnings: true });
  const built = buildGraph(model, { training: true, grad: true });
  return { built, symbols: bindSymbols(built, { batch: config.batch, length: config.length }) };
}

export interface DispatchCounts {
  fused: number;
  unfused: number;
  /** Included in both: gradient norm, clip scale, AdamW. */
  optimizer: number;
}

/** Dispatches per step under the adapter's limits (more storage buffers a kernel: fewer kernels). */
export function dispatchCounts(built: Built, symbols: Record<string, number>, limits: PlanLimits = DEFAULT_LIMITS): DispatchCounts {
  const fused = planGraph(built.graph, symbols, {}, limits).plan.dispatchesPerRun;
  const unfused = planGraph(built.graph, symbols, { unfused: true }, limits).plan.dispatchesPerRun;
  return { fused: fused + OPTIMIZER_DISPATCHES, unfused: unfused + OPTIMIZER_DISPATCHES, optimizer: OPTIMIZER_DISPATCHES };
}

export interface StepTime {
  /** Median forward + backward run, end to end (inputs in, loss out). */
  ms: number;
  /** The same from the process's CPU time / cores (llvmpipe runs in-process): what an idle machine gives. */
  cpuMs: number;
  /** compileGraph plus the first run (pipelines, then the driver's shader compiles). */
  compileMs: number;
  kernels: number;
  /** Bytes of the plan's buffers (the memory plan's total). */
  bytes: number;
}

export async function stepTime(dev: ArchDevice, built: Built, symbols: Record<string, number>, options: CompileOptions, steps: number): Promise<StepTime> {
  const t0 = performance.now();
  const c = await compileGraph(dev, built.graph, symbols, options);
  try {
    c.setParams(Object.fromEntries(Object.entries(initParams(built.lowered.graph, {}, 1)).map(([k, v]) => [k, Float32Array.from(v)])));
    const inputs = randomInputs(built, symbols);
    await c.run({ inputs }, ['loss']);
    const compileMs = performance.now() - t0;
    const cpu0 = process.cpuUsage();
    const ms = await timeSteps((i) => c.run({ inputs, seed: i }, ['loss']), steps);
    const cpu = process.cpuUsage(cpu0);
    // timeSteps runs one untimed warm-up step, then `steps`.
    const cpuMs = (cpu.user + cpu.system) / 1000 / (steps + 1) / availableParallelism();
    return { ms, cpuMs, compileMs, kernels: c.plan.kernels.length, bytes: c.plan.totalBytes };
  } finally {
    c.destroy();
  }
}

export interface TrainingSpeed {
  data: string;
  steps: number;
  tokensPerStep: number;
  /** Steady state: the steps after the first `warmup`, optimizer and data included. */
  tokensPerS: number;
  /** The same from the process's CPU time / cores: what an idle machine gives. */
  cpuTokensPerS: number;
  msPerStep: number;
  /** From the start of trainRun to the end of the first step: data, compiling both graphs, the shaders' first dispatch. */
  firstStepMs: number;
  finalLoss: number;
}

/** A real `arch train` run (trainRun) on tiny Shakespeare, or a built-in task where the file is absent. */
export async function trainingSpeed(dev: ArchDevice, steps: number, warmup = 3): Promise<TrainingSpeed> {
  const data = SHAKESPEARE;
  const out = mkdtempSync(join(tmpdir(), 'arch-bench-'));
  const stamps: number[] = [];
  const cpus: number[] = [];
  const started = performance.now();
  try {
    const outcome = await trainRun(
      nodeEnv({ quiet: true }),
      speedTrainRequest(steps, out, TRAIN_DEFAULTS),
      { device: dev, claimRun: claimRunDir, onStep: () => {
          stamps.push(performance.now());
          const c = process.cpuUsage();
          cpus.push((c.user + c.system) / 1000);
        } },
    );
    const tokens = SPEED_CONFIG.batch * SPEED_CONFIG.length;
    const w = Math.min(warmup, stamps.length - 2);
    const ms = (stamps.at(-1)! - stamps[w]!) / (stamps.length - 1 - w);
    const cpuMs = (cpus.at(-1)! - cpus[w]!) / (cpus.length - 1 - w) / availableParallelism();
    // The first stamp counts from the start of trainRun: data, compile and the first step.
    return { data, steps, tokensPerStep: tokens, tokensPerS: (tokens / ms) * 1000, cpuTokensPerS: (tokens / cpuMs) * 1000, msPerStep: ms, firstStepMs: stamps[0]! - started, finalLoss: outcome.trainLoss };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
