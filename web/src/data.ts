// Training data in the page: a built-in task (task:reverse ...), the shipped corpus (tiny
// Shakespeare, fetched from the build itself) or pasted text, each as the core's DataSource. Text
// is split as `arch train --data FILE` splits it, by the core's openData.
import corpusUrl from '../../data/tinyshakespeare.txt?url';
import { DataError, openData, type DataSource, type Tokenizer } from './core.js';

export const CORPUS_NAME = 'tinyshakespeare.txt';
export const PASTED_NAME = 'pasted.txt';

let corpus: Promise<string> | undefined;

export function loadCorpus(): Promise<string> {
  corpus ??= fetch(corpusUrl).then((r) => {
    if (!r.ok) throw new Error(`the corpus did not load from this build (${r.status}): rebuild with npm run build:web`);
    return r.text();
  });
  return corpus;
}

/** Text as `arch train --data FILE` reads it (the core's openData; the "file" is in memory):
 *  the tokenizer asked for (or the one a checkpoint carries), the last 10% for validation. */
export function textSource(name: string, text: string, tokenizer: 'char' | 'gpt2' | Tokenizer = 'char'): DataSource {
  if (!text.trim()) throw new DataError({ what: 'the text is empty', where: name, hint: 'paste some text to train on, or pick the corpus or a task' });
  const bytes = new TextEncoder().encode(text);
  return openData(name, { tokenizer, readFile: () => bytes });
}

/** `task:NAME`, `corpus`, or `text` (with the pasted text). */
export async function openPageData(spec: string, pasted = '', tokenizer: 'char' | 'gpt2' | Tokenizer = 'char'): Promise<DataSource> {
  if (spec.startsWith('task:')) return openData(spec);
  if (spec === 'corpus' || spec === CORPUS_NAME) return textSource(CORPUS_NAME, await loadCorpus(), tokenizer);
  if (spec === 'text' || spec === PASTED_NAME) return textSource(PASTED_NAME, pasted, tokenizer);
  throw new DataError({ what: `unknown data \`${spec}\``, where: 'the data menu', hint: 'use task:NAME, corpus or text' });
}
