// The one edit distance of the project, for "did you mean" suggestions: the parser's misspelt
// keywords (`blok`) and the checker's unknown names (`embeded_BLD`).

/** Levenshtein distance between a and b; POSITIVE_INFINITY once it is sure to exceed `limit`
 *  (a typo is a few edits: past the limit the exact distance does not matter, and the early
 *  exit keeps a search over many names cheap). */
export function editDistance(a: string, b: string, limit = 3): number {
  // Far apart in length: at least that many edits.
  if (Math.abs(a.length - b.length) > limit) return Number.POSITIVE_INFINITY;
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!;
    row[0] = i;
    let best = row[0];
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = Math.min(up + 1, row[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
      if (row[j]! < best) best = row[j]!;
    }
    // Every later row is at least this row's minimum.
    if (best > limit) return Number.POSITIVE_INFINITY;
  }
  return row[b.length]! <= limit ? row[b.length]! : Number.POSITIVE_INFINITY;
}
