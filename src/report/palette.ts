// Colours chosen to stay distinguishable for colour-blind readers.

/**
 * Line colours: Okabe & Ito's palette (Color Universal Design), most distinct first. Its yellow
 * (#F0E442) is left out, too faint on white. Past these seven, colours repeat with a dash pattern.
 */
export const SERIES_COLORS: readonly string[] = [
  '#0072B2', // blue
  '#D55E00', // vermillion
  '#009E73', // bluish green
  '#CC79A7', // reddish purple
  '#E69F00', // orange
  '#56B4E9', // sky blue
  '#000000', // black
];

/** Dash patterns for the 2nd, 3rd, ... pass through SERIES_COLORS, and for `dashed` series. */
export const DASHED = '7 4';
export const CYCLE_DASHES: readonly string[] = ['', '2 3', '7 4', '10 3 2 3'];

/**
 * Sequential scale for weights in [0, 1]: ColorBrewer YlGnBu, pale at 0 (fades into the page, as
 * most attention weights should) and dark navy at 1. Monotone in lightness, so it reads in grey too.
 */
export const SEQUENTIAL_STOPS: readonly string[] = [
  '#ffffd9', '#edf8b1', '#c7e9b4', '#7fcdbb', '#41b6c4', '#1d91c0', '#225ea8', '#253494', '#081d58',
];

/** Colour for cells whose weight is NaN or infinite. */
export const MISSING_COLOR = '#9a9a9a';

function rgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

const STOPS_RGB = SEQUENTIAL_STOPS.map(rgb);

/** The colour at t in [0, 1] on the sequential scale (clamped), interpolated between stops. */
export function sequentialColor(t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (STOPS_RGB.length - 1);
  const i = Math.min(STOPS_RGB.length - 2, Math.floor(x));
  const f = x - i;
  const a = STOPS_RGB[i]!;
  const b = STOPS_RGB[i + 1]!;
  const c = [0, 1, 2].map((j) => Math.round(a[j]! + (b[j]! - a[j]!) * f));
  return '#' + c.map((v) => v.toString(16).padStart(2, '0')).join('');
}
