// What a training run decides from its model and data before it compiles anything, shared by
// `arch train` (session/train.ts) and the playground: the dims the data sets (V from the
// tokenizer, C from a task's classes), the length it trains at, and the symbols' sizes.
import type { CheckedModel } from '../compiler/graph.js';
import type { Lowered } from '../compiler/lower.js';
import type { DataSource } from '../data/index.js';
import { describeRoles, type InputSpec } from '../runtime/train/feeds.js';
import { UsageError } from './errors.js';
import { fmtInt } from '../report/numbers.js';
import { classLetters, inputRoles } from './model-io.js';
import { buildGraph } from './pipeline.js';

/** Sets each one-hot input's class letter the data decides (unless `sets` has it already) where
 *  the model declares another size; returns a note for each, as `arch train` prints them. */
export function dimsFromData(model: CheckedModel, data: DataSource, sets: Map<string, string>): string[] {
  const notes: string[] = [];
  const letters = classLetters(model);
  for (const r of inputRoles(buildGraph(model).lowered)) {
    const letter = letters.get(r.name);
    if (!letter || sets.has(letter)) continue;
    const want = r.role === 'labels' ? data.task?.numClasses : data.vocabSize;
    const have = model.dims.get(letter)?.size;
    if (want && have !== want) {
      sets.set(letter, String(want));
      notes.push(`${letter} = ${want} (from the data${r.role === 'labels' ? "'s classes" : "'s vocabulary"}; the model declares ${have})`);
    }
  }
  return notes;
}

/** The length a run trains at: the model's context, or a task's own length where it fits. */
export function trainLength(model: CheckedModel, lowered: Lowered, roles: InputSpec[], data: DataSource, file: string): number {
  const lengthSym = roles.find((r) => r.role === 'tokens')?.symbols[1];
  const maxL = lengthSym ? lowered.symbols.get(lengthSym)?.max : undefined;
  // A task trains at its own length (reverse 8 digits, not 32) when the model's context allows.
  const L = maxL && data.task ? Math.min(maxL, Math.max(data.task.contextLength, data.task.minContextLength)) : maxL;
  if (!L) throw new UsageError(`${file}: can't tell the model's context length (its inputs: ${describeRoles(roles)})`);
  const minL = data.task?.minContextLength ?? 1;
  if (maxL! < minL) throw new UsageError(`${data.name} needs a context of at least ${minL} positions; the model's is ${maxL}\n  hint: --set ${model.axes.get(lengthSym!)?.letter ?? 'L'}=${minL}`);
  return L;
}

/** Every symbol's size for a step: batches, the training length, a task's source length. */
export function trainSymbols(lowered: Lowered, roles: InputSpec[], data: DataSource, batch: number, L: number): Record<string, number> {
  const symbols: Record<string, number> = { seed: 0 };
  for (const r of roles) r.symbols.forEach((sym, i) => {
    const info = lowered.symbols.get(sym);
    symbols[sym] = info?.max === undefined ? batch : r.role === 'source' ? data.task?.contextLength ?? info.max : L;
    if (i === 0) symbols[sym] = batch;
  });
  return symbols;
}

/** Refuses data with more tokens (or classes) than the model's one-hot inputs hold: ids past the
 *  end would index past an embedding's rows. */
export function checkClasses(model: CheckedModel, lowered: Lowered, roles: InputSpec[], data: DataSource): void {
  const letters = classLetters(model);
  for (const r of roles) {
    const cls = lowered.inputs.get(r.name)?.classes;
    const need = r.role === 'labels' ? data.task?.numClasses : data.vocabSize;
    if (cls !== undefined && need !== undefined && cls < need)
      throw new UsageError(`the data has ${fmtInt(need)} ${r.role === 'labels' ? 'classes' : 'distinct tokens'}, but ${r.name}'s ${letters.get(r.name) ?? 'class'} is ${fmtInt(cls)}\n  hint: --set ${letters.get(r.name) ?? 'V'}=${need}`);
  }
}
