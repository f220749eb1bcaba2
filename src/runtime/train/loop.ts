// The training loop: batches from the data, steps on a backend, a learning-rate schedule,
// validation every so often, and checkpoints when asked (Ctrl-C included). It knows nothing of
// terminals or files: the caller's hooks print, append metrics and save.
import { Rng, type DataSource, type RngState } from '../../data/index.js';
import { ADAMW_DEFAULTS, type StepHyper } from './adamw.js';
import type { Feeds, StepResult, TrainBackend } from './backend.js';
import { feedsFor, type InputSpec } from './feeds.js';
import { learningRate, type Schedule } from './schedule.js';

/** The step's hyper-parameters (StepHyper) come from these: the schedule's learning rate at the
 *  step, adamw and gradClip as they are. */
export interface TrainOptions extends Pick<StepHyper, 'adamw' | 'gradClip'> {
  steps: number;
  batch: number;
  length: number;
  accum: number;
  seed: number;
  schedule: Schedule;
  evalEvery: number; // 0: only at the end
  evalBatches: number;
}

export const TRAIN_DEFAULTS = { batch: 8, accum: 1, seed: 1, lr: 1e-3, warmup: 0, gradClip: 1, evalBatches: 4, ...ADAMW_DEFAULTS };

export interface StepMetrics {
  step: number;
  loss: number;
  lr: StepHyper['lr'];
  tokens_per_s: number;
  elapsed_s: number;
  grad_norm: number;
}

export interface TrainHooks {
  onStep(m: StepMetrics): void;
  onEval(m: { step: number; val_loss: number }): void;
  /** Checked after every step: true stops the loop (after a checkpoint). */
  stopRequested(): boolean;
  checkpoint(step: number, rng: RngState, elapsedS: number): Promise<void>;
  /** Lets the host's event loop run between steps (Node: setImmediate); default: a zero timeout. */
  pause?(): Promise<void>;
}

const zeroTimeout = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

export interface ResumeState {
  step: number;
  rng: RngState;
  elapsedS: number;
}

/** Per-step dropout seeds: distinct for every step and micro-batch, the same on every run. */
const dropoutSeed = (seed: number, step: number, micro: number): number => (Math.imul(seed, 0x9e3779b1) ^ Math.imul(step, 0x85ebca6b) ^ (micro * 0xc2b2ae35)) >>> 0;

export async function evaluate(backend: TrainBackend, data: DataSource, inputs: InputSpec[], o: TrainOptions): Promise<number> {
  let total = 0;
  let weight = 0;
  for (const b of data.evalBatches(o.batch, o.length, o.evalBatches)) {
    const counted = b.mask ? b.mask.reduce((a, x) => a + x, 0) : b.batch * b.length;
    if (counted === 0) continue;
    total += (await backend.loss(feedsFor(inputs, b, 0))) * counted;
    weight += counted;
  }
  return weight ? total / weight : NaN;
}

/**
 * Tokens/s over the reports of the last ~2 s, measured from an earlier report's time (or the
 * start) to now: two reports close together (a step read back right after the one before it, as
 * the pipelined trainer does) share the span since the report before them instead of dividing
 * by ~0.
 */
const RATE_WINDOW_S = 2;

export class TokenRate {
  private readonly recent: { t: number; tokens: number }[];

  constructor(start: number, private readonly windowMs = RATE_WINDOW_S * 1000) {
    this.recent = [{ t: start, tokens: 0 }];
  }

  /** Record `tokens` reported at time `now` (ms); the rate over the window. */
  add(now: number, tokens: number): number {
    const r = this.recent;
    r.push({ t: now, tokens });
    while (r.length > 2 && now - r[1]!.t >= this.windowMs) r.shift();
    const total = r.slice(1).reduce((n, x) => n + x.tokens, 0);
    return total / Math.max(1e-9, (now - r[0]!.t) / 1000);
  }
}

/**
 * A run's tokens/s after its first step (which includes the shader compiles), validation
 * included; over a span too short to measure (steps are read back one late, so the last two can
 * arrive together), the last report's windowed rate.
 */
export function averageRate(first: StepMetrics, last: StepMetrics, tokensPerStep: number): number {
  const span = last.elapsed_s - first.elapsed_s;
  return last.step > first.step && span >= RATE_WINDOW_S ? ((last.step - first.step) * tokensPerStep) / span : last.tokens_per_s;
}

export async function trainLoop(backend: TrainBackend, data: DataSource, inputs: InputSpec[], o: TrainOptions, hooks: TrainHooks, resume?: ResumeState): Promise<{ step: number; stopped: boolean }> {
  const rng = resume ? Rng.fromState(resume.rng) : new Rng(o.seed);
  const started = performance.now() - (resume?.elapsedS ?? 0) * 1000;
  let step = resume?.step ?? 0;
  const rate = new TokenRate(performance.now());
  // A step is read back while the next one runs: its loss is reported one step late, except where
  // the loop needs it settled (validation, a checkpoint, a stop), which waits for it.
  let pending: { step: number; lr: number; tokens: number; result: Promise<StepResult> } | undefined;
  const report = async (): Promise<void> => {
    if (!pending) return;
    const p = pending;
    pending = undefined;
    const r = await p.result;
    const now = performance.now();
    const tps = rate.add(now, p.tokens);
    hooks.onStep({ step: p.step, loss: r.loss, lr: p.lr, tokens_per_s: tps, elapsed_s: (now - started) / 1000, grad_norm: r.gradNorm });
  };
  let submitted: Promise<StepResult> | undefined; // the last step handed to the backend
  try {
    return await steps();
  } catch (e) {
    // A step still in flight is let finish before the error goes up: the caller disposes the
    // backend next, and its buffers must not go while the device still uses them.
    await submitted?.catch(() => {});
    throw e;
  }

  async function steps(): Promise<{ step: number; stopped: boolean }> {
    // A fresh run is evaluated before its first step too: where the loss starts (near the chance
    // loss, for a freshly initialised model) is the first point of its curve.
    if (step === 0 && o.evalEvery > 0 && o.steps > 0) hooks.onEval({ step: 0, val_loss: await evaluate(backend, data, inputs, o) });
    while (step < o.steps) {
      step++;
      const micro: Feeds[] = [];
      let tokens = 0;
      for (let i = 0; i < o.accum; i++) {
        const b = data.trainBatch(rng, o.batch, o.length);
        micro.push(feedsFor(inputs, b, dropoutSeed(o.seed, step, i)));
        tokens += b.batch * b.length;
      }
      const lr = learningRate(step, o.schedule);
      const result = backend.step(micro, { lr, step, gradClip: o.gradClip, adamw: o.adamw }); // submitted
      // Awaited below, after other awaits: marked handled now, so that a step that fails while the
      // loop waits on something else is this loop's error, not an unhandled rejection.
      result.catch(() => {});
      submitted = result;
      await report(); // the previous step
      pending = { step, lr, tokens, result };
      const last = step === o.steps;
      const evaluateNow = (o.evalEvery > 0 && step % o.evalEvery === 0) || last;
      // Let signal handlers (Ctrl-C) run: a CPU backend's step never yields on its own.
      await (hooks.pause ?? zeroTimeout)();
      let stop = hooks.stopRequested();
      if (evaluateNow || stop) await report();
      if (evaluateNow) {
        hooks.onEval({ step, val_loss: await evaluate(backend, data, inputs, o) });
        stop ||= hooks.stopRequested(); // what the step's loss or validation showed (a divergence)
      }
      if (stop) {
        await hooks.checkpoint(step, rng.state(), (performance.now() - started) / 1000);
        return { step, stopped: true };
      }
      if (evaluateNow) await hooks.checkpoint(step, rng.state(), (performance.now() - started) / 1000);
    }
    await report();
    return { step, stopped: false };
  }
}
