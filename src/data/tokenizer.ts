// Tokenizers turn text into token ids and back. Three kinds:
//   char  the sorted distinct code points of a training text (nanoGPT's shakespeare_char)
//   gpt2  GPT-2's byte-level BPE through js-tiktoken, whose ranks ship in the package (no network)
//   task  the fixed vocabulary of a synthetic task (digits, letters, separators)
// Every tokenizer serialises to plain JSON so a checkpoint can carry the one it was trained with.
import { Tiktoken } from 'js-tiktoken/lite';
import gpt2Ranks from 'js-tiktoken/ranks/gpt2';
import { DataError } from './errors.js';

export type TokenizerKind = 'char' | 'gpt2' | 'task';

export interface Tokenizer {
  readonly kind: TokenizerKind;
  readonly vocabSize: number;
  encode(text: string): number[];
  decode(ids: ArrayLike<number>): string;
  toJSON(): TokenizerJSON;
}

export type TokenizerJSON =
  | { kind: 'char'; chars: string[] }
  | { kind: 'gpt2' }
  | { kind: 'task'; task: string; vocab: string[]; joiner: '' | ' ' };

const MAX_LISTED = 10;

function show(s: string): string {
  return JSON.stringify(s);
}

/** A vocabulary of strings indexed by id. With joiner '' every entry is one code point and text is
 *  read code point by code point; with joiner ' ' tokens are separated by whitespace. */
abstract class VocabTokenizer implements Tokenizer {
  abstract readonly kind: 'char' | 'task';
  readonly vocab: readonly string[];
  readonly joiner: '' | ' ';
  private readonly ids: Map<string, number>;

  constructor(vocab: readonly string[], joiner: '' | ' ') {
    this.vocab = vocab;
    this.joiner = joiner;
    this.ids = new Map(vocab.map((s, i) => [s, i]));
    if (this.ids.size !== vocab.length) throw new Error(`tokenizer vocabulary has duplicate entries`);
    if (joiner === '' && vocab.some((s) => [...s].length !== 1)) {
      throw new Error(`a tokenizer read character by character needs one code point per vocabulary entry`);
    }
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  encode(text: string): number[] {
    const pieces = this.joiner === '' ? Array.from(text) : text.split(/\s+/).filter((p) => p !== '');
    const out = new Array<number>(pieces.length);
    let unknown: Map<string, number> | undefined;
    let firstAt = -1;
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      const id = this.ids.get(piece);
      if (id === undefined) {
        unknown ??= new Map();
        unknown.set(piece, (unknown.get(piece) ?? 0) + 1);
        if (firstAt < 0) firstAt = i;
        out[i] = -1;
      } else {
        out[i] = id;
      }
    }
    if (unknown) throw this.unknownError(unknown, firstAt);
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    const parts = new Array<string>(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const s = this.vocab[ids[i]!];
      if (s === undefined) throw badId(ids[i]!, i, this.vocab.length, this.kind);
      parts[i] = s;
    }
    return parts.join(this.joiner);
  }

  abstract toJSON(): TokenizerJSON;

  private unknownError(unknown: Map<string, number>, firstAt: number): DataError {
    const listed = [...unknown].slice(0, MAX_LISTED).map(([s, n]) => `${show(s)} (x${n})`);
    const more = unknown.size > MAX_LISTED ? ` and ${unknown.size - MAX_LISTED} more` : '';
    const unit = this.joiner === '' ? 'character' : 'token';
    return new DataError({
      what: `${unknown.size} ${unit}${unknown.size === 1 ? ' is' : 's are'} not in the ${this.kind} vocabulary: ${listed.join(', ')}${more}`,
      where: `text to encode, first at ${unit} ${firstAt}`,
      hint:
        this.kind === 'char'
          ? `a char tokenizer knows only the ${this.vocab.length} characters of the text it was built from; remove these characters or rebuild the vocabulary from a text that contains them`
          : `this task's tokens are ${this.vocab.map(show).join(' ')}`,
    });
  }
}

export class CharTokenizer extends VocabTokenizer {
  readonly kind = 'char' as const;

  /** The vocabulary is the distinct code points of `text`, sorted by code point. */
  static fromText(text: string): CharTokenizer {
    const points = new Set<number>();
    for (const ch of text) points.add(ch.codePointAt(0)!);
    const sorted = [...points].sort((a, b) => a - b);
    return new CharTokenizer(sorted.map((p) => String.fromCodePoint(p)));
  }

  constructor(chars: readonly string[]) {
    super(chars, '');
  }

  toJSON(): TokenizerJSON {
    return { kind: 'char', chars: [...this.vocab] };
  }
}

export class TaskTokenizer extends VocabTokenizer {
  readonly kind = 'task' as const;
  readonly task: string;

  constructor(task: string, vocab: readonly string[], joiner: '' | ' ') {
    super(vocab, joiner);
    this.task = task;
  }

  toJSON(): TokenizerJSON {
    return { kind: 'task', task: this.task, vocab: [...this.vocab], joiner: this.joiner };
  }
}

export const GPT2_VOCAB_SIZE = 50257;
export const GPT2_END_OF_TEXT = 50256;

// Building the BPE tables costs ~0.3 s, so every Gpt2Tokenizer shares one.
let sharedBpe: Tiktoken | undefined;

export class Gpt2Tokenizer implements Tokenizer {
  readonly kind = 'gpt2' as const;
  readonly vocabSize = GPT2_VOCAB_SIZE;

  private get bpe(): Tiktoken {
    sharedBpe ??= new Tiktoken(gpt2Ranks);
    return sharedBpe;
  }

  /** `<|endoftext|>` in the text becomes token 50256 (the document separator GPT-2 was trained
   *  with), not the 7 tokens its characters would spell. */
  encode(text: string): number[] {
    return this.bpe.encode(text, 'all');
  }

  decode(ids: ArrayLike<number>): string {
    const list = Array.from(ids);
    list.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0 || id >= GPT2_VOCAB_SIZE) throw badId(id, i, GPT2_VOCAB_SIZE, 'gpt2');
    });
    return this.bpe.decode(list);
  }

  toJSON(): TokenizerJSON {
    return { kind: 'gpt2' };
  }
}

function badId(id: number, at: number, size: number, kind: TokenizerKind): DataError {
  return new DataError({
    what: `token id ${id} is outside the ${kind} vocabulary [0, ${size})`,
    where: `ids to decode, position ${at}`,
    hint: `the ids come from a model with a different vocabulary size than this tokenizer; use the tokenizer saved with the model`,
  });
}

function isStringArray(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((s) => typeof s === 'string');
}

/** Rebuilds a tokenizer from `toJSON()` output (e.g. read back from a checkpoint). */
export function tokenizerFromJSON(obj: unknown): Tokenizer {
  const o = (typeof obj === 'object' && obj !== null ? obj : {}) as Record<string, unknown>;
  if (o.kind === 'gpt2') return new Gpt2Tokenizer();
  if (o.kind === 'char' && isStringArray(o.chars)) return new CharTokenizer(o.chars);
  if (o.kind === 'task' && typeof o.task === 'string' && isStringArray(o.vocab) && (o.joiner === '' || o.joiner === ' ')) {
    return new TaskTokenizer(o.task, o.vocab, o.joiner);
  }
  throw new DataError({
    what: `not a saved tokenizer: ${JSON.stringify(obj)?.slice(0, 120)}`,
    where: 'tokenizer JSON',
    hint: `expected {"kind":"gpt2"}, {"kind":"char","chars":[...]} or {"kind":"task","task":...,"vocab":[...],"joiner":""}`,
  });
}

/** A fresh tokenizer of the named kind; 'char' needs the text that defines its vocabulary. */
export function makeTokenizer(kind: 'char' | 'gpt2', text: string): Tokenizer {
  return kind === 'gpt2' ? new Gpt2Tokenizer() : CharTokenizer.fromText(text);
}
