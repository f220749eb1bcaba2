// A small seeded generator: xoshiro128** (Blackman & Vigna) on 32-bit integers, seeded through
// splitmix64 as its authors recommend. Its whole state is four uint32s, saved as plain JSON, so a
// resumed run draws exactly the batches the uninterrupted run would have drawn.

export interface RngState {
  algorithm: 'xoshiro128**';
  s: [number, number, number, number];
}

const MASK64 = (1n << 64n) - 1n;

function splitmix64(x: bigint): [bigint, bigint] {
  const next = (x + 0x9e3779b97f4a7c15n) & MASK64;
  let z = next;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return [next, z ^ (z >> 31n)];
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** `seed` is any safe integer; equal seeds give equal sequences. */
  constructor(seed = 0) {
    if (!Number.isSafeInteger(seed)) throw new Error(`Rng seed must be a safe integer, got ${seed}`);
    let x = BigInt.asUintN(64, BigInt(seed));
    let a: bigint;
    let b: bigint;
    [x, a] = splitmix64(x);
    [x, b] = splitmix64(x);
    this.setState({
      algorithm: 'xoshiro128**',
      s: [Number(a & 0xffffffffn), Number(a >> 32n), Number(b & 0xffffffffn), Number(b >> 32n)],
    });
  }

  static fromState(state: RngState): Rng {
    const rng = new Rng(0);
    rng.setState(state);
    return rng;
  }

  state(): RngState {
    return { algorithm: 'xoshiro128**', s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0] };
  }

  setState(state: RngState): void {
    const s = state?.s;
    const ok =
      state?.algorithm === 'xoshiro128**' &&
      Array.isArray(s) &&
      s.length === 4 &&
      s.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff) &&
      s.some((v) => v !== 0); // the all-zero state is a fixed point
    if (!ok) throw new Error(`not a saved Rng state: ${JSON.stringify(state)}`);
    [this.s0, this.s1, this.s2, this.s3] = s.map((v) => v | 0) as [number, number, number, number]; // four, checked above
  }

  /** Uniform integer in [0, 2^32). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), without modulo bias (rejection of the top partial range). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x100000000) throw new Error(`Rng.int needs an integer n in [1, 2^32], got ${n}`);
    const limit = 0x100000000 - (0x100000000 % n);
    let u = this.nextUint32();
    while (u >= limit) u = this.nextUint32();
    return u % n;
  }

  /** Standard normal sample (Box-Muller; the second value is dropped so the state stays simple). */
  normal(): number {
    const u1 = 1 - this.float(); // (0, 1]: log stays finite
    const u2 = this.float();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}
