// A model and its data made ready to train, as `arch train` makes them (src/cli/commands/train.ts):
// the data decides V unless set, the training graph is differentiated, a task trains at its own
// length, and the weights start from the seed.
import { classLetters, compileSource, differentiate, inputRoles, initParams, lower, TRAIN_DEFAULTS, type CheckedModel, type DataSource, type Graph, type InputSpec, type Lowered, type Weights } from './core.js';
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
  const notes: string[] = [];
  const first = compileSource(FILE, source, sets);
  if (!first.model) throw new PrepareError('the model has errors: fix them first (see the diagnostics)');
  const letters = classLetters(first.model);
  for (const r of inputRoles(lower(first.model))) {
    const letter = letters.get(r.name);
    if (!letter || sets.has(letter) || r.role === 'labels') continue;
    const have = first.model.dims.get(letter)?.size;
    if (have !== data.vocabSize) {
      sets.set(letter, String(data.vocabSize));
      notes.push(`${letter} = ${data.vocabSize} (from the data's vocabulary; the model declares ${have})`);
    }
  }
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
  const tokens = roles.find((x) => x.role === 'tokens')!;
  const maxL = lowered.symbols.get(tokens.symbols[1]!)?.max;
  if (!maxL) throw new PrepareError('can\'t tell the model\'s context length from its token input');
  const length = data.task ? Math.min(maxL, Math.max(data.task.contextLength, data.task.minContextLength)) : maxL;
  if (data.task && maxL < data.task.minContextLength) throw new PrepareError(`${data.name} needs a context of at least ${data.task.minContextLength} positions; the model's is ${maxL}`);
  const symbols: Record<string, number> = { seed: 0 };
  for (const role of roles) role.symbols.forEach((sym, i) => {
    const info = lowered.symbols.get(sym);
    symbols[sym] = i === 0 || info?.max === undefined ? s.batch : length;
  });
  const shapes = new Map([...train.params].map(([k, id]) => [k, train.nodes[id]!.type.axes.map((a) => a.size as number)]));
  const weights: Weights = new Map(Object.entries(initParams(lowered.graph, {}, s.seed)).map(([k, v]) => [k, Float32Array.from(v)]));
  return { model, source, sets, lowered, train, evalGraph, roles, length, symbols, shapes, weights, notes };
}
