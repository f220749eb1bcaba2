// The tensor IR: named axes, a small set of primitives, and a graph of nodes in topological order.
// Each primitive has one meaning (interpret.ts) and one gradient rule (autodiff.ts); docs/ir.md
// lists them in a table. Passes test group membership (UNARY_FNS, LAYOUT_KINDS, ...) instead of
// listing ops.

/** An axis size: a number, or a runtime symbol product ('B', 'B*L') bound when the graph runs. */
export type Size = number | string;

/** A named axis. Names are unique within one tensor; layout is the order of axes, row-major. */
export interface Axis {
  name: string;
  size: Size;
}

export type DType = 'f32' | 'i32';

export interface TensorType {
  axes: Axis[];
  dtype: DType;
}

export type ParamInit = { kind: 'normal'; std: number } | { kind: 'zeros' } | { kind: 'ones' };

// ---- function groups (the `fn` of unary / binary / reduce nodes) ----

/** Elementwise f32 -> f32. */
export const UNARY_FNS = ['neg', 'exp', 'log', 'sqrt', 'recip', 'tanh', 'sin', 'cos'] as const;
export type UnaryFn = (typeof UNARY_FNS)[number];

/** Comparisons give 1 or 0 (f32) and pass no gradient. */
export const COMPARE_FNS = ['lt', 'le', 'gt', 'ge', 'eq', 'ne'] as const;
export type CompareFn = (typeof COMPARE_FNS)[number];

/** Elementwise (f32, f32) -> f32 with broadcasting by axis name. */
export const BINARY_FNS = ['add', 'sub', 'mul', 'div', 'max', 'min', 'mod', ...COMPARE_FNS] as const;
export type BinaryFn = (typeof BINARY_FNS)[number];

export const REDUCE_FNS = ['sum', 'max'] as const;
export type ReduceFn = (typeof REDUCE_FNS)[number];

// ---- ops ----

export type Op =
  // sources: no tensor inputs
  | { kind: 'input'; name: string }
  | { kind: 'param'; name: string; init: ParamInit }
  /** A scalar (axes []). A string value is a size expression resolved at run time ('L', 'B*L'). */
  | { kind: 'const'; value: number | string }
  /** f32 values index + offset along one axis (a string offset is a size expression). */
  | { kind: 'iota'; axis: Axis; offset: number | string }
  /** Counter-based uniform [0, 1) over the node's axes; seed is the runtime symbol 'seed'. */
  | { kind: 'random'; stream: number }
  // elementwise
  | { kind: 'unary'; fn: UnaryFn }
  | { kind: 'binary'; fn: BinaryFn }
  /** inputs [cond, a, b]: cond != 0 ? a : b, broadcasting like binary (a's axes, b's, then cond's). */
  | { kind: 'select' }
  /** Convert dtype (f32 -> i32 truncates toward zero). The target is the node's type.dtype. */
  | { kind: 'cast'; to: DType }
  // reductions and contraction
  | { kind: 'reduce'; fn: ReduceFn; axis: string }
  /** Einsum named by axes: sums axes that both operands have and `out` lacks. */
  | { kind: 'contract'; out: string[] }
  // indexing; an index outside [0, size) reads 0 (gather) or is dropped (scatterAdd)
  /**
   * inputs [table, index(i32)]: out[i.., r..] = table[axis = index[i..], r..]. Out axes: index's
   * axes, then table's other axes that index lacks. Table axes that index also has are batch
   * axes, matched by name (cross-entropy gathers logits_BLV with targets_BL).
   */
  | { kind: 'gather'; axis: string }
  /**
   * inputs [values, index(i32)]: the transpose of gather, out[axis = index[i..], ..] += values[i.., ..].
   * Out axes are `out` (holding `axis`); values' axes that out lacks must be index axes (summed over).
   */
  | { kind: 'scatterAdd'; axis: Axis; out: string[] }
  // layout
  | { kind: 'permute'; order: string[] }
  | { kind: 'split'; axis: string; into: Axis[] }
  /** The merged axes must be adjacent and in this order; the merged axis takes their place. */
  | { kind: 'merge'; axes: string[]; into: Axis }
  | { kind: 'rename'; from: string; to: string }
  | { kind: 'slice'; axis: string; start: Size; size: Size }
  /** Zero padding: the input lands at [start, start + size) of an axis of fullSize. */
  | { kind: 'pad'; axis: string; start: Size; fullSize: Size }
  /** Broadcast to `to` (a superset of the input's axes, in any order). */
  | { kind: 'expand'; to: Axis[] };

export type OpKind = Op['kind'];
export type OpOf<K extends OpKind> = Extract<Op, { kind: K }>;

export const SOURCE_KINDS: ReadonlySet<OpKind> = new Set(['input', 'param', 'const', 'iota', 'random']);
export const ELEMENTWISE_KINDS: ReadonlySet<OpKind> = new Set(['unary', 'binary', 'select', 'cast']);
export const REDUCE_KINDS: ReadonlySet<OpKind> = new Set(['reduce']);
export const INDEX_KINDS: ReadonlySet<OpKind> = new Set(['gather', 'scatterAdd']);
export const LAYOUT_KINDS: ReadonlySet<OpKind> = new Set([
  'permute', 'split', 'merge', 'rename', 'slice', 'pad', 'expand',
]);
/** Layout ops that only reinterpret the same row-major buffer (no data movement). */
export const VIEW_KINDS: ReadonlySet<OpKind> = new Set(['split', 'merge', 'rename']);

export type OpGroup = 'source' | 'elementwise' | 'reduce' | 'contract' | 'index' | 'layout';

export function opGroup(op: Op): OpGroup {
  if (SOURCE_KINDS.has(op.kind)) return 'source';
  if (ELEMENTWISE_KINDS.has(op.kind)) return 'elementwise';
  if (REDUCE_KINDS.has(op.kind)) return 'reduce';
  if (op.kind === 'contract') return 'contract';
  if (INDEX_KINDS.has(op.kind)) return 'index';
  return 'layout';
}

// ---- graph ----

export interface Node {
  /** Equals the node's index in Graph.nodes. */
  id: number;
  op: Op;
  inputs: number[];
  type: TensorType;
  /** The source name (e.g. 'embedded_BLD'), for dumps. */
  label?: string;
}

export interface Graph {
  /** Topological order: every input id is smaller than the node's id. */
  nodes: Node[];
  inputs: Map<string, number>;
  params: Map<string, number>;
  outputs: Map<string, number>;
}

/** Name of the output that holds d loss / d param in a differentiated graph. */
export function gradName(param: string): string {
  return `grad:${param}`;
}
