// What each parameter does in a transformer, decided from the graph rather than from block names,
// so that a model's own blocks (a SwiGLU feed-forward, an RMSNorm, attention written inline) are
// counted where they belong:
//
// - norm: a block instance whose parameters are all vectors over one letter, and which reduces
//   over that letter (layernorm's gain and bias, RMSNorm's gain).
// - embeddings: contracted with a one-hot input (a row lookup), or added to the looked-up rows
//   before a repeated block takes them (learned positions).
// - attention: what feeds a softmax's scores or the values its weights are contracted with, and
//   what the mixed values pass through before they join the stream again (the output projection),
//   within the softmax's block instance.
// - mlp: the smallest block instance that maps a letter up to a wider one and back (D -> F -> D,
//   whatever the gate or activation between), less what the rules above took.
// - head: contracted into a one-hot input's letter after the last repeated block (an untied head),
//   with the rest of its block instance (a bias).
// Anything else is other; a tied head is the embedding matrix, counted once, as embeddings.
import type { CheckedModel, GNode, ParamEntry } from './graph.js';

export type ParamKind = 'embeddings' | 'attention' | 'mlp' | 'norm' | 'head' | 'other';

const within = (scope: string, outer: string): boolean => outer === '' || scope === outer || scope.startsWith(`${outer}.`);
const scopeOf = (p: ParamEntry): string => p.path.split('.').slice(0, -1).join('.');
/** A repeated block instance's prefix ("stream.3"), or undefined outside repeats. */
const repeatOf = (path: string): string | undefined => /^[^.]+\.\d+(?=\.|$)/.exec(path)?.[0];

export function paramRoles(m: CheckedModel): Map<string, ParamKind> {
  const users = new Map<number, GNode[]>();
  for (const n of m.nodes) for (const a of n.args) users.set(a, [...(users.get(a) ?? []), n]);
  const size = (a: string): number => m.axes.get(a)?.size ?? 1;
  const roles = new Map<string, ParamKind>();
  const set = (p: ParamEntry, k: ParamKind) => roles.has(p.path) || roles.set(p.path, k);
  const paramByNode = new Map(m.params.map((p) => [p.node, p]));

  // Ancestors (or descendants) of a node within a scope, and the parameters among them.
  const walk = (start: number[], scope: string, next: (n: GNode) => number[], stop = (_: GNode) => false): Set<number> => {
    const seen = new Set<number>();
    const todo = [...start];
    while (todo.length) {
      const id = todo.pop()!;
      const n = m.nodes[id]!;
      if (seen.has(id) || (n.op.kind !== 'param' && !within(n.scope, scope))) continue;
      seen.add(id);
      if (!stop(n)) todo.push(...next(n));
    }
    return seen;
  };
  const paramsIn = (ids: Set<number>) => [...ids].map((i) => paramByNode.get(i)).filter((p): p is ParamEntry => p !== undefined);

  // Norms: every parameter of the instance a vector over one letter the instance reduces over.
  const byScope = new Map<string, ParamEntry[]>();
  for (const p of m.params) byScope.set(scopeOf(p), [...(byScope.get(scopeOf(p)) ?? []), p]);
  for (const [scope, ps] of byScope) {
    const letter = ps[0]!.axes.length === 1 ? ps[0]!.axes[0]! : undefined;
    if (!scope || !letter || !ps.every((p) => p.axes.length === 1 && p.axes[0] === letter)) continue;
    if (m.nodes.some((n) => n.op.kind === 'reduce' && n.op.over.includes(letter) && within(n.scope, scope))) for (const p of ps) set(p, 'norm');
  }

  // Embeddings: row lookups, and what is added to the looked-up rows before a repeated block.
  const onehot = (id: number) => {
    const op = m.nodes[id]!.op;
    return op.kind === 'input' && op.onehot;
  };
  const lastRepeated = m.nodes.findLast((n) => repeatOf(n.scope))?.id ?? -Infinity;
  const lookups = m.nodes.filter((n) => n.op.kind === 'contract' && n.args.some(onehot));
  // What is made of the looked-up rows before a repeated block takes them (positions added, ...).
  const embedded = walk(lookups.map((n) => n.id), '', (n) => (users.get(n.id) ?? []).filter((u) => !repeatOf(u.scope)).map((u) => u.id));
  for (const p of m.params) {
    const uses = users.get(p.node) ?? [];
    if (uses.some((u) => lookups.includes(u))) set(p, 'embeddings');
    else if (uses.length && uses.every((u) => embedded.has(u.id) && u.op.kind === 'binary')) set(p, 'embeddings');
  }

  // Attention, from each softmax whose input is a contraction of two activations (the scores).
  const vocab = new Set(m.inputs.filter((i) => i.onehot).map((i) => i.axes.at(-1)!));
  for (const s of m.nodes) {
    if (s.op.kind !== 'softmax' || vocab.has(s.op.over)) continue;
    const scope = s.scope;
    const upstream = walk([s.args[0]!], scope, (n) => n.args);
    const mixes = (users.get(s.id) ?? []).flatMap(function through(u: GNode): GNode[] {
      return u.op.kind === 'contract' ? [u] : ['reshape', 'permute', 'dropout'].includes(u.op.kind) ? (users.get(u.id) ?? []).flatMap(through) : [];
    });
    if (!mixes.length) continue;
    const values = walk(mixes.flatMap((c) => c.args), scope, (n) => n.args, (n) => n.id === s.id);
    // After the mix, up to the sum that joins another branch (the residual add) or the instance's end.
    const downstream = (n: GNode) => (users.get(n.id) ?? []).map((u) => u.id);
    const mixed = walk(mixes.map((c) => c.id), scope, downstream);
    const constant = (id: number) => ['param', 'number', 'size'].includes(m.nodes[id]!.op.kind);
    const joined = (n: GNode) => n.op.kind === 'binary' && n.op.fn === 'add' && n.args.some((a) => !mixed.has(a) && !constant(a));
    const after = walk(mixes.map((c) => c.id), scope, downstream, joined);
    const consumed = [...after].flatMap((id) => m.nodes[id]!.args).filter((a) => paramByNode.has(a));
    for (const p of [...paramsIn(upstream), ...paramsIn(values), ...consumed.map((a) => paramByNode.get(a)!)]) set(p, 'attention');
  }

  // MLPs: the smallest instance holding an up projection and the down projection back.
  const projections = m.nodes.flatMap((n) => {
    if (n.op.kind !== 'contract') return [];
    const w = n.args.map((a) => paramByNode.get(a)).find((p) => p !== undefined);
    const x = n.args.find((a) => !paramByNode.has(a));
    if (!w || x === undefined) return [];
    const ins = w.axes.filter((a) => m.nodes[x]!.axes.includes(a) && !n.axes.includes(a));
    const outs = w.axes.filter((a) => !ins.includes(a));
    const width = (as: string[]) => as.reduce((t, a) => t * size(a), 1);
    return [{ scope: n.scope, ins: ins.join(' '), outs: outs.join(' '), up: width(outs) > width(ins) }];
  });
  const shared = (x: string, y: string): string => {
    const a = x.split('.');
    const b = y.split('.');
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    return a.slice(0, i).join('.');
  };
  // A block instance, not the bare name of a repeat ("stream", whose instances are stream.0, ...).
  const instance = (sc: string) => sc !== '' && !m.nodes.some((n) => n.scope.startsWith(`${sc}.`) && /^\d+$/.test(n.scope.slice(sc.length + 1).split('.')[0]!));
  const mlpScopes = new Set<string>();
  for (const up of projections.filter((p) => p.up)) {
    // The nearest way back: stream.0.mlp's up pairs with stream.0.mlp's down, not stream.1's.
    const scopes = projections.filter((p) => !p.up && p.ins === up.outs && p.outs === up.ins).map((down) => shared(up.scope, down.scope));
    const nearest = scopes.sort((a, b) => b.split('.').length - a.split('.').length)[0];
    if (nearest && instance(nearest)) mlpScopes.add(nearest);
  }
  for (const p of m.params) if ([...mlpScopes].some((sc) => within(scopeOf(p), sc))) set(p, 'mlp');

  // Heads: after the last repeated block, into the vocabulary's letter.
  const heads = m.params.filter((p) => (users.get(p.node) ?? []).some((u) => u.id > lastRepeated && u.op.kind === 'contract' && u.axes.some((a) => vocab.has(a))));
  for (const p of m.params) if (heads.some((h) => scopeOf(h) !== '' && scopeOf(p) === scopeOf(h))) set(p, 'head'); // its bias too
  for (const p of heads) set(p, 'head');
  for (const p of m.params) set(p, 'other');
  return roles;
}

/** Whether a parameter sits in a repeated block instance (stream.3...): the model's blocks. */
export const inRepeatedBlock = (p: ParamEntry): boolean => repeatOf(p.path) !== undefined;
