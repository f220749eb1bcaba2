// One forward and backward pass of the training graph on the page's device, for tests that
// compare the loss and every parameter gradient with the reference interpreter in Node.
import { compileGraph, feedsFor, Rng, type ArchDevice } from './core.js';
import { openPageData } from './data.js';
import { DEFAULT_SETTINGS, prepare } from './prepare.js';

export interface GradRequest {
  data?: string;
  seed?: number;
  batch?: number;
}

export interface GradResult {
  loss: number;
  grads: Record<string, number[]>;
  inputs: Record<string, number[]>;
  symbols: Record<string, number>;
  sets: Record<string, string>;
}

export async function lossAndGrads(device: ArchDevice, source: string, sets: Map<string, string>, req: GradRequest): Promise<GradResult> {
  const data = await openPageData(req.data ?? 'task:reverse');
  const settings = { ...DEFAULT_SETTINGS, seed: req.seed ?? 1, batch: req.batch ?? 2 };
  const p = prepare(source, sets, data, settings);
  const feeds = feedsFor(p.roles, data.trainBatch(new Rng(settings.seed), settings.batch, p.length), 0);
  const compiled = await compileGraph(device, p.train, { ...p.symbols, ...feeds.symbols });
  try {
    compiled.setParams(Object.fromEntries(p.weights));
    const grads = [...p.train.outputs.keys()].filter((k) => k.startsWith('grad:'));
    const out = await compiled.run({ inputs: feeds.inputs }, ['loss', ...grads]);
    return {
      loss: out.loss![0]!,
      grads: Object.fromEntries(grads.map((g) => [g.slice('grad:'.length), [...out[g]!]])),
      inputs: Object.fromEntries(Object.entries(feeds.inputs).map(([k, v]) => [k, [...v]])),
      symbols: feeds.symbols,
      sets: Object.fromEntries(p.sets),
    };
  } finally {
    compiled.destroy();
  }
}
