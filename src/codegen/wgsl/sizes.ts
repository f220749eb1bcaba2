// A kernel's sizes as a uniform: extents, strides, totals and bounds that only differ with B, L
// or a dimension are read from a small uniform struct instead of being written into the WGSL, so
// kernels that differ only in their sizes share one pipeline (one per structure), and a new batch
// size or length compiles nothing new. On llvmpipe a pipeline costs ~10 ms to create and 5-15 ms
// (a contraction 0.15-0.4 s) at its first dispatch (docs/llvmpipe.md).
//
// What stays a literal is structure: a size of 1 (the axis is skipped), a stride of 1 (no
// multiply), tile and vec4 choices, unrolled head sums, texture widths, ranges. Those make
// distinct pipelines where they differ, as they must.

export type SizeType = 'i32' | 'u32' | 'f32';

/** The uniform's fields, in the order the kernel's text first asked for them. */
export class Sizes {
  private readonly fields: { key: string; value: number; type: SizeType }[] = [];
  private readonly byKey = new Map<string, number>();

  /**
   * `uniform` false: every size is a literal (the kernel is specialised to its shape).
   * `locals`: a size is read through a local copy that `prologue()` makes at the top of the entry
   * point (one load of the uniform, and address arithmetic LLVM can share between tensors, which
   * it cannot across re-loads after a store); else the uniform's field itself (any function).
   */
  constructor(readonly uniform = true, readonly locals = false, readonly name = 'sz') {}

  /**
   * The WGSL expression of size `value` of type `type`: a field of the uniform, shared by every
   * use with the same key and value (the key says what the size is, e.g. `n:L` for the extent of
   * axis L, so two kernels of one structure number their fields alike).
   */
  ref(key: string, value: number, type: SizeType = 'i32'): string {
    if (type !== 'f32' && (!Number.isInteger(value) || Math.abs(value) > 0x7fffffff || (type === 'u32' && value < 0))) throw new Error(`codegen: size ${key} = ${value} is not an ${type}`);
    if (!this.uniform) return type === 'u32' ? `${value}u` : type === 'f32' ? `${Math.fround(value)}f` : String(value);
    const k = `${key}=${value}:${type}`;
    let i = this.byKey.get(k);
    if (i === undefined) {
      i = this.fields.length;
      this.fields.push({ key, value, type });
      this.byKey.set(k, i);
    }
    return this.locals ? `${this.name}_${i}` : `${this.name}.s${i}`;
  }

  /** The entry point's first lines when sizes are read through locals. */
  prologue(): string[] {
    return this.locals ? this.fields.map((_, i) => `let ${this.name}_${i} = ${this.name}.s${i};`) : [];
  }

  get empty(): boolean {
    return this.fields.length === 0;
  }

  /** The struct and its binding (nothing when no size was asked for). */
  decl(binding: number): string[] {
    if (this.empty) return [];
    const words = Math.ceil(this.fields.length / 4) * 4;
    const members = Array.from({ length: words }, (_, i) => `s${i}: ${this.fields[i]?.type ?? 'u32'}`);
    return [`struct Sizes { ${members.join(', ')} }`, `@group(0) @binding(${binding}) var<uniform> ${this.name}: Sizes;`];
  }

  /** The uniform's words (u32; an i32 or f32 as its bits), padded to 16 bytes. */
  values(): number[] {
    const words = Math.ceil(this.fields.length / 4) * 4;
    const bits = new Uint32Array(new Float32Array(1).buffer);
    const f32 = new Float32Array(bits.buffer);
    return Array.from({ length: words }, (_, i) => {
      const f = this.fields[i];
      if (f?.type !== 'f32') return (f?.value ?? 0) >>> 0;
      f32[0] = f.value;
      return bits[0]!;
    });
  }
}
