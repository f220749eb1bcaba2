// Synthetic tasks: data that needs no file (`--data task:NAME`), a known answer for every prompt,
// and a known floor on the loss. Three layouts (see batches.ts for the Batch fields):
//   lm        one token stream, row = L+1 tokens, inputs = row[:-1], targets = row[1:], and a mask
//             that says which targets count: only answer tokens for copy/reverse/sort/add, all of
//             them for induction (whose loss curve is the point)
//   classify  inputs [B, L] and labels [B]
//   seq2seq   source [B, S=L], decoder inputs [B, L] = BOS + answer[:-1], targets [B, L] = answer
// idealLoss(L) is the smallest mean cross-entropy (nats) any model can reach over the counted
// positions: the mean over counted positions of H(target | everything before it), which is ln(n)
// for a uniformly random symbol out of n and 0 for a token the prompt determines.
import type { Batch } from './batches.js';
import { DataError } from './errors.js';
import type { Rng } from './rng.js';
import { TaskTokenizer } from './tokenizer.js';

export type TaskKind = 'lm' | 'classify' | 'seq2seq';

export interface TaskExample {
  prompt: number[];
  answer: number[];
}

export interface Task {
  readonly name: string;
  readonly description: string;
  /** The row layout in one line, e.g. `x1 .. xk | x1 .. xk`. */
  readonly layout: string;
  readonly kind: TaskKind;
  readonly vocab: readonly string[];
  readonly vocabSize: number;
  readonly tokenizer: TaskTokenizer;
  /** Default L. */
  readonly contextLength: number;
  readonly minContextLength: number;
  /** classify only: labels are in [0, numClasses) and name the class's vocabulary symbol. */
  readonly numClasses?: number;
  /** The options the task was made with (e.g. { symbols: 10 }). */
  readonly options: Readonly<Record<string, number>>;
  sample(rng: Rng, batch: number, length?: number): Batch;
  idealLoss(length?: number): number;
  /** One prompt in the layout `solve` reads and its correct answer. For lm tasks the prompt is the
   *  start of a row and the answer its continuation; for classify the answer is [label]; for
   *  seq2seq the prompt is the source and the answer the target stream. */
  example(rng: Rng, length?: number): TaskExample;
  /** The correct completion of a prompt, or null when the prompt is not in the task's layout. */
  solve(prompt: ArrayLike<number>): number[] | null;
  /** Whether `completion` starts with the correct answer to `prompt`. */
  check(prompt: ArrayLike<number>, completion: ArrayLike<number>): boolean;
  /** Tokens as readable text (ids outside the vocabulary print as <id>). */
  format(tokens: ArrayLike<number>): string;
}

// ---- what each kind of task defines; the rest (batching, checks, printing) is shared ----------

interface TaskCore {
  name: string;
  description: string;
  layout: string;
  vocab: string[];
  joiner: '' | ' ';
  contextLength: number;
  minContextLength: number;
  idealLoss(L: number): number;
  solve(prompt: number[]): number[] | null;
}

interface LmCore extends TaskCore {
  /** Writes one row of L+1 tokens and the mask over its L targets (mask arrives zeroed). */
  fillRow(rng: Rng, row: Int32Array, mask: Float32Array): void;
  /** How many leading tokens of a row of L+1 make the prompt in `example`. */
  promptLength(L: number): number;
}

interface ClassifyCore extends TaskCore {
  numClasses: number;
  /** Writes L input tokens and returns the label. */
  fillRow(rng: Rng, row: Int32Array): number;
}

interface Seq2SeqCore extends TaskCore {
  bos: number;
  /** Writes the source (S = L tokens) and returns the target stream (L tokens). */
  fillSource(rng: Rng, source: Int32Array): number[];
}

function finish(core: TaskCore, kind: TaskKind, options: Record<string, number>, sampleRows: (rng: Rng, B: number, L: number) => Batch, example: (rng: Rng, L: number) => TaskExample, numClasses?: number): Task {
  const tokenizer = new TaskTokenizer(core.name, core.vocab, core.joiner);
  const checkLength = (L: number, B = 1): void => {
    if (!Number.isInteger(L) || L < core.minContextLength) {
      throw new DataError({
        what: `task ${core.name} needs a context length of at least ${core.minContextLength}, got ${L}`,
        where: `task:${core.name}`,
        hint: `use --context ${Math.max(core.minContextLength, core.contextLength)} (the task's default)`,
      });
    }
    if (!Number.isInteger(B) || B < 1) throw new Error(`task ${core.name}: batch must be a positive integer, got ${B}`);
  };
  const solve = (prompt: ArrayLike<number>): number[] | null => {
    const p = Array.from(prompt);
    return p.every((t) => Number.isInteger(t) && t >= 0 && t < core.vocab.length) ? core.solve(p) : null;
  };
  return {
    name: core.name,
    description: core.description,
    layout: core.layout,
    kind,
    vocab: core.vocab,
    vocabSize: core.vocab.length,
    tokenizer,
    contextLength: core.contextLength,
    minContextLength: core.minContextLength,
    numClasses,
    options,
    sample(rng, batch, length = core.contextLength) {
      checkLength(length, batch);
      return sampleRows(rng, batch, length);
    },
    idealLoss(length = core.contextLength) {
      checkLength(length);
      return core.idealLoss(length);
    },
    example(rng, length = core.contextLength) {
      checkLength(length);
      return example(rng, length);
    },
    solve,
    check(prompt, completion) {
      const answer = solve(prompt);
      return answer !== null && completion.length >= answer.length && answer.every((t, i) => completion[i] === t);
    },
    format(tokens) {
      return Array.from(tokens, (t) => core.vocab[t] ?? `<${t}>`).join(core.joiner);
    },
  };
}

function lmTask(core: LmCore, options: Record<string, number>): Task {
  const sampleRows = (rng: Rng, B: number, L: number): Batch => {
    const inputs = new Int32Array(B * L);
    const targets = new Int32Array(B * L);
    const mask = new Float32Array(B * L);
    const row = new Int32Array(L + 1);
    for (let b = 0; b < B; b++) {
      row.fill(0);
      core.fillRow(rng, row, mask.subarray(b * L, (b + 1) * L));
      inputs.set(row.subarray(0, L), b * L);
      targets.set(row.subarray(1), b * L);
    }
    return { batch: B, length: L, inputs, targets, mask };
  };
  const example = (rng: Rng, L: number): TaskExample => {
    const row = new Int32Array(L + 1);
    core.fillRow(rng, row, new Float32Array(L));
    const prompt = Array.from(row.subarray(0, core.promptLength(L)));
    return { prompt, answer: core.solve(prompt)! };
  };
  return finish(core, 'lm', options, sampleRows, example);
}

function classifyTask(core: ClassifyCore, options: Record<string, number>): Task {
  const sampleRows = (rng: Rng, B: number, L: number): Batch => {
    const inputs = new Int32Array(B * L);
    const labels = new Int32Array(B);
    for (let b = 0; b < B; b++) labels[b] = core.fillRow(rng, inputs.subarray(b * L, (b + 1) * L));
    return { batch: B, length: L, inputs, labels };
  };
  const example = (rng: Rng, L: number): TaskExample => {
    const row = new Int32Array(L);
    const label = core.fillRow(rng, row);
    return { prompt: Array.from(row), answer: [label] };
  };
  return finish(core, 'classify', options, sampleRows, example, core.numClasses);
}

function seq2seqTask(core: Seq2SeqCore, options: Record<string, number>): Task {
  const sampleRows = (rng: Rng, B: number, L: number): Batch => {
    const source = new Int32Array(B * L);
    const inputs = new Int32Array(B * L);
    const targets = new Int32Array(B * L);
    for (let b = 0; b < B; b++) {
      const answer = core.fillSource(rng, source.subarray(b * L, (b + 1) * L));
      inputs.set([core.bos, ...answer.slice(0, L - 1)], b * L);
      targets.set(answer, b * L);
    }
    const mask = new Float32Array(B * L).fill(1);
    return { batch: B, length: L, inputs, targets, mask, source, sourceLength: L };
  };
  const example = (rng: Rng, L: number): TaskExample => {
    const source = new Int32Array(L);
    const answer = core.fillSource(rng, source);
    return { prompt: Array.from(source), answer };
  };
  return finish(core, 'seq2seq', options, sampleRows, example);
}

// ---- the tasks ---------------------------------------------------------------------------------

const DIGITS = '0123456789'.split('');
const LETTERS = 'abcdefghijklmnopqrstuvwxyz'.split('');

const isSymbol = (n: number) => (t: number) => t < n;

function randomSymbols(rng: Rng, out: Int32Array | number[], count: number, n: number, at = 0): void {
  for (let i = 0; i < count; i++) out[at + i] = rng.int(n);
}

/** copy / reverse / sort: `x | f(x)` with k = floor(L/2) random symbols; only f(x) counts. */
function transformTask(name: string, description: string, f: (x: number[]) => number[], fName: string) {
  return (o: Record<string, number>): Task => {
    const n = o.symbols!;
    const SEP = n;
    const PAD = n + 1;
    return lmTask(
      {
        name,
        description,
        layout: `x1 .. xk | ${fName} (k = floor(L/2) random digits; one '.' pads an odd L; only the answer counts)`,
        vocab: [...DIGITS.slice(0, n), '|', '.'],
        joiner: '',
        contextLength: 16,
        minContextLength: 2,
        idealLoss: () => 0,
        promptLength: (L) => Math.floor(L / 2) + 1,
        fillRow(rng, row, mask) {
          const L = row.length - 1;
          const k = Math.floor(L / 2);
          const x: number[] = [];
          randomSymbols(rng, x, k, n);
          row.set(x, 0);
          row[k] = SEP;
          row.set(f(x), k + 1);
          row.fill(PAD, 2 * k + 1);
          mask.fill(1, k, 2 * k); // target t is row[t+1]: the answer row[k+1 .. 2k]
        },
        solve(prompt) {
          const x = prompt.slice(0, -1);
          return prompt[prompt.length - 1] === SEP && x.length > 0 && x.every(isSymbol(n)) ? f(x) : null;
        },
      },
      o,
    );
  };
}

/** add: packed problems `a + b = c` with c = (a + b) mod p, five tokens each; only c counts. */
function addTask(o: Record<string, number>): Task {
  const p = o.modulus!;
  const PLUS = p;
  const EQ = p + 1;
  const PAD = p + 2;
  return lmTask(
    {
      name: 'add',
      description: `modular addition: a + b = (a + b) mod ${p}, five tokens per problem, problems packed along the row`,
      layout: `a + b = c a + b = c ... (floor((L+1)/5) problems; '.' pads the rest; only each c counts)`,
      vocab: [...Array.from({ length: p }, (_, i) => String(i)), '+', '=', '.'],
      joiner: ' ',
      contextLength: 24,
      minContextLength: 4,
      idealLoss: () => 0,
      promptLength: () => 4,
      fillRow(rng, row, mask) {
        const problems = Math.floor(row.length / 5);
        for (let i = 0; i < problems; i++) {
          const a = rng.int(p);
          const b = rng.int(p);
          row.set([a, PLUS, b, EQ, (a + b) % p], 5 * i);
          mask[5 * i + 3] = 1; // target 5i+3 is row[5i+4] = c
        }
        row.fill(PAD, 5 * problems);
      },
      solve(prompt) {
        const [a, plus, b, eq] = prompt.slice(-4);
        return a !== undefined && b !== undefined && a < p && plus === PLUS && b < p && eq === EQ ? [(a + b) % p] : null;
      },
    },
    o,
  );
}

/** induction: k = ceil((L+1)/2) random symbols, then the same symbols again; every target counts,
 *  the first k-1 are unpredictable (ln n each), the L-k+1 repeats are determined. */
function inductionTask(o: Record<string, number>): Task {
  const n = o.symbols!;
  return lmTask(
    {
      name: 'induction',
      description: `a random sequence of ${n} letters, then the same sequence again: an induction head predicts the second half`,
      layout: `x1 .. xk x1 .. x(L+1-k) (k = ceil((L+1)/2); every position counts)`,
      vocab: LETTERS.slice(0, n),
      joiner: '',
      contextLength: 32,
      minContextLength: 2,
      idealLoss: (L) => ((Math.ceil((L + 1) / 2) - 1) * Math.log(n)) / L,
      promptLength: (L) => Math.ceil((L + 1) / 2) + 1,
      fillRow(rng, row, mask) {
        const k = Math.ceil(row.length / 2);
        randomSymbols(rng, row, k, n);
        for (let j = k; j < row.length; j++) row[j] = row[j - k]!;
        mask.fill(1);
      },
      // The prompt is x followed by x1, the cue that the repeat has begun; the answer is x2 .. xk.
      solve(prompt) {
        return prompt.length >= 3 && prompt[prompt.length - 1] === prompt[0] ? prompt.slice(1, -1) : null;
      },
    },
    o,
  );
}

function counts(tokens: ArrayLike<number>, n: number): number[] {
  const c = new Array<number>(n).fill(0);
  for (let i = 0; i < tokens.length; i++) c[tokens[i]!]!++;
  return c;
}

/** The symbol that occurs most often, or -1 on a tie for the most. */
function majority(tokens: ArrayLike<number>, n: number): number {
  const c = counts(tokens, n);
  const top = Math.max(...c);
  return c.indexOf(top) === c.lastIndexOf(top) ? c.indexOf(top) : -1;
}

/** classify: L random letters out of C; the label is the letter that occurs most. Rows with a tie
 *  for the most are redrawn, so the label is a function of the input and the ideal loss is 0. */
function classifyMajority(o: Record<string, number>): Task {
  const C = o.classes!;
  return classifyTask(
    {
      name: 'classify',
      description: `sequence classification: which of ${C} letters occurs most often (ties never drawn)`,
      layout: `inputs x1 .. xL, label = the most frequent letter's index`,
      vocab: LETTERS.slice(0, C),
      joiner: '',
      contextLength: 16,
      minContextLength: 1,
      numClasses: C,
      idealLoss: () => 0,
      fillRow(rng, row) {
        for (;;) {
          randomSymbols(rng, row, row.length, C);
          const label = majority(row, C);
          if (label >= 0) return label;
        }
      },
      solve(prompt) {
        if (prompt.length === 0 || !prompt.every(isSymbol(C))) return null;
        const label = majority(prompt, C);
        return label >= 0 ? [label] : null;
      },
    },
    o,
  );
}

/** seq2seq: the encoder reads L random digits, the decoder writes them reversed after a BOS. */
function seq2seqReverse(o: Record<string, number>): Task {
  const n = o.symbols!;
  const BOS = n;
  return seq2seqTask(
    {
      name: 'seq2seq',
      description: `encoder-decoder reversal: the source is L random digits below ${n}, the target the same digits reversed`,
      layout: `source x1 .. xL; decoder inputs ^ xL .. x2; targets xL .. x1 (all count)`,
      vocab: [...DIGITS.slice(0, n), '^'],
      joiner: '',
      contextLength: 8,
      minContextLength: 1,
      bos: BOS,
      idealLoss: () => 0,
      fillSource(rng, source) {
        randomSymbols(rng, source, source.length, n);
        return Array.from(source).reverse();
      },
      solve(prompt) {
        return prompt.length > 0 && prompt.every(isSymbol(n)) ? [...prompt].reverse() : null;
      },
    },
    o,
  );
}

// ---- the registry ------------------------------------------------------------------------------

interface OptionSpec {
  default: number;
  min: number;
  max: number;
  doc: string;
}

interface TaskDef {
  summary: string;
  options: Record<string, OptionSpec>;
  /** `options` holds every key of `options` above: getTask fills the ones not given. */
  make(options: Record<string, number>): Task;
}

const digitSymbols: OptionSpec = { default: 10, min: 2, max: 10, doc: 'how many digit symbols (0..n-1)' };

const TASKS: Record<string, TaskDef> = {
  copy: {
    summary: 'repeat k random digits after a separator',
    options: { symbols: digitSymbols },
    make: transformTask('copy', 'copy: repeat k random digits after the separator', (x) => x, 'x1 .. xk'),
  },
  reverse: {
    summary: 'write k random digits backwards after a separator',
    options: { symbols: digitSymbols },
    make: transformTask('reverse', 'reverse: write k random digits backwards after the separator', (x) => [...x].reverse(), 'xk .. x1'),
  },
  sort: {
    summary: 'write k random digits in ascending order after a separator',
    options: { symbols: digitSymbols },
    make: transformTask('sort', 'sort: write k random digits in ascending order after the separator', (x) => [...x].sort((a, b) => a - b), 'sorted(x)'),
  },
  add: {
    summary: 'modular addition a + b = (a + b) mod p',
    options: { modulus: { default: 23, min: 2, max: 1000, doc: 'the modulus p' } },
    make: addTask,
  },
  induction: {
    summary: 'a random sequence repeated: the second half is predictable',
    options: { symbols: { default: 26, min: 2, max: 26, doc: 'how many letter symbols' } },
    make: inductionTask,
  },
  classify: {
    summary: 'which letter occurs most often (classification)',
    options: { classes: { default: 3, min: 2, max: 26, doc: 'how many letters (= classes)' } },
    make: classifyMajority,
  },
  seq2seq: {
    summary: 'reverse digits with separate source and target streams (encoder-decoder)',
    options: { symbols: digitSymbols },
    make: seq2seqReverse,
  },
};

export const TASK_NAMES: readonly string[] = Object.keys(TASKS);

/** One line per task: `name  summary  [options]`, for help text. */
export function describeTasks(): string[] {
  return TASK_NAMES.map((name) => {
    const opts = Object.entries(TASKS[name]!.options).map(([k, s]) => `${k}=${s.default} (${s.doc}, ${s.min}..${s.max})`);
    return `${name.padEnd(10)} ${TASKS[name]!.summary}; options: ${opts.join(', ')}`;
  });
}

/** A task by name, with numeric options filled from their defaults. */
export function getTask(name: string, options: Record<string, number> = {}): Task {
  const def = TASKS[name];
  if (!def) {
    throw new DataError({
      what: `no task named "${name}"`,
      where: `task:${name}`,
      hint: `the tasks are ${TASK_NAMES.join(', ')}`,
    });
  }
  const resolved: Record<string, number> = {};
  for (const [key, spec] of Object.entries(def.options)) resolved[key] = options[key] ?? spec.default;
  for (const [key, value] of Object.entries(options)) {
    const spec = def.options[key];
    if (!spec) {
      throw new DataError({
        what: `task ${name} has no option "${key}"`,
        where: `task:${name}`,
        hint: `its options are ${Object.keys(def.options).join(', ')}`,
      });
    }
    if (!Number.isInteger(value) || value < spec.min || value > spec.max) {
      throw new DataError({
        what: `task ${name}: ${key}=${value} is not an integer in ${spec.min}..${spec.max}`,
        where: `task:${name}`,
        hint: `${key} is ${spec.doc}; its default is ${spec.default}`,
      });
    }
  }
  return def.make(resolved);
}

/** Parses the text after `task:`: `NAME` or `NAME:key=value,key=value`, e.g. `add:modulus=97`. */
export function taskFromSpec(spec: string): Task {
  const [name, rest] = spec.split(/:(.*)/s, 2);
  const options: Record<string, number> = {};
  for (const part of rest ? rest.split(',') : []) {
    const m = /^\s*(\w+)\s*=\s*(-?\d+)\s*$/.exec(part);
    if (!m) {
      throw new DataError({
        what: `cannot read task option "${part}"`,
        where: `task:${spec}`,
        hint: `write options as task:NAME:key=value,key=value (for example task:add:modulus=97)`,
      });
    }
    options[m[1]!] = Number(m[2]);
  }
  return getTask(name!, options);
}
