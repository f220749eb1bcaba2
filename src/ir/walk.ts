// Walks over a graph on explicit stacks: a chain of nodes may be as long as the graph (a generated
// program of 60,000 statements), far past what the call stack holds.

import type { Graph } from './types.js';

/**
 * The nodes reached from `root` through the inputs of the nodes `descend` accepts, each once, in
 * the order a recursive depth-first walk (inputs in order) would finish them: a node's inputs
 * come before it. A node `descend` refuses is listed but its inputs are not walked.
 */
export function postOrder(g: Graph, root: number, descend: (id: number) => boolean): number[] {
  const out: number[] = [];
  const seen = new Set<number>([root]);
  const stack: { id: number; next: number }[] = [{ id: root, next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const inputs = descend(top.id) ? g.nodes[top.id]!.inputs : [];
    if (top.next < inputs.length) {
      const i = inputs[top.next++]!;
      if (!seen.has(i)) {
        seen.add(i);
        stack.push({ id: i, next: 0 });
      }
      continue;
    }
    stack.pop();
    out.push(top.id);
  }
  return out;
}
