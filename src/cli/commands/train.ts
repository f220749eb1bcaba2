import { join } from 'node:path';
import { fmtInt, oneFile, SET_HELP, UsageError, type CommandSpec, type ParsedArgs } from '../args.js';
import { NO_INTERRUPT, onInterrupt } from '../interrupt.js';
import { FLAG_MAX, numberFlag, RULES } from '../options.js';
import { cliEnv, loadModel, readModelFile } from '../load.js';
import { nodeHost } from '../../host/node/index.js';
import { buildGraph } from '../../session/pipeline.js';
import { checkModelFits, PARAM_COPIES } from '../../session/fits.js';
import { classLetters, inputRoles } from '../../session/model-io.js';
import { fmtDuration, Progress } from '../progress.js';
import { compileSource } from '../../compiler/compile.js';
import { initParams } from '../../ir/index.js';
import { openData, tokenizerFromJSON, type DataSource, type RngState } from '../../data/index.js';
import { paramShapes } from '../../runtime/weights.js';
import { fitCheckpoint } from '../../runtime/checkpoint-fit.js';
import { loadCheckpoint, loadWeights } from '../../host/node/safetensors-file.js';
import { compileForCheckpoint, resumeSourceNote } from '../../session/checkpoint-model.js';
import { InterpreterBackend } from '../../runtime/train/interpreter-backend.js';
import { createWebGPUBackend } from '../../runtime/train/webgpu-backend.js';
import { BACKEND_HELP, deviceFor, parseBackend } from '../device.js';
import type { ArchDevice } from '../../runtime/device.js';
import type { CheckpointMeta, LoadedCheckpoint } from '../../runtime/train/checkpoint.js';
import { modelStats } from '../../compiler/stats.js';
import { averageRate, trainLoop, TRAIN_DEFAULTS, type StepMetrics, type TrainOptions } from '../../runtime/train/loop.js';
import { describeRoles, type InputSpec } from '../../runtime/train/feeds.js';
import type { TrainBackend, Weights } from '../../runtime/train/backend.js';
import { RunDir } from '../../host/node/run-dir.js';
import { checkOutDir } from '../../host/node/out-path.js';
import { readRegularFile } from '../../host/node/files.js';
import { minOf } from '../../report/extent.js';



export const trainCommand: CommandSpec = {
  name: 'train',
  summary: 'train a model on a text file or a built-in task; checkpoints, metrics and a loss plot in --out',
  usage: 'arch train FILE --data PATH|task:NAME [--steps N] [--batch B] [--seed S] [--out DIR] [--set NAME=VALUE ...] [optimizer flags]',
  options: {
    set: { type: 'string', multiple: true },
    data: { type: 'string' },
    tokenizer: { type: 'string' },
    steps: { type: 'string' },
    batch: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    lr: { type: 'string' },
    schedule: { type: 'string' },
    warmup: { type: 'string' },
    'min-lr': { type: 'string' },
    'weight-decay': { type: 'string' },
    'grad-clip': { type: 'string' },
    accum: { type: 'string' },
    dropout: { type: 'string' },
    'eval-every': { type: 'string' },
    'eval-batches': { type: 'string' },
    resume: { type: 'string' },
    force: { type: 'boolean' },
    'init-from': { type: 'string' },
    backend: { type: 'string' },
  },
  help: [
    ['--data PATH|task:NAME', 'a UTF-8 text file, or a built-in task: copy reverse sort add induction classify seq2seq'],
    ['--tokenizer char|gpt2', 'for text: characters (default) or GPT-2 BPE'],
    ['--steps N', 'optimizer steps (default 200)'],
    ['--batch B', `sequences per step (default ${TRAIN_DEFAULTS.batch})`],
    ['--seed S', 'seeds the initial weights, the data order and dropout (default 1)'],
    ['--out DIR', 'where checkpoint.safetensors, metrics.jsonl and loss.svg go (default runs/MODEL; made if missing); a DIR that holds a run is refused without --resume or --force; one arch at a time writes into a DIR'],
    SET_HELP,
    ['--lr X', `peak learning rate (default ${TRAIN_DEFAULTS.lr})`],
    ['--schedule cosine|constant', 'after warmup: cosine decay to --min-lr (default), or constant'],
    ['--warmup N', 'linear warmup steps (default steps/20)'],
    ['--min-lr X', 'the floor of the cosine decay (default lr/10)'],
    ['--weight-decay X', `AdamW decoupled weight decay on matrices (default ${TRAIN_DEFAULTS.weightDecay})`],
    ['--grad-clip X', `clip the global gradient norm (default ${TRAIN_DEFAULTS.gradClip}; 0: off)`],
    ['--accum N', 'accumulate gradients over N batches per step (default 1)'],
    ['--dropout P', "set the model's dropout variant (training only)"],
    ['--eval-every N', 'validation loss and a checkpoint every N steps (default steps/10)'],
    ['--eval-batches N', `validation batches per evaluation (default ${TRAIN_DEFAULTS.evalBatches})`],
    ['--resume DIR', 'continue the run in DIR from its checkpoint (same losses as uninterrupted); --steps may extend it; with --out NEW, continue into NEW and leave DIR as it is'],
    ['--force', "start over in an --out that holds a run: its files are moved to DIR.old-TIME (never deleted) once the new run's first step is done"],
    ['--init-from W', 'start from these weights (a safetensors file; a GPT-2 checkpoint works for models/gpt2.arch)'],
    BACKEND_HELP,
  ],
  examples: [
    'arch train models/gpt-nano.arch --data task:reverse --steps 300',
    'arch train models/gpt-nano.arch --data data/tinyshakespeare.txt --steps 200 --out runs/shakespeare',
    'arch train models/gpt-nano.arch --data task:reverse --resume runs/gpt_nano --steps 600',
    'arch train models/gpt-nano.arch --resume runs/gpt_nano --out runs/longer --steps 900',
    'arch train models/gpt-nano.arch --data task:reverse --out runs/gpt_nano --force   # the old run goes to runs/gpt_nano.old-TIME',
  ],
  run: runTrain,
};

async function runTrain(args: ParsedArgs): Promise<number> {
  const file = oneFile(args, trainCommand);
  const out = args.values.out === undefined ? undefined : String(args.values.out);
  if (out !== undefined) checkOutDir(out); // before any long work
  const resumeDir = args.values.resume ? String(args.values.resume) : undefined;
  const resumed = resumeDir ? loadCheckpoint(join(resumeDir, 'checkpoint.safetensors')) : undefined;
  if (resumed && !resumed.meta) throw new UsageError(`${resumeDir}/checkpoint.safetensors holds weights but no training state; use --init-from to start from it`);
  const { o, steps } = trainFlags(args, resumed?.meta?.options as Record<string, unknown> | undefined);
  const sets: Map<string, string> = resumed ? new Map(Object.entries(resumed.meta!.sets)) : args.sets;
  const outcome = await trainRun({ ...o, steps, file, sets, out, force: Boolean(args.values.force), resumeDir, resumed, initFrom: args.values['init-from'] ? String(args.values['init-from']) : undefined }, { installSigint: true });
  return outcome.diverged ? 1 : outcome.stopped ? 130 : 0;
}

/** The training flags of a command line (arch train, arch ablate). On resume the run's own
 *  settings (`prev`) win over flags, only --steps may change, so it continues exactly. */
export function trainFlags(args: ParsedArgs, prev?: Record<string, unknown>) {
  const pick = <T>(key: string, fresh: T): T => (prev && key in prev ? (prev[key] as T) : fresh);
  const dataSpec = pick('data', args.values.data ? String(args.values.data) : '');
  if (!dataSpec) throw new UsageError('--data is required: a text file, or task:NAME (copy, reverse, sort, add, induction, classify, seq2seq)');
  const steps = numberFlag(args, 'steps', 200, RULES.count(FLAG_MAX.steps));
  const o = {
    data: dataSpec,
    tokenizer: pick('tokenizer', String(args.values.tokenizer ?? 'char')),
    batch: pick('batch', numberFlag(args, 'batch', TRAIN_DEFAULTS.batch, RULES.count(FLAG_MAX.batch))),
    seed: pick('seed', numberFlag(args, 'seed', TRAIN_DEFAULTS.seed, RULES.seed)),
    lr: pick('lr', numberFlag(args, 'lr', TRAIN_DEFAULTS.lr, RULES.positive)),
    schedule: pick('schedule', String(args.values.schedule ?? 'cosine')),
    warmup: pick('warmup', numberFlag(args, 'warmup', Math.floor(steps / 20), RULES.countOrZero(FLAG_MAX.steps))),
    minLr: pick('minLr', numberFlag(args, 'min-lr', NaN, RULES.nonNegative)),
    weightDecay: pick('weightDecay', numberFlag(args, 'weight-decay', TRAIN_DEFAULTS.weightDecay, RULES.nonNegative)),
    gradClip: pick('gradClip', numberFlag(args, 'grad-clip', TRAIN_DEFAULTS.gradClip, RULES.nonNegative)),
    accum: pick('accum', numberFlag(args, 'accum', TRAIN_DEFAULTS.accum, RULES.count(FLAG_MAX.batch))),
    evalEvery: pick('evalEvery', numberFlag(args, 'eval-every', Math.max(1, Math.floor(steps / 10)), RULES.countOrZero(FLAG_MAX.steps))),
    evalBatches: pick('evalBatches', numberFlag(args, 'eval-batches', TRAIN_DEFAULTS.evalBatches, RULES.count(FLAG_MAX.batch))),
    backend: pick('backend', parseBackend(args.values.backend)),
  };
  if (!Number.isFinite(o.minLr)) o.minLr = o.lr / 10;
  if (o.schedule !== 'cosine' && o.schedule !== 'constant') throw new UsageError(`--schedule ${o.schedule}: expected cosine or constant`);
  if (o.tokenizer !== 'char' && o.tokenizer !== 'gpt2') throw new UsageError(`--tokenizer ${o.tokenizer}: expected char or gpt2`);
  if (args.values.dropout !== undefined) args.sets.set('dropout', String(numberFlag(args, 'dropout', 0, RULES.fraction({ includeZero: true, includeOne: false }))));
  return { o, steps };
}

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
  sets: Map<string, string>;
  out?: string;
  resumeDir?: string;
  resumed?: LoadedCheckpoint;
  initFrom?: string;
  /** Start over in an `out` that holds a run (its files are moved aside once this run starts). */
  force?: boolean;
}

export interface TrainContext {
  /** A device to share across runs (ablate); otherwise one is opened and closed here. */
  device?: ArchDevice;
  /** No progress bar or summary (ablate draws its own). */
  quiet?: boolean;
  installSigint?: boolean;
  stopRequested?: () => boolean;
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
}

/** One training run, start to finish: what `arch train` does, and what `arch ablate` repeats.
 *  The run's directory is claimed (locked) once the model is known, and let go however it ends. */
export async function trainRun(req: TrainRequest, ctx: TrainContext = {}): Promise<TrainOutcome> {
  const claimed: { run?: RunDir } = {};
  try {
    return await trainClaimed(req, ctx, claimed);
  } finally {
    claimed.run?.finish();
  }
}

async function trainClaimed(req: TrainRequest, ctx: TrainContext, claimed: { run?: RunDir }): Promise<TrainOutcome> {
  const { file, steps, sets, resumed, resumeDir } = req;
  const o = { data: req.data, tokenizer: req.tokenizer, batch: req.batch, seed: req.seed, lr: req.lr, schedule: req.schedule, warmup: req.warmup, minLr: req.minLr, weightDecay: req.weightDecay, gradClip: req.gradClip, accum: req.accum, evalEvery: req.evalEvery, evalBatches: req.evalBatches, backend: req.backend };
  const log = (text: string) => {
    if (!ctx.quiet) process.stderr.write(text);
  };

  // Data first: its vocabulary decides V (and a task's classes decide C) unless --set says otherwise.
  const tokenizer = resumed?.meta?.tokenizer ? tokenizerFromJSON(resumed.meta.tokenizer) : undefined;
  const data: DataSource = openData(o.data, { tokenizer: tokenizer ?? (o.tokenizer as 'char' | 'gpt2'), readFile: readRegularFile });
  const source = resumed ? resumed.meta!.modelSource : readModelFile(file);
  if (resumed) log(resumeSourceNote(nodeHost.readFile, file, source) ?? '');
  const first = compileSource(file, source, sets);
  if (first.model && !resumed) {
    const letters = classLetters(first.model);
    const roles = inputRoles(buildGraph(first.model).lowered);
    for (const r of roles) {
      const letter = letters.get(r.name);
      if (!letter || sets.has(letter)) continue;
      const want = r.role === 'labels' ? data.task?.numClasses : data.vocabSize;
      const have = first.model.dims.get(letter)?.size;
      if (want && have !== want) {
        sets.set(letter, String(want));
        log(`note: ${letter} = ${want} (from the data${r.role === 'labels' ? "'s classes" : "'s vocabulary"}; the model declares ${have})\n`);
      }
    }
  }
  // A resumed run continues the model it was trained with, whatever the file holds now.
  const model = resumed ? compileForCheckpoint(cliEnv, file, resumed, new Map(), source) : loadModel(file, sets, { quietWarnings: true }).model;
  const run = (claimed.run = RunDir.claim({
    dir: req.out ?? resumeDir ?? join('runs', model.name),
    force: Boolean(req.force),
    resume: resumed && resumeDir ? { dir: resumeDir, step: resumed.meta!.step } : undefined,
    command: `arch train ${file}`,
    log,
  }));
  const train = buildGraph(model, { training: true, grad: true });
  const evalG = buildGraph(model);
  const roles = inputRoles(train.lowered);
  const vocabLetter = classLetters(model);
  for (const r of roles) {
    const cls = train.lowered.inputs.get(r.name)?.classes;
    const need = r.role === 'labels' ? data.task?.numClasses : data.vocabSize;
    if (cls !== undefined && need !== undefined && cls < need)
      throw new UsageError(`the data has ${fmtInt(need)} ${r.role === 'labels' ? 'classes' : 'distinct tokens'}, but ${r.name}'s ${vocabLetter.get(r.name) ?? 'class'} is ${fmtInt(cls)}\n  hint: --set ${vocabLetter.get(r.name) ?? 'V'}=${need}`);
  }
  const tokensRole = roles.find((r) => r.role === 'tokens');
  // `arch sample` continues one token stream: a language model with logits.
  const samplable = evalG.graph.outputs.has('logits') && roles.every((r) => r.role === 'tokens' || r.role === 'targets');
  const lengthSym = tokensRole?.symbols[1];
  const maxL = lengthSym ? train.lowered.symbols.get(lengthSym)?.max : undefined;
  // A task trains at its own length (reverse 8 digits, not 32) when the model's context allows.
  const L = maxL && data.task ? Math.min(maxL, Math.max(data.task.contextLength, data.task.minContextLength)) : maxL;
  if (!L) throw new UsageError(`${file}: can't tell the model's context length (its inputs: ${describeRoles(roles)})`);
  const minL = data.task?.minContextLength ?? 1;
  if (maxL! < minL) throw new UsageError(`${o.data} needs a context of at least ${minL} positions; the model's is ${maxL}\n  hint: --set ${model.axes.get(lengthSym!)?.letter ?? 'L'}=${minL}`);

  const shapes = new Map(paramShapes(train.graph).map((p) => [p.name, p.shape]));
  checkModelFits(train, { batch: o.batch, paramCopies: PARAM_COPIES.training, limits: ctx.device?.limits, memoryBytes: cliEnv.host.memoryBytes() });
  let weights: Weights;
  if (resumed) weights = fitCheckpoint(resumed, paramShapes(train.graph), model, true).weights;
  else if (req.initFrom) weights = loadWeights(req.initFrom, paramShapes(train.graph), model).weights;
  else weights = new Map(Object.entries(initParams(train.lowered.graph, {}, o.seed)).map(([k, v]) => [k, Float32Array.from(v)]));

  let device: ArchDevice | undefined;
  let backend: TrainBackend;
  try {
    if (o.backend === 'interpreter') backend = new InterpreterBackend(train.graph, evalG.graph, weights, resumed?.optimizer ?? undefined);
    else {
      device = ctx.device ?? (await deviceFor(o.backend));
      const symbols: Record<string, number> = { seed: 0 };
      for (const r of roles) r.symbols.forEach((sym, i) => {
        const info = train.lowered.symbols.get(sym);
        symbols[sym] = info?.max === undefined ? o.batch : r.role === 'source' ? data.task?.contextLength ?? info.max : L;
        if (i === 0) symbols[sym] = o.batch;
      });
      log(`compiling for ${device.info.adapterName || device.info.backend} (${device.info.backend})...\n`);
      backend = await createWebGPUBackend(device, train.graph, evalG.graph, { symbols, weights, state: resumed?.optimizer ?? undefined });
    }
  } catch (e) {
    if (!ctx.device) device?.destroy();
    throw e;
  }
  try {
    return await trainLoaded({ req, ctx, o, run, backend, data, roles, L, shapes, model, source, samplable });
  } finally {
    backend.dispose();
    if (!ctx.device) device?.destroy();
  }
}
type LoadedModel = ReturnType<typeof loadModel>['model'];

interface Loaded {
  req: TrainRequest;
  ctx: TrainContext;
  o: Omit<TrainRequest, 'file' | 'steps' | 'sets' | 'out' | 'resumeDir' | 'resumed' | 'initFrom' | 'force'>;
  run: RunDir;
  backend: TrainBackend;
  data: DataSource;
  roles: InputSpec[];
  L: number;
  shapes: Map<string, number[]>;
  model: LoadedModel;
  source: string;
  samplable: boolean;
}

/** The loop of a run whose model, data, backend and directory are ready. */
async function trainLoaded(p: Loaded): Promise<TrainOutcome> {
  const { req, ctx, o, run, backend, data, L, model } = p;
  const { file, steps, resumed } = req;
  const log = (text: string) => {
    if (!ctx.quiet) process.stderr.write(text);
  };
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
  log(
    `training ${model.name} (${fmtInt(params)} parameters) on ${o.data}: ${steps} steps of ${o.batch}x${L} tokens${o.accum > 1 ? ` x${o.accum}` : ''}, ${backend.name} backend -> ${run.dir}\n`,
  );
  const ideal = data.idealLoss?.(L);
  if (ideal !== undefined) log(`the task's ideal loss is ${ideal.toFixed(3)}\n`);

  const interrupt = ctx.installSigint
    ? onInterrupt('interrupted: saving a checkpoint after this step (Ctrl-C again to quit at once)', 'interrupted again: exiting now (the last checkpoint is intact)')
    : NO_INTERRUPT;
  const progress = ctx.quiet ? null : new Progress(steps);
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
  try {
    const result = await trainLoop(backend, data, p.roles, opts, {
      onStep(m) {
        lastStep = m;
        firstStep ??= m;
        ctx.onStep?.(m);
        if (!Number.isFinite(m.loss)) diverged ??= { step: m.step, why: `the loss is ${m.loss}` };
        run.appendMetrics(m);
        history.train.push([m.step, m.loss]);
        const eta = ((steps - m.step) * o.batch * L * o.accum) / Math.max(1e-9, m.tokens_per_s);
        progress?.update(m.step, `loss ${m.loss.toFixed(4)} | ${m.tokens_per_s.toFixed(0)} tok/s`, eta);
      },
      onEval(m) {
        ctx.onEval?.(m);
        if (!Number.isFinite(m.val_loss)) diverged ??= { step: m.step, why: `the validation loss is ${m.val_loss}` };
        run.appendMetrics(m);
        history.val.push([m.step, m.val_loss]);
        progress?.log(`step ${m.step}: validation loss ${m.val_loss.toFixed(4)}`);
      },
      stopRequested: () => interrupt.requested() || diverged !== undefined || Boolean(ctx.stopRequested?.()),
      pause: () => new Promise((r) => setImmediate(r)),
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
    progress?.done();
    const val = history.val.at(-1)?.[1];
    const runRate = lastStep && firstStep ? averageRate(firstStep, lastStep, o.batch * L * o.accum) : undefined;
    const saved = run.checkpointStep !== undefined;
    log(
      `${diverged ? `diverged at step ${diverged.step} (${diverged.why}), stopped` : result.stopped ? 'stopped' : 'done'} at step ${result.step}: train loss ${lastStep?.loss.toFixed(4) ?? '-'}, validation loss ${val?.toFixed(4) ?? '-'}, ${runRate?.toFixed(0) ?? '-'} tokens/s, ${fmtDuration(lastStep?.elapsed_s ?? 0)}\n` +
        (saved ? `  ${run.checkpointPath}${diverged ? ` (kept from step ${run.checkpointStep}, before the divergence)` : ''}\n` : '') +
        `  ${run.metricsPath}\n` +
        (saved ? `  ${run.plotPath}\n` : '') +
        (diverged
          ? `  hint: start over (--force) with a lower --lr (this run: ${o.lr}, try ${o.lr / 10})${o.gradClip > 0 ? '' : ' and --grad-clip 1 (off in this run)'}, or a longer --warmup\n`
          : result.stopped
            ? `  continue with: arch train ${file} --resume ${run.dir} --steps ${steps}\n`
            : p.samplable
              ? `  sample with: arch sample ${file} --weights ${run.checkpointPath}\n`
              : ''),
    );
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
    };
  } finally {
    interrupt.dispose();
  }
}

/** The first tensor holding a NaN or an infinity, named, or undefined when all are finite. */
function firstNonFinite(tensors: Weights, prefix = ''): string | undefined {
  for (const [name, t] of tensors) for (let i = 0; i < t.length; i++) if (!Number.isFinite(t[i]!)) return `${prefix}${name}[${i}]`;
  return undefined;
}
