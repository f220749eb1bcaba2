// A training run, start to finish, for any host: the data opened through the host, the model
// compiled (V and C from the data unless --set says otherwise), its place claimed, weights made or
// read, the backend compiled, then the loop with validation, checkpoints and metrics. What the run
// says goes to env.log and ctx's events; the host draws progress and writes the summary.
import { compileSource } from '../compiler/compile.js';
import { modelStats } from '../compiler/stats.js';
import { openData, tokenizerFromJSON, type DataSource, type RngState } from '../data/index.js';
import { initParams } from '../ir/index.js';
import { minOf } from '../report/extent.js';
import { fitCheckpoint } from '../runtime/checkpoint-fit.js';
import type { ArchDevice, KernelChoice } from '../runtime/device.js';
import type { OptimizerState, TrainBackend, Weights } from '../runtime/train/backend.js';
import type { CheckpointMeta, LoadedCheckpoint } from '../runtime/train/checkpoint.js';
import type { InputSpec } from '../runtime/train/feeds.js';
import { InterpreterBackend } from '../runtime/train/interpreter-backend.js';
import { averageRate, trainLoop, TRAIN_DEFAULTS, type StepMetrics, type TrainOptions } from '../runtime/train/loop.js';
import { createWebGPUBackend } from '../runtime/train/webgpu-backend.js';
import { paramShapes } from '../runtime/weights.js';
import { compileForCheckpoint, loadCheckpoint, resumeSourceNote } from './checkpoint-model.js';
import type { SessionEnv } from './env.js';
import { checkModelFits, PARAM_COPIES } from './fits.js';
import { loadModel, readModelFile } from './model.js';
import { inputRoles } from './model-io.js';
import { buildGraph } from './pipeline.js';
import { checkClasses, dimsFromData, trainLength, trainSymbols } from './train-setup.js';

export { TRAIN_DEFAULTS, type StepMetrics };

export interface TrainRequest {
  file: string;
  data: string;
  tokenizer: string;
  steps: number;
  batch: number;
  seed: number;
  lr: number;
  schedule: string;
  warmup: number;
  minLr: number;
  weightDecay: number;
  gradClip: number;
  accum: number;
  evalEvery: number;
  evalBatches: number;
  backend: string;
  /** Kernel templates for a WebGPU backend (default 'auto': by adapter); not part of the run's
   *  settings, so a resumed run may change it. */
  kernels?: KernelChoice;
  sets: Map<string, string>;
  out?: string;
  resumeDir?: string;
  resumed?: LoadedCheckpoint;
  initFrom?: string;
  /** Start over in an `out` that holds a run (its files are moved aside once this run starts). */
  force?: boolean;
}

/** Where a run's files go: the host claims a place for it once the model is known (the Node
 *  host's RunDir: a locked directory, never an earlier run overwritten) and writes there. */
export interface RunStore {
  readonly dir: string;
  readonly checkpointPath: string;
  readonly metricsPath: string;
  readonly plotPath: string;
  /** The run so far: a resumed run's metrics up to its checkpoint, then this run's. */
  readonly history: { train: [number, number][]; val: [number, number][] };
  /** The step of the last checkpoint saved, if any. */
  readonly checkpointStep: number | undefined;
  /** The run has really started (its first step is done): the place becomes its own. */
  begin(): void;
  appendMetrics(entry: object): void;
  saveCheckpoint(weights: Weights, shapes: Map<string, number[]>, opt: OptimizerState | null, meta: CheckpointMeta): void;
  savePlot(title: string, history: { train: [number, number][]; val: [number, number][] }, ideal?: number): void;
  /** Lets the place go, however the run ended. */
  finish(): void;
}

export interface ClaimOptions {
  dir: string;
  force: boolean;
  resume?: { dir: string; step: number };
  /** The command to suggest in messages, e.g. `arch train models/gpt-nano.arch`. */
  command: string;
  log(text: string): void;
}

/** What a run is about to do, once its model, data and backend are ready. */
export interface TrainStart {
  model: string;
  params: number;
  steps: number;
  length: number;
  backend: string;
  dir: string;
  idealLoss?: number;
  /** What predicts nothing scores: a uniform guess over the C classes of the loss, ln C. */
  chanceLoss?: { classes: number; loss: number; of: 'tokens' | 'classes' };
}

export interface TrainContext {
  /** Claims the run's place (src/host/node's claimRunDir in Node). */
  claimRun(o: ClaimOptions): RunStore;
  /** A device to share across runs (ablate); otherwise one is opened through the host and closed here. */
  device?: ArchDevice;
  stopRequested?: () => boolean;
  onStart?: (s: TrainStart) => void;
  onStep?: (m: StepMetrics) => void;
  onEval?: (m: { step: number; val_loss: number }) => void;
}

export interface TrainOutcome {
  step: number;
  stopped: boolean;
  diverged: boolean;
  /** The step whose loss or update was not finite. */
  divergedAt?: number;
  outDir: string;
  model: string;
  params: number;
  flopsPerToken: number;
  trainLoss: number;
  bestTrainLoss: number;
  valLoss: number;
  bestValLoss: number;
  tokensPerS: number;
  elapsedS: number;
  history: { train: [number, number][]; val: [number, number][] };
  /** Why the run diverged (the loss or a weight that was not finite). */
  divergedWhy?: string;
  /** The last checkpoint saved, and its step (a diverged run keeps the one before). */
  checkpointStep?: number;
  checkpointPath: string;
  metricsPath: string;
  plotPath: string;
  /** `arch sample` can continue the model: a language model with logits. */
  samplable: boolean;
  /** The metrics of this run's last step; undefined when it ran none. */
  lastStep?: StepMetrics;
}

/** One training run, start to finish: what `arch train` does, and what `arch ablate` repeats.
 *  The run's place is claimed once the model is known, and let go however it ends. Text (notes,
 *  "compiling for ...") goes to env.log; steps, evaluations and the start are ctx's events. */
export async function trainRun(env: SessionEnv, req: TrainRequest, ctx: TrainContext): Promise<TrainOutcome> {
  const claimed: { run?: RunStore } = {};
  try {
    return await trainClaimed(env, req, ctx, claimed);
  } finally {
    claimed.run?.finish();
  }
}

async function trainClaimed(env: SessionEnv, req: TrainRequest, ctx: TrainContext, claimed: { run?: RunStore }): Promise<TrainOutcome> {
  const { file, sets, resumed, resumeDir } = req;
  const o = { data: req.data, tokenizer: req.tokenizer, batch: req.batch, seed: req.seed, lr: req.lr, schedule: req.schedule, warmup: req.warmup, minLr: req.minLr, weightDecay: req.weightDecay, gradClip: req.gradClip, accum: req.accum, evalEvery: req.evalEvery, evalBatches: req.evalBatches, backend: req.backend };
  const log = env.log;

  // Data first: its vocabulary decides V (and a task's classes decide C) unless --set says otherwise.
  const tokenizer = resumed?.meta?.tokenizer ? tokenizerFromJSON(resumed.meta.tokenizer) : undefined;
  const data: DataSource = openData(o.data, { tokenizer: tokenizer ?? (o.tokenizer as 'char' | 'gpt2'), readFile: env.host.readFile });
  const source = resumed ? resumed.meta!.modelSource : readModelFile(env.host.readFile, file);
  if (resumed) log(resumeSourceNote(env.host.readFile, file, source) ?? '');
  const first = compileSource(file, source, sets);
  if (first.model && !resumed) for (const note of dimsFromData(first.model, data, sets)) log(`note: ${note}\n`);
  // A resumed run continues the model it was trained with, whatever the file holds now.
  const model = resumed ? compileForCheckpoint(env, file, resumed, new Map(), source) : loadModel(env, file, sets, { quietWarnings: true, source }).model; // the text read above: the one the checkpoints record
  const run = (claimed.run = ctx.claimRun({
    dir: req.out ?? resumeDir ?? `runs/${model.name}`,
    force: Boolean(req.force),
    resume: resumed && resumeDir ? { dir: resumeDir, step: resumed.meta!.step } : undefined,
    command: `arch train ${file}`,
    log,
  }));
  const train = buildGraph(model, { training: true, grad: true });
  const evalG = buildGraph(model);
  const roles = inputRoles(train.lowered);
  checkClasses(model, train.lowered, roles, data);
  // `arch sample` continues one token stream: a language model with logits.
  const samplable = evalG.graph.outputs.has('logits') && roles.every((r) => r.role === 'tokens' || r.role === 'targets');
  const L = trainLength(model, train.lowered, roles, data, file);
  const shapes = new Map(paramShapes(train.graph).map((p) => [p.name, p.shape]));
  checkModelFits(train, { batch: o.batch, paramCopies: PARAM_COPIES.training, limits: ctx.device?.limits, memoryBytes: env.host.memoryBytes() });
  let weights: Weights;
  if (resumed) weights = fitCheckpoint(resumed, paramShapes(train.graph), model, true).weights;
  else if (req.initFrom) weights = fitCheckpoint(loadCheckpoint(env.host.readFile, req.initFrom), paramShapes(train.graph), model).weights;
  else weights = new Map(Object.entries(initParams(train.lowered.graph, {}, o.seed)).map(([k, v]) => [k, Float32Array.from(v)]));

  let device: ArchDevice | undefined;
  let backend: TrainBackend;
  try {
    if (o.backend === 'interpreter') backend = new InterpreterBackend(train.graph, evalG.graph, weights, resumed?.optimizer ?? undefined);
    else {
      device = ctx.device ?? (await env.host.openDevice({ backend: o.backend === 'webgpu' ? undefined : o.backend, workload: 'throughput', kernels: req.kernels }));
      const symbols = trainSymbols(train.lowered, roles, data, o.batch, L);
      log(`compiling for ${device.info.adapterName || device.info.backend} (${device.info.backend})...\n`);
      backend = await createWebGPUBackend(device, train.graph, evalG.graph, { symbols, weights, state: resumed?.optimizer ?? undefined });
    }
  } catch (e) {
    if (!ctx.device) device?.destroy();
    throw e;
  }
  try {
    const lossRole = roles.find((r) => r.role === 'targets' || r.role === 'labels');
    const classes = lossRole && train.lowered.inputs.get(lossRole.name)?.classes;
    return await trainLoaded({ env, req, ctx, o, run, backend, data, roles, L, shapes, model, source, samplable, classes, classesOf: lossRole?.role === 'labels' ? 'classes' : 'tokens' });
  } finally {
    backend.dispose();
    if (!ctx.device) device?.destroy();
  }
}
type LoadedModel = ReturnType<typeof loadModel>['model'];

interface Loaded {
  env: SessionEnv;
  req: TrainRequest;
  ctx: TrainContext;
  o: Omit<TrainRequest, 'file' | 'steps' | 'sets' | 'out' | 'resumeDir' | 'resumed' | 'initFrom' | 'force'>;
  run: RunStore;
  backend: TrainBackend;
  data: DataSource;
  roles: InputSpec[];
  L: number;
  shapes: Map<string, number[]>;
  model: LoadedModel;
  source: string;
  samplable: boolean;
  /** The classes of the loss's targets (V for a language model). */
  classes?: number;
  classesOf: 'tokens' | 'classes';
}

/** The loop of a run whose model, data, backend and directory are ready. */
async function trainLoaded(p: Loaded): Promise<TrainOutcome> {
  const { env, req, ctx, o, run, backend, data, L, model } = p;
  const { file, steps, resumed } = req;
  const opts: TrainOptions = {
    steps,
    batch: o.batch,
    length: L,
    accum: o.accum,
    seed: o.seed,
    schedule: { lr: o.lr, minLr: o.minLr, warmup: o.warmup, steps, kind: o.schedule as 'cosine' },
    adamw: { ...TRAIN_DEFAULTS, weightDecay: o.weightDecay },
    gradClip: o.gradClip,
    evalEvery: o.evalEvery,
    evalBatches: o.evalBatches,
  };
  const params = [...p.shapes.values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  const ideal = data.idealLoss?.(L);
  const chanceLoss = p.classes ? { classes: p.classes, loss: Math.log(p.classes), of: p.classesOf } : undefined;
  ctx.onStart?.({ model: model.name, params, steps, length: L, backend: backend.name, dir: run.dir, idealLoss: ideal, chanceLoss });
  const history = run.history;
  let lastStep: StepMetrics | undefined;
  let firstStep: StepMetrics | undefined;
  let diverged: { step: number; why: string } | undefined;
  const meta = (step: number, rng: RngState, elapsedS: number): CheckpointMeta => ({
    step,
    elapsedS,
    rng,
    tokenizer: data.tokenizer.toJSON(),
    modelFile: file,
    modelSource: p.source,
    sets: Object.fromEntries(req.sets),
    data: o.data,
    options: { ...o },
  });
  const result = await trainLoop(backend, data, p.roles, opts, {
    onStep(m) {
      lastStep = m;
      firstStep ??= m;
      ctx.onStep?.(m);
      if (!Number.isFinite(m.loss)) diverged ??= { step: m.step, why: `the loss is ${m.loss}` };
      run.appendMetrics(m);
      history.train.push([m.step, m.loss]);
    },
    onEval(m) {
      ctx.onEval?.(m);
      if (!Number.isFinite(m.val_loss)) diverged ??= { step: m.step, why: `the validation loss is ${m.val_loss}` };
      run.appendMetrics(m);
      history.val.push([m.step, m.val_loss]);
    },
    stopRequested: () => diverged !== undefined || Boolean(ctx.stopRequested?.()),
    pause: env.host.pause,
    async checkpoint(step, rng, elapsedS) {
      run.begin();
      if (diverged) return; // the last good checkpoint stays
      const weights = await backend.weights();
      const state = await backend.optimizerState();
      // A finite loss does not mean finite weights: this step's update may have overflowed.
      const bad = firstNonFinite(weights) ?? firstNonFinite(state.m, 'the optimizer moment of ') ?? firstNonFinite(state.v, 'the optimizer moment of ');
      if (bad) {
        diverged = { step, why: `${bad} is not finite after the update` };
        return;
      }
      run.saveCheckpoint(weights, p.shapes, state, meta(step, rng, elapsedS));
      run.savePlot(`${model.name} on ${o.data}`, history, ideal);
    },
  }, resumed ? { step: resumed.meta!.step, rng: resumed.meta!.rng as RngState, elapsedS: resumed.meta!.elapsedS } : undefined);
  const val = history.val.at(-1)?.[1];
  const runRate = lastStep && firstStep ? averageRate(firstStep, lastStep, o.batch * L * o.accum) : undefined;
  const finite = (xs: [number, number][]) => xs.map((x) => x[1]).filter(Number.isFinite);
  return {
    step: result.step,
    stopped: result.stopped && !diverged,
    diverged: diverged !== undefined,
    divergedAt: diverged?.step,
    outDir: run.dir,
    model: model.name,
    params,
    flopsPerToken: modelStats(model).flopsPerToken,
    trainLoss: lastStep?.loss ?? NaN,
    bestTrainLoss: minOf(finite(history.train)),
    valLoss: val ?? NaN,
    bestValLoss: minOf(finite(history.val)),
    tokensPerS: runRate ?? 0,
    elapsedS: lastStep?.elapsed_s ?? 0,
    history,
    divergedWhy: diverged?.why,
    checkpointStep: run.checkpointStep,
    checkpointPath: run.checkpointPath,
    metricsPath: run.metricsPath,
    plotPath: run.plotPath,
    samplable: p.samplable,
    lastStep,
  };
}

/** The first tensor holding a NaN or an infinity, named, or undefined when all are finite. */
function firstNonFinite(tensors: Weights, prefix = ''): string | undefined {
  for (const [name, t] of tensors) for (let i = 0; i < t.length; i++) if (!Number.isFinite(t[i]!)) return `${prefix}${name}[${i}]`;
  return undefined;
}
