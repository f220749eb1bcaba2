// Batches from the data layer -> the graph's inputs. The model says what each input is for
// (its role); the data says what it has. A mismatch is a clear error, before any step runs.
import type { Batch } from '../../data/index.js';
import type { Feeds } from './backend.js';

export type InputRole = 'tokens' | 'targets' | 'labels' | 'source';

export interface InputSpec {
  name: string;
  role: InputRole;
  /** Runtime symbols of its axes, e.g. ['B', 'L']. */
  symbols: string[];
}

export class FeedError extends Error {}

export function describeRoles(inputs: InputSpec[]): string {
  return inputs.map((i) => `${i.name} (${i.role})`).join(', ');
}

export function feedsFor(inputs: InputSpec[], batch: Batch, seed: number): Feeds {
  const out: Feeds = { inputs: {}, symbols: { seed } };
  const bind = (spec: InputSpec, data: Int32Array, sizes: number[]) => {
    out.inputs[spec.name] = data;
    spec.symbols.forEach((s, i) => {
      const prev = out.symbols[s];
      if (prev !== undefined && prev !== sizes[i]) throw new FeedError(`the data gives ${s} = ${sizes[i]} for ${spec.name} but ${prev} elsewhere`);
      out.symbols[s] = sizes[i]!;
    });
  };
  for (const spec of inputs) {
    switch (spec.role) {
      case 'tokens':
        bind(spec, batch.inputs, [batch.batch, batch.length]);
        break;
      case 'targets': {
        if (!batch.targets) throw new FeedError(`the data has no next-token targets for ${spec.name}`);
        const t = batch.mask ? Int32Array.from(batch.targets, (x, i) => (batch.mask![i] === 0 ? -1 : x)) : batch.targets;
        bind(spec, t, [batch.batch, batch.length]);
        break;
      }
      case 'labels':
        if (!batch.labels) throw new FeedError(`the data has no labels for ${spec.name}: use a classification task (task:classify)`);
        bind(spec, batch.labels, [batch.batch]);
        break;
      case 'source':
        if (!batch.source) throw new FeedError(`the data has no source sequence for ${spec.name}: use a sequence-to-sequence task (task:seq2seq)`);
        bind(spec, batch.source, [batch.batch, batch.sourceLength ?? batch.length]);
        break;
    }
  }
  return out;
}
