// Mappable buffers for reading results back. A readback may still be pending (mapAsync not yet
// resolved) when the next run copies into a staging buffer, as when the trainer submits step k+1
// before it reads step k: so each use takes a buffer that is unmapped and not being mapped, and a
// new one only when none is.
export class StagingPool {
  private readonly buffers: GPUBuffer[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly label: string,
  ) {}

  /** An unmapped buffer of at least `size` bytes. Call mapAsync on it right after the submit that
   *  fills it, so that no later take() returns it before it is read. */
  take(size: number): GPUBuffer {
    const free = this.buffers.find((b) => b.mapState === 'unmapped' && b.size >= size);
    if (free) return free;
    const b = this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: this.label });
    this.buffers.push(b);
    return b;
  }

  destroy(): void {
    for (const b of this.buffers) b.destroy();
  }
}
