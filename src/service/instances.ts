// Which block each instance of the checked model is, and the shapes a name takes in them. The
// checker records a flat trace (name, instance path, node); the block behind an instance path is
// read from the parameters' block chains, else from which block assigns the instance's names.
import type { BlockDecl, Span } from '../../grammar/ast.js';
import type { CheckedModel } from '../compiler/graph.js';
import { assigned, type BlockLookup } from './occurrences.js';

const INDEX = /^\d+$/;

export function instanceBlocks(model: CheckedModel, findBlock: BlockLookup, blocks: BlockDecl[]): Map<string, BlockDecl> {
  const map = new Map<string, BlockDecl>();
  // A parameter's path is call labels and repeat indices (stream.3.causal_attention.q.w); its
  // `blocks` chain has one block per label (layer, causal_attention, linear).
  for (const p of model.params) {
    const segs = p.path.split('.').slice(0, -1);
    let k = -1;
    let prefix = '';
    segs.forEach((s, i) => {
      prefix = prefix ? `${prefix}.${s}` : s;
      if (!INDEX.test(s)) k++;
      const next = segs[i + 1];
      const b = k >= 0 && (next === undefined || !INDEX.test(next)) ? findBlock(p.blocks[k] ?? '') : undefined;
      if (b && !map.has(prefix)) map.set(prefix, b);
    });
  }
  // Instances with no parameters of their own or below (gelu): the block that assigns all their
  // names and whose body holds the spans of the nodes they computed themselves.
  const groups = new Map<string, { names: Set<string>; spans: Span[] }>();
  for (const t of model.trace) {
    if (!t.scope || map.has(t.scope)) continue;
    const g = groups.get(t.scope) ?? { names: new Set(), spans: [] };
    g.names.add(t.name);
    const n = model.nodes[t.node];
    if (n && n.scope === t.scope) g.spans.push(n.span);
    groups.set(t.scope, g);
  }
  for (const [scope, g] of groups) {
    const b = blocks.find((b) => {
      if (findBlock(b.name) !== b) return false;
      const names = new Set(assigned(b.body));
      return [...g.names].every((n) => names.has(n)) && g.spans.every((s) => s.start.offset >= b.span.start.offset && s.end.offset <= b.span.end.offset);
    });
    if (b) map.set(scope, b);
  }
  return map;
}

export interface Instance {
  scope: string;
  axes: string[];
}

/** The shapes a name takes: at the top level (block null) once, in a block once per instance. */
export function shapesOf(model: CheckedModel, instances: Map<string, BlockDecl>, name: string, block: BlockDecl | null): Instance[] {
  const here = (scope: string): boolean => (block ? instances.get(scope) === block : scope === '');
  const out: Instance[] = [];
  for (const i of model.inputs) if (!block && i.name === name) out.push({ scope: '', axes: i.axes });
  for (const p of model.params) {
    const scope = p.path.split('.').slice(0, -1).join('.');
    if (p.name === name && here(scope)) out.push({ scope, axes: p.axes });
  }
  for (const t of model.trace) if (t.name === name && here(t.scope)) out.push({ scope: t.scope, axes: model.nodes[t.node]!.axes });
  return out;
}

/** Each instance's letter -> axis, read off the names it assigned (a block argument's shape). */
export function letterAxes(model: CheckedModel, instances: Map<string, BlockDecl>, block: BlockDecl): { scope: string; map: Map<string, string> }[] {
  const byScope = new Map<string, Map<string, string>>();
  const zip = (scope: string, name: string, axes: string[]): void => {
    const suffix = /_([A-Z]+)$/.exec(name)?.[1];
    if (!suffix || suffix.length !== axes.length) return;
    const m = byScope.get(scope) ?? new Map<string, string>();
    [...suffix].forEach((l, i) => m.set(l, axes[i]!));
    byScope.set(scope, m);
  };
  for (const t of model.trace) if (instances.get(t.scope) === block) zip(t.scope, t.name, model.nodes[t.node]!.axes);
  for (const p of model.params) {
    const scope = p.path.split('.').slice(0, -1).join('.');
    if (instances.get(scope) === block) zip(scope, p.name, p.axes);
  }
  return [...byScope].map(([scope, map]) => ({ scope, map }));
}

/** `[B, L=1024, D=768]`, or `a scalar`. */
export function shapeText(model: CheckedModel, axes: string[]): string {
  if (!axes.length) return 'a scalar';
  return `[${axes.map((a) => {
    const info = model.axes.get(a);
    if (!info) return a;
    return info.size === null ? info.letter : `${info.letter}=${info.size}`;
  }).join(', ')}]`;
}
