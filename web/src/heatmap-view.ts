// Attention heatmaps: one canvas per head of the chosen layer, queries down, keys across;
// hovering a cell names the two tokens and the weight.
import { sequentialColor } from './core.js';
import { h } from './dom.js';
import type { LayerMaps } from './attention.js';

const CELL_MAX = 22;

export function renderHeatmaps(root: HTMLElement, layers: LayerMaps[], tokens: string[], tip: HTMLElement): void {
  root.replaceChildren();
  if (!layers.length) {
    root.append(h('p', { class: 'muted' }, 'This model has no softmax, so there is no attention to show.'));
    return;
  }
  const n = tokens.length;
  const cell = Math.max(4, Math.min(CELL_MAX, Math.floor(240 / Math.max(1, n))));
  const show = (s: string) => JSON.stringify(s).slice(1, -1);
  layers.forEach((layer, li) => {
    const row = h('div', { class: 'heat-row' }, h('div', { class: 'heat-label' }, `layer ${li}`, h('br'), h('span', { class: 'muted' }, layer.name)));
    layer.heads.forEach((w, hi) => {
      const canvas = h('canvas', { width: n * cell, height: n * cell, class: 'heat', 'data-layer': li, 'data-head': hi, title: '' });
      const g = canvas.getContext('2d')!;
      for (let q = 0; q < n; q++) for (let k = 0; k < n; k++) {
        g.fillStyle = k > q && w[q * n + k]! === 0 ? '#f3f4f6' : sequentialColor(w[q * n + k]!);
        g.fillRect(k * cell, q * cell, cell, cell);
      }
      canvas.addEventListener('mousemove', (e) => {
        const r = canvas.getBoundingClientRect();
        const k = Math.floor(((e.clientX - r.left) / r.width) * n);
        const q = Math.floor(((e.clientY - r.top) / r.height) * n);
        if (q < 0 || k < 0 || q >= n || k >= n) return;
        tip.hidden = false;
        tip.textContent = `layer ${li}, head ${hi}: "${show(tokens[q]!)}" (${q}) attends to "${show(tokens[k]!)}" (${k}): ${w[q * n + k]!.toFixed(3)}`;
        tip.style.left = `${e.pageX + 12}px`;
        tip.style.top = `${e.pageY + 12}px`;
      });
      canvas.addEventListener('mouseleave', () => (tip.hidden = true));
      row.append(h('figure', {}, canvas, h('figcaption', {}, `head ${hi}`)));
    });
    root.append(row);
  });
}
