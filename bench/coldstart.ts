// Cold start for `npm run bench`: how many distinct pipelines a training graph compiles (kernels
// whose sizes are uniforms share one per structure; with literal sizes, one per shape), and the
// first step of `arch train` on the speed config with Mesa's shader cache disabled, in a fresh
// process as a user runs it (compiling every pipeline, then each shader at its first dispatch).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dispatchesOf, pipelineKey } from '../src/codegen/wgsl/index.js';
import { DEFAULT_LIMITS, planGraph, type PlanLimits } from '../src/runtime/executor.js';
import { SHAKESPEARE, SPEED_CONFIG, speedGraph } from './training.js';
import { withChildCpu } from './child-cpu.js';

export interface PipelineCount {
  kernels: number;
  /** Distinct pipelines with sizes as uniforms (the default). */
  pipelines: number;
  /** The same graph with sizes written into the WGSL. */
  literalPipelines: number;
  /** Pipelines the same graph at another batch size adds to the first's (0: none to compile). */
  newAtOtherBatch: number;
}

const keys = (codes: ReturnType<typeof planGraph>['codes']): Set<string> => new Set(codes.flatMap((c) => dispatchesOf(c).map((d) => pipelineKey(d.code))));

/** Distinct pipelines of the speed config's training graph (or another config), planned under the
 *  limits of the adapter in use. */
export function pipelineCount(config: typeof SPEED_CONFIG = SPEED_CONFIG, limits: PlanLimits = DEFAULT_LIMITS): PipelineCount {
  const { built, symbols } = speedGraph(config);
  const uniform = planGraph(built.graph, symbols, {}, limits);
  const literal = planGraph(built.graph, symbols, { uniformSizes: false }, limits);
  const other = speedGraph({ ...config, batch: config.batch + 1 });
  const mine = keys(uniform.codes);
  const added = [...keys(planGraph(other.built.graph, other.symbols, {}, limits).codes)].filter((k) => !mine.has(k)).length;
  return { kernels: uniform.codes.length, pipelines: mine.size, literalPipelines: keys(literal.codes).size, newAtOtherBatch: added };
}

export interface ColdStep {
  command: string;
  /** The first step's elapsed_s from metrics.jsonl (from the start of training to the end of step 1). */
  firstStepS: number;
  /** CPU seconds of the whole `arch train` process (start-up, data, compiling, the first step,
   *  the checkpoint): what the load moves less than the wall time. Absent without /proc. */
  cpuS?: number;
}

/** `arch train ... --steps 1` in a fresh process with MESA_SHADER_CACHE_DISABLE=true, in `cwd`
 *  (the checkout whose CLI is timed; default: this one). */
export function coldFirstStep(cwd = '.'): ColdStep {
  const out = mkdtempSync(join(tmpdir(), 'arch-cold-'));
  const sets = Object.entries(SPEED_CONFIG.sets).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
  const args = ['bin/arch.js', 'train', SPEED_CONFIG.file, '--data', SHAKESPEARE, ...sets, '--steps', '1', '--eval-every', '0', '--out', join(out, 'run')];
  try {
    const { result: r, cpuS } = withChildCpu(() => spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: { ...process.env, MESA_SHADER_CACHE_DISABLE: 'true' } }));
    if (r.status !== 0) throw new Error(`arch train failed (exit ${r.status}): ${r.stderr.trim().split('\n').at(-1) ?? ''}`);
    const first = JSON.parse(readFileSync(join(out, 'run', 'metrics.jsonl'), 'utf8').split('\n')[0]!) as { elapsed_s: number };
    return { command: `MESA_SHADER_CACHE_DISABLE=true node ${args.join(' ')}`, firstStepS: first.elapsed_s, ...(cpuS === undefined ? {} : { cpuS }) };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
