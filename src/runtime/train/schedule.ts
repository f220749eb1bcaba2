// Learning rate by step: linear warmup, then cosine decay to a floor (or constant).
export interface Schedule {
  lr: number;
  minLr: number;
  warmup: number;
  steps: number;
  kind: 'cosine' | 'constant';
}

/** The learning rate of step `step` (1-based), as nanoGPT's get_lr. */
export function learningRate(step: number, s: Schedule): number {
  if (s.warmup > 0 && step <= s.warmup) return (s.lr * step) / s.warmup;
  if (s.kind === 'constant') return s.lr;
  if (step >= s.steps) return s.minLr;
  const progress = (step - s.warmup) / Math.max(1, s.steps - s.warmup);
  return s.minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (s.lr - s.minLr);
}
