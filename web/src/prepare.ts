// A model and its data made ready to train, as `arch train` makes them (the core's dimsFromData,
// trainLength and trainSymbols, which src/session/train.ts uses): the data decides V unless set,
// the training graph is differentiated, a task trains at its own length, and the weights start
// from the seed.
import { checkClasses, compileSource, differentiate, dimsFromData, inputRoles, initParams, lower, paramShapes, trainLength, trainSymbols, TRAIN_DEFAULTS, type CheckedModel, type DataSource, type Graph, type InputSpec, type Lowered, type Weights } from './core.js';
import { FILE } from './analysis.js';

export interface TrainSettings {
  steps: number;
  batch: number;
  seed: number;
  lr: number;
  weightDecay: number;
  /** Validation every N steps (default steps/10, as arch train). */
  evalEvery?: number;
  /** The rest of `arch train`'s flags, where a resumed run recorded them (defaults as arch train's). */
  warmup?: number;
  minLr?: number;
  schedule?: 'cosine' | 'constant';
  gradClip?: number;
  accum?: number;
  evalBatches?: number;
}

/** A checkpoint's recorded training flags (CheckpointMeta.options) as the page's settings: on
 *  resume the run's own settings win and only the steps change, as `arch train --resume` does. */
export function recordedSettings(options: Record<string, unknown>, steps: number): TrainSettings {
  const n = (k: string, fallback: number): number => (typeof options[k] === 'number' ? (options[k] as number) : fallback);
  const lr = n('lr', TRAIN_DEFAULTS.lr);
  return {
    steps,
    batch: n('batch', TRAIN_DEFAULTS.batch),
    seed: n('seed', TRAIN_DEFAULTS.seed),
    lr,
    weightDecay: n('weightDecay', TRAIN_DEFAULTS.weightDecay),
    evalEvery: n('evalEvery', Math.max(1, Math.floor(steps / 10))),
    warmup: n('warmup', Math.floor(steps / 20)),
    minLr: n('minLr', lr / 10),
    schedule: options.schedule === 'constant' ? 'constant' : 'cosine',
    gradClip: n('gradClip', TRAIN_DEFAULTS.gradClip),
    accum: n('accum', TRAIN_DEFAULTS.accum),
    evalBatches: n('evalBatches', TRAIN_DEFAULTS.evalBatches),
  };
}

export const DEFAULT_SETTINGS: TrainSettings = { steps: 200, batch: TRAIN_DEFAULTS.batch, seed: TRAIN_DEFAULTS.seed, lr: TRAIN_DEFAULTS.lr, weightDecay: TRAIN_DEFAULTS.weightDecay };

export interface Prepared {
  model: CheckedModel;
  source: string;
  sets: Map<string, string>;
  lowered: Lowered;
  train: Graph;
  evalGraph: Graph;
  roles: InputSpec[];
  length: number;
  symbols: Record<string, number>;
  shapes: Map<string, number[]>;
  weights: Weights;
  notes: string[];
}

export class PrepareError extends Error {}

export function prepare(source: string, sets0: Map<string, string>, data: DataSource, s: TrainSettings): Prepared {
  const sets = new Map(sets0);
  const first = compileSource(FILE, source, sets);
  if (!first.model) throw new PrepareError('the model has errors: fix them first (see the diagnostics)');
  const notes = dimsFromData(first.model, data, sets);
  const r = compileSource(FILE, source, sets);
  if (!r.model) throw new PrepareError(`the model does not check with ${[...sets].map(([k, v]) => `${k}=${v}`).join(', ')}`);
  const model = r.model;
  const lowered = lower(model, { training: true });
  if (!lowered.graph.outputs.has('loss')) throw new PrepareError('the model defines no `loss`, so there is nothing to train');
  const roles = inputRoles(lowered);
  if (!roles.some((x) => x.role === 'tokens') || roles.some((x) => x.role === 'labels' || x.role === 'source'))
    throw new PrepareError(`the playground trains language models over one token stream (this model's inputs: ${roles.map((x) => `${x.name} (${x.role})`).join(', ')})`);
  const params = [...lowered.graph.params.keys()];
  const train = differentiate(lowered.graph, 'loss', params);
  const evalGraph = lower(model).graph;
  checkClasses(model, lowered, roles, data);
  const length = trainLength(model, lowered, roles, data, FILE);
  const symbols = trainSymbols(lowered, roles, data, s.batch, length);
  const shapes = new Map(paramShapes(train).map((p) => [p.name, p.shape]));
  const weights: Weights = new Map(Object.entries(initParams(lowered.graph, {}, s.seed)).map(([k, v]) => [k, Float32Array.from(v)]));
  return { model, source, sets, lowered, train, evalGraph, roles, length, symbols, shapes, weights, notes };
}
