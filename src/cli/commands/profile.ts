// `arch profile`: where a training step's time goes. Compiles the forward + backward graph as
// `arch train` does, times every fused kernel from the CPU (adapters like llvmpipe have no
// timestamp queries), and sets the kernels against what a dispatch costs when it does nothing, so
// a user sees why a small model can be slower on a GPU than its FLOPs suggest. With --decode, the
// same for one step of KV-cache decoding as `arch sample` runs it.
import { oneFile, SET_HELP, UsageError, type CommandSpec } from '../args.js';
import { loadModel, cliEnv } from '../load.js';
import { numberFlag, parseNumber, RULES } from '../options.js';
import { BACKEND_HELP, KERNELS_HELP, deviceFor, parseBackend, parseKernels } from '../device.js';
import { sizeArgs } from './compile.js';
import { buildGraph } from '../../session/pipeline.js';
import { paramRoles } from '../../compiler/param-roles.js';
import { bindSymbols } from '../../session/kernels.js';
import { checkModelFits, PARAM_COPIES } from '../../session/fits.js';
import { formatComparison, formatProfile, profileDecoding, profileTraining, type Profile } from '../../session/profile.js';
import type { ArchDevice } from '../../runtime/device.js';
import { NoAdapterError } from '../../host/node/device.js';

/** The Dawn backends --compare-backends tries, in turn. */
const DAWN_BACKENDS = ['vulkan', 'opengles'] as const;

/** Timed steps and repetitions: each one runs the whole step or kernel, so a few thousand is plenty. */
const PROFILE_MAX_REPS = 10_000;

export const profileCommand: CommandSpec = {
  name: 'profile',
  summary: "time a training step's fused kernels: where the time goes, dispatch overhead, compile time",
  usage: 'arch profile FILE [--decode [--position P]] [--batch B] [--length L] [--steps N] [--reps R] [--repeats N] [--backend NAME] [--kernels auto|gpu|cpu] [--json] [--set NAME=VALUE ...]',
  options: {
    set: { type: 'string', multiple: true },
    batch: { type: 'string' },
    length: { type: 'string' },
    steps: { type: 'string' },
    reps: { type: 'string' },
    repeats: { type: 'string' },
    top: { type: 'string' },
    backend: { type: 'string' },
    kernels: { type: 'string' },
    unfused: { type: 'boolean' },
    decode: { type: 'boolean' },
    position: { type: 'string' },
    json: { type: 'boolean' },
    verbose: { type: 'boolean' },
    'compare-backends': { type: 'boolean' },
  },
  help: [
    SET_HELP,
    ['--batch B', 'sequences per step (default 8)'],
    ['--length L', "sequence length (default: the model's context length)"],
    ['--steps N', 'forward + backward steps timed end to end (default 5)'],
    ['--reps R', 'dispatches per kernel when timing kernels one by one (default 5)'],
    ['--repeats N', 'time every kernel N times and report the median with its min-max (default 3)'],
    ['--top N', 'show only the N slowest kernels (the totals still count them all)'],
    ['--unfused', 'one kernel per op, to see what fusion saves'],
    ['--decode', 'profile one step of KV-cache decoding (one token, as `arch sample` runs it) instead of a training step'],
    ['--position P', "with --decode: the position decoded, which sets how many cached keys attention reads (default: the middle of the context)"],
    ['--json', 'print the profile as JSON'],
    ['--compare-backends', `the same step on every Dawn backend that opens an adapter here (${DAWN_BACKENDS.join(', ')}), side by side`],
    BACKEND_HELP,
    KERNELS_HELP,
  ],
  examples: ['arch profile models/gpt-nano.arch', 'arch profile models/gpt-nano.arch --set D=128 --set N=4 --top 15', 'arch profile models/gpt-nano.arch --set D=128 --set N=4 --decode'],
  async run(args) {
    const file = oneFile(args, profileCommand);
    const steps = numberFlag(args, 'steps', 5, RULES.count(PROFILE_MAX_REPS));
    const reps = numberFlag(args, 'reps', 5, RULES.count(PROFILE_MAX_REPS));
    const repeats = numberFlag(args, 'repeats', 3, RULES.count(PROFILE_MAX_REPS));
    const top = numberFlag(args, 'top', Number.MAX_SAFE_INTEGER, RULES.count(Number.MAX_SAFE_INTEGER));
    const backend = parseBackend(args.values.backend);
    const kernels = parseKernels(args.values.kernels);
    if (backend === 'interpreter') throw new UsageError('profile times WebGPU kernels: choose a WebGPU backend (webgpu, vulkan, opengles)');
    const { model } = loadModel(file, args.sets, { quietWarnings: true });
    const decode = Boolean(args.values.decode);
    if (!decode && args.values.position !== undefined) throw new UsageError('--position goes with --decode');
    const built = decode ? undefined : buildGraph(model, { training: true, grad: true });
    const symbols = built ? bindSymbols(built, sizeArgs(args)) : {};
    const o = { steps, reps, repeats, unfused: Boolean(args.values.unfused), roles: paramRoles(model) };
    const profileOn = async (dev: ArchDevice): Promise<Profile> => {
      if (!args.values.json) process.stderr.write(`profiling ${model.name} on ${dev.info.adapterName} (${dev.info.backend})...\n`);
      if (built) checkModelFits(built, { symbols, paramCopies: PARAM_COPIES.training, limits: dev.limits, memoryBytes: cliEnv.host.memoryBytes() });
      return built ? profileTraining(dev, model.name, built, symbols, o) : profileDecoding(cliEnv, dev, model, args.values.position === undefined ? undefined : (context) => parseNumber('position', String(args.values.position), { whole: true, min: 0, max: context - 1 }), o);
    };
    const workload = decode ? 'latency' : 'throughput';
    if (args.values['compare-backends']) {
      if (args.values.backend !== undefined) throw new UsageError('--compare-backends runs every backend; drop --backend');
      const runs: { backend: string; profile?: Profile; why?: string }[] = [];
      for (const b of DAWN_BACKENDS) {
        let dev: ArchDevice;
        try {
          dev = await deviceFor(b, Boolean(args.values.verbose), workload, kernels);
        } catch (e) {
          if (!(e instanceof NoAdapterError)) throw e;
          runs.push({ backend: b, why: e.attempts.map((a) => a.outcome).join('; ') || 'no adapter' });
          continue;
        }
        try {
          runs.push({ backend: b, profile: await profileOn(dev) });
        } finally {
          dev.destroy();
        }
      }
      if (!runs.some((r) => r.profile)) throw new NoAdapterError(runs.map((r) => ({ backend: r.backend, outcome: r.why ?? 'no adapter' })));
      process.stdout.write(args.values.json ? JSON.stringify({ backends: runs }, null, 2) + '\n' : formatComparison(runs));
      return 0;
    }
    const dev = await deviceFor(backend, Boolean(args.values.verbose), workload, kernels);
    try {
      const p = await profileOn(dev);
      process.stdout.write(args.values.json ? JSON.stringify(p, null, 2) + '\n' : formatProfile(p, top));
    } finally {
      dev.destroy();
    }
    return 0;
  },
};

