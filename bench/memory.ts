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
import { trainerGraphs } from '../src/runtime/train/webgpu-backend.js';
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

export function gpt2TrainingMemory(batch = 8, length = 1024): TrainingMemory {
  const { model } = loadModel(nodeEnv(), 'models/gpt2.arch', new Map(), { quietWarnings: true });
  const train = buildGraph(model, { training: true, grad: true });
  const g = trainerGraphs(train.graph, buildGraph(model, { training: false }).graph);
  const symbols = bindSymbols(train, { batch, length });
  const bytes = (graph: Graph): GraphBytes => {
    const p = planGraph(graph, symbols, { kernels: 'cpu', slab: g.slab }, DEFAULT_LIMITS);
    return { buffers: p.plan.totalBytes, textures: p.plan.textureBytes };
  };
  return { batch, length, train: bytes(g.train), eval: bytes(g.eval), slab: { params: g.weightBytes, grads: g.weightBytes } };
}
