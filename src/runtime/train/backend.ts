// Where a training step runs. The trainer speaks only this interface; the reference interpreter
// and the WebGPU executor implement it.
import type { StepHyper } from './adamw.js';

export type Feeds = { inputs: Record<string, Int32Array | Float32Array>; symbols: Record<string, number> };
export type Weights = Map<string, Float32Array>;

export interface OptimizerState {
  m: Weights;
  v: Weights;
}

export interface StepResult {
  loss: number; // mean over the micro-batches
  gradNorm: number; // before clipping
}

export interface TrainBackend {
  readonly name: string;
  /** Forward and backward over each micro-batch (gradients averaged), clip, one AdamW update. */
  step(micro: Feeds[], hp: StepHyper): Promise<StepResult>;
  /** The loss without dropout and without an update. */
  loss(feeds: Feeds): Promise<number>;
  weights(): Promise<Weights>;
  optimizerState(): Promise<OptimizerState>;
  dispose(): void;
}
