// The checked graph: what the checker proves about a model, and what lowering turns into IR.
// Every block call is instantiated (its letters replaced by the caller's axes), so the graph is
// flat: nodes in evaluation order, each with its axes and the source span it came from.
import type { Span } from '../../grammar/ast.js';

/** An axis of the whole model. Most are dim letters; a block instance whose letters would clash
 *  with its caller's gets fresh axes named like `M'1`, sized as the letter they stand for. */
export interface AxisInfo {
  name: string;
  letter: string; // the dim letter it was written as
  size: number | null; // null: a runtime dim (B)
  /** The input's length letters (L of tokens_BLV): the declared size is the maximum, the run time decides. */
  sequence: boolean;
}

export type InitSpec = { kind: 'normal'; std: number } | { kind: 'zeros' } | { kind: 'ones' };

export type UnaryFn = 'neg' | 'exp' | 'log' | 'sqrt' | 'tanh' | 'sin' | 'cos' | 'abs';
export type BinaryFn = 'add' | 'sub' | 'mul' | 'div' | 'mod' | 'max' | 'min' | 'pow' | 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne';
export type ReduceFn = 'sum' | 'mean' | 'max' | 'min';

export type GOp =
  | { kind: 'input'; name: string; onehot: boolean }
  | { kind: 'next'; input: string } // the targets: input shifted by one position
  | { kind: 'param'; path: string; init: InitSpec }
  | { kind: 'number'; value: number }
  | { kind: 'size'; axis: string } // an axis's size used as a number (sqrt(K))
  | { kind: 'unary'; fn: UnaryFn }
  | { kind: 'binary'; fn: BinaryFn }
  | { kind: 'select' }
  | { kind: 'reduce'; fn: ReduceFn; over: string[] }
  | { kind: 'contract' } // sums the axes both operands have and the node lacks
  | { kind: 'softmax'; over: string }
  | { kind: 'causal'; query: string; key: string } // keeps key <= query, the rest -inf
  | { kind: 'reshape'; from: string[]; to: string[] } // split, merge or rename
  | { kind: 'permute' } // the node's axes are the operand's in another order
  | { kind: 'iota'; axis: string }
  | { kind: 'dropout'; p: number }
  | { kind: 'valid' }; // 1 where a one-hot target holds a token (ids < 0 mark positions that don't count)

export interface GNode {
  id: number;
  op: GOp;
  args: number[];
  axes: string[]; // the result's axes, in layout order
  span: Span;
  /** The tensor name this node was assigned to, if any, and the block instance it lives in. */
  name?: string;
  scope: string;
}

export interface TraceEntry {
  name: string; // as written, e.g. q_BLHK
  scope: string; // block instance path, e.g. stream.3.causal_attention ("" at top level)
  node: number;
}

export interface ParamEntry {
  path: string; // e.g. stream.3.causal_attention.q.w
  name: string; // as written, e.g. w_IO
  axes: string[];
  shape: number[];
  init: InitSpec;
  node: number;
  /** Block path of call names, e.g. ['layer', 'causal_attention', 'linear'], for per-block accounting. */
  blocks: string[];
}

export interface InputEntry {
  name: string;
  axes: string[];
  onehot: boolean;
  node: number;
}

export interface CheckedModel {
  name: string;
  file: string;
  axes: Map<string, AxisInfo>;
  dims: Map<string, { size: number | null; derivation: string }>;
  variants: Map<string, string | number>;
  nodes: GNode[];
  inputs: InputEntry[];
  params: ParamEntry[];
  trace: TraceEntry[];
  outputs: Map<string, number>; // 'loss', 'logits', ...
}
