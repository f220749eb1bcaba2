// Fused kernels -> WGSL: one template per kernel kind, specialised by constants.
// The WGSL text holds nothing kernel-specific beyond what it computes (no kernel names): the
// runtime caches pipelines by text, so the same kernel in every layer compiles once.
import type { FusedGraph, Kernel } from '../../ir/fuse/types.js';
import type { CodegenOptions, KernelCode } from './common.js';
import { attentionKernel } from './attention.js';
import { contractKernel, type ContractCodegenOptions } from './contract.js';
import { elementwiseKernel } from './elementwise.js';
import { rowKernel } from './row.js';

export type { CodegenOptions, KernelBinding, KernelCode, KernelPart } from './common.js';
export { dispatchesOf, pipelineKey } from './common.js';
export { rowLanes } from './row.js';

export function generateKernel(fg: FusedGraph, k: Kernel, opts: CodegenOptions & ContractCodegenOptions = {}): KernelCode {
  const o = { maxWorkgroupsPerDimension: opts.maxWorkgroupsPerDimension ?? 65535, maxStorageBufferBindingSize: opts.maxStorageBufferBindingSize ?? Infinity, textureReads: opts.textureReads ?? 0, uniformSizes: opts.uniformSizes ?? true, kernels: opts.kernels ?? 'cpu' };
  switch (k.kind) {
    case 'elementwise': return elementwiseKernel(fg, k, o);
    case 'row': return rowKernel(fg, k, o);
    case 'contract': return contractKernel(fg, k, { ...opts, maxStorageBufferBindingSize: o.maxStorageBufferBindingSize, uniformSizes: o.uniformSizes, kernels: o.kernels });
    case 'attention': return attentionKernel(fg, k, o);
  }
}
