// Small helpers about names: suffix letters, "did you mean", readable lists.

/** Levenshtein distance, capped: only used to suggest near names. */
export function editDistance(a: string, b: string): number {
  // Far apart in length: too far to be a typo, whatever the threshold (long names allow more edits).
  if (Math.abs(a.length - b.length) > 3) return Number.POSITIVE_INFINITY;
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** The candidate closest to `name`, if close enough to be a plausible typo. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  // A typo is one or two edits (a swap counts as two); short names allow one.
  let bestD = name.length <= 3 ? 2 : name.length <= 8 ? 3 : Math.floor(name.length / 3) + 1;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

export function sameLetters(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((l) => b.includes(l));
}

export const fmtLetters = (ls: readonly string[]): string => (ls.length ? ls.join('') : 'a scalar');

/** A name in backticks; a very long one is shortened in the middle, so messages stay one line. */
export const quote = (s: string): string => '`' + (s.length > 60 ? `${s.slice(0, 30)}…${s.slice(-20)}` : s) + '`';

export function listOr(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return items.slice(0, -1).join(', ') + ' or ' + items[items.length - 1];
}
