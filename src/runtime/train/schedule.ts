// Learning rate by step: linear warmup, then cosine decay to a floor (or constant); the rate of a
// step is its StepHyper's lr.
import type { StepHyper } from './adamw.js';

export interface Schedule {
  lr: number; // the peak
  minLr: number;
  warmup: number;
  steps: number;
  kind: 'cosine' | 'constant';
}

/** The learning rate of step `step` (1-based), as nanoGPT's get_lr. */
export function learningRate(step: StepHyper['step'], s: Schedule): StepHyper['lr'] {
  if (s.warmup > 0 && step <= s.warmup) return (s.lr * step) / s.warmup;
  if (s.kind === 'constant') return s.lr;
  if (step >= s.steps) return s.minLr;
  const progress = (step - s.warmup) / Math.max(1, s.steps - s.warmup);
  return s.minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (s.lr - s.minLr);
}
