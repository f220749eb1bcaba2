// What an ablation reports: one record per run, and per cell the mean and spread over its seeds.
import type { TrainOutcome } from '../commands/train.js';
import type { Cell } from './grid.js';
import { maxOf, minOf } from '../../report/extent.js';

/** One finished run of the grid (to the end, or diverged): what trainRun reported, and where it sits in the grid. */
export type RunResult = Pick<
  TrainOutcome,
  'diverged' | 'step' | 'params' | 'flopsPerToken' | 'trainLoss' | 'bestTrainLoss' | 'valLoss' | 'bestValLoss' | 'tokensPerS' | 'elapsedS'
> & {
  cell: Record<string, string>;
  label: string;
  seed: number;
  /** Validation loss at each evaluation: [step, loss]. */
  val: [number, number][];
};

/** A metric over a cell's seeds (the runs that did not diverge); NaN when there are none. */
export interface Spread {
  mean: number;
  /** Sample standard deviation (n - 1); 0 for one run. */
  std: number;
  min: number;
  max: number;
  n: number;
}

export interface CellSummary {
  cell: Record<string, string>;
  label: string;
  seeds: number[];
  diverged: number;
  params: number;
  flopsPerToken: number;
  valLoss: Spread;
  bestValLoss: Spread;
  trainLoss: Spread;
  bestTrainLoss: Spread;
  tokensPerS: Spread;
  elapsedS: Spread;
  /**
   * How much the mean validation loss fell over the last fifth of the runs, as a fraction of the
   * loss at the start of that fifth (0.05: 5% lower at the end); NaN when no evaluation was made
   * that early. Above STILL_FALLING the cell had not settled, and a longer run may rank it otherwise.
   */
  lateDrop: number;
}

/** A cell whose validation loss fell by more than this over the last fifth of its runs is still falling. */
export const STILL_FALLING = 0.01;
/** Ablations of fewer steps than this are marked short in their table: rankings at such budgets often change with longer training. */
export const SHORT_RUN_STEPS = 500;

/** The fall of a validation curve over its last fifth (see CellSummary.lateDrop). */
export function lateDrop(points: readonly [number, number][]): number {
  const last = points.at(-1);
  if (!last) return NaN;
  // Step 0 (before training) is no measure of the last fifth: NaN when nothing later comes before it.
  const before = points.filter(([step]) => step > 0 && step <= 0.8 * last[0]).at(-1);
  return before && before[1] > 0 ? (before[1] - last[1]) / before[1] : NaN;
}

export function spread(xs: readonly number[]): Spread {
  const v = xs.filter(Number.isFinite);
  const n = v.length;
  if (n === 0) return { mean: NaN, std: NaN, min: NaN, max: NaN, n };
  const mean = v.reduce((a, x) => a + x, 0) / n;
  const std = n > 1 ? Math.sqrt(v.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, min: minOf(v), max: maxOf(v), n };
}

const METRICS = ['valLoss', 'bestValLoss', 'trainLoss', 'bestTrainLoss', 'tokensPerS', 'elapsedS'] as const;

/** Cells in order of mean final validation loss; cells with no finished, finite run go last. */
export function summarize(cells: readonly Cell[], runs: readonly RunResult[]): CellSummary[] {
  const out: CellSummary[] = [];
  for (const c of cells) {
    const mine = runs.filter((r) => r.label === c.label);
    if (!mine.length) continue;
    const ok = mine.filter((r) => !r.diverged);
    const s = {} as Record<(typeof METRICS)[number], Spread>;
    for (const m of METRICS) s[m] = spread(ok.map((r) => r[m]));
    out.push({
      cell: Object.fromEntries(c.values),
      label: c.label,
      seeds: mine.map((r) => r.seed),
      diverged: mine.length - ok.length,
      params: mine[0]!.params,
      flopsPerToken: mine[0]!.flopsPerToken,
      ...s,
      lateDrop: lateDrop(meanCurve(ok).points),
    });
  }
  const key = (c: CellSummary) => (Number.isFinite(c.valLoss.mean) ? c.valLoss.mean : Infinity);
  return out.sort((a, b) => key(a) - key(b));
}

/** A cell's validation curve: at each evaluated step, the mean and min/max over the seeds that got there. */
export function meanCurve(runs: readonly RunResult[]): { points: [number, number][]; band: [number, number, number][] } {
  const bySteps = new Map<number, number[]>();
  for (const r of runs) for (const [step, loss] of r.val) if (Number.isFinite(loss)) bySteps.set(step, [...(bySteps.get(step) ?? []), loss]);
  const steps = [...bySteps.keys()].sort((a, b) => a - b);
  const points: [number, number][] = [];
  const band: [number, number, number][] = [];
  for (const step of steps) {
    const s = spread(bySteps.get(step)!);
    points.push([step, s.mean]);
    band.push([step, s.min, s.max]);
  }
  return { points, band };
}

/** JSON with NaN and infinities as null (JSON has no such numbers). */
export function toJSON(value: unknown): string {
  return JSON.stringify(value, (_, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}

/** The inverse for the numbers a RunResult holds: null back to NaN. */
export function runFromJSON(text: string): RunResult {
  const r = JSON.parse(text) as Record<string, unknown>;
  for (const k of ['trainLoss', 'bestTrainLoss', 'valLoss', 'bestValLoss', 'tokensPerS', 'elapsedS']) if (r[k] === null) r[k] = NaN;
  r.val = ((r.val as [number, number | null][]) ?? []).map(([s, l]) => [s, l ?? NaN]);
  return r as unknown as RunResult;
}
