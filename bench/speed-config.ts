// The speed configuration the benches train, and the `arch train` request they run it with. No
// imports (a type only), so that bench/ab-child.ts can build the request in a process that runs
// another checkout's code.
import type { TrainRequest } from '../src/session/train.js';

/** The speed configuration: gpt-nano at D=128, 4 blocks (4 heads, GELU, pre-norm, learned positions, tied head). */
export const SPEED_CONFIG = { file: 'models/gpt-nano.arch', sets: { D: '128', N: '4' }, batch: 8, length: 64 };
export const SHAKESPEARE = 'data/tinyshakespeare.txt';

/** `arch train` of the speed config on tiny Shakespeare: lr 1e-3 constant, no validation before
 *  the end. `defaults`: the checkout's TRAIN_DEFAULTS (weight decay, gradient clip). */
export function speedTrainRequest(steps: number, out: string, defaults: { weightDecay: number; gradClip: number }): TrainRequest {
  return {
    file: SPEED_CONFIG.file,
    data: SHAKESPEARE,
    tokenizer: 'char',
    steps,
    batch: SPEED_CONFIG.batch,
    seed: 1,
    lr: 1e-3,
    schedule: 'constant',
    warmup: 0,
    minLr: 1e-4,
    weightDecay: defaults.weightDecay,
    gradClip: defaults.gradClip,
    accum: 1,
    evalEvery: 0,
    evalBatches: 1,
    backend: 'webgpu',
    sets: new Map(Object.entries(SPEED_CONFIG.sets)),
    out,
  };
}
