// AdamW (Loshchilov & Hutter): Adam's update plus decoupled weight decay, applied only to
// parameters that are matrices (rank >= 2: embeddings and projections, not gains and biases).
export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

export const decays = (shape: readonly number[]): boolean => shape.length >= 2;

/** One in-place update of one parameter on the CPU; the GPU runs the same arithmetic in WGSL. */
export function adamwUpdate(p: Float32Array, g: ArrayLike<number>, m: Float32Array, v: Float32Array, o: { lr: number; step: number; gradScale: number; decay: boolean; cfg: AdamWConfig }): void {
  const { beta1, beta2, eps, weightDecay } = o.cfg;
  const c1 = 1 - beta1 ** o.step;
  const c2 = 1 - beta2 ** o.step;
  const wd = o.decay ? weightDecay : 0;
  for (let i = 0; i < p.length; i++) {
    const grad = g[i]! * o.gradScale;
    m[i] = beta1 * m[i]! + (1 - beta1) * grad;
    v[i] = beta2 * v[i]! + (1 - beta2) * grad * grad;
    p[i] = p[i]! - o.lr * ((m[i]! / c1) / (Math.sqrt(v[i]! / c2) + eps) + wd * p[i]!);
  }
}
