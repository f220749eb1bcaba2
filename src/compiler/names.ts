// Small helpers about names: suffix letters, "did you mean", readable lists.
import { editDistance } from '../../grammar/edit-distance.js';

/** The candidate closest to `name`, if close enough to be a plausible typo. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  // A typo is one or two edits (a swap counts as two); short names allow one.
  let bestD = name.length <= 3 ? 2 : name.length <= 8 ? 3 : Math.floor(name.length / 3) + 1;
  for (const c of candidates) {
    // Far apart in length: too far to be a typo, whatever the threshold (long names allow more edits).
    if (Math.abs(name.length - c.length) > 3) continue;
    const d = editDistance(name.toLowerCase(), c.toLowerCase(), bestD - 1);
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
