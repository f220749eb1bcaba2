// What the fusion pass produces: materialised tensors (a node's values in one storage order) and
// kernels that read and write them. IR-level only: nothing here knows WGSL. Sizes are numbers
// (fusion runs on a graph whose symbolic sizes were resolved for one binding of B, L, ...).

import type { Graph } from '../types.js';

/** A materialised tensor: the values of `node`, stored row-major in the axis order `layout`. */
export interface Tensor {
  id: number;
  node: number;
  /** Storage order of the node's axes (a permutation of its axis names). */
  layout: string[];
  role: 'input' | 'param' | 'intermediate';
}

/** A strided view of a tensor seen with another node's axes: offset + sum(coord * stride). */
export interface StridedView {
  tensor: number;
  offset: number;
  /** Per axis of the viewing node; 0 for a broadcast axis. */
  strides: Record<string, number>;
}

interface KernelBase {
  /** Readable: the kind and the labels / ops it fused. */
  name: string;
  /** Tensors read (through views or inline index expressions). */
  reads: number[];
  /** Tensors written. */
  writes: number[];
  /** Materialised nodes whose values this kernel produces (written, or kept in registers). */
  members: number[];
  /** Every node whose value this kernel computes (inlined or written): what it fused. */
  fused: number[];
}

/** One thread per element of `space`; each output tensor's node is computed inline. */
export interface ElementwiseKernel extends KernelBase {
  kind: 'elementwise';
  space: string[];
  /** An in-place row update (update.ts): `space` lacks `axis`, whose coordinate is the value of
   *  the scalar node `index`; the kernel stores node `value` there, in the state input's tensor. */
  update?: { axis: string; index: number; value: number };
}

/**
 * Rows over `rowAxes`, each reducing over `redAxes` (the flat product, when several). The
 * reductions run one after another (a later one may read an earlier one's result), then the
 * outputs: tensors over rowAxes, or over rowAxes + redAxes (written in a second sweep of the row).
 */
export interface RowKernel extends KernelBase {
  kind: 'row';
  rowAxes: string[];
  redAxes: string[];
  /** reduce or scatterAdd nodes (scatterAdd sums over index axes), in order. */
  reductions: number[];
  /**
   * Per reduction, the node summed (or maxed) over all of redAxes: the reduce's input, or the
   * innermost input of a chain like sum(sum(x, B), L) that fusion collapsed into one reduction.
   * For scatterAdd, the scatterAdd node itself.
   */
  terms: number[];
  /** Reductions over `inner.redAxes` computed at each element of this kernel's sweep (their rows
   *  are this kernel's reduced axes; rowAxes is empty): cross-entropy's per-row max and sum
   *  inside its mean. Their values are stored where they are tensors. */
  inner?: { redAxes: string[]; reductions: number[]; terms: number[] };
}

/**
 * A contraction through the register-blocked template: C[batch, m, n] = sum_k A[batch, m, k] B[batch, k, n],
 * each group a list of axes that the views flatten with one stride. `epilogue` is the node whose
 * value is written (the contraction itself when nothing was fused after it).
 */
export interface ContractKernel extends KernelBase {
  kind: 'contract';
  node: number;
  batch: string[];
  m: string[];
  n: string[];
  k: string[];
  /** The operand nodes read as A (owns m) and B (owns n), through views `a` and `b`. */
  aNode: number;
  bNode: number;
  a: StridedView;
  b: StridedView;
  /** Tensors the epilogue reads (bias, residual). */
  epilogueReads: number[];
  /** The epilogue is an in-place state update (update.ts): `out` is the state input's tensor and
   *  C is written at coordinate `index` (a scalar node) of `axis`, where the contraction has size 1. */
  update?: { axis: string; index: number };
  /** Contractions run in the same dispatch (horizontal fusion): they read the same A through the
   *  same view and do not depend on each other. Their reads and writes are included above. */
  siblings?: ContractKernel[];
  /** The written tensor; its layout groups batch, m, n so that each has one stride. */
  out: number;
  epilogue: number;
  /** C's axis name -> the written tensor's, where the epilogue reaches C through a `rename` (the
   *  attention projection's residual: C over D_1, the stream over D). */
  outNames?: Record<string, string>;
}

/**
 * A contraction over an L x M region that is never stored (src/ir/fuse/attention.ts): per row
 * of `rowAxes`, the sum over `stream` of operand `pairs` (in the region) times operand `x`
 * (outside it), where `pairs` is recomputed at every step from the `dots` (dot products over
 * head axes).
 */
export interface StreamedContraction {
  pairs: number;
  x: number;
  /** The summed axes, streamed over (the key axis M for the forward). */
  stream: string[];
  /** The axes of one invocation's row: the output's axes that `pairs` has. */
  rowAxes: string[];
  dots: number[];
  /** The forward: pairs = softmax(scores) over stream[0], computed online (max and sum kept). */
  softmax?: { scores: number; max: number; sum: number };
  /** The forward: where the scores are select(iota(M) + offset <= bound (or < bound), live, c),
   *  bound free of M and c a mask constant (exp(c - anything live) = 0 in f32): keys past the
   *  bound add exactly nothing, so the kernel may stop there (a causal mask). The backward: where
   *  its operand is exactly zero outside a range of one streamed axis. */
  keyBound?: KeyBound;
}

/** Attention as a streaming kernel: the contraction `node`, written to tensor `out`; the
 *  forward's running max and sum are written to their tensors when the backward reads them. */
export interface AttentionKernel extends KernelBase, StreamedContraction {
  kind: 'attention';
  node: number;
  out: number;
  /** Backward kernels over the same rows and steps run in the same dispatch (siblings.ts: dk
   *  and dv share q . k). Their reads and writes are included above. */
  siblings?: AttentionKernel[];
}

/** Steps of `axis` past `bound` are dead (m + offset <= bound is live, or < when strict); with
 *  `lower`, those before it (m + offset >= bound, or >). */
export interface KeyBound {
  axis: string;
  /** The node the coordinate is compared with. */
  bound: number;
  offset: number;
  strict: boolean;
  lower: boolean;
}

export type Kernel = ElementwiseKernel | RowKernel | ContractKernel | AttentionKernel;

export interface FusedGraph {
  /** The graph with every size resolved to a number. */
  graph: Graph;
  /** Each node of `graph`: its id in the graph given to fuse, or -1 for a node that the LM head's
   *  chunking made (classifier.ts renumbers nodes when it chunks). */
  sourceIds: number[];
  tensors: Tensor[];
  /** In execution order. */
  kernels: Kernel[];
  /** The tensor each materialised node is read from by kernels that inline its consumers. */
  primary: Map<number, number>;
  /** Graph output name -> tensor (in the output node's own axis order). */
  outputs: Map<string, number>;
  /** input / param name -> tensor. */
  inputs: Map<string, number>;
  params: Map<string, number>;
}

/**
 * The deepest expression a kernel computes inline. Real models' deepest is 13 steps (2026-12-03);
 * a longer chain (a generated program) is stored every this many steps, so that a kernel's code
 * and the walks over it (codegen's emitter recurses once per step) stay bounded however long the
 * graph's chains are.
 */
export const MAX_INLINE_DEPTH = 256;

export interface FuseOptions {
  /** Storage buffers one kernel may bind (WebGPU's default limit is 8). */
  maxBindings?: number;
  /**
   * An elementwise result used by several kernels is recomputed in each when its expression has at
   * most this many arithmetic ops; above it, it is materialised once.
   */
  recomputeMaxOps?: number;
  /**
   * Attention (contract, elementwise scores, softmax, contract) as one streaming kernel where
   * nothing else reads its intermediates (default true).
   */
  flashAttention?: boolean;
  /**
   * The LM head fused with its cross-entropy (classifier.ts): logits larger than this many
   * elements are computed, forward and backward, in chunks of positions of at most this many
   * (default 2^24; Infinity keeps them whole).
   */
  classifierChunk?: number;
  /**
   * A dear shared term whose uses all flow, over its own axes, into one later value is computed
   * in that value's kernel instead of stored (rowshare.ts, feedsOneValue), so that a contraction
   * can take the value as its epilogue: GELU's gradient (default true). The CPU kernels turn it
   * off (runtime plan.ts): their epilogue computes element by element what an elementwise kernel
   * computes 4 a texel, and GELU's gradient as an epilogue measured slower on llvmpipe.
   */
  inlineSharedTerms?: boolean;
  /** Fuse nothing: one kernel per op (for differential tests). */
  unfused?: boolean;
  /** Graph state: input name -> the output that replaces it after each run (a KV cache). Such
   *  inputs start at zero and need no feed. An output that updates its input at one position is
   *  written in place (update.ts); any other is copied into the input on the GPU after the run. */
  state?: Record<string, string>;
}
