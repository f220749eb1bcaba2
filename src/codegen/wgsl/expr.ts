// The expression emitter: the WGSL for one node's value at given coordinates.
//
// Coordinates are i32 WGSL expressions, one per axis name. Broadcasting is free (a node reads only
// the coordinates of its own axes), and layout ops are index arithmetic on the coordinates: this
// is how a view works. A materialised node is a load at offset = sum(coord * stride) in its
// tensor's storage order; anything else is computed in place. Values are memoised per node and
// coordinates, so a DAG shared inside one kernel is computed once.

import type { Graph, Node, UnaryFn, BinaryFn } from '../../ir/types.js';
import type { Tensor } from '../../ir/fuse/types.js';
import { layoutStrides, sizeOf } from '../../ir/fuse/resolve.js';
import { texelLoad } from './texture.js';
import { Sizes } from './sizes.js';
import { innermostAxis } from './quad.js';

export type Coords = Record<string, string>;

export interface EmitEnv {
  g: Graph;
  tensors: readonly Tensor[];
  /** Materialised node -> the tensor consumers read it from. */
  primary: ReadonlyMap<number, number>;
  /** Tensor -> the WGSL array bound to it in this kernel. */
  bound: ReadonlyMap<number, string>;
  /** Tensors bound as linear r32float textures instead of storage buffers (texture.ts). */
  textured: ReadonlySet<number>;
  /** Textured tensors whose texels hold 4 consecutive elements (rgba32float): the elementwise
   *  kernel's 4 elements an invocation share one texel load (texture.ts, quadLanes). */
  texel4?: Set<number>;
  /** Coordinates of an elementwise invocation's 4 elements along its innermost axis, and splits
   *  of such coordinates (Emitter.splitCoord): each lane's coordinate (a WGSL name) -> the
   *  first's and the lane (0-3). Integer literals are lanes without an entry (laneOf). */
  quadLanes?: Map<string, { base: string; lane: number }>;
  /** A textured tensor's row shift, where it is read from the sizes (else the texture's constant). */
  shifts: ReadonlyMap<number, string>;
  /** Written tensors larger than one binding, bound as ranges: loads and stores go through the
   *  functions `get_<name>` / `set_<name>` (common.ts, storeTo). */
  ranged: ReadonlySet<number>;
  /** Nodes this kernel computes in place even though they are materialised. */
  inline: ReadonlySet<number>;
  /** Values held in registers, valid at exactly these coordinates (a row's reductions). */
  provided: ReadonlyMap<number, { value: string; coords: Coords }>;
  /** Set when a random op was emitted: the kernel must bind the seed uniform. */
  usesRandom: boolean;
  /** Helper functions the emitted code calls (name -> WGSL). */
  helpers: Map<string, string>;
  counter: { n: number };
  /** Where sizes and strides are read from (sizes.ts): the kernel's uniform, or literals. */
  sizes: Sizes;
}

/** An f32 literal WGSL accepts: non-finite values go through bit patterns at run time. */
export function f32Lit(v: number): string {
  const f = Math.fround(v);
  if (Number.isNaN(f)) return helperCall('nan');
  if (!Number.isFinite(f)) return f > 0 ? helperCall('inf') : `(-${helperCall('inf')})`;
  const text = Number.isInteger(f) && Math.abs(f) < 1e16 ? `${Math.abs(f)}.0` : String(Math.abs(f));
  return f < 0 || Object.is(f, -0) ? `(-${text}f)` : `${text}f`;
}

function helperCall(name: 'inf' | 'nan'): string {
  return `${name}_f32()`;
}

/** Helper WGSL functions by name; non-finite constants are bit patterns in a private variable
 *  (a const-expression that overflows f32 is a shader-creation error). */
export const HELPERS: Record<string, string> = {
  inf_f32: 'var<private> INF_BITS: u32 = 0x7f800000u;\nfn inf_f32() -> f32 { return bitcast<f32>(INF_BITS); }',
  nan_f32: 'var<private> NAN_BITS: u32 = 0x7fc00000u;\nfn nan_f32() -> f32 { return bitcast<f32>(NAN_BITS); }',
  // x / d for 0 <= x < 2^24 and d >= 1, given r = 1/d in f32: f32(x) is exact and x * r is within
  // one of x / d (d = 1: exact; else x / d < 2^23), so one correction makes it exact. llvmpipe
  // divides by a non-constant i32 one lane at a time (~2.3x slower elementwise kernels).
  fdiv: [
    'fn fdiv(x: i32, d: i32, r: f32) -> i32 {',
    '  var q = i32(f32(x) * r);',
    '  let m = x - q * d;',
    '  q += select(0, 1, m >= d) - select(0, 1, m < 0);',
    '  return q;',
    '}',
  ].join('\n'),
  // src/ir/random.ts in u32 arithmetic: pcg(v), then bits = pcg(i + pcg(stream + pcg(seed)))
  pcg: [
    'fn pcg(v: u32) -> u32 {',
    '  let state = v * 747796405u + 2891336453u;',
    '  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;',
    '  return (word >> 22u) ^ word;',
    '}',
    'fn rng_uniform(seed: u32, stream: u32, i: u32) -> f32 {',
    '  let t = pcg(stream + pcg(seed));',
    '  return f32(pcg(i + t) >> 8u) / 16777216.0;',
    '}',
  ].join('\n'),
};

const UNARY: Record<UnaryFn, (x: string) => string> = {
  neg: (x) => `(-${x})`,
  exp: (x) => `exp(${x})`,
  log: (x) => `log(${x})`,
  sqrt: (x) => `sqrt(${x})`,
  recip: (x) => `(1.0 / ${x})`,
  // tanh(±20) is ±1 in f32; clamping keeps backends that compute tanh through exp from overflowing
  tanh: (x) => `tanh(clamp(${x}, -20.0, 20.0))`,
  sin: (x) => `sin(${x})`,
  cos: (x) => `cos(${x})`,
};

const cmp = (op: string) => (a: string, b: string) => `select(0.0, 1.0, ${a} ${op} ${b})`;
const BINARY: Record<BinaryFn, (a: string, b: string) => string> = {
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  mul: (a, b) => `(${a} * ${b})`,
  div: (a, b) => `(${a} / ${b})`,
  max: (a, b) => `select(${b}, ${a}, ${a} >= ${b})`,
  min: (a, b) => `select(${b}, ${a}, ${a} <= ${b})`,
  mod: (a, b) => `(${a} - ${b} * floor(${a} / ${b}))`,
  lt: cmp('<'),
  le: cmp('<='),
  gt: cmp('>'),
  ge: cmp('>='),
  eq: cmp('=='),
  ne: cmp('!='),
};

export function newEnv(base: Omit<EmitEnv, 'usesRandom' | 'helpers' | 'counter' | 'sizes' | 'shifts'> & { sizes?: Sizes; shifts?: ReadonlyMap<number, string> }): EmitEnv {
  return { ...base, sizes: base.sizes ?? new Sizes(false), shifts: base.shifts ?? new Map(), usesRandom: false, helpers: new Map(), counter: { n: 0 } };
}

export class Emitter {
  readonly lines: string[] = [];
  private readonly memo: Map<string, string>;

  constructor(readonly env: EmitEnv, parent?: Emitter) {
    this.memo = new Map(parent?.memo ?? []);
  }

  /** A fresh let-bound name for an expression. */
  bind(expr: string, prefix = 'v'): string {
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(expr)) return expr;
    let name = `${prefix}${this.env.counter.n++}`;
    // a name like i32 or f16 would shadow the WGSL type of that name
    while (/^[iuf](8|16|32|64)$/.test(name)) name = `${prefix}${this.env.counter.n++}`;
    this.lines.push(`let ${name} = ${expr};`);
    return name;
  }

  /** The offset of coordinates in a tensor's storage order (strides other than 1 from the
   *  kernel's sizes). */
  offset(t: Tensor, coords: Coords): string {
    const node = this.env.g.nodes[t.node]!;
    const strides = layoutStrides(node, t.layout);
    const axes = t.layout.filter((a) => sizeOf(node, a) !== 1);
    // keyed by the axes inside it: tensors stored alike share the field (and their offsets)
    const terms = axes.map((a, j) => (strides[a] === 1 ? coord(coords, a) : `${coord(coords, a)} * ${this.env.sizes.ref(`st:${axes.slice(j + 1).join(',')}`, strides[a]!)}`));
    return terms.length === 0 ? '0' : terms.join(' + ');
  }

  /** An element of a tensor stored 4 to a texel: at one of an invocation's 4 lanes along the
   *  tensor's contiguous axis, a component of the texel the 4 lanes share (loaded once); else the
   *  texel holding the element, and its component by index. */
  private texel4Load(t: number, name: string, coords: Coords): string {
    const tensor = this.env.tensors[t]!;
    const node = this.env.g.nodes[tensor.node]!;
    const inner = innermostAxis(node, tensor.layout);
    const q = inner === undefined ? undefined : laneOf(this.env, coord(coords, inner));
    const shift = this.env.shifts.get(t);
    if (q === undefined || inner === undefined) {
      const at = this.bind(`u32(${this.offset(tensor, coords)})`, 'tx');
      return `${texelLoad(name, this.bind(`${at} >> 2u`, 'tx'), shift)}[${at} & 3u]`;
    }
    const base = this.offset(tensor, { ...coords, [inner]: q.base });
    const key = `texel4:${t}@${base}`;
    let texel = this.memo.get(key);
    if (texel === undefined) {
      texel = this.bind(texelLoad(name, this.bind(`u32(${base}) >> 2u`, 'tx'), shift), 'q');
      this.memo.set(key, texel);
    }
    return `${texel}.${'xyzw'[q.lane]}`;
  }

  /** A split's input coordinate, a·|B| + b. Where b is one of 4 lanes (laneOf) and |B| a
   *  multiple of 4, so is the result, its base the same sum at b's base: a tensor read through
   *  the split (dout's merged head axis in attention) shares one texel among the 4. */
  private splitCoord(into: readonly { name: string; size: number }[], coords: Coords): string {
    const flat = (c: Coords): string => {
      let s = 1;
      const terms: string[] = [];
      for (let j = into.length - 1; j >= 0; j--) {
        const a = into[j]!;
        if (a.size !== 1) terms.push(s === 1 ? coord(c, a.name) : `${coord(c, a.name)} * ${this.env.sizes.ref(`sp:${a.name}`, s)}`);
        s *= a.size;
      }
      return terms.length === 0 ? '0' : terms.join(' + ');
    };
    const at = this.bind(flat(coords), 'i');
    const inner = into.filter((a) => a.size !== 1).at(-1);
    const lane = inner !== undefined && inner.size % 4 === 0 ? laneOf(this.env, coord(coords, inner.name)) : undefined;
    if (inner !== undefined && lane !== undefined) {
      const baseSum = flat({ ...coords, [inner.name]: lane.base });
      const key = `split@${baseSum}`;
      const base = this.memo.get(key) ?? (lane.base === coord(coords, inner.name) ? at : this.bind(baseSum, 'i'));
      this.memo.set(key, base);
      (this.env.quadLanes ??= new Map()).set(at, { base, lane: lane.lane });
    }
    return at;
  }

  /** The value of node `id` at `coords` (which must hold every axis of the node). */
  value(id: number, coords: Coords): string {
    const node = this.env.g.nodes[id]!;
    const key = `${id}@${node.type.axes.map((a) => coords[a.name]).join(',')}`;
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit;
    const v = this.bind(this.compute(node, coords));
    this.memo.set(key, v);
    return v;
  }

  private compute(node: Node, coords: Coords): string {
    const env = this.env;
    const p = env.provided.get(node.id);
    if (p !== undefined) {
      for (const a of node.type.axes) {
        // a size-1 axis has one coordinate, however it is written
        if (p.coords[a.name] !== coords[a.name] && a.size !== 1) {
          throw new Error(`codegen: %${node.id} is a register value read at other coordinates (${a.name})`);
        }
      }
      return p.value;
    }
    const t = env.primary.get(node.id);
    if (t !== undefined && !env.inline.has(node.id)) {
      const name = env.bound.get(t);
      if (name === undefined) throw new Error(`codegen: tensor ${t} (%${node.id}) is read but not bound`);
      if (env.texel4?.has(t)) return this.texel4Load(t, name, coords);
      if (env.textured.has(t)) return `${texelLoad(name, this.bind(`u32(${this.offset(env.tensors[t]!, coords)})`, 'tx'), env.shifts.get(t))}.x`;
      if (env.ranged.has(t)) return `get_${name}(${this.offset(env.tensors[t]!, coords)})`;
      return `${name}[${this.offset(env.tensors[t]!, coords)}]`;
    }
    const x = (j: number, c: Coords = coords): string => this.value(node.inputs[j]!, c);
    const op = node.op;
    switch (op.kind) {
      case 'const': {
        const lit = f32Lit(op.value as number);
        for (const h of ['inf_f32', 'nan_f32']) if (lit.includes(h)) env.helpers.set(h, HELPERS[h]!);
        return lit;
      }
      case 'iota': return op.offset === 0 ? `f32(${coord(coords, op.axis.name)})` : `f32(${coord(coords, op.axis.name)} + ${env.sizes.ref(`io:${op.axis.name}`, op.offset as number)})`;
      case 'random': {
        env.usesRandom = true;
        env.helpers.set('pcg', HELPERS.pcg!);
        const flat = this.offset({ id: -1, node: node.id, layout: node.type.axes.map((a) => a.name), role: 'intermediate' }, coords);
        return `rng_uniform(run_seed.x, ${op.stream}u, u32(${flat}))`;
      }
      case 'unary': return UNARY[op.fn](x(0));
      case 'binary': return BINARY[op.fn](x(0), x(1));
      case 'select': return `select(${x(2)}, ${x(1)}, ${x(0)} != 0.0)`;
      case 'cast': return op.to === 'i32' ? `i32(${x(0)})` : `f32(${x(0)})`;
      case 'permute':
      case 'expand':
        return x(0);
      case 'rename': return x(0, { ...coords, [op.from]: coord(coords, op.to) });
      case 'split': return x(0, { ...coords, [op.axis]: this.splitCoord(op.into.map((a) => ({ name: a.name, size: a.size as number })), coords) });
      case 'merge': {
        const src = env.g.nodes[node.inputs[0]!]!;
        const m = coord(coords, op.into.name);
        const next: Coords = { ...coords };
        const total = op.axes.reduce((p, a) => p * sizeOf(src, a), 1);
        if (env.sizes.uniform) return x(0, { ...next, ...unflattenBy(this, m, op.axes.map((a) => ({ name: a, size: sizeOf(src, a) })), 'i') });
        let after = 1;
        for (let j = op.axes.length - 1; j >= 0; j--) {
          const size = sizeOf(src, op.axes[j]!);
          const q = after === 1 ? m : `(${m} / ${env.sizes.ref(`af:${op.axes[j]!}`, after)})`;
          // merging away size-1 axes leaves the other's coordinate as it was
          next[op.axes[j]!] = size === 1 ? '0' : size === total ? m : this.bind(j === 0 ? q : `${q} % ${env.sizes.ref(`n:${op.axes[j]!}`, size)}`, 'i');
          after *= size;
        }
        return x(0, next);
      }
      case 'slice': return x(0, { ...coords, [op.axis]: this.bind(`${coord(coords, op.axis)} + ${env.sizes.ref(`sl:${op.axis}`, op.start as number)}`, 'i') });
      case 'pad': {
        const size = sizeOf(env.g.nodes[node.inputs[0]!]!, op.axis);
        const c = coord(coords, op.axis);
        const start = env.sizes.ref(`pd:${op.axis}`, op.start as number);
        const ok = this.bind(`${c} >= ${start} && ${c} < ${env.sizes.ref(`pe:${op.axis}`, (op.start as number) + size)}`, 'ok');
        const inner = this.bind(`select(0, ${c} - ${start}, ${ok})`, 'i');
        return `select(${zero(node)}, ${x(0, { ...coords, [op.axis]: inner })}, ${ok})`;
      }
      case 'gather': {
        const size = sizeOf(env.g.nodes[node.inputs[0]!]!, op.axis);
        const k = x(1);
        const ok = this.bind(`${k} >= 0 && ${k} < ${env.sizes.ref(`n:${op.axis}`, size)}`, 'ok');
        const at = this.bind(`select(0, ${k}, ${ok})`, 'i');
        return `select(${zero(node)}, ${x(0, { ...coords, [op.axis]: at })}, ${ok})`;
      }
      case 'scatterAdd':
        // no index axis is summed (fusion made summing ones row reductions): a masked copy
        return `select(0.0, ${x(0)}, ${x(1)} == ${coord(coords, op.axis.name)})`;
      default:
        throw new Error(`codegen: %${node.id} (${op.kind}) cannot be computed inline`);
    }
  }
}

/** Which of 4 lanes a coordinate is: one of an invocation's quadLanes, or an integer literal
 *  (an unrolled loop's index: 4n + j is lane j of the texel at 4n). */
function laneOf(env: EmitEnv, c: string): { base: string; lane: number } | undefined {
  const q = env.quadLanes?.get(c);
  if (q !== undefined || !/^\d+$/.test(c)) return q;
  const n = Number(c);
  return { base: String(n - (n % 4)), lane: n % 4 };
}

function zero(n: Node): string {
  return n.type.dtype === 'i32' ? '0i' : '0.0';
}

function coord(coords: Coords, axis: string): string {
  const c = coords[axis];
  if (c === undefined) throw new Error(`codegen: no coordinate for axis '${axis}'`);
  return c;
}

/** An axis at its resolved size, as the templates index it. */
export type SizedAxis = { name: string; size: number };

/** Statements that split a flat i32 index into coordinates of axes (row-major in `axes` order). */
export function unflatten(e: Emitter, flat: string, axes: readonly SizedAxis[], prefix: string): Coords {
  if (e.env.sizes.uniform) return unflattenBy(e, flat, axes, prefix);
  const coords: Coords = {};
  let after = 1;
  for (let j = axes.length - 1; j >= 0; j--) {
    const a = axes[j]!;
    if (a.size === 1) {
      coords[a.name] = '0';
    } else {
      const q = after === 1 ? flat : `(${flat} / ${e.env.sizes.ref(`af:${a.name}`, after)})`;
      coords[a.name] = e.bind(j === 0 ? q : `${q} % ${e.env.sizes.ref(`n:${a.name}`, a.size)}`, prefix);
    }
    after *= a.size;
  }
  return coords;
}

/** x / size (key: what the size is) when 0 <= x < bound: through fdiv under 2^24, else an
 *  integer division. */
function divide(e: Emitter, x: string, size: number, key: string, bound: number): string {
  const d = e.env.sizes.ref(key, size);
  if (bound > 2 ** 24) return `(${x} / ${d})`;
  e.env.helpers.set('fdiv', HELPERS.fdiv!);
  return `fdiv(${x}, ${d}, ${e.env.sizes.ref(`inv:${key}`, 1 / size, 'f32')})`;
}

/** unflatten with sizes from the uniform: one division per axis (the last axis first), each a
 *  multiply by the size's reciprocal and a correction. */
function unflattenBy(e: Emitter, flat: string, axes: readonly SizedAxis[], prefix: string): Coords {
  const coords: Coords = {};
  const bound = axes.reduce((p, a) => p * a.size, 1);
  let rest = flat;
  for (let j = axes.length - 1; j >= 0; j--) {
    const a = axes[j]!;
    if (a.size === 1) {
      coords[a.name] = '0';
    } else if (axes.slice(0, j).every((b) => b.size === 1)) {
      coords[a.name] = e.bind(rest, prefix);
    } else {
      const q = e.bind(divide(e, rest, a.size, `n:${a.name}`, bound), prefix);
      coords[a.name] = e.bind(`${rest} - ${q} * ${e.env.sizes.ref(`n:${a.name}`, a.size)}`, prefix);
      rest = q;
    }
  }
  return coords;
}
