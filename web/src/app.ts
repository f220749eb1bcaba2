// The page's state: the text, its --set values and latest analysis, the WebGPU device, the
// current training run and the weights that sampling and attention use.
import { analyse, type Analysis } from './analysis.js';
import type { ArchDevice, CheckedModel, Tokenizer, Weights } from './core.js';

export interface Trained {
  model: CheckedModel;
  weights: Weights;
  tokenizer: Tokenizer;
  /** Where the weights came from: "trained 200 steps on task:reverse", "uploaded run.safetensors". */
  origin: string;
}

export class AppState {
  source = '';
  modelFile = 'playground.arch';
  sets = new Map<string, string>();
  device: ArchDevice | null = null;
  trained: Trained | null = null;
  private latest: Analysis | null = null;
  private readonly listeners: ((a: Analysis) => void)[] = [];

  /** The analysis of the current text and sets (computed now if stale). */
  analysis(): Analysis {
    if (!this.latest || this.latest.source !== this.source || this.latest.sets !== this.sets) {
      this.latest = analyse(this.source, this.sets);
      for (const l of this.listeners) l(this.latest);
    }
    return this.latest;
  }

  current(): Analysis | null {
    return this.latest;
  }

  /** The analysis of `text` with the current sets, without making it the page's (hovers and
   *  completions ask about the editor's text before the debounced check has run). */
  analysisOf(text: string): Analysis {
    return text === this.source ? this.analysis() : analyse(text, this.sets);
  }

  onAnalysis(f: (a: Analysis) => void): void {
    this.listeners.push(f);
  }

  setSet(name: string, value: string | null): void {
    const next = new Map(this.sets);
    if (value === null) next.delete(name);
    else next.set(name, value);
    this.sets = next;
    this.analysis();
  }
}
