// The optimizer's uniform: a training step's hyper-parameters as the norm and AdamW kernels read
// them. Its fields are listed once, here, in their layout order; the TypeScript record, the WGSL
// struct and the bytes written to the uniform buffer all follow from the list, so they cannot
// disagree.

export const HYPER_FIELDS = [
  ['lr', 'f32'], // this step's learning rate (after the schedule)
  ['beta1', 'f32'],
  ['beta2', 'f32'],
  ['eps', 'f32'],
  ['weightDecay', 'f32'],
  ['c1', 'f32'], // Adam's bias corrections, 1 - beta^step
  ['c2', 'f32'],
  ['gradClip', 'f32'], // the global gradient norm's ceiling; 0: no clipping
  ['decayEnd', 'u32'], // vec4 elements of the range (from its start) that weight decay applies to
  ['n4', 'u32'], // vec4 elements in the range
] as const satisfies readonly (readonly [string, 'f32' | 'u32'])[];

type Field = (typeof HYPER_FIELDS)[number];

/** One range's uniform, by field name. */
export type Hyper = { [F in Field as F[0]]: number };

/** The uniform's size: 4 bytes a field, rounded up to 16 (WGSL pads the struct to that). */
export const HYPER_BYTES = Math.ceil((HYPER_FIELDS.length * 4) / 16) * 16;

const PADDING = Array.from({ length: HYPER_BYTES / 4 - HYPER_FIELDS.length }, (_, i) => `pad${i}: u32`);

/** `struct Hyper { ... }` in WGSL, the fields in layout order. */
export function hyperStruct(): string {
  return `struct Hyper { ${[...HYPER_FIELDS.map(([name, type]) => `${name}: ${type}`), ...PADDING].join(', ')} }`;
}

/** The uniform's bytes for `h`. */
export function packHyper(h: Hyper): ArrayBuffer {
  const bytes = new ArrayBuffer(HYPER_BYTES);
  const f32 = new Float32Array(bytes);
  const u32 = new Uint32Array(bytes);
  HYPER_FIELDS.forEach(([name, type], i) => {
    if (type === 'f32') f32[i] = h[name];
    else u32[i] = h[name];
  });
  return bytes;
}
