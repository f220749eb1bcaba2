// The train panel: data (a task, the shipped corpus or pasted text), steps, batch, seed and
// learning rate; train, pause/resume, stop; step, loss and tokens/s; the live loss chart; a
// checkpoint to download (the bytes `arch train` writes) or upload.
import { parseCheckpoint, fitCheckpoint, paramShapes, lower, tokenizerFromJSON, TASK_NAMES, compileSource, type CheckpointMeta, type LoadedCheckpoint } from './core.js';
import { h } from './dom.js';
import { openPageData } from './data.js';
import { DEFAULT_SETTINGS, prepare, type TrainSettings } from './prepare.js';
import { TrainRun, type ResumeFrom } from './trainer.js';
import { resumeUploaded, type Resumed } from './resume.js';
import { renderLossChart } from './loss-chart.js';
import { FILE } from './analysis.js';
import type { AppState } from './app.js';

export interface TrainRequest extends Partial<TrainSettings> {
  data?: string;
  text?: string;
  /** The tokenizer of pasted text and the corpus: char (default) or gpt2 (GPT-2's BPE). */
  tokenizer?: 'char' | 'gpt2';
  /** Continue the uploaded checkpoint's run up to `steps`, as `arch train --resume` does. */
  resume?: boolean;
}

export interface TrainPanel {
  train(req: TrainRequest): Promise<number[]>;
  run(): TrainRun | null;
  /** Loads an uploaded checkpoint: its model source goes into the editor. */
  upload(bytes: Uint8Array, name: string): Promise<void>;
}

const num = (el: HTMLInputElement, fallback: number): number => (Number.isFinite(el.valueAsNumber) ? el.valueAsNumber : fallback);

/** The panel's controls and read-outs, laid out in `root`. */
function trainForm(root: HTMLElement) {
  const data = h('select', { testid: 'data' }, ...TASK_NAMES.map((t) => h('option', { value: `task:${t}`, selected: t === 'reverse' }, `task:${t}`)), h('option', { value: 'corpus' }, 'tiny Shakespeare (shipped)'), h('option', { value: 'text' }, 'pasted text'));
  const pasted = h('textarea', { testid: 'train-text', placeholder: 'Paste text to train on', hidden: true });
  const tokenizer = h('select', { testid: 'tokenizer' }, h('option', { value: 'char' }, 'characters'), h('option', { value: 'gpt2' }, 'GPT-2 BPE'));
  const tokenizerLabel = h('label', { hidden: true }, 'tokens ', tokenizer);
  data.addEventListener('change', () => {
    pasted.hidden = data.value !== 'text';
    tokenizerLabel.hidden = data.value.startsWith('task:');
  });
  const resume = h('input', { type: 'checkbox', testid: 'resume', disabled: true });
  const steps = h('input', { type: 'number', min: 1, value: 200, testid: 'steps' });
  const batch = h('input', { type: 'number', min: 1, value: DEFAULT_SETTINGS.batch, testid: 'batch' });
  const seed = h('input', { type: 'number', value: DEFAULT_SETTINGS.seed, testid: 'seed' });
  const lr = h('input', { type: 'number', step: 0.0001, min: 0, value: DEFAULT_SETTINGS.lr, testid: 'lr' });
  const trainBtn = h('button', { type: 'button', testid: 'train' }, 'Train');
  const pauseBtn = h('button', { type: 'button', testid: 'pause', disabled: true }, 'Pause');
  const stopBtn = h('button', { type: 'button', testid: 'stop', disabled: true }, 'Stop');
  const download = h('button', { type: 'button', testid: 'download', disabled: true }, 'Download checkpoint');
  const uploadInput = h('input', { type: 'file', accept: '.safetensors', testid: 'upload' });
  const step = h('span', { testid: 'step' }, '-');
  const loss = h('span', { testid: 'loss' }, '-');
  const val = h('span', { testid: 'val-loss' }, '-');
  const rate = h('span', { testid: 'tokens-per-s' }, '-');
  const status = h('div', { class: 'muted', testid: 'train-status' });
  const chart = h('div', { class: 'chart', testid: 'loss-chart' });
  root.append(
    h('div', { class: 'row' }, h('label', {}, 'data ', data), tokenizerLabel, h('label', {}, 'steps ', steps), h('label', {}, 'batch ', batch), h('label', {}, 'seed ', seed), h('label', {}, 'lr ', lr)),
    pasted,
    h('div', { class: 'row' }, trainBtn, pauseBtn, stopBtn, download, h('label', {}, 'upload ', uploadInput), h('label', { title: 'continue the uploaded run to the steps asked for, as arch train --resume' }, resume, ' continue it')),
    h('div', { class: 'row stats' }, 'step ', step, ' loss ', loss, ' validation ', val, ' tokens/s ', rate),
    status,
    chart,
  );

  return { data, pasted, tokenizer, resume, steps, batch, seed, lr, trainBtn, pauseBtn, stopBtn, download, uploadInput, step, loss, val, rate, status, chart };
}

/** Hands `bytes` to the browser as a download named `name`. */
function saveAs(bytes: Uint8Array, name: string): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function createTrainPanel(root: HTMLElement, app: AppState, setSource: (text: string, sets: Map<string, string>) => void): TrainPanel {
  const { data, pasted, tokenizer, resume, steps, batch, seed, lr, trainBtn, pauseBtn, stopBtn, download, uploadInput, step, loss, val, rate, status, chart } = trainForm(root);

  let current: TrainRun | null = null;
  let uploaded: LoadedCheckpoint | null = null;
  let history = { train: [] as [number, number][], val: [] as [number, number][] };
  let lastDraw = 0;
  const draw = (r: TrainRun, force = false) => {
    const now = performance.now();
    if (!force && now - lastDraw < 250) return;
    lastDraw = now;
    renderLossChart(chart, { ...history, vocab: r.data.vocabSize, steps: r.settings.steps, title: `${r.p.model.name} on ${r.data.name}` });
  };
  const buttons = () => {
    const s = current?.state ?? 'idle';
    trainBtn.disabled = !app.device || s === 'running';
    pauseBtn.disabled = !(s === 'running' || s === 'paused');
    pauseBtn.textContent = s === 'paused' ? 'Resume' : 'Pause';
    stopBtn.disabled = !(s === 'running' || s === 'paused');
    download.disabled = !current || s === 'running' || current.step === 0;
  };

  const finish = async (r: TrainRun) => {
    buttons();
    draw(r, true);
    app.trained = { model: r.p.model, weights: await r.weights(), tokenizer: r.data.tokenizer, origin: `trained ${r.step} steps on ${r.data.name}` };
    status.textContent = r.state === 'paused' ? `paused at step ${r.step}` : `done at step ${r.step}; sampling and attention use these weights`;
  };

  const continueRun = async (r: TrainRun): Promise<number[]> => {
    buttons();
    status.textContent = `training on ${app.device!.info.adapterName}…`;
    const losses = await r.run();
    await finish(r);
    return losses;
  };

  async function train(req: TrainRequest): Promise<number[]> {
    if (!app.device) throw new Error('no WebGPU device: training needs WebGPU (see the banner)');
    if (current?.state === 'running') throw new Error('a run is in progress: stop it first');
    current?.dispose();
    current = null;
    status.textContent = 'preparing…';
    const stepsWanted = req.steps ?? num(steps, 200);
    let ready: Omit<Resumed, 'from'> & { from?: ResumeFrom };
    if (req.resume ?? resume.checked) {
      if (!uploaded) throw new Error('upload a checkpoint first: there is no run to continue');
      ready = await resumeUploaded(uploaded, stepsWanted, req.text ?? pasted.value);
    } else {
      const settings: TrainSettings = { ...DEFAULT_SETTINGS, steps: stepsWanted, batch: req.batch ?? num(batch, DEFAULT_SETTINGS.batch), seed: req.seed ?? num(seed, 1), lr: req.lr ?? num(lr, DEFAULT_SETTINGS.lr), weightDecay: req.weightDecay ?? DEFAULT_SETTINGS.weightDecay, evalEvery: req.evalEvery };
      const opened = await openPageData(req.data ?? data.value, req.text ?? pasted.value, req.tokenizer ?? (tokenizer.value as 'char' | 'gpt2'));
      ready = { settings, data: opened, p: prepare(app.source, app.sets, opened, settings) };
    }
    const { p, data: source, settings, from } = ready;
    status.textContent = `compiling kernels for ${app.device.info.adapterName}…` + (p.notes.length ? ` (${p.notes.join('; ')})` : '');
    history = { train: [], val: [] };
    const r = await TrainRun.create(app.device, p, source, settings, {
      onStep(m) {
        step.textContent = String(m.step);
        loss.textContent = m.loss.toFixed(4);
        rate.textContent = m.tokens_per_s.toFixed(0);
        history.train.push([m.step, m.loss]);
        draw(r);
      },
      onEval(m) {
        val.textContent = m.val_loss.toFixed(4);
        history.val.push([m.step, m.val_loss]);
      },
    }, from);
    current = r;
    return continueRun(r);
  }

  const fail = (e: unknown) => {
    status.replaceChildren(h('span', { class: 'error' }, (e as Error).message));
    buttons();
  };
  trainBtn.addEventListener('click', () => void train({}).catch(fail));
  pauseBtn.addEventListener('click', () => {
    if (current?.state === 'running') current.pause();
    else if (current?.state === 'paused') void continueRun(current).catch(fail);
  });
  stopBtn.addEventListener('click', () => {
    current?.stop();
    if (current) void finish(current);
  });
  download.addEventListener('click', async () => {
    if (current) saveAs(await current.checkpoint(app.modelFile), `${current.p.model.name}.safetensors`);
  });

  async function upload(bytes: Uint8Array, name: string): Promise<void> {
    const ckpt = parseCheckpoint(bytes, name);
    const meta: CheckpointMeta | null = ckpt.meta;
    if (meta?.modelSource) setSource(meta.modelSource, new Map(Object.entries(meta.sets)));
    const r = compileSource(FILE, app.source, app.sets);
    if (!r.model) throw new Error(`${name}: its model does not check here; fix the errors shown`);
    const lowered = lower(r.model);
    const { weights } = fitCheckpoint(ckpt, paramShapes(lowered.graph), r.model);
    if (!meta?.tokenizer) throw new Error(`${name} carries no tokenizer (it was not written by arch train or the playground)`);
    app.trained = { model: r.model, weights, tokenizer: tokenizerFromJSON(meta.tokenizer), origin: `uploaded ${name} (step ${meta.step})` };
    uploaded = ckpt;
    resume.disabled = !ckpt.optimizer;
    status.textContent = `loaded ${name}: step ${meta.step} on ${meta.data}; sampling and attention use these weights${ckpt.optimizer ? '; Train with "continue it" resumes the run' : ''}`;
  }
  uploadInput.addEventListener('change', async () => {
    const f = uploadInput.files?.[0];
    if (!f) return;
    await upload(new Uint8Array(await f.arrayBuffer()), f.name).catch(fail);
  });

  buttons();
  return { train, run: () => current, upload };
}
