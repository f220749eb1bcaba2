// A text file as a training set: read, check, tokenize, split. The validation split is the last
// `valFraction` of the tokens (nanoGPT's: train = data[:int(n * 0.9)], val = the rest).
import { DataError } from './errors.js';
import type { FileProblem, ReadFile } from './files.js';
import { makeTokenizer, type Tokenizer } from './tokenizer.js';
import { firstInvalidUtf8, lineAndColumn } from './utf8.js';

export { DataError } from './errors.js';

export interface TextDataOptions {
  /** 'char' builds the vocabulary from this file; pass a Tokenizer to reuse a saved one. Default 'char'. */
  tokenizer?: 'char' | 'gpt2' | Tokenizer;
  /** Fraction of the tokens, taken from the end, held out for validation. Default 0.1; 0 = none. */
  valFraction?: number;
  /** When given, both splits must hold at least one window of contextLength + 1 tokens. */
  contextLength?: number;
  /** How the host reads a file (src/host/node/files.ts in Node); without one only tasks open. */
  readFile?: ReadFile;
}

export interface TextDataset {
  path: string;
  tokenizer: Tokenizer;
  train: Int32Array;
  val: Int32Array;
  bytes: number;
  characters: number; // code points
  valFraction: number;
}

export function loadTextDataset(path: string, options: TextDataOptions = {}): TextDataset {
  const valFraction = options.valFraction ?? 0.1;
  if (!(valFraction >= 0 && valFraction < 1)) {
    throw new DataError({
      what: `validation fraction ${valFraction} is not in [0, 1)`,
      where: path,
      hint: `use a fraction such as 0.1 (the last 10% of the tokens), or 0 for no validation split`,
    });
  }
  const { text, bytes } = readText(path, options.readFile);
  const tokenizer = typeof options.tokenizer === 'object' ? options.tokenizer : makeTokenizer(options.tokenizer ?? 'char', text);
  let ids: number[];
  try {
    ids = tokenizer.encode(text);
  } catch (e) {
    if (e instanceof DataError) throw new DataError({ what: e.what, where: `${path} (${e.where})`, hint: e.hint });
    throw e;
  }
  const all = Int32Array.from(ids);
  const nTrain = Math.floor(all.length * (1 - valFraction));
  const dataset: TextDataset = {
    path,
    tokenizer,
    train: all.subarray(0, nTrain),
    val: all.subarray(nTrain),
    bytes,
    characters: countCodePoints(text),
    valFraction,
  };
  checkSizes(dataset, options.contextLength);
  return dataset;
}

/** The most text a dataset reads: one JavaScript string holds at most 2^29 - 24 characters, and
 *  the tokens take several times the text's bytes. */
export const MAX_TEXT_BYTES = 256 * 2 ** 20;

const BOM = [0xef, 0xbb, 0xbf];

function readText(path: string, readFile: ReadFile | undefined): { text: string; bytes: number } {
  if (!readFile) {
    throw new DataError({ what: `${path}: this host reads no files`, where: path, hint: 'use task:NAME for a synthetic task, or pass the text itself' });
  }
  const bytes = readFile(path, MAX_TEXT_BYTES, (p) => fileError(path, p));
  if (bytes.length === 0) {
    throw new DataError({
      what: `${path} is empty`,
      where: path,
      hint: `a training text needs content: check that the download or copy finished`,
    });
  }
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    // the decoder drops a leading byte order mark, and so does the count of the text's bytes
    return { text, bytes: bytes.length - (BOM.every((b, i) => bytes[i] === b) ? BOM.length : 0) };
  } catch {
    const at = firstInvalidUtf8(bytes);
    const { line, column } = lineAndColumn(bytes, at);
    const near = Array.from(bytes.subarray(at, at + 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new DataError({
      what: `${path} is not valid UTF-8: bytes ${near} at byte offset ${at} do not form a character`,
      where: `${path}:${line}:${column} (byte offset ${at})`,
      hint: `convert the file to UTF-8 first (e.g. iconv -f latin1 -t utf-8 ${path} > out.txt)`,
    });
  }
}

function fileError(path: string, p: FileProblem): DataError {
  if (p.kind === 'missing') {
    return new DataError({
      what: `no such file: ${path}`,
      where: path,
      hint: `check the path${p.base ? ` (relative paths start at ${p.base})` : ''}, or use task:NAME for a synthetic task that needs no file`,
    });
  }
  if (p.kind === 'directory') {
    return new DataError({
      what: `${path} is a directory, not a text file`,
      where: path,
      hint: `pass a UTF-8 text file inside it (for example ${path.replace(/\/$/, '')}/input.txt), or task:NAME for a synthetic task`,
    });
  }
  if (p.kind === 'denied') return new DataError({ what: `${path} cannot be read (permission denied)`, where: path, hint: `check the file's permissions` });
  if (p.kind === 'too-large') return new DataError({ what: `${path} is ${p.text}`, where: path, hint: `train on a part of it (e.g. head -c 100M ${path} > part.txt)` });
  return new DataError({ what: `${path} is ${p.text}`, where: path, hint: `pass a UTF-8 text file (a regular file; save piped text to a file first), or task:NAME for a synthetic task` });
}

function checkSizes(d: TextDataset, contextLength: number | undefined): void {
  const need = (contextLength ?? 1) + 1;
  const splits: [string, Int32Array][] = d.valFraction > 0 ? [['training', d.train], ['validation', d.val]] : [['training', d.train]];
  for (const [name, tokens] of splits) {
    if (tokens.length >= need) continue;
    const total = d.train.length + d.val.length;
    throw new DataError({
      what: `the ${name} split has ${tokens.length} token${tokens.length === 1 ? '' : 's'}, but one window needs ${need}${contextLength ? ` (context length ${contextLength} + 1)` : ''}`,
      where: `${d.path} (${total} ${d.tokenizer.kind} tokens, last ${d.valFraction * 100}% for validation)`,
      hint: contextLength
        ? `use a longer text, a context length below ${Math.max(1, Math.min(d.train.length, d.val.length || Infinity) - 1)}, or a different validation fraction`
        : `use a longer text or a different validation fraction`,
    });
  }
}

function countCodePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++; // a low surrogate continues the code point before it
  }
  return n;
}
