// Math.max and Math.min over an array of any length. `Math.max(...xs)` passes every element as an
// argument, and past about 100,000 of them (a long trace, a long training history) the call
// overflows the stack. Same results as Math.max / Math.min: -Infinity / Infinity when empty, NaN
// when any element is NaN.

export function maxOf(xs: Iterable<number>): number {
  let m = -Infinity;
  for (const x of xs) {
    if (Number.isNaN(x)) return NaN;
    if (x > m) m = x;
  }
  return m;
}

export function minOf(xs: Iterable<number>): number {
  let m = Infinity;
  for (const x of xs) {
    if (Number.isNaN(x)) return NaN;
    if (x < m) m = x;
  }
  return m;
}
