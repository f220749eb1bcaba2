// A scope is one block instance (or the top level): its names, and how its letters map to the
// model's axes. Block letters bind to the caller's axes; other letters are the model's dims.
import type { Span } from '../../grammar/ast.js';

/** A checked expression: its graph node and axes. */
export interface Val {
  node: number;
  axes: string[];
  onehot?: boolean;
  const?: number; // known numeric value of a scalar
}

export interface Binding {
  node: number;
  axes: string[];
  span: Span;
  used: boolean;
  onehot: boolean;
  kind: 'tensor' | 'param' | 'input' | 'argument';
}

export interface Scope {
  path: string; // parameter path prefix: "" at top level, "stream.3.causal_attention." inside
  blocks: string[]; // the chain of block names that led here
  file: string;
  /** letter -> the axes it stands for (a result letter can stand for several: O = H K). */
  sigma: Map<string, string[]>;
  /** `*` in this block's signature: the caller's leading axes it bound to. */
  star: string[] | null;
  env: Map<string, Binding>;
  labels: Map<string, number>;
  callStack: string[];
  /** Names assigned later in this scope, to tell "used before defined" from "undefined". */
  later: Map<string, Span>;
  /** Only the first instance of a block reports warnings (unused names), not each of N repeats. */
  quiet: boolean;
}

export function childLabel(scope: Scope, base: string): string {
  const n = (scope.labels.get(base) ?? 0) + 1;
  scope.labels.set(base, n);
  return n === 1 ? base : `${base}_${n}`;
}
