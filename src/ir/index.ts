// The tensor IR's public surface.
export * from './types.js';
export * from './size.js';
export { GraphBuilder, formatAxes, unionAxes } from './builder.js';
export { interpret, evaluate, numel, resolveType } from './interpret.js';
export type { Data, Feeds, InterpretOptions, Value } from './interpret.js';
export { differentiate } from './autodiff.js';
export { printGraph, formatNode, formatOp } from './print.js';
export { pcgHash, randomBits, randomUniform } from './random.js';
export { initParams, initValues } from './init.js';
export { prune } from './prune.js';
export { nodeOrigins } from './origins.js';
export { MASKED_SCORE, isMaskedScore, softmaxAt } from './patterns.js';
export type { SoftmaxChain } from './patterns.js';
