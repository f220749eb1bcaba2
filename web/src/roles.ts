// What each input of a lowered model is for, as `arch train` decides it (src/cli/model-io.ts's
// inputRoles and classLetters, which the page cannot import; one copy once they move below cli).
import type { CheckedModel, InputSpec, Lowered } from './core.js';

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

export function classLetters(m: CheckedModel): Map<string, string> {
  const out = new Map<string, string>();
  for (const i of m.inputs) if (i.onehot) out.set(i.name, m.axes.get(i.axes.at(-1)!)!.letter);
  return out;
}
