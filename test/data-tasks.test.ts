// Synthetic tasks: layouts, answers, and ideal losses checked against the entropy of samples.
import { describe, expect, it } from 'vitest';
import { DataError, Rng, TASK_NAMES, describeTasks, getTask, taskFromSpec, type Batch, type Task } from '../src/data/index.js';

const row = (a: Int32Array | Float32Array, b: number, L: number): number[] => Array.from(a.subarray(b * L, (b + 1) * L));

/** Plug-in estimate of the mean over counted positions of H(target | all the model sees before it),
 *  from many sampled rows: group targets by their conditioning context, take each group's entropy. */
function empiricalConditionalEntropy(task: Task, L: number, rows: number): number {
  const groups = new Map<string, Map<number, number>>();
  const add = (key: string, target: number, weight: number) => {
    if (weight === 0) return;
    const g = groups.get(key) ?? new Map<number, number>();
    g.set(target, (g.get(target) ?? 0) + weight);
    groups.set(key, g);
  };
  const rng = new Rng(99);
  for (let done = 0; done < rows; done += 500) {
    const batch = task.sample(rng, 500, L);
    for (let b = 0; b < batch.batch; b++) {
      const inputs = row(batch.inputs, b, L);
      if (task.kind === 'classify') {
        add(inputs.join(','), batch.labels![b]!, 1);
        continue;
      }
      const source = batch.source ? row(batch.source, b, batch.sourceLength!).join(',') + '/' : '';
      for (let t = 0; t < L; t++) add(`${source}${inputs.slice(0, t + 1).join(',')}`, batch.targets![b * L + t]!, batch.mask ? batch.mask[b * L + t]! : 1);
    }
  }
  let total = 0;
  let weighted = 0;
  for (const g of groups.values()) {
    const n = [...g.values()].reduce((s, c) => s + c, 0);
    let h = 0;
    for (const c of g.values()) h -= (c / n) * Math.log(c / n);
    total += n;
    weighted += n * h;
  }
  return weighted / total;
}

function expectWellFormed(task: Task, batch: Batch, B: number, L: number): void {
  expect([batch.batch, batch.length, batch.inputs.length]).toEqual([B, L, B * L]);
  const inVocab = (a: ArrayLike<number>) => Array.from(a).every((t) => t >= 0 && t < task.vocabSize);
  expect(inVocab(batch.inputs)).toBe(true);
  if (task.kind === 'classify') {
    expect(batch.labels!.length).toBe(B);
    expect(Array.from(batch.labels!).every((c) => c >= 0 && c < task.numClasses!)).toBe(true);
    expect(batch.targets).toBeUndefined();
    return;
  }
  expect(batch.targets!.length).toBe(B * L);
  expect(inVocab(batch.targets!)).toBe(true);
  expect(batch.mask!.length).toBe(B * L);
  expect(Array.from(batch.mask!).every((m) => m === 0 || m === 1)).toBe(true);
  for (let b = 0; b < B; b++) expect(row(batch.mask!, b, L).some((m) => m === 1)).toBe(true);
  if (task.kind === 'seq2seq') {
    expect(batch.sourceLength).toBe(L);
    expect(batch.source!.length).toBe(B * L);
    expect(inVocab(batch.source!)).toBe(true);
  } else {
    // LM rows are one stream: the input at t+1 is the target at t.
    for (let b = 0; b < B; b++) expect(row(batch.inputs, b, L).slice(1)).toEqual(row(batch.targets!, b, L).slice(0, -1));
  }
}

describe('every task', () => {
  it.each(TASK_NAMES)('%s: batches are well-formed at its default length and others', (name) => {
    const task = getTask(name);
    expect(task.vocab.length).toBe(task.vocabSize);
    expect(task.tokenizer.vocabSize).toBe(task.vocabSize);
    for (const L of [task.contextLength, task.minContextLength, task.minContextLength + 5]) {
      expectWellFormed(task, task.sample(new Rng(L), 6, L), 6, L);
    }
    expect(() => task.sample(new Rng(0), 2, task.minContextLength - 1)).toThrow(DataError);
  });

  it.each(TASK_NAMES)('%s: examples are graded right, wrong answers are not', (name) => {
    const task = getTask(name);
    const rng = new Rng(5);
    for (let i = 0; i < 50; i++) {
      const { prompt, answer } = task.example(rng);
      expect(answer.length).toBeGreaterThan(0);
      expect(task.check(prompt, answer)).toBe(true);
      expect(task.check(prompt, [...answer, 0])).toBe(true); // extra generated tokens are ignored
      expect(task.check(prompt, answer.slice(0, -1))).toBe(false);
      const wrong = [...answer];
      wrong[i % wrong.length] = (wrong[i % wrong.length]! + 1) % (task.numClasses ?? task.vocabSize);
      expect(task.check(prompt, wrong)).toBe(false);
      // format and the task tokenizer agree, so printed prompts can be typed back in
      expect(task.tokenizer.encode(task.format(prompt))).toEqual(prompt);
    }
    expect(task.solve([task.vocabSize])).toBeNull();
  });

  it.each(TASK_NAMES)('%s: samples replay exactly from a saved RNG state', (name) => {
    const task = getTask(name);
    const rng = new Rng(11);
    task.sample(rng, 3, task.contextLength);
    const saved = JSON.parse(JSON.stringify(rng.state()));
    const next = task.sample(rng, 3, task.contextLength);
    expect(task.sample(Rng.fromState(saved), 3, task.contextLength)).toEqual(next);
  });

  // Small vocabularies and lengths so each conditioning context recurs often enough to count.
  const small: [string, number][] = [
    ['copy:symbols=2', 6],
    ['copy:symbols=3', 7],
    ['reverse:symbols=3', 6],
    ['sort:symbols=3', 8],
    ['add:modulus=5', 9],
    ['induction:symbols=3', 6],
    ['induction:symbols=2', 5],
    ['induction:symbols=4', 4],
    ['classify:classes=2', 4],
    ['classify:classes=3', 5],
    ['seq2seq:symbols=3', 3],
  ];
  it.each(small)('%s (L=%i): idealLoss matches the empirical conditional entropy', (spec, L) => {
    const task = taskFromSpec(spec);
    const empirical = empiricalConditionalEntropy(task, L, 40000);
    expect(Math.abs(empirical - task.idealLoss(L))).toBeLessThan(0.01);
  });
});

describe('task layouts', () => {
  it('copy / reverse / sort: x | f(x), only the answer counts, odd L padded', () => {
    const rng = new Rng(1);
    for (const [name, f] of [
      ['copy', (x: number[]) => x],
      ['reverse', (x: number[]) => [...x].reverse()],
      ['sort', (x: number[]) => [...x].sort((a, b) => a - b)],
    ] as const) {
      const task = getTask(name);
      const b = task.sample(rng, 3, 9); // k = 4: x x x x | a a a a .
      for (let i = 0; i < 3; i++) {
        const inputs = row(b.inputs, i, 9);
        const x = inputs.slice(0, 4);
        expect(x.every((t) => t < 10)).toBe(true);
        expect(task.format(inputs.slice(4, 5))).toBe('|');
        expect(row(b.targets!, i, 9).slice(4, 8)).toEqual(f(x));
        expect(task.format(row(b.targets!, i, 9).slice(8))).toBe('.');
        expect(row(b.mask!, i, 9)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 0]);
      }
      expect(task.idealLoss(9)).toBe(0);
    }
    const copy = getTask('copy');
    expect(copy.solve(copy.tokenizer.encode('3141|'))).toEqual(copy.tokenizer.encode('3141'));
    expect(getTask('sort').solve(copy.tokenizer.encode('3141|'))).toEqual(copy.tokenizer.encode('1134'));
    expect(copy.solve(copy.tokenizer.encode('3141'))).toBeNull();
  });

  it('add: packed a + b = c problems, only c counts', () => {
    const task = taskFromSpec('add:modulus=97');
    expect(task.vocabSize).toBe(100);
    const b = task.sample(new Rng(2), 2, 24);
    for (let i = 0; i < 2; i++) {
      const inputs = row(b.inputs, i, 24);
      const targets = row(b.targets!, i, 24);
      for (let p = 0; p < 5; p++) {
        const [a, plus, c, eq] = inputs.slice(5 * p, 5 * p + 4) as [number, number, number, number];
        expect(task.format([plus, eq])).toBe('+ =');
        expect(targets[5 * p + 3]).toBe((a + c) % 97);
      }
      expect(row(b.mask!, i, 24)).toEqual([0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    }
    expect(task.format(task.tokenizer.encode('12 + 90 ='))).toBe('12 + 90 =');
    expect(task.solve(task.tokenizer.encode('1 + 1 = 2 12 + 90 ='))).toEqual([5]);
    expect(task.check(task.tokenizer.encode('40 + 60 ='), task.tokenizer.encode('3'))).toBe(true);
  });

  it('induction: the second half repeats the first, every position counts', () => {
    const task = getTask('induction');
    const b = task.sample(new Rng(3), 2, 32);
    for (let i = 0; i < 2; i++) {
      const stream = [...row(b.inputs, i, 32), b.targets![i * 32 + 31]]; // 33 tokens, k = 17
      expect(stream.slice(17)).toEqual(stream.slice(0, 16));
    }
    expect(Array.from(b.mask!).every((m) => m === 1)).toBe(true);
    expect(task.idealLoss(32)).toBeCloseTo(Math.log(26) / 2, 12);
    expect(task.solve(task.tokenizer.encode('abcda'))).toEqual(task.tokenizer.encode('bcd'));
  });

  it('classify: inputs [B, L] and labels [B], the most frequent letter, no ties', () => {
    const task = getTask('classify');
    expect(task.numClasses).toBe(3);
    const B = 200;
    const b = task.sample(new Rng(4), B, 16);
    const seen = [0, 0, 0];
    for (let i = 0; i < B; i++) {
      const counts = [0, 0, 0];
      row(b.inputs, i, 16).forEach((t) => counts[t]!++);
      const label = b.labels![i]!;
      seen[label]!++;
      expect(counts.filter((_, j) => j !== label).every((c) => c < counts[label]!)).toBe(true);
    }
    expect(Math.min(...seen)).toBeGreaterThan(40); // every class is drawn
    expect(task.solve(task.tokenizer.encode('abab'))).toBeNull(); // a tie has no answer
  });

  it('seq2seq: source [B, S], decoder inputs BOS + answer[:-1], targets the reversed source', () => {
    const task = getTask('seq2seq');
    const b = task.sample(new Rng(5), 3, 8);
    for (let i = 0; i < 3; i++) {
      const reversed = row(b.source!, i, 8).reverse();
      expect(row(b.targets!, i, 8)).toEqual(reversed);
      expect(task.format(row(b.inputs, i, 8))).toBe('^' + task.format(reversed.slice(0, 7)));
    }
  });
});

describe('task registry', () => {
  it('explains unknown tasks and options', () => {
    expect(() => getTask('copyy')).toThrow(/no task named "copyy"[\s\S]*copy, reverse, sort, add, induction, classify, seq2seq/);
    expect(() => taskFromSpec('add:p=7')).toThrow(/has no option "p"[\s\S]*modulus/);
    expect(() => taskFromSpec('copy:symbols=11')).toThrow(/symbols=11 is not an integer in 2..10/);
    expect(() => taskFromSpec('copy:symbols')).toThrow(/task:NAME:key=value/);
    expect(describeTasks().length).toBe(TASK_NAMES.length);
  });
});
