// A training run in the page: the core's WebGPU backend and trainLoop on the page's device, with
// pause (the loop stops at a step and resumes from its exact data-RNG state, as `arch train
// --resume` does), stop, and a checkpoint in the bytes `arch train` writes.
import { checkpointBytes, createWebGPUBackend, trainLoop, TRAIN_DEFAULTS, type ArchDevice, type DataSource, type OptimizerState, type ResumeState, type StepMetrics, type TrainBackend, type TrainOptions, type Weights } from './core.js';
import type { Prepared, TrainSettings } from './prepare.js';

export interface RunEvents {
  onStep(m: StepMetrics): void;
  onEval(m: { step: number; val_loss: number }): void;
}

/** Where a run continues from: an uploaded checkpoint's optimizer moments and loop state. */
export interface ResumeFrom {
  optimizer: OptimizerState;
  at: ResumeState;
}

/** Lets the page's events run between steps: a MessageChannel post is a macrotask without
 *  setTimeout's 4 ms clamp (the loop's default), which a small model's step would feel. */
const channel = new MessageChannel();
const waiting: (() => void)[] = [];
channel.port1.onmessage = () => waiting.shift()?.();
const yieldToPage = (): Promise<void> =>
  new Promise((r) => {
    waiting.push(r);
    channel.port2.postMessage(0);
  });

export class TrainRun {
  readonly losses: number[] = [];
  readonly valLosses: [number, number][] = [];
  /** performance.now() at each step's report, for tokens/s over a window (`npm run bench:web`). */
  readonly stamps: number[] = [];
  step = 0;
  state: 'idle' | 'running' | 'paused' | 'done' = 'idle';
  private stopKind: 'pause' | 'stop' | null = null;
  private resume: ResumeState | undefined;
  private readonly opts: TrainOptions;

  private constructor(readonly p: Prepared, readonly data: DataSource, readonly settings: TrainSettings, readonly backend: TrainBackend, private readonly events: RunEvents, from?: ResumeFrom) {
    const steps = settings.steps;
    this.opts = {
      steps,
      batch: settings.batch,
      length: p.length,
      accum: settings.accum ?? TRAIN_DEFAULTS.accum,
      seed: settings.seed,
      schedule: { lr: settings.lr, minLr: settings.minLr ?? settings.lr / 10, warmup: settings.warmup ?? Math.floor(steps / 20), steps, kind: settings.schedule ?? 'cosine' },
      adamw: { ...TRAIN_DEFAULTS, weightDecay: settings.weightDecay },
      gradClip: settings.gradClip ?? TRAIN_DEFAULTS.gradClip,
      evalEvery: settings.evalEvery ?? Math.max(1, Math.floor(steps / 10)),
      evalBatches: settings.evalBatches ?? TRAIN_DEFAULTS.evalBatches,
    };
    this.resume = from?.at;
    this.step = from?.at.step ?? 0;
  }

  /** A new run, or (`from`) one that continues an uploaded checkpoint whose weights are p.weights. */
  static async create(device: ArchDevice, p: Prepared, data: DataSource, settings: TrainSettings, events: RunEvents, from?: ResumeFrom): Promise<TrainRun> {
    const backend = await createWebGPUBackend(device, p.train, p.evalGraph, { symbols: p.symbols, weights: p.weights, state: from?.optimizer });
    return new TrainRun(p, data, settings, backend, events, from);
  }

  get tokensPerStep(): number {
    return this.opts.batch * this.opts.length;
  }

  /** Runs until the last step, a pause or a stop; resolves with the train losses so far. */
  async run(): Promise<number[]> {
    if (this.state === 'running' || this.state === 'done') return this.losses;
    this.state = 'running';
    this.stopKind = null;
    const result = await trainLoop(this.backend, this.data, this.p.roles, this.opts, {
      onStep: (m) => {
        this.step = m.step;
        this.losses.push(m.loss);
        this.stamps.push(performance.now());
        this.events.onStep(m);
      },
      onEval: (m) => {
        this.valLosses.push([m.step, m.val_loss]);
        this.events.onEval(m);
      },
      stopRequested: () => this.stopKind !== null,
      pause: yieldToPage,
      checkpoint: async (step, rng, elapsedS) => {
        this.resume = { step, rng, elapsedS };
      },
    }, this.resume);
    this.state = result.stopped && this.stopKind === 'pause' && result.step < this.opts.steps ? 'paused' : 'done';
    return this.losses;
  }

  pause(): void {
    if (this.state === 'running') this.stopKind = 'pause';
  }

  stop(): void {
    if (this.state === 'running') this.stopKind = 'stop';
    else if (this.state === 'paused') this.state = 'done';
  }

  weights(): Promise<Weights> {
    return this.backend.weights();
  }

  /** The checkpoint `arch train` would have written at this step (weights, optimizer, metadata). */
  async checkpoint(modelFile: string): Promise<Uint8Array> {
    const r = this.resume ?? { step: this.step, rng: null, elapsedS: 0 };
    const o = this.opts;
    const options = { data: this.data.name, tokenizer: this.data.tokenizer.kind === 'gpt2' ? 'gpt2' : 'char', batch: o.batch, seed: o.seed, lr: o.schedule.lr, schedule: o.schedule.kind, warmup: o.schedule.warmup, minLr: o.schedule.minLr, weightDecay: o.adamw.weightDecay, gradClip: o.gradClip, accum: o.accum, evalEvery: o.evalEvery, evalBatches: o.evalBatches, backend: 'webgpu' };
    return checkpointBytes(await this.backend.weights(), this.p.shapes, await this.backend.optimizerState(), {
      step: r.step,
      elapsedS: r.elapsedS,
      rng: r.rng,
      tokenizer: this.data.tokenizer.toJSON(),
      modelFile,
      modelSource: this.p.source,
      sets: Object.fromEntries(this.p.sets),
      data: this.data.name,
      options,
    });
  }

  dispose(): void {
    this.backend.dispose();
  }
}
