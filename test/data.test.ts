// Tokenizers, text datasets, the RNG and LM batching.
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CharTokenizer,
  DataError,
  Gpt2Tokenizer,
  GPT2_END_OF_TEXT,
  Rng,
  evalBatches,
  firstInvalidUtf8,
  loadTextDataset,
  openData,
  sampleBatch,
  tokenizerFromJSON,
  windowCount,
} from '../src/data/index.js';
import { readRegularFile } from '../src/host/node/files.js';

const SHAKESPEARE = 'data/tinyshakespeare.txt';
/** A text dataset read through the Node host's file reader, as the CLI reads one. */
const loadText = (path: string, o: Parameters<typeof loadTextDataset>[1] = {}) => loadTextDataset(path, { readFile: readRegularFile, ...o });
const shakespeare = readFileSync(SHAKESPEARE, 'utf8');

function errorOf(f: () => unknown): DataError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return e as DataError;
  }
  throw new Error('expected a DataError');
}

describe('char tokenizer', () => {
  it('builds the 65-symbol Shakespeare vocabulary and round-trips the corpus', () => {
    const tok = CharTokenizer.fromText(shakespeare);
    expect(tok.vocabSize).toBe(65);
    expect(tok.vocab[0]).toBe('\n');
    expect(tok.vocab.join('')).toBe([...new Set(shakespeare)].sort().join(''));
    const ids = tok.encode(shakespeare);
    expect(ids.length).toBe(1115394);
    expect(tok.decode(ids)).toBe(shakespeare);
  });

  it('counts code points, not UTF-16 units, and sorts by code point', () => {
    const text = 'b😀a\u{FFFD}😀';
    const tok = CharTokenizer.fromText(text);
    expect(tok.vocab).toEqual(['a', 'b', '\u{FFFD}', '😀']); // U+FFFD < U+1F600, though '😀' < '\uFFFD' in UTF-16
    expect(tok.encode(text)).toEqual([1, 3, 0, 2, 3]);
    expect(tok.decode(tok.encode(text))).toBe(text);
  });

  it('names the characters it does not know', () => {
    const tok = CharTokenizer.fromText('abc');
    const e = errorOf(() => tok.encode('abXcYX'));
    expect(e.what).toContain('2 characters are not in the char vocabulary');
    expect(e.what).toContain('"X" (x2)');
    expect(e.what).toContain('"Y" (x1)');
    expect(e.where).toContain('character 2');
    expect(errorOf(() => tok.decode([0, 7])).what).toContain('token id 7 is outside');
  });
});

describe('gpt2 tokenizer', () => {
  const tok = new Gpt2Tokenizer();
  it('encodes with the offline GPT-2 ranks', () => {
    expect(tok.vocabSize).toBe(50257);
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
    expect(tok.decode([15496, 995])).toBe('Hello world');
  });

  it('round-trips text and keeps <|endoftext|> as one token', () => {
    const text = 'First Citizen:\nBefore we proceed any further, hear me speak. Ünïcødé 😀';
    expect(tok.decode(tok.encode(text))).toBe(text);
    const ids = tok.encode('a<|endoftext|>b');
    expect(ids).toContain(GPT2_END_OF_TEXT);
    expect(ids.length).toBe(3);
  });
});

describe('tokenizer JSON', () => {
  it('rebuilds every kind from its JSON', () => {
    const samples = 'To be, or not to be 😀';
    for (const tok of [CharTokenizer.fromText(samples), new Gpt2Tokenizer()]) {
      const back = tokenizerFromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
      expect(back.kind).toBe(tok.kind);
      expect(back.vocabSize).toBe(tok.vocabSize);
      expect(back.encode(samples)).toEqual(tok.encode(samples));
    }
    expect(() => tokenizerFromJSON({ kind: 'bpe' })).toThrow(DataError);
  });
});

describe('text datasets', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'arch-data-'));
  });
  const file = (name: string, bytes: Uint8Array | string): string => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };

  it('splits tiny Shakespeare as nanoGPT does (last 10% for validation)', () => {
    const d = loadText(SHAKESPEARE, { tokenizer: 'char' });
    expect(d.tokenizer.vocabSize).toBe(65);
    expect(d.train.length).toBe(1003854); // nanoGPT shakespeare_char: "train has 1,003,854 tokens"
    expect(d.val.length).toBe(111540); // "val has 111,540 tokens"
    expect(d.characters).toBe(1115394);
    expect(d.tokenizer.decode(d.val)).toBe(shakespeare.slice(1003854));
  });

  it('tokenizes with GPT-2 BPE and honours valFraction', () => {
    const path = file('small.txt', 'Hello world. '.repeat(50));
    const d = loadText(path, { tokenizer: 'gpt2', valFraction: 0.2 });
    const n = d.train.length + d.val.length;
    expect(d.tokenizer.kind).toBe('gpt2');
    expect(d.train.length).toBe(Math.floor(n * 0.8));
    expect(Array.from(d.train.subarray(0, 2))).toEqual([15496, 995]);
  });

  it('reports a missing file', () => {
    const e = errorOf(() => loadText(join(dir, 'nope.txt')));
    expect(e.message).toContain('no such file');
    expect(e.hint).toContain('task:NAME');
  });

  it('reports a directory', () => {
    const sub = join(dir, 'corpus');
    mkdirSync(sub);
    expect(errorOf(() => loadText(sub)).what).toBe(`${sub} is a directory, not a text file`);
  });

  it('reports an empty file', () => {
    expect(errorOf(() => loadText(file('empty.txt', ''))).what).toContain('is empty');
  });

  it('reports invalid UTF-8 with its byte offset and line', () => {
    const bytes = new Uint8Array([...Buffer.from('hello\nw'), 0xe9, ...Buffer.from('t\u00e9\n')]); // latin-1 é
    const e = errorOf(() => loadText(file('latin1.txt', bytes)));
    expect(e.what).toContain('not valid UTF-8');
    expect(e.what).toContain('byte offset 7');
    expect(e.where).toMatch(/latin1\.txt:2:2 \(byte offset 7\)/);
    expect(e.hint).toContain('iconv');
  });

  it('reports a file too small for the split or the context', () => {
    const path = file('tiny.txt', 'abcdefghijklmnopqrst'); // 20 chars: 18 train, 2 val
    expect(loadText(path).val.length).toBe(2);
    const e = errorOf(() => loadText(path, { contextLength: 8 }));
    expect(e.what).toBe('the validation split has 2 tokens, but one window needs 9 (context length 8 + 1)');
    expect(errorOf(() => loadText(file('one.txt', 'ab'))).what).toContain('the training split has 1 token, but one window needs 2');
    expect(errorOf(() => loadText(path, { valFraction: 1 })).what).toContain('not in [0, 1)');
    expect(loadText(path, { valFraction: 0, contextLength: 19 }).train.length).toBe(20);
  });

  it('reports characters a saved char tokenizer lacks, naming the file', () => {
    const path = file('new.txt', 'abcz');
    const e = errorOf(() => loadText(path, { tokenizer: CharTokenizer.fromText('abc') }));
    expect(e.where).toContain(path);
    expect(e.what).toContain('"z"');
  });
});

describe('firstInvalidUtf8', () => {
  it('finds classic bad sequences', () => {
    expect(firstInvalidUtf8(new Uint8Array([0x61, 0xc0, 0xaf]))).toBe(1); // overlong '/'
    expect(firstInvalidUtf8(new Uint8Array([0xed, 0xa0, 0x80]))).toBe(0); // a UTF-16 surrogate
    expect(firstInvalidUtf8(new Uint8Array([0xf4, 0x90, 0x80, 0x80]))).toBe(0); // past U+10FFFF
    expect(firstInvalidUtf8(new Uint8Array([0x61, 0x62, 0xe2, 0x82]))).toBe(2); // truncated €
    expect(firstInvalidUtf8(Buffer.from('ok € 😀'))).toBe(-1);
  });

  it('agrees with TextDecoder({ fatal: true }) on arbitrary bytes', () => {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const valid = (b: Uint8Array) => {
      try {
        decoder.decode(b);
        return true;
      } catch {
        return false;
      }
    };
    // Mostly-valid text with a few random bytes spliced in reaches the interesting cases.
    const bytes = fc
      .tuple(fc.string({ unit: 'binary', maxLength: 20 }), fc.uint8Array({ maxLength: 4 }), fc.nat(20))
      .map(([s, junk, at]) => {
        const b = Buffer.from(s);
        const i = Math.min(at, b.length);
        return new Uint8Array([...b.subarray(0, i), ...junk, ...b.subarray(i)]);
      });
    fc.assert(
      fc.property(bytes, (b) => {
        const at = firstInvalidUtf8(b);
        expect(at === -1).toBe(valid(b));
        if (at >= 0) expect(valid(b.subarray(0, at))).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('Rng', () => {
  it('is xoshiro128** (reference outputs for state 1, 2, 3, 4)', () => {
    const rng = Rng.fromState({ algorithm: 'xoshiro128**', s: [1, 2, 3, 4] });
    const out = Array.from({ length: 10 }, () => rng.nextUint32());
    expect(out).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804]);
  });

  it('is deterministic per seed and resumes exactly from a JSON state', () => {
    const draw = (r: Rng) => [r.nextUint32(), r.int(1000), r.float(), r.normal()];
    expect(draw(new Rng(42))).toEqual(draw(new Rng(42)));
    expect(draw(new Rng(42))).not.toEqual(draw(new Rng(43)));
    expect(new Rng(2 ** 40).nextUint32()).not.toBe(new Rng(0).nextUint32()); // the high seed bits count

    const a = new Rng(7);
    for (let i = 0; i < 100; i++) a.nextUint32();
    const saved = JSON.stringify(a.state());
    const rest = Array.from({ length: 50 }, () => draw(a));
    const b = Rng.fromState(JSON.parse(saved));
    expect(Array.from({ length: 50 }, () => draw(b))).toEqual(rest);
    expect(() => Rng.fromState({ algorithm: 'xoshiro128**', s: [0, 0, 0, 0] })).toThrow();
  });

  it('draws int(n) uniformly in range and float in [0, 1)', () => {
    const rng = new Rng(1);
    const n = 7;
    const draws = 70000;
    const counts = new Array(n).fill(0);
    for (let i = 0; i < draws; i++) counts[rng.int(n)]++;
    const chi2 = counts.reduce((s, c) => s + (c - draws / n) ** 2 / (draws / n), 0);
    expect(chi2).toBeLessThan(22.5); // p = 0.001 for 6 degrees of freedom
    let lo = 1;
    let hi = 0;
    let sum = 0;
    for (let i = 0; i < 10000; i++) {
      const f = rng.float();
      lo = Math.min(lo, f);
      hi = Math.max(hi, f);
      sum += f;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    expect(Math.abs(sum / 10000 - 0.5)).toBeLessThan(0.01);
    expect(rng.int(2 ** 32)).toBeLessThan(2 ** 32);
  });
});

describe('LM batches', () => {
  const tokens = Int32Array.from(CharTokenizer.fromText(shakespeare).encode(shakespeare.slice(0, 5000)));

  it('samples windows of the corpus with targets shifted by one, nanoGPT style', () => {
    const B = 4;
    const L = 16;
    const rng = new Rng(3);
    const replay = Rng.fromState(rng.state());
    const { inputs, targets, batch, length, mask } = sampleBatch(tokens, B, L, rng);
    expect([batch, length, inputs.length, targets!.length, mask]).toEqual([B, L, B * L, B * L, undefined]);
    for (let b = 0; b < B; b++) {
      const start = replay.int(tokens.length - L); // nanoGPT: torch.randint(len(data) - block_size)
      expect(Array.from(inputs.subarray(b * L, (b + 1) * L))).toEqual(Array.from(tokens.subarray(start, start + L)));
      expect(Array.from(targets!.subarray(b * L, (b + 1) * L))).toEqual(Array.from(tokens.subarray(start + 1, start + L + 1)));
    }
    expect(() => sampleBatch(tokens.subarray(0, 16), 1, 16, rng)).toThrow(DataError);
    expect(sampleBatch(tokens.subarray(0, 17), 1, 16, new Rng(0)).inputs[0]).toBe(tokens[0]);
  });

  it('evaluates on fixed non-overlapping windows, padding the last batch with mask 0', () => {
    const L = 10;
    const data = tokens.subarray(0, 101); // 10 windows
    expect(windowCount(data.length, L)).toBe(10);
    const batches = evalBatches(data, 4, L);
    expect(batches.length).toBe(3);
    expect(batches.slice(0, 2).every((b) => b.mask === undefined)).toBe(true);
    const last = batches[2]!;
    expect(Array.from(last.mask!)).toEqual([...new Array(2 * L).fill(1), ...new Array(2 * L).fill(0)]);
    // The counted targets tile data[1..100] exactly once, in order.
    const counted: number[] = [];
    for (const b of batches) b.targets!.forEach((t, i) => (b.mask === undefined || b.mask[i] === 1) && counted.push(t));
    expect(counted).toEqual(Array.from(data.subarray(1)));
    expect(evalBatches(data, 4, L)).toEqual(batches);

    const spread = evalBatches(data, 2, L, 1); // 2 of 10 windows: starts 0 and 50
    expect(spread.length).toBe(1);
    expect(spread[0]!.inputs[L]).toBe(data[50]);
  });
});

describe('openData', () => {
  it('opens a text file and a task behind the same interface', () => {
    const text = openData(SHAKESPEARE, { tokenizer: 'char', contextLength: 64, readFile: readRegularFile });
    expect(text.kind).toBe('text');
    expect(text.vocabSize).toBe(65);
    expect(text.trainBatch(new Rng(0), 2, 64).inputs.length).toBe(128);
    expect(text.evalBatches(8, 64, 2).length).toBe(2);
    expect(text.idealLoss).toBeUndefined();

    const task = openData('task:add:modulus=97');
    expect(task.kind).toBe('task');
    expect(task.vocabSize).toBe(100);
    expect(task.evalBatches(4, 24)).toEqual(task.evalBatches(4, 24));
    expect(task.idealLoss!(24)).toBe(0);
  });
});
