// Whether a model can run here, decided from its graph's shapes before anything is allocated:
// weights are created in host memory (initParams) before the executor meets the adapter's limits,
// so a model far too large (--set D=20000) would otherwise grow the process past the machine's
// memory first. Nothing here allocates more than a number per tensor. The machine's memory is the
// host's to say (os.totalmem() in Node), so it comes in as a number.
import { evalSize } from '../ir/size.js';
import type { Graph, Node } from '../ir/types.js';
import { PlanLimitError } from './executor.js';
import { budgetText, fmtBytes, hostBudget } from './host-memory.js';

export { fmtBytes, HOST_FRACTION, hostBudget } from './host-memory.js';

/** Copies of the parameters (as f32) a run holds, counting the adapter's when it is the CPU. */
export const PARAM_COPIES = {
  /** none: `arch compile` plans, and allocates nothing */
  plan: 0,
  /** the host's weights and the device's (or the interpreter's) */
  inference: 2,
  /** the host's weights, and the device's weights, gradients and two AdamW moments */
  training: 5,
} as const;

export interface FitOptions {
  /** Runtime sizes (batch, length): with them every tensor is checked, not only the parameters. */
  symbols?: Record<string, number>;
  /** The adapter's limits when one is at hand (WebGPU's defaults for a plan). */
  limits?: { maxBufferSize?: number };
  /** Copies of the parameters held at once (PARAM_COPIES). */
  paramCopies: number;
  /** The machine's memory in bytes, as the host reports it; without it (or hostBytes) only the
   *  adapter's limits are checked. */
  memoryBytes?: number;
  /** Host bytes the run may use (default: hostBudget(memoryBytes)). */
  hostBytes?: number;
}

const HINT_MODEL = 'use a smaller model (e.g. a smaller --set D=... or N=...)';
const HINT_BATCH = 'use a smaller --batch or sequence length';

/** Throws PlanLimitError naming the tensor, its size and the limit, when the model cannot fit. */
export function checkFits(graph: Graph, o: FitOptions): void {
  const host = o.hostBytes ?? (o.memoryBytes !== undefined ? hostBudget(o.memoryBytes) : Infinity);
  const hostLimit = o.memoryBytes !== undefined && o.hostBytes === undefined ? budgetText(o.memoryBytes) : `the ${fmtBytes(host)} arch allows a run here`;
  const maxBuffer = o.limits?.maxBufferSize;
  let total = 0;
  let largest: { name: string; node: Node; bytes: number } | undefined;
  for (const [name, id] of graph.params) {
    const node = graph.nodes[id]!;
    const bytes = nodeBytes(node, o.symbols ?? {});
    total += bytes;
    if (!largest || bytes > largest.bytes) largest = { name, node, bytes };
    if (maxBuffer !== undefined && bytes > maxBuffer)
      throw new PlanLimitError(`parameter ${name} ${shapeText(node)} needs ${fmtBytes(bytes)}, more than the adapter's largest buffer (maxBufferSize: ${fmtBytes(maxBuffer)}); ${HINT_MODEL}, or an adapter with a larger limit`);
  }
  if (largest && total * o.paramCopies > host) {
    throw new PlanLimitError(
      `the model's parameters take ${fmtBytes(total)} (the largest: ${largest.name} ${shapeText(largest.node)}, ${fmtBytes(largest.bytes)}); ` +
        `this run holds ${o.paramCopies} copies of them, ${fmtBytes(total * o.paramCopies)}, more than ${hostLimit}; ${HINT_MODEL}`,
    );
  }
  if (!o.symbols) return;
  // One tensor larger than the host budget can't be held by the interpreter (which keeps them
  // all), nor by a CPU adapter (whose buffers are host memory), and planning one takes minutes.
  for (const node of graph.nodes) {
    const bytes = nodeBytes(node, o.symbols);
    if (bytes > host) {
      const symbolic = node.type.axes.some((a) => typeof a.size !== 'number');
      throw new PlanLimitError(`tensor ${node.label ?? `%${node.id}`} ${shapeText(node, o.symbols)} needs ${fmtBytes(bytes)}, more than ${hostLimit}; ${symbolic ? HINT_BATCH : HINT_MODEL}`);
    }
  }
}

/** Bytes of a node's values (f32 and i32 alike: 4 bytes), as a float: no overflow, no allocation. */
function nodeBytes(node: Node, symbols: Record<string, number>): number {
  let n = 4;
  for (const a of node.type.axes) n *= typeof a.size === 'number' ? a.size : boundSize(a.size, symbols);
  return n;
}

/** A symbolic size at the given symbols; an unbound symbol counts as 1 (the check is a floor). */
function boundSize(s: string, symbols: Record<string, number>): number {
  try {
    return evalSize(s, symbols);
  } catch {
    return 1;
  }
}

/** [B=1000000, L=64, D=64]: each axis at the size it is checked at. */
function shapeText(node: Node, symbols: Record<string, number> = {}): string {
  return `[${node.type.axes.map((a) => `${a.name}=${typeof a.size === 'number' ? a.size : boundSize(a.size, symbols)}`).join(', ')}]`;
}

