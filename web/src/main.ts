// The playground: the editor and its diagnostics, the model view, and (with WebGPU) training,
// sampling and attention, wired to one AppState; window.arch is the scripting interface.
import { AppState } from './app.js';
import { byId, h } from './dom.js';
import { createEditor, setText } from './editor.js';
import { renderDiagnostics, diagnosticInfos } from './diagnostics-list.js';
import { renderModelView } from './model-view.js';
import { openBrowserDevice } from './gpu.js';
import { createTrainPanel } from './train-panel.js';
import { createSamplePanels } from './sample-panel.js';
import { installHooks } from './hooks.js';
import { EditorView } from '@codemirror/view';

const examples = import.meta.glob('../../models/*.arch', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;
const byName = new Map(Object.entries(examples).map(([path, text]) => [path.replace('../../', ''), text]));
const DEFAULT_EXAMPLE = 'models/gpt-nano.arch';

const app = new AppState();
const initial = new URLSearchParams(location.search).get('example') ?? DEFAULT_EXAMPLE;
app.modelFile = byName.has(initial) ? initial : DEFAULT_EXAMPLE;
app.source = byName.get(app.modelFile) ?? '';

let pending: ReturnType<typeof setTimeout> | undefined;
const waiters: (() => void)[] = [];
const view = createEditor(byId('editor'), app.source, {
  onChange(text) {
    app.source = text;
    clearTimeout(pending);
    pending = setTimeout(() => {
      app.analysis();
      waiters.splice(0).forEach((w) => w());
    }, 120);
  },
  analysisNow: (text) => app.analysisOf(text),
  analysisOf: (text) =>
    new Promise((resolve) => {
      if (app.source === text && app.current()?.source === text) return resolve(app.current()!);
      waiters.push(() => resolve(app.analysis()));
    }),
});

const diagRoot = byId('diagnostics');
const modelRoot = byId('model-view');
app.onAnalysis((a) => {
  renderDiagnostics(diagRoot, a, (offset) => {
    view.dispatch({ selection: { anchor: Math.min(offset, view.state.doc.length) }, effects: EditorView.scrollIntoView(Math.min(offset, view.state.doc.length), { y: 'center' }) });
    view.focus();
  });
  renderModelView(modelRoot, a, { set: (name, value) => app.setSet(name, value) });
});

function setSource(text: string, sets = new Map<string, string>()): void {
  app.sets = sets;
  app.source = text;
  if (view.state.doc.toString() !== text) setText(view, text);
  clearTimeout(pending);
  app.analysis();
}

const select = byId<HTMLSelectElement>('examples');
for (const name of byName.keys()) select.append(h('option', { value: name, selected: name === app.modelFile }, name));
select.addEventListener('change', () => {
  app.modelFile = select.value;
  setSource(byName.get(select.value) ?? '');
});

app.analysis();

const gpu = await openBrowserDevice();
const adapterLabel = byId('adapter');
if (gpu.ok) {
  app.device = gpu.device;
  adapterLabel.textContent = `WebGPU: ${gpu.device.info.adapterName}${gpu.device.info.isFallbackCpu ? ' (CPU)' : ''}`;
} else {
  adapterLabel.textContent = 'no WebGPU';
  const banner = byId('banner');
  banner.hidden = false;
  banner.append(h('strong', {}, 'No WebGPU: training and sampling are off.'), gpu.why, ' ', h('br'), gpu.fix);
}
const trainPanel = createTrainPanel(byId('train-panel'), app, setSource);
const samplePanels = createSamplePanels(byId('sample-panel'), byId('attention-panel'), app, byId('tip'));
installHooks(app, { setSource, diagnostics: () => diagnosticInfos(app.analysis()), trainPanel, samplePanels, gpu });
document.body.dataset.ready = 'true';
