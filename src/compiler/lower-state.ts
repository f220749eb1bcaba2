// The state of one lowering: the IR being built, the node each checked node became, the runtime
// symbols and inputs found so far, and the questions every rule asks (an axis's size at run time,
// positions along a query axis). The rules (lower-rules.ts) and the KV cache (lower-cache.ts)
// read and change a lowering only through it.
import { GraphBuilder, type Axis, type Graph, type Size } from '../ir/index.js';
import type { AxisInfo, CheckedModel } from './graph.js';
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
  /** The full pass, with each value a decoding graph caches (`decode`) also an output of the same
   *  `cache:*` name, over every position: one pass fills a KV cache for many tokens at once. */
  prefill?: boolean;
}

export const POSITION_INPUT = 'position';
export const CACHE_PREFIX = 'cache:';
export const ATTENTION_PREFIX = 'attention:';
/** The suffix of the IR input that holds the targets of `next(x)`. */
export const NEXT_SUFFIX = ':next';

export interface Lowered {
  graph: Graph;
  /** Runtime symbols and, for sequence symbols, their maximum (the declared dim). */
  symbols: Map<string, { max?: number; letter: string }>;
  /** For each IR input: the checked input it feeds and whether it holds token ids. */
  inputs: Map<string, { source: string; tokens: boolean; shifted: boolean; classes?: number }>;
}

export class Lowering {
  readonly b = new GraphBuilder();
  /** Checked node id -> the IR node it became. */
  readonly ids: number[] = [];
  readonly symbols: Lowered['symbols'] = new Map();
  readonly inputs: Lowered['inputs'] = new Map();
  /** Decoding: the token input's length letters, the query positions. */
  readonly queryAxes: Set<string>;
  /** Decoding: a key axis (self-attention's M, renamed from a query axis) -> its query axis. */
  readonly keyOf: Map<string, string>;
  /** Sequence axis -> the runtime symbol of its length. */
  private readonly symbolOf = new Map<string, string>();
  private position: number | undefined;
  private randomStream = 0;

  constructor(
    readonly m: CheckedModel,
    readonly opts: LowerOptions,
  ) {
    this.queryAxes = queryAxesOf(m);
    this.keyOf = opts.decode || opts.prefill ? keyAxesOf(m, this.queryAxes) : new Map();
  }

  info(a: string): AxisInfo {
    const i = this.m.axes.get(a);
    if (!i) throw new Error(`lowering: unknown axis ${a}`);
    return i;
  }

  /** The size an axis has in activations: runtime dims and sequence lengths are symbols. */
  runtimeSize(a: string): Size {
    const i = this.info(a);
    // Decoding reads keys over the whole context from the cache, and feeds one new position.
    if (this.opts.decode && this.keyOf.has(a)) return i.size!;
    if (this.opts.decode && this.queryAxes.has(a)) return 1;
    if (i.size === null) {
      this.symbols.set(i.letter, { letter: i.letter });
      return i.letter;
    }
    if (!i.sequence) return i.size;
    const sym = this.symbolOf.get(a) ?? i.letter;
    this.symbolOf.set(a, sym);
    if (!this.symbols.has(sym)) this.symbols.set(sym, { max: i.size, letter: i.letter });
    return sym;
  }

  /** A rename keeps a sequence axis's symbol: `x[L -> M]` has M as long as L. */
  inheritSymbol(from: string, to: string): void {
    const sym = this.info(from).sequence ? this.runtimeSize(from) : undefined;
    if (sym !== undefined && !this.symbolOf.has(to)) this.symbolOf.set(to, String(sym));
  }

  axis(a: string): Axis {
    return { name: a, size: this.runtimeSize(a) };
  }

  /** The axis at its declared size (parameters, the cache's key axis). */
  declared(a: string): Axis {
    return { name: a, size: this.info(a).size! };
  }

  /** The decoding step's position, a scalar input made on first use. */
  pos(): number {
    this.position ??= this.b.input(POSITION_INPUT, [], 'f32');
    return this.position;
  }

  /** Positions along a query axis: 0.. in training, position.. when decoding. */
  positions(a: string, offset?: Size): number {
    return this.opts.decode && this.queryAxes.has(a) ? this.b.binary('add', this.b.iota(this.axis(a)), this.pos()) : this.b.iota(this.axis(a), offset ?? 0);
  }

  /** Each dropout draws from a stream of its own. */
  nextRandomStream(): number {
    return ++this.randomStream;
  }

  /** A one-hot input or target: held as token ids, its class letter implicit. */
  isTokens(id: number): boolean {
    const op = this.m.nodes[id]!.op;
    return (op.kind === 'input' && op.onehot) || op.kind === 'next';
  }

  /** `id` with its axes in the order `want`. */
  conform(id: number, want: string[]): number {
    const have = this.b.type(id).axes.map((x) => x.name);
    return have.length === want.length && have.every((x, i) => x === want[i]) ? id : this.b.permute(id, want);
  }
}
