// Axis ranges and tick values a person can read at a glance: steps of 1, 2 or 5 times a power of
// ten on a linear axis, 1-2-5 (or whole decades, when the range is wide) on a log axis.

export interface Axis {
  /** Data value at the axis' low end and high end. */
  min: number;
  max: number;
  log: boolean;
  ticks: number[];
  labels: string[];
}

/** The 1-2-5 step that splits `span` into about `target` parts. */
export function niceStep(span: number, target: number): number {
  const raw = span / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

/**
 * A linear axis covering [lo, hi], widened to whole steps (d3's `nice()`), so the outermost
 * gridlines frame the data. A zero-width range (one point) is padded to show something around it.
 */
export function linearAxis(lo: number, hi: number, target = 6): Axis {
  // Keep hi - lo finite, and a range too narrow for doubles to step through counts as one point.
  const clamp = (v: number): number => Math.min(Math.max(v, -1e307), 1e307);
  [lo, hi] = [clamp(Math.min(lo, hi)), clamp(Math.max(lo, hi))];
  if (!(hi - lo > Math.max(Math.abs(lo), Math.abs(hi)) * 1e-12 && hi - lo > 1e-250)) {
    const pad = Math.abs(lo) < 1e-200 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const step = niceStep(hi - lo, target);
  const k0 = Math.floor(lo / step + 1e-9);
  const k1 = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  // Integer multiples of the step, not repeated addition: no 0.30000000000000004 drift.
  for (let k = k0; k <= k1 && ticks.length < 100; k++) ticks.push(k * step);
  return { min: k0 * step, max: k1 * step, log: false, ticks, labels: ticks.map((v) => formatLinear(v, step)) };
}

/**
 * A log axis over [lo, hi] (both > 0), padded a little in log space rather than widened to whole
 * decades: a loss curve from 4.2 down to 1.3 should fill the plot, not a tenth of it.
 */
export function logAxis(lo: number, hi: number): Axis {
  // Past 1e±300 the padded range would round to 0 or infinity.
  let a = Math.min(Math.max(Math.log10(lo), -290), 290);
  let b = Math.min(Math.max(Math.log10(hi), -290), 290);
  // A range narrower than labels can tell apart (six significant digits) counts as one point.
  if (!(b - a > 1e-4)) {
    a -= 0.2;
    b += 0.2;
  }
  const pad = (b - a) * 0.04;
  a = Math.max(a - pad, -300);
  b = Math.min(b + pad, 300);
  const decades = b - a;
  // Wide ranges: whole decades (every other one past ~7); a decade or two: 1-2-5 in each decade;
  // less than a decade: plain 1-2-5 steps of the values, as a linear axis would have them.
  const inRange = (v: number): boolean => v > 0 && Math.log10(v) >= a - 1e-9 && Math.log10(v) <= b + 1e-9;
  let ticks = decades > 3.5 ? ticksIn(a, b, Math.ceil(decades / 7), [1])
    : decades >= 1 ? ticksIn(a, b, 1, [1, 2, 5])
    : linearAxis(10 ** a, 10 ** b, 6).ticks.filter(inRange);
  if (ticks.length < 3) {
    const dense = ticksIn(a, b, 1, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    if (dense.length > ticks.length) ticks = dense;
  }
  return { min: 10 ** a, max: 10 ** b, log: true, ticks, labels: ticks.map(formatLog) };
}

function ticksIn(a: number, b: number, decadeStride: number, mantissas: number[]): number[] {
  const out: number[] = [];
  const first = Math.floor(a);
  for (let k = first; k <= Math.ceil(b); k++) {
    if ((k - first) % decadeStride !== 0) continue;
    for (const m of mantissas) {
      const v = m * 10 ** k;
      const lv = Math.log10(v);
      if (lv >= a - 1e-9 && lv <= b + 1e-9) out.push(Number(v.toPrecision(12)));
    }
  }
  return out;
}

/** Label for a value on a linear axis with the given step: as many decimals as the step needs. */
export function formatLinear(v: number, step: number): string {
  if (Math.abs(v) < step * 1e-6) return '0';
  const big = Math.max(Math.abs(v), step);
  if (step >= 1e6 && big >= 1e7) return trimmed(v / 1e6, step / 1e6) + 'M';
  if (step >= 1e3 && big >= 1e4) return trimmed(v / 1e3, step / 1e3) + 'k';
  if (step < 1e-4) return v.toExponential(Math.max(0, Math.floor(Math.log10(Math.abs(v))) - Math.floor(Math.log10(step) + 1e-9)));
  return trimmed(v, step);
}

function trimmed(v: number, step: number): string {
  const decimals = Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
  return v.toFixed(Math.min(decimals, 20));
}

/** Label for a log-axis tick: plain decimals in everyday ranges, `2e-7` style beyond. */
export function formatLog(v: number): string {
  const r = Number(v.toPrecision(6));
  const k = Math.floor(Math.log10(r) + 1e-9);
  return k >= -4 && k <= 5 ? String(r) : r.toExponential().replace('e+', 'e');
}

/** Maps a data value on the axis to a pixel between `p0` (axis min) and `p1` (axis max). */
export function toPixel(axis: Axis, v: number, p0: number, p1: number): number {
  // Halved before subtracting so values near the largest double don't overflow; the same clamp
  // as the axis (beyond it a point is off the plot anyway).
  const c = Math.min(Math.max(v, -1e307), 1e307);
  const t = axis.log
    ? (Math.log10(v) - Math.log10(axis.min)) / (Math.log10(axis.max) - Math.log10(axis.min))
    : (c / 2 - axis.min / 2) / (axis.max / 2 - axis.min / 2);
  return p0 + t * (p1 - p0);
}
