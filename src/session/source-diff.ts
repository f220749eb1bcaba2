// How a model file differs from the copy a checkpoint keeps, in a few words: the first line that
// differs, before and after, and how many lines the change spans.

const MAX_SHOWN = 60;

function quote(line: string): string {
  const t = line.trim();
  return '`' + (t.length > MAX_SHOWN ? t.slice(0, MAX_SHOWN - 3) + '...' : t) + '`';
}

const lines = (n: number): string => `${n} line${n === 1 ? '' : 's'}`;

/** e.g. "line 10 was `D = 64`, now `D = 32`", "2 lines added at line 7: `...`, ...". */
export function describeChange(before: string, now: string): string {
  const a = before.split('\n');
  const b = now.split('\n');
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const was = a.slice(head, a.length - tail);
  const is = b.slice(head, b.length - tail);
  const at = head + 1;
  if (!was.length) return `${lines(is.length)} added at line ${at}, the first ${quote(is[0] ?? '')}`;
  if (!is.length) return `${lines(was.length)} removed at line ${at}, the first ${quote(was[0]!)}`;
  const span = Math.max(was.length, is.length);
  return `line ${at} was ${quote(was[0]!)}, now ${quote(is[0]!)}${span > 1 ? ` (the change spans lines ${at}-${head + span})` : ''}`;
}
