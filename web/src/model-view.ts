// The model view: the shape trace (inputs, the top-level tensors, each block instance expandable,
// repeats folded), parameters and FLOPs per block, the share of parameters by kind, and the dims
// and variants as controls (a change is a `--set`, re-checked at once).
import { shapeText, type ParamKind } from './core.js';
import type { Analysis } from './analysis.js';
import { fmtCount, fmtInt, h } from './dom.js';
import type { CheckedModel, ModelStats } from './core.js';

export interface ViewHooks {
  /** A control changed: set (value) or clear (null) one `--set`. */
  set(name: string, value: string | null): void;
}

const fmtFlops = (n: number): string => `${fmtCount(n)}${n >= 1000 ? '' : ' '}FLOPs`;

const KIND_COLORS: Record<ParamKind, string> = { embeddings: '#0e7490', attention: '#7c3aed', mlp: '#b45309', norm: '#6b7280', head: '#15803d', other: '#be123c' };

export function renderModelView(root: HTMLElement, a: Analysis, hooks: ViewHooks): void {
  root.replaceChildren();
  if (!a.model || !a.stats) {
    root.append(h('p', { class: 'muted' }, 'The model view appears once the model checks without errors.'));
    root.append(controls(a, null, hooks));
    return;
  }
  const m = a.model;
  const s = a.stats;
  root.append(
    h('div', { class: 'summary' },
      h('strong', {}, m.name), ` — ${fmtInt(s.params)} parameters, ${fmtFlops(s.flopsPerToken)} per token (forward)`,
    ),
    shares(s),
    controls(a, m, hooks),
    trace(m, s),
  );
}

function shares(s: ModelStats): HTMLElement {
  const bar = h('div', { class: 'share-bar', testid: 'param-share' });
  const legend = h('div', { class: 'share-legend' });
  for (const [kind, n] of Object.entries(s.byKind)) {
    if (!n) continue;
    const pct = (100 * n) / s.params;
    bar.append(h('span', { style: `width:${pct}%;background:${KIND_COLORS[kind as ParamKind]}`, title: `${kind}: ${fmtInt(n)}` }));
    legend.append(h('span', { 'data-kind': kind }, h('i', { style: `background:${KIND_COLORS[kind as ParamKind]}` }), `${kind} ${pct.toFixed(1)}%`));
  }
  return h('div', { class: 'shares' }, bar, legend);
}

/** Dims written as a number are editable; derived ones (K = D / H) show their value. */
function controls(a: Analysis, m: CheckedModel | null, hooks: ViewHooks): HTMLElement {
  const program = a.service.program;
  const box = h('div', { class: 'controls' });
  for (const d of program.dims) {
    if (!d.value) continue;
    const size = m?.dims.get(d.letter)?.size;
    const editable = d.value.kind === 'number' || a.sets.has(d.letter);
    const input = h('input', { type: 'number', min: 1, step: 1, value: size ?? a.sets.get(d.letter) ?? (d.value.kind === 'number' ? d.value.value : ''), testid: `dim-${d.letter}`, disabled: !editable, title: m?.dims.get(d.letter)?.derivation ?? '' });
    input.addEventListener('change', () => hooks.set(d.letter, input.value === '' ? null : input.value));
    box.append(h('label', { class: a.sets.has(d.letter) ? 'set' : '' }, `${d.letter} `, input));
  }
  for (const v of program.variants) {
    const current = String(m?.variants.get(v.name) ?? a.sets.get(v.name) ?? v.choices[0]?.text ?? '');
    let input: HTMLInputElement | HTMLSelectElement;
    if (v.numeric) input = h('input', { type: 'number', step: 0.05, min: 0, value: current, testid: `variant-${v.name}` });
    else {
      input = h('select', { testid: `variant-${v.name}` }, ...v.choices.map((c) => h('option', { value: c.text, selected: c.text === current }, c.text)));
    }
    input.addEventListener('change', () => hooks.set(v.name, input.value));
    box.append(h('label', { class: a.sets.has(v.name) ? 'set' : '' }, `${v.name} `, input));
  }
  if (a.sets.size) {
    const reset = h('button', { type: 'button', class: 'link' }, 'reset');
    reset.addEventListener('click', () => [...a.sets.keys()].forEach((k) => hooks.set(k, null)));
    box.append(h('span', { class: 'sets', testid: 'sets' }, [...a.sets].map(([k, v]) => `--set ${k}=${v}`).join(' '), ' ', reset));
  }
  return box;
}

const blockKey = (scope: string): string => {
  const parts = scope.split('.');
  return /^\d+$/.test(parts[1] ?? '') ? parts.slice(0, 2).join('.') : parts[0]!;
};

function row(m: CheckedModel, name: string, axes: string[], note = ''): HTMLElement {
  return h('div', { class: 'tensor', 'data-tensor': name }, h('span', { class: 'name' }, name), h('span', { class: 'shape' }, shapeText(m, axes)), note ? h('span', { class: 'muted' }, note) : null);
}

function trace(m: CheckedModel, s: ModelStats): HTMLElement {
  const box = h('div', { class: 'trace', testid: 'shape-trace' });
  for (const i of m.inputs) box.append(row(m, i.name, i.axes, i.onehot ? 'input, one-hot token ids' : 'input'));
  const stats = new Map(s.blocks.map((b) => [b.name, b]));
  const groups = new Map<string, { details: HTMLDetailsElement; summary: HTMLElement; copies: number }>();
  for (const t of m.trace) {
    if (!t.scope) {
      box.append(row(m, t.name, m.nodes[t.node]!.axes));
      continue;
    }
    const key = blockKey(t.scope);
    const rep = /^(.*)\.(\d+)$/.exec(key);
    const first = rep ? `${rep[1]}.0` : key;
    if (rep && rep[2] !== '0' && groups.has(first)) {
      const g = groups.get(first)!;
      if (!g.details.dataset[`copy${rep[2]}`]) {
        g.details.dataset[`copy${rep[2]}`] = '1';
        g.copies++;
        g.summary.querySelector('.copies')!.textContent = ` ×${g.copies}`;
      }
      continue;
    }
    let g = groups.get(key);
    if (!g) {
      const b = stats.get(key);
      const summary = h('summary', {}, h('span', { class: 'name' }, rep ? `${rep[1]}` : key), h('span', { class: 'copies' }, rep ? ' ×1' : ''),
        h('span', { class: 'muted' }, ` ${b?.block ?? ''}${b ? ` — ${fmtInt(b.params)} params, ${fmtFlops(b.flopsPerToken)}/token each` : ''}`));
      const details = h('details', { class: 'block', 'data-block': key }, summary);
      g = { details, summary, copies: 1 };
      groups.set(key, g);
      box.append(details);
    }
    const inner = t.scope === key ? '' : t.scope.slice(key.length + 1) + ': ';
    g.details.append(row(m, `${inner}${t.name}`, m.nodes[t.node]!.axes));
  }
  return box;
}
