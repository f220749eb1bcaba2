// What the running commands (train, sample, eval) share about a model's inputs: which input is
// for what, and the dims the data decides (V from the tokenizer, C from a task's classes).
import type { Lowered } from '../compiler/lower.js';
import type { CheckedModel } from '../compiler/graph.js';
import type { InputSpec } from '../runtime/train/feeds.js';

export function inputRoles(l: Lowered): InputSpec[] {
  const hasNext = new Set([...l.inputs.values()].filter((i) => i.shifted).map((i) => i.source));
  const anyNext = hasNext.size > 0;
  return [...l.inputs].map(([name, info]) => {
    const axes = l.graph.nodes[l.graph.inputs.get(name)!]!.type.axes;
    const symbols = axes.map((a) => String(a.size));
    let role: InputSpec['role'];
    if (info.shifted) role = 'targets';
    else if (hasNext.has(name)) role = 'tokens';
    else if (axes.length === 1) role = 'labels';
    else role = anyNext ? 'source' : 'tokens';
    return { name, role, symbols };
  });
}

/** The class letter of each one-hot input (V of tokens_BLV, C of label_BC), by input name. */
export function classLetters(m: CheckedModel): Map<string, string> {
  const out = new Map<string, string>();
  for (const i of m.inputs) if (i.onehot) out.set(i.name, m.axes.get(i.axes.at(-1)!)!.letter);
  return out;
}
