// Attention maps as a grid of heatmaps (rows: layers, columns: heads) in one SVG document.

import { MISSING_COLOR, SEQUENTIAL_STOPS, sequentialColor } from './palette.js';
import { el, num, stableId, svgDocument, text, textWidth } from './svg.js';
import { maxOf } from './extent.js';

export interface AttentionMap {
  layer: number;
  head: number;
  /** Row-major [query position, key position], tokens.length squared, values in [0, 1]. */
  weights: Float32Array;
}

export interface HeatmapGridSpec {
  title: string;
  tokens: readonly string[];
  maps: readonly AttentionMap[];
}

/** Where things go; exported so that callers and tests can find a cell in the rendered image. */
export interface HeatmapLayout {
  width: number;
  height: number;
  /** Side of one cell in pixels (an integer). */
  cell: number;
  /** Side of one map in pixels. */
  mapSize: number;
  /** Top-left corner of the grid of maps. */
  gridX: number;
  gridY: number;
  /** Tick labels are drawn for positions 0, labelEvery, 2·labelEvery, ... */
  labelEvery: number;
  layers: number[];
  heads: number[];
  /** Top-left corner of each map (integers); a map covers cell·tokens.length pixels square. */
  panels: { layer: number; head: number; x: number; y: number }[];
  colorBar: { x: number; y: number; width: number; height: number };
}

const TICK_FONT = 10;
const TITLE_FONT = 12;
const GAP = 14;
const GRID_TOP = 84;
/** Colours are quantised so that runs of equal neighbours merge into one path segment. */
const LEVELS = 48;
const MAX_LABEL_CHARS = 8;

/**
 * A token as a tick label: whitespace and control characters made visible (a space is '␣', a
 * newline '⏎'), long tokens cut with '…'.
 */
export function visibleToken(token: string): string {
  let out = '';
  let count = 0;
  for (const ch of token) {
    if (count === MAX_LABEL_CHARS) return out + '…';
    const c = ch.codePointAt(0)!;
    if (ch === ' ') out += '␣';
    else if (ch === '\n') out += '⏎';
    else if (ch === '\t') out += '⇥';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || (c >= 0x7f && c < 0xa0)) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
    count++;
  }
  return out === '' ? '∅' : out;
}

function cellSize(n: number): number {
  // Up to 30 tokens every one gets a readable label (cells >= 12 px); longer sequences shrink to
  // ~256 px a map and label every k-th token.
  return n <= 30 ? Math.min(20, Math.max(12, Math.floor(360 / Math.max(n, 1)))) : Math.max(1, Math.floor(256 / n));
}

function sortedUnique(values: readonly number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

export function heatmapLayout(spec: HeatmapGridSpec): HeatmapLayout {
  const n = spec.tokens.length;
  const cell = cellSize(n);
  const size = Math.max(n * cell, 20);
  const labelEvery = Math.max(1, Math.ceil(12 / cell));
  const layers = sortedUnique(spec.maps.map((m) => m.layer));
  const heads = sortedUnique(spec.maps.map((m) => m.head));
  const labelWidth = Math.max(0, maxOf(spec.tokens.filter((_, i) => i % labelEvery === 0).map((t) => textWidth(visibleToken(t), TICK_FONT))));
  const rowTitleWidth = Math.max(0, maxOf(layers.map((l) => textWidth(`layer ${l}`, TITLE_FONT))));
  const x0 = Math.ceil(16 + rowTitleWidth + 12 + labelWidth + 6);
  const y0 = GRID_TOP;
  const gridW = Math.max(heads.length * (size + GAP) - GAP, 0);
  const gridH = Math.max(layers.length * (size + GAP) - GAP, 0);
  const panels = spec.maps.map((m) => ({
    layer: m.layer,
    head: m.head,
    x: x0 + heads.indexOf(m.head) * (size + GAP),
    y: y0 + layers.indexOf(m.layer) * (size + GAP),
  }));
  const barHeight = Math.min(Math.max(gridH, 120), 260);
  const colorBar = { x: x0 + gridW + 28, y: y0, width: 14, height: barHeight };
  const width = Math.max(colorBar.x + colorBar.width + 44, textWidth(spec.title, 16) + 32, 360);
  const height = y0 + Math.max(gridH + 6 + labelWidth + 34, barHeight + 20);
  return { width: Math.ceil(width), height: Math.ceil(height), cell, mapSize: size, gridX: x0, gridY: y0, labelEvery, layers, heads, panels, colorBar };
}

/** A grid of attention heatmaps with token tick labels and one shared colour scale for [0, 1]. */
export function heatmapGrid(spec: HeatmapGridSpec): string {
  const n = spec.tokens.length;
  for (const m of spec.maps) {
    if (m.weights.length !== n * n) {
      throw new RangeError(`heatmapGrid: the map for layer ${m.layer}, head ${m.head} has ${m.weights.length} weights; `
        + `${n} tokens need ${n} x ${n} = ${n * n} (row-major, query x key)`);
    }
  }
  const layout = heatmapLayout(spec);
  const { cell, colorBar, mapSize: size, gridX, gridY } = layout;
  const parts: string[] = [];
  parts.push(text(spec.title, { x: 16, y: 26, 'font-size': 16, 'font-weight': 'bold', fill: '#222' }));
  parts.push(text('each map: query position (rows) by key position (columns); colour: attention weight',
    { x: 16, y: 46, 'font-size': 12, fill: '#555' }));
  if (spec.maps.length === 0) parts.push(text('no maps', { x: 16, y: 90, 'font-size': 14, fill: '#888' }));

  spec.maps.forEach((m, i) => {
    const p = layout.panels[i]!;
    parts.push(el('g', { 'shape-rendering': 'crispEdges' }, cellPaths(m.weights, n, cell, p.x, p.y)));
    parts.push(el('rect', { x: p.x - 0.5, y: p.y - 0.5, width: size + 1, height: size + 1, fill: 'none', stroke: '#bbb', 'stroke-width': 1 }));
  });
  const lastY = gridY + (layout.layers.length - 1) * (size + GAP);
  layout.layers.forEach((l, r) => {
    const y = gridY + r * (size + GAP);
    parts.push(text(`layer ${l}`, { x: 16, y: y + size / 2 + 4, 'font-size': TITLE_FONT, fill: '#222' }));
    parts.push(tickLabels(spec.tokens, layout, gridX - 4, y, 'y'));
  });
  layout.heads.forEach((h, c) => {
    const x = gridX + c * (size + GAP);
    parts.push(text(`head ${h}`, { x: x + size / 2, y: gridY - 8, 'font-size': TITLE_FONT, 'text-anchor': 'middle', fill: '#222' }));
    parts.push(tickLabels(spec.tokens, layout, x, lastY + size + 4, 'x'));
  });
  parts.push(colorLegend(colorBar, stableId('arch-scale', spec.title)));
  return svgDocument(layout.width, layout.height, spec.title, parts.join('\n'));
}

/** One path per colour level; each horizontal run of equal cells is one rectangle in it. */
function cellPaths(w: Float32Array, n: number, cell: number, x0: number, y0: number): string {
  const byLevel = new Map<number, string[]>();
  const level = (v: number): number => Number.isFinite(v) ? Math.round(Math.min(1, Math.max(0, v)) * (LEVELS - 1)) : -1;
  for (let q = 0; q < n; q++) {
    let k = 0;
    while (k < n) {
      const lv = level(w[q * n + k]!);
      let end = k + 1;
      while (end < n && level(w[q * n + end]!) === lv) end++;
      const runs = byLevel.get(lv) ?? [];
      runs.push(`M${x0 + k * cell} ${y0 + q * cell}h${(end - k) * cell}v${cell}h${-(end - k) * cell}z`);
      byLevel.set(lv, runs);
      k = end;
    }
  }
  return [...byLevel].map(([lv, runs]) =>
    el('path', { d: runs.join(''), fill: lv < 0 ? MISSING_COLOR : sequentialColor(lv / (LEVELS - 1)) })).join('');
}

function tickLabels(tokens: readonly string[], layout: HeatmapLayout, x: number, y: number, axis: 'x' | 'y'): string {
  const { cell, labelEvery } = layout;
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i += labelEvery) {
    const label = visibleToken(tokens[i]!);
    const mid = i * cell + cell / 2 + TICK_FONT * 0.35;
    if (axis === 'y') out.push(text(label, { x, y: y + mid, 'text-anchor': 'end' }));
    else out.push(text(label, { x: x + mid, y, 'text-anchor': 'end', transform: `rotate(-90 ${num(x + mid)} ${num(y)})` }));
  }
  return el('g', { 'font-size': TICK_FONT, fill: '#333' }, out.join(''));
}

function colorLegend(bar: HeatmapLayout['colorBar'], id: string): string {
  const stops = SEQUENTIAL_STOPS.map((c, i) => el('stop', { offset: i / (SEQUENTIAL_STOPS.length - 1), 'stop-color': c })).join('');
  // Bottom to top: weight 0 at the bottom, 1 at the top.
  const gradient = el('linearGradient', { id, x1: 0, y1: 1, x2: 0, y2: 0 }, stops);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((t) => {
    const y = bar.y + bar.height * (1 - t);
    return el('path', { d: `M${num(bar.x + bar.width)} ${num(y)}h4`, stroke: '#444' })
      + text(String(t), { x: bar.x + bar.width + 7, y: y + 3.5, 'font-size': TICK_FONT, fill: '#333' });
  }).join('');
  return el('defs', {}, gradient)
    + el('rect', { ...bar, fill: `url(#${id})`, stroke: '#888', 'stroke-width': 0.5 })
    + text('weight', { x: bar.x - 2, y: bar.y - 8, 'font-size': TICK_FONT, fill: '#333' })
    + ticks;
}
