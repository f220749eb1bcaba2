// Recording a run into a command encoder: each step's texture fills (copies), then its dispatch,
// in the kernels' order, compute passes broken only where a fill must come first.
//
// A parameter's texture holds its value until setParams changes it, so it is filled once, not
// every run; unless the parameter's buffer is written behind the executor's back (a slab that an
// optimizer updates, or a buffer handed out by paramBuffer), which refills it every run. Any
// other fill is made once a run, before the first kernel of its life (textures.ts: a large
// tensor read again after a gap has a second life, a second copy; a texture is shared by fills
// whose lives do not overlap). A tensor is written once a run, before its readers.

import type { FusedGraph } from '../../ir/fuse/types.js';
import type { Allocation } from './allocate.js';
import type { Fill, Step } from './pipelines.js';

export class Recorder {
  private readonly filled = new Set<Fill>();
  /** Tensors whose buffers others may write: their textures are refilled every run. */
  private readonly exposed: Set<number>;
  private readonly params: Set<number>;

  constructor(fg: FusedGraph, private readonly alloc: Allocation) {
    this.exposed = new Set(alloc.inSlab.keys());
    this.params = new Set(fg.params.values());
  }

  /** Tensor `t`'s buffer is handed out: refill its textures every run from now on. */
  expose(t: number): void {
    this.exposed.add(t);
  }

  /** Tensor `t` was written (setParams): its textures are stale. */
  invalidate(t: number): void {
    for (const f of this.filled) if (f.binding.tensor === t) this.filled.delete(f);
  }

  private needsFill(f: Fill): boolean {
    return !this.params.has(f.binding.tensor) || this.exposed.has(f.binding.tensor) || !this.filled.has(f);
  }

  /** Records `steps` (each dispatched `repeat` times, for timing) into the encoder. */
  record(encoder: GPUCommandEncoder, steps: readonly Step[], repeat = 1): void {
    let pass: GPUComputePassEncoder | undefined;
    const thisRun = new Set<Fill>();
    for (const s of steps) {
      // (encoding is on the critical path of decoding: no allocation where there is nothing to fill)
      const fills = s.fills.length === 0 ? s.fills : s.fills.filter((f) => !thisRun.has(f) && this.needsFill(f));
      if (fills.length > 0) {
        pass?.end();
        pass = undefined;
        for (const f of fills) {
          this.filled.add(f);
          thisRun.add(f);
          this.copyInto(encoder, f);
        }
      }
      pass ??= encoder.beginComputePass();
      for (let r = 0; r < repeat; r++) {
        for (const d of s.dispatches) {
          pass.setPipeline(d.pipeline);
          pass.setBindGroup(0, d.group);
          pass.dispatchWorkgroups(...d.workgroups);
        }
      }
    }
    pass?.end();
  }

  private copyInto(encoder: GPUCommandEncoder, f: Fill): void {
    for (const c of f.binding.copies) {
      const at = this.alloc.placeOf(f.binding.tensor);
      encoder.copyBufferToTexture(
        { buffer: at.buffer, offset: at.offset + c.bufferOffset, bytesPerRow: c.bytesPerRow },
        { texture: f.texture, origin: [0, c.originY] },
        [c.width, c.height],
      );
    }
  }
}
