// GPT-2 small's training plan at its full context for `npm run bench`: the bytes of buffers and
// textures of the training and evaluation graphs as the trainer compiles them (their parameters in
// one shared slab, the gradients in another), planned without a device under WebGPU's default
// limits. On llvmpipe this is the machine's memory a run takes beside AdamW's moments and the
// host's weights (docs/llvmpipe.md, Textures).
import { loadModel } from '../src/session/model.js';
import { nodeEnv } from '../src/host/node/index.js';
import { buildGraph } from '../src/session/pipeline.js';
import { bindSymbols } from '../src/session/kernels.js';
import { DEFAULT_LIMITS, planGraph } from '../src/runtime/executor.js';
import type { Graph } from '../src/ir/index.js';

export interface GraphBytes {
  buffers: number;
  textures: number;
}

export interface TrainingMemory {
  batch: number;
  length: number;
  train: GraphBytes;
  eval: GraphBytes;
  /** The parameter slab the two graphs share, and the training graph's gradient slab beside it. */
  slab: { params: number; grads: number };
}

const only = (g: Graph, keep: (name: string) => boolean): Graph => ({ ...g, outputs: new Map([...g.outputs].filter(([k]) => keep(k))) });

export function gpt2TrainingMemory(batch = 8, length = 1024): TrainingMemory {
  const { model } = loadModel(nodeEnv(), 'models/gpt2.arch', new Map(), { quietWarnings: true });
  const train = buildGraph(model, { training: true, grad: true });
  const evalBuilt = buildGraph(model, { training: false });
  const symbols = bindSymbols(train, { batch, length });
  const slab = [...train.graph.params.keys()];
  const bytes = (graph: Graph): GraphBytes => {
    const p = planGraph(graph, symbols, { kernels: 'cpu', slab }, DEFAULT_LIMITS);
    return { buffers: p.plan.totalBytes, textures: p.plan.textureBytes };
  };
  const weights = [...train.graph.params.values()].reduce((n, id) => n + 4 * train.graph.nodes[id]!.type.axes.reduce((q, a) => q * (a.size as number), 1), 0);
  return {
    batch,
    length,
    train: bytes(only(train.graph, (k) => k === 'loss' || k.startsWith('grad:'))),
    eval: bytes(only(evalBuilt.graph, (k) => k === 'loss')),
    slab: { params: weights, grads: weights },
  };
}
