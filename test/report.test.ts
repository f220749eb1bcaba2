// Report pictures: line charts and attention heatmaps, rasterised with resvg and checked pixel by pixel.
import { Resvg } from '@resvg/resvg-js';
import fc from 'fast-check';

// Fixed seed: CI runs the same cases every time (set FC_SEED to explore others).
fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261123) });
import { describe, expect, it } from 'vitest';
import {
  SEQUENTIAL_STOPS,
  SERIES_COLORS,
  heatmapGrid,
  heatmapLayout,
  lineChart,
  visibleToken,
  type AttentionMap,
  type LineSeries,
} from '../src/report/index.js';
import { MISSING_COLOR } from '../src/report/palette.js';
import { linearAxis, logAxis } from '../src/report/ticks.js';

// ---------------------------------------------------------------- helpers

interface Raster {
  width: number;
  height: number;
  pixels: Uint8Array;
}

/** Renders with resvg; also checks the PNG it writes is a PNG of the same size. */
function render(svg: string): Raster {
  const image = new Resvg(svg, { font: { loadSystemFonts: true } }).render();
  const png = image.asPng();
  expect([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
  expect(png.readUInt32BE(16)).toBe(image.width);
  expect(png.readUInt32BE(20)).toBe(image.height);
  return { width: image.width, height: image.height, pixels: new Uint8Array(image.pixels) };
}

function rgbOf(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function pixel(r: Raster, x: number, y: number): [number, number, number] {
  const i = (Math.round(y) * r.width + Math.round(x)) * 4;
  return [r.pixels[i]!, r.pixels[i + 1]!, r.pixels[i + 2]!];
}

const near = (a: readonly number[], b: readonly number[], tol: number): boolean => a.every((v, i) => Math.abs(v - b[i]!) <= tol);
const luminance = ([r, g, b]: readonly number[]): number => 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;

/** Pixel positions whose colour is within `tol` of `hex`, optionally only left of `maxX`. */
function pixelsOf(r: Raster, hex: string, tol = 24, maxX = r.width): { x: number; y: number }[] {
  const c = rgbOf(hex);
  const out: { x: number; y: number }[] = [];
  for (let y = 0; y < r.height; y++) {
    for (let x = 0; x < Math.min(maxX, r.width); x++) {
      if (near(pixel(r, x, y), c, tol)) out.push({ x, y });
    }
  }
  return out;
}

const median = (v: number[]): number => v.slice().sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

/**
 * A small XML well-formedness check: one root, balanced tags, quoted attributes, and no raw `<`
 * or stray `&` in text or attribute values (what unescaped labels would produce).
 */
function checkWellFormed(xml: string): void {
  const entity = '&(?:amp|lt|gt|quot|apos|#\\d+|#x[0-9a-fA-F]+);';
  const attr = `\\s+[A-Za-z_:][\\w:.-]*="(?:[^"<&]|${entity})*"`;
  const token = new RegExp(
    `<\\?xml[^?]*\\?>|<!--(?:(?!--)[\\s\\S])*-->|<(/?)([A-Za-z_][\\w:.-]*)((?:${attr})*)\\s*(/?)>|((?:[^<&]|${entity})+)`, 'y');
  const stack: string[] = [];
  let roots = 0;
  let pos = 0;
  while (pos < xml.length) {
    token.lastIndex = pos;
    const m = token.exec(xml);
    if (!m) throw new Error(`not well-formed at ${pos}: ${JSON.stringify(xml.slice(pos, pos + 60))}`);
    const [whole, close, name, , selfClose, content] = m;
    if (name !== undefined) {
      if (close) {
        const open = stack.pop();
        if (open !== name) throw new Error(`</${name}> closes <${open}> at ${pos}`);
      } else {
        if (stack.length === 0) roots++;
        if (!selfClose) stack.push(name);
      }
    } else if (content !== undefined && stack.length === 0 && content.trim() !== '') {
      throw new Error(`text outside the root at ${pos}`);
    }
    if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(whole)) throw new Error(`character XML forbids at ${pos}`);
    pos += whole.length;
  }
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
}

/** Text content of every <text> element, entities decoded. */
function texts(svg: string): string[] {
  const decode = (s: string): string => s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) =>
    ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e]!);
  return [...svg.matchAll(/<text\b[^>]*>([^<]*)<\/text>/g)].map((m) => decode(m[1]!));
}

/** The x attribute of the <text> element holding exactly `label`. */
function textX(svg: string, label: string): number {
  const m = [...svg.matchAll(/<text\b[^>]*\bx="([\d.]+)"[^>]*>([^<]*)<\/text>/g)].find((t) => t[2] === label);
  if (!m) throw new Error(`no text ${label}`);
  return Number(m[1]);
}

function curve(n: number, f: (x: number) => number, step = 10): [number, number][] {
  return Array.from({ length: n }, (_, i) => [i * step, f(i * step)] as [number, number]);
}

// ---------------------------------------------------------------- ticks

describe('axis ticks', () => {
  it('linear ticks are 1-2-5 steps that cover the data', () => {
    fc.assert(fc.property(
      fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
      (lo, span) => {
        const axis = linearAxis(lo, lo + span);
        const step = axis.ticks[1]! - axis.ticks[0]!;
        const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
        // The step is measured between ticks, so it carries the rounding of values of size |lo|.
        const slack = 1e-4 + (16 * Number.EPSILON * Math.max(1, Math.abs(lo))) / step;
        expect([1, 2, 5, 10].some((m) => Math.abs(mantissa - m) < slack)).toBe(true);
        const tol = step * 1e-6 + 8 * Number.EPSILON * Math.max(1, Math.abs(lo));
        expect(axis.min).toBeLessThanOrEqual(lo + tol);
        expect(axis.max).toBeGreaterThanOrEqual(lo + span - tol);
        expect(axis.ticks.length).toBeGreaterThanOrEqual(3);
        expect(axis.ticks.length).toBeLessThanOrEqual(13);
        expect(new Set(axis.labels).size).toBe(axis.labels.length);
      }));
  });

  it('a loss range gets readable labels', () => {
    const axis = linearAxis(1.27, 4.31);
    expect(axis.labels).toEqual(axis.ticks.map((v) => v.toFixed(1)));
    expect(linearAxis(0, 20_000).labels.at(-1)).toBe('20k');
  });

  it('log ticks lie inside the range, increase, and are labelled distinctly', () => {
    fc.assert(fc.property(
      fc.double({ min: -8, max: 8, noNaN: true }), fc.double({ min: 0, max: 12, noNaN: true }),
      (a, decades) => {
        const axis = logAxis(10 ** a, 10 ** (a + decades));
        expect(axis.ticks.length).toBeGreaterThanOrEqual(2);
        for (let i = 0; i < axis.ticks.length; i++) {
          const t = axis.ticks[i]!;
          expect(t).toBeGreaterThanOrEqual(axis.min * (1 - 1e-9));
          expect(t).toBeLessThanOrEqual(axis.max * (1 + 1e-9));
          if (i > 0) expect(t).toBeGreaterThan(axis.ticks[i - 1]!);
        }
        expect(new Set(axis.labels).size).toBe(axis.labels.length);
      }));
    expect(logAxis(1, 1000).labels).toEqual(['1', '2', '5', '10', '20', '50', '100', '200', '500', '1000']);
  });
});

// ---------------------------------------------------------------- line charts

describe('lineChart', () => {
  const train = curve(200, (s) => 1.3 + 2.9 * Math.exp(-s / 300) + 0.05 * Math.sin(s));
  const val = curve(9, (s) => 1.45 + 2.8 * Math.exp(-s / 320), 250);

  it('draws a training chart: right size, both colours, a curve that goes down', () => {
    const svg = lineChart({ title: 'training loss', xLabel: 'step', yLabel: 'loss', series: [
      { label: 'train', points: train }, { label: 'validation', points: val }] });
    checkWellFormed(svg);
    const img = render(svg);
    expect([img.width, img.height]).toEqual([800, 480]);
    const plotRight = textX(svg, 'train') - 40; // the legend sits right of the plot
    const trainPx = pixelsOf(img, SERIES_COLORS[0]!, 24, plotRight);
    const valPx = pixelsOf(img, SERIES_COLORS[1]!, 24, plotRight);
    expect(trainPx.length).toBeGreaterThan(400);
    expect(valPx.length).toBeGreaterThan(200);
    expect(pixelsOf(img, SERIES_COLORS[2]!).length).toBe(0);
    // Loss falls: the train colour sits higher (smaller y) on the left than on the right.
    const leftY = median(trainPx.filter((p) => p.x < plotRight * 0.3).map((p) => p.y));
    const rightY = median(trainPx.filter((p) => p.x > plotRight * 0.7).map((p) => p.y));
    expect(leftY).toBeLessThan(rightY - 100);
    expect(texts(svg)).toEqual(expect.arrayContaining(['training loss', 'step', 'loss', 'train', 'validation']));
  });

  it('stops a diverged series where it diverged, marks it, and says so in the legend', () => {
    const ok = curve(101, (s) => 2 + Math.exp(-s / 300));
    const diverged: [number, number][] = curve(101, (s) => (s > 400 ? NaN : 2.5 + Math.exp(-s / 300)));
    diverged[60] = [600, Infinity];
    const svg = lineChart({ title: 'ablation', xLabel: 'step', yLabel: 'loss', series: [
      { label: 'lr=1e-3', points: ok }, { label: 'lr=1e-1', points: diverged }] });
    checkWellFormed(svg);
    expect(svg).not.toMatch(/NaN|Infinity/);
    expect(texts(svg)).toContain('lr=1e-1 (diverged)');
    const img = render(svg);
    const plotRight = textX(svg, 'lr=1e-3') - 40;
    const okXs = pixelsOf(img, SERIES_COLORS[0]!, 24, plotRight).map((p) => p.x);
    const divXs = pixelsOf(img, SERIES_COLORS[1]!, 24, plotRight).map((p) => p.x);
    const left = Math.min(...okXs);
    const right = Math.max(...okXs);
    // The healthy run spans the plot; the diverged one ends near x=400 of 1000 (plus the × mark).
    expect(Math.max(...divXs)).toBeLessThan(left + (right - left) * 0.45);
    expect(Math.max(...divXs)).toBeGreaterThan(left + (right - left) * 0.35);
  });

  it('handles empty series, a chart with no data, and a single point', () => {
    const single = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [
      { label: 'nothing yet', points: [] }, { label: 'one eval', points: [[100, 3.2]] }] });
    checkWellFormed(single);
    expect(texts(single)).toEqual(expect.arrayContaining(['nothing yet (no data)', 'one eval']));
    const img = render(single);
    const dot = pixelsOf(img, SERIES_COLORS[1]!, 24, textX(single, 'one eval') - 40);
    expect(dot.length).toBeGreaterThan(12); // a visible marker, not a zero-length line

    const none = lineChart({ title: 'empty', xLabel: 'x', yLabel: 'y', series: [], logY: true });
    checkWellFormed(none);
    expect(texts(none)).toContain('no data');
    expect(render(none).width).toBe(800);
  });

  it('escapes every label, so any text stays well-formed', () => {
    const nasty = 'a<b & "c" \'d\' </text> ]]> \u0001 😀';
    const svg = lineChart({ title: nasty, xLabel: '<x>', yLabel: '&y;', series: [
      { label: nasty, points: [[0, 1], [1, 2]] }] });
    checkWellFormed(svg);
    expect(texts(svg)).toContain('<x>');
    expect(texts(svg)).toContain('&y;');
    expect(texts(svg)).toContain(nasty.replace('\u0001', '\uFFFD'));
    render(svg);
  });

  it('fuzzed specs always give well-formed SVG with finite coordinates', () => {
    const value = fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, 0));
    const series = fc.record({
      label: fc.string({ maxLength: 30 }),
      points: fc.array(fc.tuple(value, value), { maxLength: 30 }),
      dashed: fc.boolean(),
    });
    fc.assert(fc.property(fc.array(series, { maxLength: 10 }), fc.boolean(), (s, logY) => {
      const svg = lineChart({ title: 'fuzz', xLabel: 'x', yLabel: 'y', series: s, logY });
      checkWellFormed(svg);
      expect(svg).not.toMatch(/NaN|Infinity/);
    }), { numRuns: 150 });
  });

  it('shades a band in the series colour and uses a log axis when asked', () => {
    const runs: LineSeries[] = [0, 1].map((i) => {
      const pts = curve(16, (s) => (1.2 + 0.3 * i) * 10 ** (2 * Math.exp(-s / 500)), 200);
      return { label: `act=${i ? 'relu' : 'gelu'} D=64 (3 seeds)`, points: pts, band: pts.map(([x, y]) => [x, y * 0.8, y * 1.25]) };
    });
    const svg = lineChart({ title: 'ablation loss', xLabel: 'step', yLabel: 'validation loss', series: runs, logY: true });
    checkWellFormed(svg);
    expect(texts(svg)).toEqual(expect.arrayContaining(['2', '5', '10', '20', '50', '100']));
    const img = render(svg);
    // The band is the colour at 18% over white.
    const [r, g, b] = rgbOf(SERIES_COLORS[0]!);
    const tint = [r, g, b].map((c) => Math.round(255 + (c - 255) * 0.18));
    const hex = '#' + tint.map((c) => c.toString(16).padStart(2, '0')).join('');
    expect(pixelsOf(img, hex, 6).length).toBeGreaterThan(1000);
  });

  it('keeps many series apart: colours repeat only with a new dash, and the chart grows for the legend', () => {
    const series = Array.from({ length: 30 }, (_, i) => ({ label: `run ${i} with a long descriptive label`, points: curve(5, (s) => i + s) }));
    const svg = lineChart({ title: 'many', xLabel: 'x', yLabel: 'y', series });
    const styles = [...svg.matchAll(/<path d="M[^"]*" fill="none" stroke="([^"]+)" stroke-width="2"[^>]*?(?:stroke-dasharray="([^"]+)")?\/>/g)]
      .map((m) => `${m[1]} ${m[2] ?? ''}`);
    expect(styles.length).toBe(30);
    expect(new Set(styles.slice(0, SERIES_COLORS.length * 4)).size).toBe(Math.min(30, SERIES_COLORS.length * 4));
    const img = render(svg);
    expect(img.height).toBeGreaterThan(30 * 18);
    expect(img.width).toBeGreaterThan(800);
  });
});

// ---------------------------------------------------------------- heatmaps

function identity(n: number): Float32Array {
  const w = new Float32Array(n * n);
  for (let i = 0; i < n; i++) w[i * n + i] = 1;
  return w;
}

describe('heatmapGrid', () => {
  it('an identity map is dark on the diagonal and pale off it', () => {
    const tokens = [...'hello, w'];
    const spec = { title: 'attention', tokens, maps: [{ layer: 0, head: 0, weights: identity(8) }] };
    const svg = heatmapGrid(spec);
    checkWellFormed(svg);
    const img = render(svg);
    const layout = heatmapLayout(spec);
    expect([img.width, img.height]).toEqual([layout.width, layout.height]);
    const { x, y } = layout.panels[0]!;
    const at = (q: number, k: number): [number, number, number] =>
      pixel(img, x + (k + 0.5) * layout.cell, y + (q + 0.5) * layout.cell);
    for (let q = 0; q < 8; q++) {
      for (let k = 0; k < 8; k++) {
        if (q === k) expect(near(at(q, k), rgbOf(SEQUENTIAL_STOPS.at(-1)!), 3)).toBe(true);
        else expect(near(at(q, k), rgbOf(SEQUENTIAL_STOPS[0]!), 3)).toBe(true);
      }
    }
    expect(luminance(at(3, 3))).toBeLessThan(luminance(at(3, 4)) - 150);
    expect(texts(svg)).toEqual(expect.arrayContaining(['layer 0', 'head 0', 'h', '␣', ',']));
  });

  it('puts each (layer, head) in its own row and column, on one shared colour scale', () => {
    const n = 6;
    const maps: AttentionMap[] = [];
    // Given out of order on purpose; map (l, h) is uniformly (3l + h) / 5.
    for (const l of [1, 0]) for (const h of [2, 0, 1]) maps.push({ layer: l, head: h, weights: new Float32Array(n * n).fill((3 * l + h) / 5) });
    const spec = { title: 'grid', tokens: ['a', 'b', 'c', 'd', 'e', 'f'], maps };
    const svg = heatmapGrid(spec);
    checkWellFormed(svg);
    const img = render(svg);
    const layout = heatmapLayout(spec);
    expect(layout.layers).toEqual([0, 1]);
    expect(layout.heads).toEqual([0, 1, 2]);
    const lum = new Map<number, number>();
    for (const p of layout.panels) {
      const c = pixel(img, p.x + layout.mapSize / 2, p.y + layout.mapSize / 2);
      lum.set(3 * p.layer + p.head, luminance(c));
      // Row by layer, column by head.
      expect(p.y).toBe(layout.gridY + p.layer * (layout.panels.find((o) => o.layer === 1)!.y - layout.gridY));
    }
    for (let v = 1; v < 6; v++) expect(lum.get(v)!).toBeLessThan(lum.get(v - 1)!);
    // The legend bar runs from the weight-0 colour at the bottom to the weight-1 colour at the top.
    const bar = layout.colorBar;
    const top = pixel(img, bar.x + bar.width / 2, bar.y + 2);
    const bottom = pixel(img, bar.x + bar.width / 2, bar.y + bar.height - 2);
    expect(near(top, rgbOf(SEQUENTIAL_STOPS.at(-1)!), 16)).toBe(true);
    expect(near(bottom, rgbOf(SEQUENTIAL_STOPS[0]!), 16)).toBe(true);
    expect(texts(svg)).toEqual(expect.arrayContaining(['layer 0', 'layer 1', 'head 0', 'head 1', 'head 2']));
  });

  it('shows whitespace tokens visibly and escapes markup in tokens', () => {
    expect(visibleToken(' ')).toBe('␣');
    expect(visibleToken('\n')).toBe('⏎');
    expect(visibleToken('\t')).toBe('⇥');
    expect(visibleToken(' the')).toBe('␣the');
    expect(visibleToken('\u0000')).toBe('\\x00');
    expect(visibleToken('')).toBe('∅');
    expect(visibleToken('supercalifragilistic')).toBe('supercal…');
    const tokens = ['<', '&', ' ', '\n', '"', '\u0007'];
    const svg = heatmapGrid({ title: 'a <b> & c', tokens, maps: [{ layer: 0, head: 0, weights: identity(6) }] });
    checkWellFormed(svg);
    expect(texts(svg)).toEqual(expect.arrayContaining(['a <b> & c', '<', '&', '␣', '⏎', '"', '\\x07']));
    render(svg);
  });

  it('labels every k-th token of a long sequence and keeps the map a readable size', () => {
    const n = 200;
    const tokens = Array.from({ length: n }, (_, i) => `t${i}`);
    const spec = { title: 'long', tokens, maps: [{ layer: 0, head: 0, weights: identity(n) }] };
    const layout = heatmapLayout(spec);
    expect(layout.labelEvery).toBeGreaterThan(1);
    expect(layout.cell * layout.labelEvery).toBeGreaterThanOrEqual(12);
    expect(layout.mapSize).toBeLessThanOrEqual(400);
    const svg = heatmapGrid(spec);
    checkWellFormed(svg);
    const labels = texts(svg).filter((t) => /^t\d+$/.test(t));
    expect(labels.length).toBe(2 * Math.ceil(n / layout.labelEvery)); // both axes
    expect(labels).toContain(`t${layout.labelEvery}`);
    expect(labels).not.toContain('t1');
    const img = render(svg);
    expect([img.width, img.height]).toEqual([layout.width, layout.height]);
  });

  it('draws non-finite weights in the missing colour and rejects a map of the wrong size', () => {
    const w = identity(4);
    w[1] = NaN;
    const spec = { title: 'nan', tokens: ['a', 'b', 'c', 'd'], maps: [{ layer: 0, head: 0, weights: w }] };
    const img = render(heatmapGrid(spec));
    const layout = heatmapLayout(spec);
    const p = layout.panels[0]!;
    expect(near(pixel(img, p.x + 1.5 * layout.cell, p.y + 0.5 * layout.cell), rgbOf(MISSING_COLOR), 3)).toBe(true);
    expect(() => heatmapGrid({ ...spec, maps: [{ layer: 0, head: 0, weights: new Float32Array(15) }] })).toThrow(/4 x 4 = 16/);
    const empty = heatmapGrid({ title: 'none', tokens: [], maps: [] });
    checkWellFormed(empty);
    expect(texts(empty)).toContain('no maps');
    render(empty);
  });
});
