// The textures a run's kernels read through, planned as the memory plan plans buffers. A fill
// (one tensor copied into a texture of one shape) is live from a kernel that reads it to the
// last of the kernels right after that read it too; fills whose lives do not overlap share a
// texture of their shape. Without this every activation read through a texture kept a copy of
// its own for the whole run: GPT-2 small's training graph at B = 1, L = 1024 read 3.2 GB of
// textures beside 2.4 GB of buffers, and at B = 8 did not fit in 23 GB (docs/llvmpipe.md,
// Textures).
//
// A large tensor read again much later (a layer's input: by its forward contractions, and by
// its weight gradient in the backward) is copied again for the later readers rather than held
// in between: a copy is a memcpy, cheap beside the kernels that read it. A small one keeps one
// life, so a small model's step copies no more than it did. A parameter's texture is its own:
// it keeps its value from one run to the next, so that it is filled once (record.ts); but not a
// parameter in the optimizer's slab, which is refilled every run anyway.

import { dispatchesOf, type KernelBinding, type KernelCode } from '../../codegen/wgsl/common.js';

export type TextureBinding = Extract<KernelBinding, { kind: 'texture' }>;

/** A texture this large or larger is copied again for readers after a gap, not held through it. */
export const REFILL_BYTES = 1 << 21;

export interface TextureSlot {
  format: TextureBinding['format'];
  width: number;
  height: number;
  bytes: number;
}

/** One fill's life: a texture copied before kernel `first`, read until kernel `last`. */
export interface FillLife {
  binding: TextureBinding;
  first: number;
  last: number;
  slot: number;
}

export interface TexturePlan {
  slots: TextureSlot[];
  /** In the order of their first readers. */
  lives: FillLife[];
  /** The life in which kernel `kernel` reads binding `b`. */
  lifeAt(kernel: number, b: TextureBinding): FillLife;
  totalBytes: number;
}

/** A fill: which tensor, into what shape, by which copies (kernels that agree share it). */
export function fillKey(b: TextureBinding): string {
  return JSON.stringify([b.tensor, b.format, b.width, b.height, b.copies]);
}

const shapeKey = (b: TextureBinding) => `${b.format} ${b.width}x${b.height}`;
const bytesOf = (b: TextureBinding) => b.width * b.height * (b.format === 'rgba32float' ? 16 : 4);

/** Each fill's readers, in the kernels' order. */
function readers(codes: readonly KernelCode[]): Map<string, { binding: TextureBinding; kernels: number[] }> {
  const out = new Map<string, { binding: TextureBinding; kernels: number[] }>();
  codes.forEach((code, i) => {
    for (const b of dispatchesOf(code).flatMap((part) => part.bindings)) {
      if (b.kind !== 'texture') continue;
      const key = fillKey(b);
      const r = out.get(key);
      if (!r) out.set(key, { binding: b, kernels: [i] });
      else if (r.kernels[r.kernels.length - 1] !== i) r.kernels.push(i);
    }
  });
  return out;
}

/** Each fill's lives (a large fill not kept is split where its readers are not consecutive
 *  kernels), by `${kernel} ${fillKey}` of each read, their slots still to assign (-1). */
function lives(codes: readonly KernelCode[], keeps: (tensor: number) => boolean): Map<string, FillLife> {
  const at = new Map<string, FillLife>();
  for (const [key, { binding, kernels }] of readers(codes)) {
    const split = !keeps(binding.tensor) && bytesOf(binding) >= REFILL_BYTES;
    let life: FillLife | undefined;
    for (const k of kernels) {
      if (life && (!split || life.last === k - 1)) life.last = k;
      else life = { binding, first: k, last: k, slot: -1 };
      at.set(`${k} ${key}`, life);
    }
  }
  return at;
}

/** Textures for `codes`' fills; `keeps(tensor)`: its texture holds its value across runs. */
export function planTextures(codes: readonly KernelCode[], keeps: (tensor: number) => boolean): TexturePlan {
  const at = lives(codes, keeps);
  const ordered = [...new Set(at.values())].sort((a, b) => a.first - b.first);
  const slots: TextureSlot[] = [];
  // per shape, the shared slots and the last kernel that reads each
  const open = new Map<string, { slot: number; last: number }[]>();
  for (const life of ordered) {
    const b = life.binding;
    const shared = keeps(b.tensor) ? undefined : open.get(shapeKey(b));
    const free = shared?.find((s) => s.last < life.first);
    if (free) {
      free.last = life.last;
      life.slot = free.slot;
      continue;
    }
    life.slot = slots.push({ format: b.format, width: b.width, height: b.height, bytes: bytesOf(b) }) - 1;
    if (keeps(b.tensor)) continue;
    if (shared) shared.push({ slot: life.slot, last: life.last });
    else open.set(shapeKey(b), [{ slot: life.slot, last: life.last }]);
  }
  return {
    slots,
    lives: ordered,
    lifeAt: (kernel, b) => {
      const life = at.get(`${kernel} ${fillKey(b)}`);
      if (!life) throw new Error(`kernel ${kernel} reads no texture ${fillKey(b)}`);
      return life;
    },
    totalBytes: slots.reduce((n, s) => n + s.bytes, 0),
  };
}
