// Lowering: the checked graph becomes IR. Language-level operations (softmax, causal, mean,
// reshape, one-hot contraction, dropout) are written here in terms of the IR's few primitives,
// so their gradients come from the primitives' rules and fusion sees them whole.
import { GraphBuilder, MASKED_SCORE, type Axis, type Graph, type Size } from '../ir/index.js';
import type { AxisInfo, CheckedModel, GNode } from './graph.js';
import { keyAxesOf, queryAxesOf } from './decode-keys.js';

export interface LowerOptions {
  /** Dropout is active only in training. */
  training?: boolean;
  /** A runtime symbol added to query positions (the KV cache's offset); causal masks and
   *  position tables read it. Absent: positions start at 0. */
  positionOffset?: string;
  /** Also output every softmax's weights as `attention:<block instance>` (for `arch attention`). */
  attentionMaps?: boolean;
  /** The KV-cache decoder: new positions (one per step) at the position given by the scalar input
   *  `position`, keys and values of earlier positions read from `cache:*` inputs, updated caches
   *  as `cache:*` outputs. Shapes stay fixed (keys span the whole context, masked), so one
   *  compiled graph serves every step. */
  decode?: boolean;
}

export const POSITION_INPUT = 'position';
export const CACHE_PREFIX = 'cache:';

export const ATTENTION_PREFIX = 'attention:';

export interface Lowered {
  graph: Graph;
  /** Runtime symbols and, for sequence symbols, their maximum (the declared dim). */
  symbols: Map<string, { max?: number; letter: string }>;
  /** For each IR input: the checked input it feeds and whether it holds token ids. */
  inputs: Map<string, { source: string; tokens: boolean; shifted: boolean; classes?: number }>;
}

/** The suffix of the IR input that holds the targets of `next(x)`. */
export const NEXT_SUFFIX = ':next';

export function lower(m: CheckedModel, opts: LowerOptions = {}): Lowered {
  const b = new GraphBuilder();
  const ids: number[] = [];
  const symbols: Lowered['symbols'] = new Map();
  const inputs: Lowered['inputs'] = new Map();
  const symbolOf = new Map<string, string>(); // sequence axis -> the runtime symbol of its length
  let randomStream = 0;

  // Decoding: the token input's length letters are the query positions; an axis renamed from one
  // (self-attention's M) holds key positions. A key-side node (keys, no queries) that meets the
  // queries is where the cache goes: keys and values after their projections.
  const queryAxes = queryAxesOf(m);
  const keyOf = opts.decode ? keyAxesOf(m, queryAxes) : new Map<string, string>(); // key axis -> its query axis
  const consumers = new Map<number, GNode[]>();
  for (const n of m.nodes) for (const a of n.args) (consumers.get(a) ?? consumers.set(a, []).get(a)!).push(n);
  const keySide = (n: GNode) => n.axes.some((a) => keyOf.has(a) && !n.axes.includes(keyOf.get(a)!));
  const hasQuery = (n: GNode) => n.axes.some((a) => queryAxes.has(a));
  const cachePoint = (n: GNode) =>
    keySide(n) && (consumers.get(n.id) ?? []).some((c) => hasQuery(c) || c.args.some((a) => hasQuery(m.nodes[a]!)));
  let position: number | undefined;
  const pos = (): number => (position ??= b.input(POSITION_INPUT, [], 'f32'));
  /** Positions along a query axis: 0.. in training, position.. when decoding. */
  const positions = (a: string, offset?: Size): number =>
    opts.decode && queryAxes.has(a) ? b.binary('add', b.iota(axis(a)), pos()) : b.iota(axis(a), offset ?? 0);

  const info = (a: string): AxisInfo => {
    const i = m.axes.get(a);
    if (!i) throw new Error(`lowering: unknown axis ${a}`);
    return i;
  };
  /** The size an axis has in activations: runtime dims and sequence lengths are symbols. */
  const runtimeSize = (a: string): Size => {
    const i = info(a);
    // Decoding reads keys over the whole context from the cache, and feeds one new position.
    if (opts.decode && keyOf.has(a)) return i.size!;
    if (opts.decode && queryAxes.has(a)) return 1;
    if (i.size === null) {
      symbols.set(i.letter, { letter: i.letter });
      return i.letter;
    }
    if (!i.sequence) return i.size;
    const sym = symbolOf.get(a) ?? i.letter;
    symbolOf.set(a, sym);
    if (!symbols.has(sym)) symbols.set(sym, { max: i.size, letter: i.letter });
    return sym;
  };
  const axis = (a: string): Axis => ({ name: a, size: runtimeSize(a) });
  const declared = (a: string): Axis => ({ name: a, size: info(a).size! });
  const isTokens = (id: number): boolean => {
    const op = m.nodes[id]!.op;
    return (op.kind === 'input' && op.onehot) || op.kind === 'next';
  };
  const conform = (id: number, want: string[]): number => {
    const have = b.type(id).axes.map((x) => x.name);
    return have.length === want.length && have.every((x, i) => x === want[i]) ? id : b.permute(id, want);
  };

  for (const n of m.nodes) ids.push(lowerNode(n));
  for (const [name, id] of m.outputs) b.output(name, ids[id]!);
  if (opts.attentionMaps) {
    const used = new Set<string>();
    for (const n of m.nodes)
      if (n.op.kind === 'softmax') {
        const name = ATTENTION_PREFIX + (n.scope || n.name || `%${n.id}`);
        let unique = name;
        for (let i = 2; used.has(unique); i++) unique = `${name}#${i}`;
        used.add(unique);
        b.output(unique, ids[n.id]!);
      }
  }
  return { graph: b.build(), symbols, inputs };

  function lowerNode(n: GNode): number {
    const a = n.args.map((x) => ids[x]!);
    const op = n.op;
    let id: number;
    switch (op.kind) {
      case 'input': {
        const onehot = op.onehot;
        const axes = (onehot ? n.axes.slice(0, -1) : n.axes).map(axis);
        id = b.input(op.name, axes, onehot ? 'i32' : 'f32');
        inputs.set(op.name, { source: op.name, tokens: onehot, shifted: false, classes: onehot ? info(n.axes[n.axes.length - 1]!).size! : undefined });
        break;
      }
      case 'next': {
        const src = m.nodes[n.args[0]!]!;
        const name = op.input + NEXT_SUFFIX;
        id = b.input(name, src.axes.slice(0, -1).map(axis), 'i32');
        inputs.set(name, { source: op.input, tokens: true, shifted: true, classes: info(src.axes[src.axes.length - 1]!).size! });
        break;
      }
      case 'param': {
        id = b.param(op.path, n.axes.map(declared), op.init);
        // A table over a sequence letter (wpe_LD) holds the maximum; a run uses its first rows,
        // a decoding step the rows of its positions.
        for (const x of n.axes) {
          if (!info(x).sequence) continue;
          if (opts.decode && queryAxes.has(x)) {
            const table = b.rename(id, x, `${x}#table`);
            id = b.gather(table, b.cast(positions(x), 'i32'), `${x}#table`);
          } else id = b.slice(id, x, 0, runtimeSize(x));
        }
        break;
      }
      case 'number':
        id = b.constant(op.value);
        break;
      case 'size':
        id = b.sizeOf(runtimeSize(op.axis));
        break;
      case 'unary':
        id = op.fn === 'abs' ? b.binary('max', a[0]!, b.unary('neg', a[0]!)) : b.unary(op.fn, a[0]!);
        break;
      case 'binary':
        id = op.fn === 'pow' ? power(n, a[0]!, a[1]!) : b.binary(op.fn, a[0]!, a[1]!);
        break;
      case 'select':
        id = b.select(a[0]!, a[1]!, a[2]!);
        break;
      case 'reduce': {
        id = a[0]!;
        for (const x of op.over) {
          if (op.fn === 'sum') id = b.reduce('sum', id, x);
          else if (op.fn === 'mean') id = b.mean(id, x);
          else if (op.fn === 'max') id = b.reduce('max', id, x);
          else id = b.unary('neg', b.reduce('max', b.unary('neg', id), x)); // min x = -max(-x)
        }
        break;
      }
      case 'contract': {
        const [l, r] = n.args;
        if (isTokens(l!) || isTokens(r!)) {
          // A one-hot operand contracted over its class letter is a row lookup.
          const [index, table, tokenNode] = isTokens(l!) ? [a[0]!, a[1]!, l!] : [a[1]!, a[0]!, r!];
          const cls = m.nodes[tokenNode]!.axes.at(-1)!;
          id = b.gather(table, index, cls);
        } else id = b.contract(a[0]!, a[1]!, n.axes);
        break;
      }
      case 'softmax': {
        // exp(x - max x) / sum exp(x - max x): the max keeps exp in range. Autodiff and fusion
        // recognise this chain (src/ir/patterns.ts, softmaxAt).
        const shifted = b.binary('sub', a[0]!, b.reduce('max', a[0]!, op.over));
        const e = b.unary('exp', shifted);
        id = b.binary('div', e, b.reduce('sum', e, op.over));
        break;
      }
      case 'causal': {
        const q = positions(op.query, opts.positionOffset);
        const k = b.iota(axis(op.key));
        id = b.select(b.binary('le', k, q), a[0]!, b.constant(MASKED_SCORE));
        break;
      }
      case 'reshape':
        id = reshape(a[0]!, op.from, op.to);
        break;
      case 'permute':
        id = a[0]!;
        break;
      case 'iota':
        id = info(op.axis).sequence ? positions(op.axis, opts.positionOffset) : b.iota(axis(op.axis));
        break;
      case 'valid':
        id = b.binary('ge', b.cast(a[0]!, 'f32'), b.constant(0));
        break;
      case 'dropout': {
        if (!opts.training) {
          id = a[0]!;
          break;
        }
        // Inverted dropout: keep with probability 1 - p and scale by 1 / (1 - p).
        const t = b.type(a[0]!);
        const keep = b.binary('ge', b.random(t.axes, ++randomStream), b.constant(op.p));
        id = b.binary('mul', a[0]!, b.binary('mul', keep, b.constant(1 / (1 - op.p))));
        break;
      }
    }
    id = conform(id, n.axes.filter((x) => !(isTokens(n.id) && x === n.axes.at(-1))));
    if (n.name) b.label(id, n.scope ? `${n.scope}.${n.name}` : n.name);
    if (opts.decode && cachePoint(n)) id = cached(n, id);
    return id;
  }

  /** The cache of a key-side tensor: this step's position written in, every position read out. */
  function cached(n: GNode, fresh: number): number {
    const key = n.axes.find((a) => keyOf.has(a))!;
    const cacheAxes = n.axes.map((a) => (a === key ? { name: a, size: info(a).size! } : axis(a)));
    const name = `${CACHE_PREFIX}${n.scope ? `${n.scope}.` : ''}${n.name ?? `%${n.id}`}`;
    const previous = b.input(name, cacheAxes, 'f32');
    // One new position per step: drop its key axis (size 1) by merging it into a neighbour, a view
    // rather than a reduction, so the projection's kernel can write the fresh row; then write it
    // at `position`.
    const axesNow = b.type(fresh).axes.map((a) => a.name);
    const at = axesNow.indexOf(key);
    const neighbour = axesNow[at + 1] ?? axesNow[at - 1]!;
    const pair = at + 1 < axesNow.length ? [key, neighbour] : [neighbour, key];
    const one = b.merge(fresh, pair, { name: neighbour, size: b.type(fresh).axes.find((a) => a.name === neighbour)!.size });
    // Written as "keep previous except at position" so that the result has the cache's own axis
    // order: fusion then updates the cache's row in place (src/ir/fuse/update.ts).
    const elsewhere = b.binary('ne', b.iota({ name: key, size: info(key).size! }), pos());
    const updated = conform(b.select(elsewhere, previous, one), n.axes);
    b.output(name, updated);
    return updated;
  }

  function power(n: GNode, x: number, e: number): number {
    const exponent = m.nodes[n.args[1]!]!.op;
    if (exponent.kind === 'number' && Number.isInteger(exponent.value) && exponent.value >= 1 && exponent.value <= 8) {
      let r = x;
      for (let i = 1; i < exponent.value; i++) r = b.binary('mul', r, x);
      return r;
    }
    // x^e = exp(e log x), for positive x (the prelude uses it for 10000^(2i/D)).
    return b.unary('exp', b.binary('mul', e, b.unary('log', x)));
  }

  /** Split, merge or rename: the `from` axes are brought together in order, then replaced. */
  function reshape(x: number, from: string[], to: string[]): number {
    if (from.length === 1 && to.length === 1) {
      const sym = info(from[0]!).sequence ? runtimeSize(from[0]!) : undefined;
      if (sym !== undefined && !symbolOf.has(to[0]!)) symbolOf.set(to[0]!, String(sym));
      return b.rename(x, from[0]!, to[0]!);
    }
    const have = b.type(x).axes.map((a) => a.name);
    const at = Math.min(...from.map((f) => have.indexOf(f)));
    const others = have.filter((h) => !from.includes(h));
    const before = have.slice(0, at).filter((h) => !from.includes(h));
    const order = [...before, ...from, ...others.slice(before.length)];
    let id = order.every((o, i) => have[i] === o) ? x : b.permute(x, order);
    if (from.length > 1) {
      const merged = from.join('');
      id = b.merge(id, from, { name: to.length === 1 ? to[0]! : `(${merged})`, size: from.reduce((p, f) => p * info(f).size!, 1) });
      if (to.length === 1) return id;
      return b.split(id, `(${merged})`, to.map(declared));
    }
    return b.split(id, from[0]!, to.map(declared));
  }
}
