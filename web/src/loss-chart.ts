// The live loss chart: train and validation loss against the step, and the chance loss ln V (a
// model that knows nothing) as a dashed line, drawn by the same SVG chart `arch train` writes.
import { lineChart } from './core.js';

export interface LossHistory {
  train: [number, number][];
  val: [number, number][];
  vocab: number;
  steps: number;
  title: string;
}

export function renderLossChart(root: HTMLElement, hist: LossHistory): void {
  const chance = Math.log(hist.vocab);
  const svg = lineChart({
    title: hist.title,
    xLabel: 'step',
    yLabel: 'loss (nats per token)',
    width: 640,
    height: 320,
    series: [
      { label: 'train', points: hist.train },
      { label: 'validation', points: hist.val },
      { label: `chance: ln ${hist.vocab} = ${chance.toFixed(2)}`, points: [[0, chance], [Math.max(1, hist.steps), chance]], dashed: true, color: '#9a9a9a' },
    ],
  });
  root.innerHTML = svg;
}
