// Line charts for training and ablation losses, as a standalone SVG document.

import { CYCLE_DASHES, DASHED, SERIES_COLORS } from './palette.js';
import { el, num, stableId, svgDocument, text, textWidth } from './svg.js';
import { linearAxis, logAxis, toPixel, type Axis } from './ticks.js';
import { maxOf, minOf } from './extent.js';

export interface LineSeries {
  label: string;
  /** [x, y] in order of x. A non-finite y ends the series: it diverged there. */
  points: readonly (readonly [number, number])[];
  dashed?: boolean;
  /** Shaded spread, e.g. min..max over seeds: [x, lo, hi] in order of x. */
  band?: readonly (readonly [number, number, number])[];
  /** A CSS colour; by default the next one in the palette. */
  color?: string;
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
  logY?: boolean;
  /** Fixes the y range (data outside is clipped), e.g. to keep one blown-up run from flattening the rest. */
  yRange?: readonly [number, number];
  /** Pixels; the chart grows past these where a long legend needs room. Defaults 800 x 480. */
  width?: number;
  height?: number;
}

/** What is drawn of one series after non-finite and (on a log axis) non-positive values are dropped. */
export interface CleanSeries {
  points: [number, number][];
  band: [number, number, number][];
  /** A non-finite y was met; `points` stops before it. */
  diverged: boolean;
}

export function cleanSeries(s: LineSeries, logY: boolean): CleanSeries {
  const points: [number, number][] = [];
  let diverged = false;
  for (const [x, y] of s.points) {
    if (!Number.isFinite(x)) continue;
    if (!Number.isFinite(y)) {
      diverged = true;
      break;
    }
    if (logY && y <= 0) continue;
    points.push([x, y]);
  }
  const band = (s.band ?? []).filter(([x, lo, hi]) =>
    Number.isFinite(x) && Number.isFinite(lo) && Number.isFinite(hi) && (!logY || (lo > 0 && hi > 0)))
    .map(([x, lo, hi]) => [x, lo, hi] as [number, number, number]);
  return { points, band, diverged };
}

interface Style {
  color: string;
  dash: string;
  markers: boolean;
}

/** Series with few points get a dot at each (a validation curve with 3 evals, or a single point). */
const MARKER_MAX_POINTS = 40;
const FONT = 12;
const LEGEND_ROW = 18;
const LEGEND_SWATCH = 26;

export function seriesStyle(s: LineSeries, index: number, pointCount: number): Style {
  const color = s.color ?? SERIES_COLORS[index % SERIES_COLORS.length]!;
  const dash = s.dashed ? DASHED : CYCLE_DASHES[Math.floor(index / SERIES_COLORS.length) % CYCLE_DASHES.length]!;
  return { color, dash, markers: pointCount <= MARKER_MAX_POINTS };
}

function axes(clean: readonly CleanSeries[], spec: LineChartSpec): { x: Axis; y: Axis; empty: boolean } {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const c of clean) {
    for (const [x, y] of c.points) { xs.push(x); ys.push(y); }
    for (const [x, lo, hi] of c.band) { xs.push(x); ys.push(lo, hi); }
  }
  const logY = spec.logY ?? false;
  const empty = xs.length === 0;
  const [xLo, xHi] = empty ? [0, 1] : [minOf(xs), maxOf(xs)];
  let [yLo, yHi] = empty ? (logY ? [1, 10] : [0, 1]) : [minOf(ys), maxOf(ys)];
  if (spec.yRange && spec.yRange[1] > spec.yRange[0] && (!logY || spec.yRange[0] > 0)) [yLo, yHi] = spec.yRange;
  return { x: linearAxis(xLo, xHi), y: logY ? logAxis(yLo, yHi) : linearAxis(yLo, yHi), empty };
}

function legendLabel(s: LineSeries, c: CleanSeries): string {
  if (c.diverged) return `${s.label} (diverged)`;
  if (c.points.length === 0) return `${s.label} (no data)`;
  return s.label;
}

/** An SVG line chart: nice ticks, gridlines, a legend at the right, diverged runs marked with ×. */
export function lineChart(spec: LineChartSpec): string {
  const logY = spec.logY ?? false;
  const clean = spec.series.map((s) => cleanSeries(s, logY));
  const styles = spec.series.map((s, i) => seriesStyle(s, i, clean[i]!.points.length));
  const labels = spec.series.map((s, i) => legendLabel(s, clean[i]!));
  const { x: xAxis, y: yAxis, empty } = axes(clean, spec);

  const yTickWidth = Math.max(0, maxOf(yAxis.labels.map((l) => textWidth(l, FONT))));
  const legendWidth = labels.length === 0 ? 0
    : LEGEND_SWATCH + 8 + maxOf(labels.map((l) => textWidth(l, FONT))) + 16;
  const left = 28 + yTickWidth + 10;
  const top = 44;
  const bottom = 52;
  const right = legendWidth + 24;
  // A long legend widens the chart rather than squeezing the plot below 60% of the asked-for width.
  const width = Math.max(spec.width ?? 800, left + right + 0.6 * (spec.width ?? 800));
  const height = Math.max(spec.height ?? 480, top + bottom + labels.length * LEGEND_ROW + 8);
  const plot = { x0: left, x1: width - right, y0: height - bottom, y1: top };
  const px = (v: number): number => toPixel(xAxis, v, plot.x0, plot.x1);
  const py = (v: number): number => toPixel(yAxis, v, plot.y0, plot.y1);
  const clipId = stableId('arch-plot', spec.title + '\u0000' + labels.join('\u0000'));

  const parts: string[] = [];
  parts.push(el('clipPath', { id: clipId }, el('rect', { x: plot.x0, y: plot.y1, width: plot.x1 - plot.x0, height: plot.y0 - plot.y1 })));
  parts.push(gridAndTicks(xAxis, yAxis, plot, px, py));
  parts.push(text(spec.title, { x: plot.x0, y: 24, 'font-size': 16, 'font-weight': 'bold', fill: '#222' }));
  parts.push(text(spec.xLabel, { x: (plot.x0 + plot.x1) / 2, y: height - 12, 'font-size': FONT + 1, 'text-anchor': 'middle', fill: '#222' }));
  const yMid = (plot.y0 + plot.y1) / 2;
  parts.push(text(spec.yLabel, { x: 16, y: yMid, 'font-size': FONT + 1, 'text-anchor': 'middle', fill: '#222', transform: `rotate(-90 16 ${num(yMid)})` }));
  if (empty) {
    parts.push(text('no data', { x: (plot.x0 + plot.x1) / 2, y: yMid, 'font-size': 14, 'text-anchor': 'middle', fill: '#888' }));
  }

  const bands = clean.map((c, i) => bandPath(c, styles[i]!, px, py)).join('');
  const lines = clean.map((c, i) => seriesPath(c, styles[i]!, px, py)).join('');
  parts.push(el('g', { 'clip-path': `url(#${clipId})` }, bands + lines));
  parts.push(legend(labels, styles, clean.map((c) => c.diverged), plot.x1 + 20, top));
  return svgDocument(width, height, spec.title, parts.join('\n'));
}

interface Plot { x0: number; x1: number; y0: number; y1: number }

function gridAndTicks(xAxis: Axis, yAxis: Axis, plot: Plot, px: (v: number) => number, py: (v: number) => number): string {
  const grid: string[] = [];
  const labels: string[] = [];
  xAxis.ticks.forEach((v, i) => {
    const x = px(v);
    grid.push(`M${num(x)} ${num(plot.y0)}V${num(plot.y1)}`);
    labels.push(text(xAxis.labels[i]!, { x, y: plot.y0 + 18, 'text-anchor': 'middle' }));
  });
  yAxis.ticks.forEach((v, i) => {
    const y = py(v);
    grid.push(`M${num(plot.x0)} ${num(y)}H${num(plot.x1)}`);
    labels.push(text(yAxis.labels[i]!, { x: plot.x0 - 8, y: y + 4, 'text-anchor': 'end' }));
  });
  const frame = `M${num(plot.x0)} ${num(plot.y1)}V${num(plot.y0)}H${num(plot.x1)}`;
  return el('path', { d: grid.join(''), stroke: '#e3e3e3', 'stroke-width': 1, fill: 'none' }) + '\n'
    + el('path', { d: frame, stroke: '#444', 'stroke-width': 1, fill: 'none' }) + '\n'
    + el('g', { 'font-size': FONT, fill: '#444' }, labels.join(''));
}

function bandPath(c: CleanSeries, style: Style, px: (v: number) => number, py: (v: number) => number): string {
  if (c.band.length < 2) return '';
  const lo = c.band.map(([x, l]) => `${num(px(x))},${num(py(l))}`);
  const hi = c.band.slice().reverse().map(([x, , h]) => `${num(px(x))},${num(py(h))}`);
  return el('polygon', { points: lo.concat(hi).join(' '), fill: style.color, 'fill-opacity': 0.18, stroke: 'none' });
}

function seriesPath(c: CleanSeries, style: Style, px: (v: number) => number, py: (v: number) => number): string {
  let out = '';
  if (c.points.length >= 2) {
    const d = c.points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${num(px(x))} ${num(py(y))}`).join('');
    out += el('path', {
      d, fill: 'none', stroke: style.color, 'stroke-width': 2, 'stroke-linejoin': 'round',
      'stroke-dasharray': style.dash || undefined,
    });
  }
  if (style.markers) {
    out += c.points.map(([x, y]) => el('circle', { cx: px(x), cy: py(y), r: 3, fill: style.color })).join('');
  }
  const last = c.points[c.points.length - 1];
  if (c.diverged && last) out += crossMark(px(last[0]), py(last[1]), style.color, 6);
  return out;
}

function crossMark(x: number, y: number, color: string, r: number): string {
  const d = `M${num(x - r)} ${num(y - r)}L${num(x + r)} ${num(y + r)}M${num(x - r)} ${num(y + r)}L${num(x + r)} ${num(y - r)}`;
  return el('path', { d, stroke: color, 'stroke-width': 2.5, fill: 'none' });
}

function legend(labels: readonly string[], styles: readonly Style[], diverged: readonly boolean[], x: number, y: number): string {
  const rows = labels.map((label, i) => {
    const s = styles[i]!;
    const cy = y + i * LEGEND_ROW + LEGEND_ROW / 2;
    const swatch = el('path', {
      d: `M${num(x)} ${num(cy)}H${num(x + LEGEND_SWATCH)}`, stroke: s.color, 'stroke-width': 2.5,
      'stroke-dasharray': s.dash || undefined,
    }) + (s.markers ? el('circle', { cx: x + LEGEND_SWATCH / 2, cy, r: 3, fill: s.color }) : '')
      + (diverged[i] ? crossMark(x + LEGEND_SWATCH, cy, s.color, 4) : '');
    return swatch + text(label, { x: x + LEGEND_SWATCH + 8, y: cy + 4 });
  });
  return el('g', { 'font-size': FONT, fill: '#222' }, rows.join('\n'));
}
