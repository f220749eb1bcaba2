// The fusion pass and what it produces.
export * from './types.js';
export { fuse, describeKernel, reducedAxes, scatterSummed } from './fuse.js';
export { resolveGraph, layoutStrides, numelOf, sizeOf } from './resolve.js';
export { dagOf, mergedStride, stridedView } from './views.js';
