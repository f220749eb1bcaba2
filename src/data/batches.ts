// Batches for training and evaluation. One shape type serves every data source:
//   B = batch, L = length (positions per row), S = sourceLength (seq2seq encoder rows)
//   language modelling: inputs [B, L], targets [B, L]  (targets = inputs shifted left by one)
//   masked tasks:       ... plus mask [B, L]           (1 = this position counts toward the loss)
//   classification:     inputs [B, L], labels [B]
//   seq2seq:            source [B, S], inputs [B, L] (decoder inputs), targets [B, L]
// The loss a batch means is sum(ce * mask) / sum(mask) over its targets (mask absent = all ones),
// or the mean over labels for classification.
import { DataError } from './errors.js';
import { Rng } from './rng.js';

export { Rng, type RngState } from './rng.js';

export interface Batch {
  batch: number; // B
  length: number; // L
  inputs: Int32Array; // [B, L]
  targets?: Int32Array; // [B, L]
  mask?: Float32Array; // [B, L]
  labels?: Int32Array; // [B]
  source?: Int32Array; // [B, S]
  sourceLength?: number; // S
}

function checkShape(tokens: ArrayLike<number>, batch: number, length: number, what: string): void {
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`${what}: batch must be a positive integer, got ${batch}`);
  if (!Number.isInteger(length) || length < 1) throw new Error(`${what}: context length must be a positive integer, got ${length}`);
  if (tokens.length < length + 1) {
    throw new DataError({
      what: `${tokens.length} tokens cannot hold one window of ${length + 1} (context length ${length} plus the next token)`,
      where: what,
      hint: `use a smaller context length (at most ${Math.max(tokens.length - 1, 0)}) or more data`,
    });
  }
}

function fillWindow(tokens: ArrayLike<number>, start: number, row: number, length: number, inputs: Int32Array, targets: Int32Array): void {
  const base = row * length;
  for (let t = 0; t < length; t++) {
    inputs[base + t] = tokens[start + t]!;
    targets[base + t] = tokens[start + t + 1]!;
  }
}

/** Random windows of L+1 tokens, as nanoGPT's get_batch: row b starts at rng.int(n - L), in row
 *  order; inputs are the first L tokens of the window and targets the last L. */
export function sampleBatch(tokens: ArrayLike<number>, batch: number, length: number, rng: Rng): Batch {
  checkShape(tokens, batch, length, 'sampleBatch');
  const inputs = new Int32Array(batch * length);
  const targets = new Int32Array(batch * length);
  for (let b = 0; b < batch; b++) fillWindow(tokens, rng.int(tokens.length - length), b, length, inputs, targets);
  return { batch, length, inputs, targets };
}

/** How many non-overlapping evaluation windows `tokens` holds: window w covers [w*L, w*L + L]. */
export function windowCount(tokenCount: number, length: number): number {
  return Math.max(0, Math.floor((tokenCount - 1) / length));
}

/** Deterministic validation batches. The windows are the non-overlapping ones of `windowCount`
 *  (targets of consecutive windows tile the data, so every token past the first is predicted once);
 *  with `maxBatches` set and more windows than fit, windows are picked evenly spread over the data.
 *  Every batch has B rows; a last partial batch is padded by repeating its first row with mask 0,
 *  so averaging with the mask weighs every window once. */
export function evalBatches(tokens: ArrayLike<number>, batch: number, length: number, maxBatches = Infinity): Batch[] {
  checkShape(tokens, batch, length, 'evalBatches');
  const total = windowCount(tokens.length, length);
  const used = Math.min(total, maxBatches * batch);
  const starts = Array.from({ length: used }, (_, i) => Math.floor((i * total) / used) * length);
  const out: Batch[] = [];
  for (let first = 0; first < used; first += batch) {
    const rows = Math.min(batch, used - first);
    const inputs = new Int32Array(batch * length);
    const targets = new Int32Array(batch * length);
    for (let b = 0; b < batch; b++) fillWindow(tokens, starts[first + (b < rows ? b : 0)]!, b, length, inputs, targets);
    const result: Batch = { batch, length, inputs, targets };
    if (rows < batch) {
      result.mask = new Float32Array(batch * length);
      result.mask.fill(1, 0, rows * length);
    }
    out.push(result);
  }
  return out;
}
