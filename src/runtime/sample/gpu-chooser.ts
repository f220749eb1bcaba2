// The token chooser as a WGSL kernel, so that decoding steps chain on the GPU: it reads a step's
// logits, writes the chosen token into the decode graph's token input, advances its position
// input by one, and appends the token to a list the host reads back once per chain. It runs the
// arithmetic of choose.ts step for step (see there why the two agree exactly); the host passes
// the uniform draws, from the same Rng, in a buffer.
import { exponentScale, isGreedy, TINY, weightTable, type ChooseOptions } from './choose.js';

const LANES = 64;
/** Sampling ranks every token against every other (V^2 / 64 comparisons a lane): beyond this
 *  vocabulary the CPU chooser is faster. Greedy decoding has no limit. */
export const GPU_SAMPLING_MAX_VOCAB = 4096;

const hex = (x: number) => `bitcast<f32>(0x${new Uint32Array(Float32Array.of(x).buffer)[0]!.toString(16)}u)`;

// consts: the weight table (512 f32), then one draw per chained step.
// chosen: [steps so far, token 0, token 1, ...].
const SOURCE = /* wgsl */ `
struct Options { vocab: u32, keep: u32, greedy: u32, useTopP: u32, topP: f32, scale: f32 }
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> token: array<i32>;
@group(0) @binding(2) var<storage, read_write> position: array<f32>;
@group(0) @binding(3) var<storage, read_write> chosen: array<u32>;
@group(0) @binding(4) var<storage, read> consts: array<f32>;
@group(0) @binding(5) var<storage, read_write> order: array<u32>;
@group(0) @binding(6) var<uniform> o: Options;

fn weight(diff: f32) -> f32 {
  var d = diff;
  if (d > -${hex(TINY)}) { d = 0.0; }
  var y = d * o.scale;
  if (y > -${hex(TINY)}) { y = 0.0; }
  if (!(y > -126.0)) { return 0.0; }
  let q = i32(floor(y * 65536.0));
  let n = q >> 16u;
  let j = u32(q & 0xffff);
  let m = consts[j >> 8u] * consts[256u + (j & 255u)];
  return bitcast<f32>(bitcast<i32>(m) + n * 8388608);
}

fn finish(t: u32, step: u32) {
  token[0] = i32(t);
  position[0] = position[0] + 1.0;
  chosen[0] = step + 1u;
  chosen[step + 1u] = t;
}

@compute @workgroup_size(${LANES})
fn main(@builtin(local_invocation_index) lane: u32) {
  let step = chosen[0];
  let V = o.vocab;
  if (o.greedy == 1u) {
    if (lane == 0u) {
      var best = 0u;
      for (var i = 1u; i < V; i++) { if (logits[i] > logits[best]) { best = i; } }
      finish(best, step);
    }
    return;
  }
  for (var i = lane; i < V; i += ${LANES}u) {
    let li = logits[i];
    var r = 0u;
    for (var j = 0u; j < V; j++) {
      let lj = logits[j];
      if (lj > li || (lj == li && j < i)) { r++; }
    }
    if (r < o.keep) { order[r] = i; }
  }
  storageBarrier();
  if (lane != 0u) { return; }
  let mx = logits[order[0]];
  var sum = 0.0;
  for (var r = 0u; r < o.keep; r++) { sum = sum + weight(logits[order[r]] - mx); }
  var cut = o.keep - 1u;
  var total = sum;
  if (o.useTopP == 1u) {
    let reach = o.topP * sum;
    var acc = 0.0;
    for (var r = 0u; r < o.keep; r++) {
      acc = acc + weight(logits[order[r]] - mx);
      if (acc >= reach) { cut = r; break; }
    }
    total = acc;
  }
  let threshold = consts[512u + step] * total;
  var acc = 0.0;
  var last = order[0];
  for (var r = 0u; r <= cut; r++) {
    let w = weight(logits[order[r]] - mx);
    acc = acc + w;
    if (w > 0.0) { last = order[r]; }
    if (threshold < acc) { finish(order[r], step); return; }
  }
  finish(last, step);
}
`;

export interface GpuChooserBuffers {
  logits: GPUBuffer;
  token: GPUBuffer;
  position: GPUBuffer;
}

/** The chooser bound to one decode graph's buffers, for chains of up to `maxSteps` tokens. */
export class GpuChooser {
  readonly chosen: GPUBuffer;
  private readonly consts: GPUBuffer;
  private readonly options: GPUBuffer;
  private readonly order: GPUBuffer;
  private readonly staging: GPUBuffer;
  private readonly pipeline: GPUComputePipeline;
  private readonly group: GPUBindGroup;
  private readonly draws: Float32Array<ArrayBuffer>;

  static supports(o: ChooseOptions, vocab: number): boolean {
    return isGreedy(o) || vocab <= GPU_SAMPLING_MAX_VOCAB;
  }

  constructor(private readonly device: GPUDevice, buffers: GpuChooserBuffers, private readonly vocab: number, readonly maxSteps: number) {
    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const bytes = (n: number) => Math.ceil((n * 4) / 16) * 16;
    this.chosen = device.createBuffer({ size: bytes(maxSteps + 1), usage: storage, label: 'chooser: chosen tokens' });
    this.consts = device.createBuffer({ size: bytes(512 + maxSteps), usage: storage, label: 'chooser: table and draws' });
    this.order = device.createBuffer({ size: bytes(vocab), usage: storage, label: 'chooser: rank order' });
    this.options = device.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'chooser: options' });
    this.staging = device.createBuffer({ size: bytes(maxSteps + 1), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(this.consts, 0, weightTable);
    this.draws = new Float32Array(maxSteps);
    const module = device.createShaderModule({ code: SOURCE, label: 'token chooser' });
    this.pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: 'token chooser' });
    const entries = [buffers.logits, buffers.token, buffers.position, this.chosen, this.consts, this.order].map((buffer, binding) => ({ binding, resource: { buffer } }));
    entries.push({ binding: 6, resource: { buffer: this.options } });
    this.group = device.createBindGroup({ layout: this.pipeline.getBindGroupLayout(0), entries });
  }

  /** Before a chain: the options and one uniform draw per sampled step (none when greedy). */
  begin(o: ChooseOptions, draws: readonly number[]): void {
    if (draws.length > this.maxSteps) throw new Error(`chooser: ${draws.length} draws for a chain of at most ${this.maxSteps}`);
    const greedy = isGreedy(o);
    if (!greedy && this.vocab > GPU_SAMPLING_MAX_VOCAB) throw new Error(`chooser: sampling on the GPU needs a vocabulary of at most ${GPU_SAMPLING_MAX_VOCAB}`);
    const opts = new ArrayBuffer(32);
    const u = new Uint32Array(opts);
    const fl = new Float32Array(opts);
    u[0] = this.vocab;
    u[1] = o.topK > 0 ? Math.min(o.topK, this.vocab) : this.vocab;
    u[2] = greedy ? 1 : 0;
    u[3] = o.topP < 1 ? 1 : 0;
    fl[4] = o.topP;
    fl[5] = greedy ? 0 : exponentScale(o.temperature);
    this.device.queue.writeBuffer(this.options, 0, opts);
    this.device.queue.writeBuffer(this.chosen, 0, new Uint32Array(4));
    if (draws.length > 0) {
      this.draws.set(draws);
      this.device.queue.writeBuffer(this.consts, 512 * 4, this.draws, 0, draws.length);
    }
  }

  /** Records one choice: reads the logits, writes the token and position inputs. */
  encode(encoder: GPUCommandEncoder): void {
    const pass = encoder.beginComputePass();
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.group);
    pass.dispatchWorkgroups(1);
    pass.end();
  }

  /** After the chain's commands: copies the chosen tokens out; `read` maps them once submitted. */
  encodeReadback(encoder: GPUCommandEncoder, steps: number): void {
    encoder.copyBufferToBuffer(this.chosen, 0, this.staging, 0, Math.ceil(((steps + 1) * 4) / 16) * 16);
  }

  async read(steps: number): Promise<number[]> {
    await this.staging.mapAsync(GPUMapMode.READ);
    const got = new Uint32Array(this.staging.getMappedRange().slice(0, (steps + 1) * 4));
    this.staging.unmap();
    if (got[0] !== steps) throw new Error(`chooser: ${got[0]} tokens chosen, expected ${steps}`);
    return [...got.subarray(1)];
  }

  destroy(): void {
    for (const b of [this.chosen, this.consts, this.order, this.options, this.staging]) b.destroy();
  }
}
