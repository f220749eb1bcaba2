// An ablation's three outputs: results.json (every run and every cell), results.md (a table to
// paste into a report) and loss.svg (each cell's validation curve, mean over seeds, min-max band).
import { basename, join } from 'node:path';
import { lineChart, type LineSeries } from '../../report/line-chart.js';
import { fmtInt } from '../args.js';
import { writeAtomic } from '../../host/node/write.js';
import { fmtDuration } from '../progress.js';
import type { Vary } from './grid.js';
import { meanCurve, SHORT_RUN_STEPS, STILL_FALLING, toJSON, type CellSummary, type RunResult, type Spread } from './stats.js';
import { maxOf, minOf } from '../../report/extent.js';

export interface AblationInfo {
  command: string;
  model: string;
  file: string;
  data: string;
  steps: number;
  batch: number;
  seeds: number[];
  vary: Vary[];
  backend: string;
  /** Runs in the grid; results.json may hold fewer while the ablation is unfinished. */
  total: number;
}

export function writeReports(dir: string, info: AblationInfo, runs: readonly RunResult[], cells: readonly CellSummary[]): void {
  const complete = runs.length === info.total;
  writeAtomic(join(dir, 'results.json'), toJSON({ ablation: info, complete, cells, runs }));
  writeAtomic(join(dir, 'results.md'), resultsTable(info, cells, complete));
  writeAtomic(join(dir, 'loss.svg'), lossChart(info, runs, cells));
}

const loss = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : '-');
const compact = (n: number) =>
  n >= 1e9 ? `${(n / 1e9).toPrecision(3)}G` : n >= 1e6 ? `${(n / 1e6).toPrecision(3)}M` : n >= 1e3 ? `${(n / 1e3).toPrecision(3)}k` : String(Math.round(n));

function withSpread(s: Spread): string {
  if (!Number.isFinite(s.mean)) return 'diverged';
  if (s.n < 2) return loss(s.mean);
  return `${loss(s.mean)} ± ${s.std.toFixed(4)} (${loss(s.min)}–${loss(s.max)})`;
}

/** The last fifth's fall in validation loss, and whether that means the cell had not settled. */
function lateText(drop: number): string {
  if (!Number.isFinite(drop)) return '-';
  const pct = `${drop > 0 ? '-' : '+'}${Math.abs(100 * drop).toFixed(1)}%`;
  return drop > STILL_FALLING ? `${pct} still falling` : pct;
}

export function resultsTable(info: AblationInfo, cells: readonly CellSummary[], complete = true): string {
  const names = info.vary.map((v) => v.name);
  const short = info.steps < SHORT_RUN_STEPS;
  const valHead = short ? `val loss at ${info.steps} steps *` : 'val loss';
  const head = [...(names.length ? names : ['cell']), 'params', 'FLOPs/token', valHead, 'best val', 'train loss', 'last fifth', 'tokens/s', 'time', 'diverged'];
  const align = [...(names.length ? names : ['cell']).map(() => ':--'), '--:', '--:', '--:', '--:', '--:', '--:', '--:', '--:', '--:'];
  const rows = cells.map((c) => [
    ...(names.length ? names.map((n) => c.cell[n] ?? '') : [c.label]),
    fmtInt(c.params),
    compact(c.flopsPerToken),
    withSpread(c.valLoss),
    loss(c.bestValLoss.mean),
    loss(c.trainLoss.mean),
    lateText(c.lateDrop),
    Number.isFinite(c.tokensPerS.mean) ? fmtInt(Math.round(c.tokensPerS.mean)) : '-',
    Number.isFinite(c.elapsedS.mean) ? fmtDuration(c.elapsedS.mean) : '-',
    `${c.diverged}/${c.seeds.length}`,
  ]);
  const line = (cols: string[]) => `| ${cols.join(' | ')} |`;
  const seeds = info.seeds.length === 1 ? `seed ${info.seeds[0]}` : `seeds ${info.seeds.join(', ')}`;
  return [
    `# Ablation: ${info.model} on ${info.data}`,
    '',
    `\`${info.command}\``,
    '',
    `${info.steps} steps of batch ${info.batch}, ${seeds}, ${info.backend} backend.${complete ? '' : ' **Unfinished**: some runs have not finished yet.'}`,
    `Sorted by final validation loss: mean ± standard deviation over seeds (min–max); best val, train loss, tokens/s and time are means.`,
    `A diverged run (its loss stopped being a number) is left out of its cell's statistics and counted in the last column.`,
    '',
    line(head),
    line(align),
    ...rows.map(line),
    '',
    `Last fifth: how the mean validation loss changed over the last fifth of the steps; "still falling" (down more than ${100 * STILL_FALLING}%) means the cell had not settled, and a longer run may rank it otherwise.`,
    ...(short
      ? ['', `\\* Short: ${info.steps} steps is under ${SHORT_RUN_STEPS}. Rankings at such budgets often change with longer training (a faster start is not a better end); read the table as "at ${info.steps} steps", not as which choice is better.`]
      : []),
    '',
  ].join('\n');
}

export function lossChart(info: AblationInfo, runs: readonly RunResult[], cells: readonly CellSummary[]): string {
  const series: LineSeries[] = [];
  const finite: number[] = [];
  for (const c of cells) {
    const mine = runs.filter((r) => r.label === c.label);
    const ok = mine.filter((r) => !r.diverged);
    // A cell whose every seed diverged is drawn from its diverged runs, ending in NaN (drawn as ×).
    const curve = meanCurve(ok.length ? ok : mine);
    if (ok.length) for (const p of curve.band) finite.push(p[1], p[2]);
    const points = ok.length ? curve.points : [...curve.points, [Math.max(0, maxOf(mine.map((r) => r.step))), NaN] as [number, number]];
    const note = c.diverged && ok.length ? ` (${c.diverged}/${mine.length} diverged)` : '';
    series.push({ label: `${c.label}${note}`, points, band: ok.length > 1 ? curve.band : undefined });
  }
  // Runs that blew up before diverging would flatten every other curve; clip the axis to the rest.
  const clip = cells.some((c) => c.diverged) && finite.length ? ([minOf(finite), maxOf(finite)] as const) : undefined;
  const seeds = info.seeds.length === 1 ? `seed ${info.seeds[0]}` : `${info.seeds.length} seeds`;
  return lineChart({
    // A file's name without its directories: the title must fit the chart's width.
    title: `${info.model} on ${basename(info.data)}: validation loss, ${seeds}`,
    xLabel: info.seeds.length > 1 ? 'step (line: mean over seeds; band: min to max)' : 'step',
    yLabel: 'validation loss (nats per token)',
    series,
    yRange: clip && clip[1] > clip[0] ? [clip[0], clip[1]] : undefined,
  });
}
