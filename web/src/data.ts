// Training data in the page: a built-in task (task:reverse ...), the shipped corpus (tiny
// Shakespeare, fetched from the build itself) or pasted text, each as the core's DataSource. Text
// is split as `arch train --data FILE` splits it: char tokenizer, the last 10% for validation.
import corpusUrl from '../../data/tinyshakespeare.txt?url';
import { DataError, evalBatches, makeTokenizer, openData, sampleBatch, type DataSource } from './core.js';

export const CORPUS_NAME = 'tinyshakespeare.txt';
const VAL_FRACTION = 0.1;

let corpus: Promise<string> | undefined;

export function loadCorpus(): Promise<string> {
  corpus ??= fetch(corpusUrl).then((r) => {
    if (!r.ok) throw new Error(`the corpus did not load from this build (${r.status}): rebuild with npm run build:web`);
    return r.text();
  });
  return corpus;
}

export function textSource(name: string, text: string): DataSource {
  if (!text.trim()) throw new DataError({ what: 'the text is empty', where: name, hint: 'paste some text to train on, or pick the corpus or a task' });
  const tokenizer = makeTokenizer('char', text);
  const all = Int32Array.from(tokenizer.encode(text));
  const nTrain = Math.floor(all.length * (1 - VAL_FRACTION));
  const train = all.subarray(0, nTrain);
  const val = all.subarray(nTrain);
  return {
    name,
    kind: 'text',
    tokenizer,
    vocabSize: tokenizer.vocabSize,
    trainBatch: (rng, batch, length) => sampleBatch(train, batch, length, rng),
    evalBatches: (batch, length, maxBatches) => evalBatches(val.length > 0 ? val : train, batch, length, maxBatches),
  };
}

/** `task:NAME`, `corpus`, or `text` (with the pasted text). */
export async function openPageData(spec: string, pasted = ''): Promise<DataSource> {
  if (spec.startsWith('task:')) return openData(spec);
  if (spec === 'corpus' || spec === CORPUS_NAME) return textSource(CORPUS_NAME, await loadCorpus());
  if (spec === 'text') return textSource('pasted.txt', pasted);
  throw new DataError({ what: `unknown data \`${spec}\``, where: 'the data menu', hint: 'use task:NAME, corpus or text' });
}
