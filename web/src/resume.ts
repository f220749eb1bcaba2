// Continuing an uploaded checkpoint's run, as `arch train --resume` does (src/session/train.ts):
// the model source, --set values, data, tokenizer and training flags recorded in the file; its
// weights and AdamW moments; the step and data-RNG state the loop stopped at. Only the steps change.
import { fitCheckpoint, paramShapes, tokenizerFromJSON, type LoadedCheckpoint, type RngState } from './core.js';
import { CORPUS_NAME, openPageData, textSource } from './data.js';
import { prepare, recordedSettings, type Prepared, type TrainSettings } from './prepare.js';
import type { ResumeFrom } from './trainer.js';
import type { DataSource } from './core.js';

export interface Resumed {
  p: Prepared;
  data: DataSource;
  settings: TrainSettings;
  from: ResumeFrom;
}

export async function resumeUploaded(ckpt: LoadedCheckpoint, steps: number, pasted: string): Promise<Resumed> {
  const meta = ckpt.meta;
  if (!meta || !ckpt.optimizer) throw new Error(`${ckpt.file} holds weights but no training state (it was not written by arch train or the playground), so there is no run to continue`);
  if (!(steps > meta.step)) throw new Error(`${ckpt.file} stopped at step ${meta.step}: ask for more steps than that to continue it`);
  const spec = typeof meta.options.data === 'string' ? meta.options.data : meta.data;
  const tokenizer = tokenizerFromJSON(meta.tokenizer);
  // a text file of the CLI's run, or text pasted into another page: the same text pasted here
  const data = spec.startsWith('task:') || spec === CORPUS_NAME ? await openPageData(spec, '', tokenizer) : textSource(spec, pasted, tokenizer);
  const settings = recordedSettings(meta.options, steps);
  const p = prepare(meta.modelSource, new Map(Object.entries(meta.sets)), data, settings);
  p.weights = fitCheckpoint(ckpt, paramShapes(p.train), p.model, true).weights;
  return { p, data, settings, from: { optimizer: ckpt.optimizer, at: { step: meta.step, rng: meta.rng as RngState, elapsedS: meta.elapsedS } } };
}
