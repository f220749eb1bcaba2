// AdamW (Loshchilov & Hutter): Adam's update plus decoupled weight decay, applied only to
// parameters that are matrices (rank >= 2: embeddings and projections, not gains and biases).
//
// A step's hyper-parameters are one record, StepHyper, from the training loop to both backends;
// its fields are the optimizer uniform's (src/codegen/wgsl/hyper.ts), which the GPU reads them from.
import type { Hyper } from '../../codegen/wgsl/hyper.js';

export type AdamWConfig = Pick<Hyper, 'beta1' | 'beta2' | 'eps' | 'weightDecay'>;

/** One optimizer step's hyper-parameters. */
export type StepHyper = Pick<Hyper, 'lr' | 'gradClip'> & {
  step: number; // 1-based, for Adam's bias correction
  adamw: AdamWConfig;
};

export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };

export const decays = (shape: readonly number[]): boolean => shape.length >= 2;

/** Adam's bias corrections at this step. */
const corrections = (hp: StepHyper): Pick<Hyper, 'c1' | 'c2'> => ({ c1: 1 - hp.adamw.beta1 ** hp.step, c2: 1 - hp.adamw.beta2 ** hp.step });

/** The GPU's uniform for one range of the slab: `n4` vec4 elements, weight decay on the first `decayEnd`. */
export function hyperUniform(hp: StepHyper, decayEnd: number, n4: number): Hyper {
  const { beta1, beta2, eps, weightDecay } = hp.adamw;
  return { lr: hp.lr, beta1, beta2, eps, weightDecay, ...corrections(hp), gradClip: hp.gradClip, decayEnd, n4 };
}

/** One in-place update of one parameter on the CPU, its gradient scaled by `gradScale` (clipping);
 *  the GPU runs the same arithmetic in WGSL. */
export function adamwUpdate(p: Float32Array, g: ArrayLike<number>, m: Float32Array, v: Float32Array, hp: StepHyper, gradScale: number, decay: boolean): void {
  const { beta1, beta2, eps, weightDecay } = hp.adamw;
  const { c1, c2 } = corrections(hp);
  const wd = decay ? weightDecay : 0;
  for (let i = 0; i < p.length; i++) {
    const grad = g[i]! * gradScale;
    m[i] = beta1 * m[i]! + (1 - beta1) * grad;
    v[i] = beta2 * v[i]! + (1 - beta2) * grad * grad;
    p[i] = p[i]! - hp.lr * ((m[i]! / c1) / (Math.sqrt(v[i]! / c2) + eps) + wd * p[i]!);
  }
}
