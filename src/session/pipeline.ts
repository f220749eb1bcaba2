// The steps every running command shares: checked model -> IR (lowered, maybe differentiated),
// and token rows -> the IR's inputs.
import type { CheckedModel } from '../compiler/graph.js';
import { lower, NEXT_SUFFIX, type Lowered } from '../compiler/lower.js';
import { differentiate, type Graph } from '../ir/index.js';
import { UsageError } from './errors.js';

export interface Built {
  lowered: Lowered;
  /** The forward graph, or forward + backward with `grad:<param>` outputs. */
  graph: Graph;
  params: string[];
}

export function buildGraph(model: CheckedModel, opts: { training?: boolean; grad?: boolean; positionOffset?: string; attentionMaps?: boolean } = {}): Built {
  const lowered = lower(model, { training: opts.training, positionOffset: opts.positionOffset, attentionMaps: opts.attentionMaps });
  const params = [...lowered.graph.params.keys()];
  if (opts.grad && !lowered.graph.outputs.has('loss')) throw new UsageError(`${model.file} defines no \`loss\`, so there is nothing to differentiate`);
  // a training step reads the loss and the gradients only: an output of the logits would store
  // them whole, where the fused head and loss compute them a chunk at a time (src/ir/fuse/classifier.ts)
  const lossOnly = { ...lowered.graph, outputs: new Map([['loss', lowered.graph.outputs.get('loss')!]]) };
  const graph = opts.grad ? differentiate(lossOnly, 'loss', params) : lowered.graph;
  return { lowered, graph, params };
}


/** A language model's shape: one token input that `next(...)` also reads. */
export function tokenInput(l: Lowered, file: string): { name: string; classes: number; maxLength?: number; lengthSymbol: string; batchSymbol: string } {
  const tokens = [...l.inputs].filter(([, i]) => i.tokens && !i.shifted);
  const shifted = [...l.inputs].filter(([, i]) => i.shifted);
  const others = [...l.inputs].filter(([, i]) => !i.tokens);
  if (tokens.length !== 1 || shifted.length !== 1 || others.length || shifted[0]![1].source !== tokens[0]![0]) {
    throw new UsageError(
      `${file} is not a language model over one token stream (its inputs: ${[...l.inputs.keys()].join(', ')}); token files and text work with models whose loss reads next(tokens)`,
    );
  }
  const [name, info] = tokens[0]!;
  const node = l.graph.nodes[l.graph.inputs.get(name)!]!;
  const [batchAxis, lengthAxis] = node.type.axes;
  if (!batchAxis || !lengthAxis || typeof batchAxis.size !== 'string' || typeof lengthAxis.size !== 'string')
    throw new UsageError(`${file}: the token input must have a batch and a length letter (tokens_BLV)`);
  return { name, classes: info.classes!, maxLength: l.symbols.get(lengthAxis.size)?.max, lengthSymbol: lengthAxis.size, batchSymbol: batchAxis.size };
}

/** Rows of seq+1 token ids -> inputs (row[:-1]) and targets (row[1:]). */
export function tokenFeeds(l: Lowered, file: string, rows: number[][]): { inputs: Record<string, Int32Array>; symbols: Record<string, number> } {
  const t = tokenInput(l, file);
  const seq = rows[0]!.length - 1;
  const x = new Int32Array(rows.length * seq);
  const y = new Int32Array(rows.length * seq);
  rows.forEach((r, b) => {
    x.set(r.slice(0, seq), b * seq);
    y.set(r.slice(1), b * seq);
  });
  return { inputs: { [t.name]: x, [t.name + NEXT_SUFFIX]: y }, symbols: { [t.batchSymbol]: rows.length, [t.lengthSymbol]: seq, seed: 0 } };
}
