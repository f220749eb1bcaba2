// Counter-based random numbers: every element's bits are an exact u32 function of
// (seed, stream, flat index), so a WGSL kernel reproduces the interpreter bit for bit.
// Hash: the PCG-RXS-M-XS 32-bit output permutation ("PCG hash", Jarzynski & Olano 2020).
// docs/ir.md has the same definition in WGSL.

/** pcg(v): one LCG step, then the RXS-M-XS permutation; all arithmetic mod 2^32. */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** bits(seed, stream, i) = pcg(i + pcg(stream + pcg(seed))), sums mod 2^32. */
export function randomBits(seed: number, stream: number, index: number): number {
  const s = pcgHash(seed >>> 0);
  const t = pcgHash((stream + s) >>> 0);
  return pcgHash((index + t) >>> 0);
}

/** Uniform in [0, 1): the top 24 bits over 2^24, exact in f32. */
export function randomUniform(seed: number, stream: number, index: number): number {
  return (randomBits(seed, stream, index) >>> 8) / 16777216;
}
