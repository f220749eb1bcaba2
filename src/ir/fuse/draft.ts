// A kernel while fusion builds it: its members and the tensors it reads and writes, plus what its
// kind needs (kernels.ts turns each into the Kernel that codegen reads). One type per kind.

import type { AttentionMatch } from './attention.js';
import type { ContractKernel } from './types.js';
import type { UpdateMatch } from './update.js';

interface DraftBase {
  /** Creation order: kernels are ordered by it where dependencies allow. */
  index: number;
  members: number[];
  /** Members computed by inlining their expression (not reductions or the contraction). */
  inlineMembers: Set<number>;
  /** Members whose values are registers (reductions, the contraction's sum). */
  provided: Set<number>;
  reads: Set<number>; // tensors
  writes: Set<number>; // tensors
}

export interface RowDraft extends DraftBase {
  kind: 'row';
  rowAxes: string[];
  redAxes: string[];
  /** The size of each row and reduced axis: an epilogue joins only if its same-named axes agree
   *  (a reduction removes its axis, so a consumer may have another axis of that name). */
  axisSizes: Map<string, number>;
  /** Rows and reduced axes with their sizes: a reduction joins only a kernel of the same key. */
  rowKey: string;
  /** A row kernel nested into the sweep of a scalar reduction over its rows (rules/row.ts, nest). */
  inner?: { redAxes: string[]; reductions: number[] };
}

/** What a contraction kernel computes: ContractKernel's own fields (no siblings yet). */
export type ContractPlan = Pick<ContractKernel, 'node' | 'batch' | 'm' | 'n' | 'k' | 'aNode' | 'bNode' | 'a' | 'b' | 'out' | 'epilogue' | 'epilogueReads' | 'update' | 'outNames'>;

export interface ContractDraft extends DraftBase {
  kind: 'contract';
  contract: ContractPlan;
}

/** One thread per element; with no members, a copy of a value into another layout. */
export interface ElementwiseDraft extends DraftBase {
  kind: 'elementwise';
}

/** An in-place row update of a state input (update.ts), over the state's axes but `update.axis`. */
export interface UpdateDraft extends DraftBase {
  kind: 'update';
  space: string[];
  update: UpdateMatch;
}

export interface AttentionDraft extends DraftBase {
  kind: 'attention';
  /** The match, and the tensor its contraction is written to. */
  attention: AttentionMatch & { tensor: number };
}

export type Draft = RowDraft | ContractDraft | ElementwiseDraft | UpdateDraft | AttentionDraft;

/** A draft's own fields, given when it is made (Partition.newDraft fills in the rest). */
export type DraftFields = { [K in Draft['kind']]: Omit<Extract<Draft, { kind: K }>, keyof DraftBase> }[Draft['kind']];
