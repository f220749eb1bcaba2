// One in-process part of `bench/ab.ts`, in a fresh process whose working directory is the checkout
// measured (built with `npm run build`): it imports that checkout's own bench and device modules
// from its dist/, so each side is measured by its own code, and prints one JSON line.
//
//   node dist/bench/ab-child.js coldstep|kernels|step|training      (cwd: the checkout)
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ArchDevice } from '../src/runtime/device.js';
import type { TrainRequest } from '../src/session/train.js';
import { speedTrainRequest } from './speed-config.js';

type Training = typeof import('./training.js');
type Matmul = typeof import('./matmul.js');

const tree = process.cwd();
const from = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(tree, 'dist', path)).href)) as T;

/** openDevice from where the checkout has it: src/host/node since the session layer, src/runtime before. */
async function open(): Promise<ArchDevice> {
  const path = ['src/host/node/device.js', 'src/runtime/device.js'].find((p) => existsSync(join(tree, 'dist', p)));
  if (path === undefined) throw new Error(`no built openDevice under ${tree}/dist (run npm run build there)`);
  // as `arch train` opens it (older checkouts ignore the workload)
  const { openDevice } = await from<{ openDevice: (o: { workload: 'throughput' }) => Promise<ArchDevice> }>(path);
  return openDevice({ workload: 'throughput' });
}

/** Process CPU seconds (user + system) since the process started. */
const cpuS = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};

type OnStep = { onStep: () => void };
/** The checkout's trainRun, called the way its own CLI calls it: since the session layer,
 *  trainRun(env, request, context with claimRun); before, trainRun(request, context). */
async function trainer(): Promise<(dev: ArchDevice, req: TrainRequest, hooks: OnStep) => Promise<unknown>> {
  if (existsSync(join(tree, 'dist/src/session/train.js'))) {
    const { trainRun } = await from<typeof import('../src/session/train.js')>('src/session/train.js');
    const { nodeEnv, claimRunDir } = await from<typeof import('../src/host/node/index.js')>('src/host/node/index.js');
    return (device, req, hooks) => trainRun(nodeEnv({ quiet: true }), req, { device, claimRun: claimRunDir, ...hooks });
  }
  type OldTrainRun = (req: TrainRequest, ctx: { device: ArchDevice; quiet: boolean } & OnStep) => Promise<unknown>;
  const { trainRun } = await from<{ trainRun: OldTrainRun }>('src/cli/commands/train.js');
  return (device, req, hooks) => trainRun(req, { device, quiet: true, ...hooks });
}

const parts: Record<string, (dev: ArchDevice) => Promise<unknown>> = {
  // One step of trainRun on the speed config; run with MESA_SHADER_CACHE_DISABLE=true (bench/ab.ts
  // sets it), this is the cold first step: the process's CPU and wall time from its start to the
  // end of step 1 (module loading, the device, data, compiling, every shader's first dispatch).
  async coldstep(dev) {
    const run = await trainer();
    const { TRAIN_DEFAULTS } = await from<typeof import('../src/runtime/train/loop.js')>('src/runtime/train/loop.js');
    const out = mkdtempSync(join(tmpdir(), 'arch-ab-cold-'));
    let first: { cpuS: number; wallS: number } | undefined;
    try {
      await run(dev, speedTrainRequest(1, join(out, 'run'), TRAIN_DEFAULTS), {
        onStep: () => {
          first ??= { cpuS: cpuS(), wallS: performance.now() / 1000 };
        },
      });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
    return { ...first, shaderCache: process.env.MESA_SHADER_CACHE_DISABLE === 'true' ? 'disabled' : 'on' };
  },
  // The default contraction kernel, warm, best of 3 (as npm run bench).
  async kernels(dev) {
    const { benchContraction } = await from<Matmul>('bench/matmul.js');
    const out = [];
    for (const size of [128, 256, 512]) {
      const r = await benchContraction(dev.device, 'default', size, {}, 3);
      out.push({ size, gflops: r.gflops, cpuGflops: r.cpuGflops });
    }
    return out;
  },
  // Forward + backward of the speed config (median of 5), and of it at L = 256 with attention streamed.
  async step(dev) {
    const { speedGraph, stepTime, LONG_CONFIG } = await from<Training>('bench/training.js');
    const speed = speedGraph();
    const long = speedGraph(LONG_CONFIG);
    const fused = await stepTime(dev, speed.built, speed.symbols, {}, 5);
    const streamed = await stepTime(dev, long.built, long.symbols, {}, 5);
    return { fused: { ms: fused.ms, cpuMs: fused.cpuMs }, long: { ms: streamed.ms, cpuMs: streamed.cpuMs } };
  },
  // trainRun on tiny Shakespeare, 30 steps, steady state after 3 (as npm run bench).
  async training(dev) {
    const { trainingSpeed } = await from<Training>('bench/training.js');
    const r = await trainingSpeed(dev, 30);
    return { tokensPerS: r.tokensPerS, cpuTokensPerS: r.cpuTokensPerS, msPerStep: r.msPerStep, firstStepMs: r.firstStepMs, finalLoss: r.finalLoss };
  },
};

const part = parts[process.argv[2] ?? ''];
if (part === undefined) {
  process.stderr.write(`usage: node dist/bench/ab-child.js ${Object.keys(parts).join('|')} (in the checkout measured)\n`);
  process.exit(2);
}
const dev = await open();
try {
  process.stdout.write(JSON.stringify(await part(dev)) + '\n');
} finally {
  dev.destroy();
}
process.exit(0);
