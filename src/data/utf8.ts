// Where a byte string stops being UTF-8. TextDecoder({ fatal: true }) says only *that* it failed;
// this finds the offset, with the same rules (no overlong forms, no surrogates, nothing past U+10FFFF).

/** Byte offset of the first sequence that is not valid UTF-8, or -1 when all of `bytes` is valid. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b === 0xe0) [need, lo] = [2, 0xa0];
    else if (b === 0xed) [need, hi] = [2, 0x9f];
    else if (b >= 0xe1 && b <= 0xef) need = 2;
    else if (b === 0xf0) [need, lo] = [3, 0x90];
    else if (b === 0xf4) [need, hi] = [3, 0x8f];
    else if (b >= 0xf1 && b <= 0xf3) need = 3;
    else return i;
    for (let k = 1; k <= need; k++) {
      const c = i + k < n ? bytes[i + k]! : -1;
      if (c < lo || c > hi) return i;
      lo = 0x80;
      hi = 0xbf;
    }
    i += need + 1;
  }
  return -1;
}

/** 1-based line and column (in bytes) of a byte offset, for error messages. */
export function lineAndColumn(bytes: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
