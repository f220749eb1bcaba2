// The sample panel (temperature, top-k, top-p, seed, greedy, the window past the context; tokens stream into the output) and the
// attention panel (heatmaps of a prompt for every layer and head).
import { h } from './dom.js';
import { sampleTokens } from './sampler.js';
import { WINDOWS, type WindowName } from './core.js';
import { attentionMaps, type LayerMaps } from './attention.js';
import { renderHeatmaps } from './heatmap-view.js';
import type { AppState, Trained } from './app.js';

export interface SampleOptions {
  prompt?: string | number[];
  tokens?: number;
  greedy?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  /** Past the model's context (as `arch sample --window`): 'slide' (default) or 'refill'. */
  window?: WindowName;
}

export interface SamplePanels {
  sample(o: SampleOptions): Promise<{ tokens: number[]; text: string; prompt: number[] }>;
  attention(prompt: string): { tokens: string[]; layers: { name: string; heads: number[][] }[] };
}

const value = (el: HTMLInputElement, fallback: number): number => (Number.isFinite(el.valueAsNumber) ? el.valueAsNumber : fallback);

function needTrained(app: AppState): Trained {
  if (!app.trained) throw new Error('train a model (or upload a checkpoint) first: sampling uses its weights');
  return app.trained;
}

export function createSamplePanels(sampleRoot: HTMLElement, attentionRoot: HTMLElement, app: AppState, tip: HTMLElement): SamplePanels {
  const prompt = h('input', { type: 'text', value: '', placeholder: 'prompt', testid: 'prompt', size: 28 });
  const count = h('input', { type: 'number', min: 1, value: 100, testid: 'sample-tokens' });
  const temperature = h('input', { type: 'number', min: 0, step: 0.1, value: 1, testid: 'temperature' });
  const topK = h('input', { type: 'number', min: 0, step: 1, value: 0, testid: 'top-k' });
  const topP = h('input', { type: 'number', min: 0.01, max: 1, step: 0.05, value: 1, testid: 'top-p' });
  const seed = h('input', { type: 'number', value: 1, testid: 'sample-seed' });
  const greedy = h('input', { type: 'checkbox', testid: 'greedy' });
  const pastContext = h(
    'select',
    { testid: 'window', title: 'past the context: slide gives every token the whole context (a full pass a token); refill restarts with its last half and keeps the KV cache (faster)' },
    ...Object.keys(WINDOWS).map((w) => h('option', { value: w }, w)),
  );
  const button = h('button', { type: 'button', testid: 'sample' }, 'Sample');
  const output = h('div', { id: 'sample-output', testid: 'sample-output' });
  const status = h('div', { class: 'muted' });
  sampleRoot.append(
    h('div', { class: 'row' }, h('label', {}, 'prompt ', prompt), h('label', {}, 'tokens ', count), button),
    h('div', { class: 'row' }, h('label', {}, 'temperature ', temperature), h('label', {}, 'top-k ', topK), h('label', {}, 'top-p ', topP), h('label', {}, 'seed ', seed), h('label', {}, greedy, ' greedy'), h('label', {}, 'past the context ', pastContext)),
    output,
    status,
  );

  let busy = false;
  async function sample(o: SampleOptions) {
    const t = needTrained(app);
    if (!app.device) throw new Error('no WebGPU device: sampling needs WebGPU (see the banner)');
    if (busy) throw new Error('already sampling');
    busy = true;
    try {
      const text = o.prompt ?? prompt.value;
      const ids = typeof text === 'string' ? (text ? t.tokenizer.encode(text) : [0]) : text;
      const isGreedy = o.greedy ?? greedy.checked;
      const out: number[] = [];
      output.textContent = t.tokenizer.decode(ids);
      const started = performance.now();
      const tokens = await sampleTokens(app.device, t.model, t.weights, {
        prompt: ids,
        tokens: o.tokens ?? value(count, 100),
        temperature: isGreedy ? 0 : o.temperature ?? value(temperature, 1),
        topK: o.topK ?? value(topK, 0),
        topP: o.topP ?? value(topP, 1),
        seed: o.seed ?? value(seed, 1),
        window: o.window ?? (pastContext.value as WindowName),
      }, (tok) => {
        out.push(tok);
        output.textContent = t.tokenizer.decode([...ids, ...out]);
      });
      const s = (performance.now() - started) / 1000;
      status.textContent = `${tokens.length} tokens in ${s.toFixed(2)} s, ${t.origin}`;
      return { tokens, text: t.tokenizer.decode(tokens), prompt: ids };
    } finally {
      busy = false;
    }
  }
  button.addEventListener('click', () => void sample({}).catch((e) => status.replaceChildren(h('span', { class: 'error' }, (e as Error).message))));

  const attPrompt = h('input', { type: 'text', value: '', placeholder: 'prompt to look at', testid: 'attention-prompt', size: 28 });
  const attButton = h('button', { type: 'button', testid: 'attention' }, 'Show attention');
  const maps = h('div', { testid: 'attention-maps' });
  const attStatus = h('div', { class: 'muted' });
  attentionRoot.append(h('div', { class: 'row' }, attPrompt, attButton), attStatus, maps);

  function attention(text: string) {
    const t = needTrained(app);
    const ids = t.tokenizer.encode(text);
    if (!ids.length) throw new Error('the prompt is empty: give at least one token');
    const layers: LayerMaps[] = attentionMaps(t.model, t.weights, ids);
    const first = layers[0]?.heads[0];
    const context = first ? ids.slice(ids.length - Math.round(Math.sqrt(first.length))) : ids; // the model's context keeps the last ones
    const tokens = context.map((id) => t.tokenizer.decode([id]));
    renderHeatmaps(maps, layers, tokens, tip);
    attStatus.textContent = `${tokens.length} tokens, ${layers.length} layers x ${layers[0]?.heads.length ?? 0} heads, ${t.origin}; hover a cell`;
    return { tokens, layers: layers.map((l) => ({ name: l.name, heads: l.heads.map((x) => [...x]) })) };
  }
  attButton.addEventListener('click', () => {
    try {
      attention(attPrompt.value);
    } catch (e) {
      attStatus.replaceChildren(h('span', { class: 'error' }, (e as Error).message));
    }
  });
  return { sample, attention };
}
