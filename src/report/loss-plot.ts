// The pictures the CLI writes, drawn by src/report.
import { lineChart } from '../report/line-chart.js';

export function lossPlot(title: string, h: { train: [number, number][]; val: [number, number][] }, ideal?: number): string {
  const series = [
    { label: 'train', points: h.train },
    { label: 'validation', points: h.val },
  ];
  if (ideal !== undefined && h.train.length) series.push({ label: 'ideal', points: [[h.train[0]![0], ideal], [h.train.at(-1)![0], ideal]], dashed: true } as (typeof series)[number]);
  return lineChart({ title, xLabel: 'step', yLabel: 'loss (nats per token)', series });
}
