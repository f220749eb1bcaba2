// window.arch: the interface users' scripts (and the tests) drive the page through. The names
// setSource, diagnostics, train and sample are kept as they are; the rest are added freely.
import type { AppState } from './app.js';
import { chooseKernels, type ArchDevice } from './core.js';
import type { DiagnosticInfo } from './diagnostics-list.js';
import type { GpuStatus } from './gpu.js';
import { lossAndGrads, type GradRequest } from './grad-check.js';
import type { SampleOptions, SamplePanels } from './sample-panel.js';
import type { TrainPanel, TrainRequest } from './train-panel.js';

interface HookDeps {
  setSource(text: string, sets?: Map<string, string>): void;
  diagnostics(): DiagnosticInfo[];
  trainPanel: TrainPanel;
  samplePanels: SamplePanels;
  gpu: GpuStatus;
}

const deviceKernels = (dev: ArchDevice) => chooseKernels(dev.kernels, dev.info, dev.device.limits);

export function installHooks(app: AppState, d: HookDeps): void {
  const api = {
    /** The editor's text; with `sets`, the --set values too (`{}` clears them). */
    setSource: (text: string, sets?: Record<string, string>) => d.setSource(text, sets ? new Map(Object.entries(sets)) : app.sets),
    diagnostics: () => d.diagnostics(),
    /** --set NAME=VALUE (null clears it), as the model view's controls do. */
    set: (name: string, value: string | number | null) => app.setSet(name, value === null ? null : String(value)),
    train: (o: TrainRequest = {}) => d.trainPanel.train(o),
    sample: (o: SampleOptions = {}) => d.samplePanels.sample(o),
    attention: (prompt: string) => d.samplePanels.attention(prompt),
    /** The adapter the page picked, and the kernel templates its graphs compile to ('cpu' or 'gpu'). */
    webgpu: () => (d.gpu.ok ? { ok: true, adapter: d.gpu.device.info, kernels: deviceKernels(d.gpu.device) } : { ok: false, why: d.gpu.why }),
    gradients: (o: GradRequest = {}) => {
      if (!app.device) throw new Error('no WebGPU device');
      return lossAndGrads(app.device, app.source, app.sets, o);
    },
    /** When each step of the current run was reported (ms), and its tokens per step. */
    stepTimes: () => {
      const run = d.trainPanel.run();
      return run ? { stamps: [...run.stamps], tokensPerStep: run.tokensPerStep } : null;
    },
    /** The current run's checkpoint, base64 (the bytes the download button saves). */
    checkpoint: async () => {
      const run = d.trainPanel.run();
      if (!run) throw new Error('no training run yet');
      const bytes = await run.checkpoint(app.modelFile);
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    },
    upload: (base64: string, name = 'upload.safetensors') => d.trainPanel.upload(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)), name),
  };
  (window as unknown as { arch: typeof api }).arch = api;
}
