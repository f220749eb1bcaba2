// `arch train`: flags in, a session training run, text out: the progress bar, Ctrl-C (a
// checkpoint is saved, then it stops), and the summary with what to do next. The run itself is
// src/session/train.ts; its directory and lock are the Node host's (src/host/node/run-dir.ts).
import { join } from 'node:path';
import { fmtInt, oneFile, SET_HELP, UsageError, type CommandSpec, type ParsedArgs } from '../args.js';
import { NO_INTERRUPT, onInterrupt, type Interrupt } from '../interrupt.js';
import { FLAG_MAX, numberFlag, RULES } from '../options.js';
import { cliEnv } from '../load.js';
import { fmtDuration, Progress } from '../progress.js';
import { BACKEND_HELP, KERNELS_HELP, parseBackend, parseKernels } from '../device.js';
import { claimRunDir, loadCheckpoint } from '../../host/node/index.js';
import { checkOutDir } from '../../host/node/out-path.js';
import type { ArchDevice } from '../../runtime/device.js';
import { trainRun as sessionTrainRun, TRAIN_DEFAULTS, type StepMetrics, type TrainOutcome, type TrainRequest } from '../../session/train.js';

export type { TrainOutcome, TrainRequest };



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
    kernels: { type: 'string' },
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
    KERNELS_HELP,
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
  const kernels = parseKernels(args.values.kernels);
  const sets: Map<string, string> = resumed ? new Map(Object.entries(resumed.meta!.sets)) : args.sets;
  const outcome = await trainRun({ ...o, steps, file, sets, out, force: Boolean(args.values.force), kernels, resumeDir, resumed, initFrom: args.values['init-from'] ? String(args.values['init-from']) : undefined }, { installSigint: true });
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


export interface TrainContext {
  /** A device to share across runs (ablate); otherwise one is opened and closed by the run. */
  device?: ArchDevice;
  /** No notes, progress bar or summary (ablate draws its own). */
  quiet?: boolean;
  installSigint?: boolean;
  stopRequested?: () => boolean;
  onStep?: (m: StepMetrics) => void;
  onEval?: (m: { step: number; val_loss: number }) => void;
}

/** One training run as `arch train` shows it (and `arch ablate` repeats it, quietly). */
export async function trainRun(req: TrainRequest, ctx: TrainContext = {}): Promise<TrainOutcome> {
  // quiet: no notes (the model's errors are still shown)
  const env = ctx.quiet ? { ...cliEnv, log: () => {} } : cliEnv;
  let progress: Progress | null = null;
  let interrupt: Interrupt = NO_INTERRUPT;
  let tokensPerStep = 0;
  let chance: number | undefined;
  try {
    const outcome = await sessionTrainRun(env, req, {
      claimRun: claimRunDir,
      device: ctx.device,
      stopRequested: () => interrupt.requested() || Boolean(ctx.stopRequested?.()),
      onStart(s) {
        env.log(`training ${s.model} (${fmtInt(s.params)} parameters) on ${req.data}: ${s.steps} steps of ${req.batch}x${s.length} tokens${req.accum > 1 ? ` x${req.accum}` : ''}, ${s.backend} backend -> ${s.dir}\n`);
        if (s.chanceLoss) env.log(`the chance loss (a uniform guess over ${fmtInt(s.chanceLoss.classes)} ${s.chanceLoss.of}) is ln ${s.chanceLoss.classes} = ${s.chanceLoss.loss.toFixed(3)}\n`);
        if (s.idealLoss !== undefined) env.log(`the task's ideal loss is ${s.idealLoss.toFixed(3)}\n`);
        chance = s.chanceLoss?.loss;
        tokensPerStep = req.batch * s.length * req.accum;
        if (ctx.installSigint) interrupt = onInterrupt('interrupted: saving a checkpoint after this step (Ctrl-C again to quit at once)', 'interrupted again: exiting now (the last checkpoint is intact)');
        if (!ctx.quiet) progress = new Progress(s.steps);
      },
      onStep(m) {
        ctx.onStep?.(m);
        const eta = ((req.steps - m.step) * tokensPerStep) / Math.max(1e-9, m.tokens_per_s);
        progress?.update(m.step, `loss ${m.loss.toFixed(4)} | ${m.tokens_per_s.toFixed(0)} tok/s`, eta);
      },
      onEval(m) {
        ctx.onEval?.(m);
        progress?.log(`step ${m.step}: validation loss ${m.val_loss.toFixed(4)}${m.step === 0 && chance !== undefined ? ` (chance ${chance.toFixed(4)})` : ''}`);
      },
    });
    (progress as Progress | null)?.done();
    env.log(summary(req, outcome));
    return outcome;
  } finally {
    interrupt.dispose();
  }
}

/** The last lines of a run: how it ended, its files, and the command to run next. */
function summary(req: TrainRequest, r: TrainOutcome): string {
  const saved = r.checkpointStep !== undefined;
  const val = r.history.val.at(-1)?.[1];
  return (
    `${r.diverged ? `diverged at step ${r.divergedAt} (${r.divergedWhy}), stopped` : r.stopped ? 'stopped' : 'done'} at step ${r.step}: train loss ${r.lastStep?.loss.toFixed(4) ?? '-'}, validation loss ${val?.toFixed(4) ?? '-'}, ${r.lastStep ? r.tokensPerS.toFixed(0) : '-'} tokens/s, ${fmtDuration(r.elapsedS)}\n` +
    (saved ? `  ${r.checkpointPath}${r.diverged ? ` (kept from step ${r.checkpointStep}, before the divergence)` : ''}\n` : '') +
    `  ${r.metricsPath}\n` +
    (saved ? `  ${r.plotPath}\n` : '') +
    (r.diverged
      ? `  hint: start over (--force) with a lower --lr (this run: ${req.lr}, try ${req.lr / 10})${req.gradClip > 0 ? '' : ' and --grad-clip 1 (off in this run)'}, or a longer --warmup\n`
      : r.stopped
        ? `  continue with: arch train ${req.file} --resume ${r.outDir} --steps ${req.steps}\n`
        : r.samplable
          ? `  sample with: arch sample ${req.file} --weights ${r.checkpointPath}\n`
          : '')
  );
}
