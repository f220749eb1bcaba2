// Join rules of the elementwise kernel: a value joins, as an epilogue, the latest kernel whose
// registers it reads, by that kernel kind's epilogue rule (row.ts, contract.ts); otherwise it is
// an elementwise kernel of its own, one thread per element. The last rule: it places any node.

import type { Draft } from '../draft.js';
import type { EpilogueRule, JoinRule } from '../partition.js';
import { contractEpilogue } from './contract.js';
import { rowEpilogue } from './row.js';

const EPILOGUE_RULES: readonly EpilogueRule[] = [rowEpilogue, contractEpilogue];

const epilogue: JoinRule = (p, e) => {
  if (p.opts.unfused) return false;
  const dag = p.dag(e.id);
  const candidates = [...new Set(dag.reads.map((r) => p.kernelOf.get(r.node)).filter((d): d is Draft => d !== undefined && d.provided.size > 0))];
  candidates.sort((x, y) => y.index - x.index);
  return candidates.some((d) => EPILOGUE_RULES.some((rule) => rule(p, d, e, dag)));
};

const own: JoinRule = (p, e) => {
  const d = p.newDraft({ kind: 'elementwise' });
  p.addMember(d, e.id, p.memberReads(undefined, e.id)!.reads, false);
  p.checkAlone(d, e.id);
  return true;
};

/** In the order they are tried. */
export const ELEMENTWISE_RULES: readonly JoinRule[] = [epilogue, own];
