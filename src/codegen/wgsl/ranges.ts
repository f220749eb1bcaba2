// A tensor larger than one storage binding may hold is bound as consecutive ranges of its buffer,
// each within the limit and starting at a multiple of 256 bytes (WebGPU's largest
// minStorageBufferOffsetAlignment, so valid on every adapter); an access picks the range its
// index falls in. Used for written tensors (common.ts), a contraction's C (contraction.ts) and
// the optimizer's slab (src/runtime/train/webgpu-backend.ts).

const RANGE_ALIGN = 256;

/** Elements of `unitBytes` each in one range under a binding limit of `limitBytes`. */
export function rangeUnits(limitBytes: number, unitBytes: number): number {
  return Math.floor(limitBytes / RANGE_ALIGN) * (RANGE_ALIGN / unitBytes);
}

/** `units` elements cut into ranges of `per`: each range's first element and length. */
export function splitRanges(units: number, per: number): { first: number; count: number }[] {
  return Array.from({ length: Math.ceil(units / per) }, (_, r) => ({ first: r * per, count: Math.min(per, units - r * per) }));
}

/**
 * WGSL functions `get(i)` and `set(i, x)` over the `count` ranges of `per` elements each, bound
 * as `part(0)`, `part(1)`, ...: an if-chain on the index picks the range.
 */
export function rangeAccessors(o: { get: string; set: string; part: (r: number) => string; count: number; per: number; unit: string; index: 'i32' | 'u32' }): string[] {
  const lit = (x: number) => (o.index === 'u32' ? `${x}u` : String(x));
  const chain = (f: (r: number) => string) =>
    Array.from({ length: o.count }, (_, r) => (r === o.count - 1 ? `{ ${f(r)} }` : `if (i < ${lit((r + 1) * o.per)}) { ${f(r)} }`)).join(' else ');
  return [
    `fn ${o.get}(i: ${o.index}) -> ${o.unit} { ${chain((r) => `return ${o.part(r)}[i - ${lit(r * o.per)}];`)} }`,
    `fn ${o.set}(i: ${o.index}, x: ${o.unit}) { ${chain((r) => `${o.part(r)}[i - ${lit(r * o.per)}] = x;`)} }`,
  ];
}
