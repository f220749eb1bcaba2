// What a training run decides from its model and data before compiling (src/session/train-setup.ts),
// shared by `arch train` and the playground: V from the data, the data's vocabulary against V,
// the length a task trains at, and the symbols of a step.
import { describe, expect, it } from 'vitest';
import { lower } from '../src/compiler/lower.js';
import { openData } from '../src/data/index.js';
import { inputRoles } from '../src/session/model-io.js';
import { checkClasses, dimsFromData, trainLength, trainSymbols } from '../src/session/train-setup.js';
import { UsageError } from '../src/session/errors.js';
import { compileModel } from './model-helpers.js';

const NANO = 'models/gpt-nano.arch';
const TINY = { D: 16, N: 1 };

function setup(sets: Record<string, string | number>) {
  const model = compileModel(NANO, sets);
  const lowered = lower(model, { training: true });
  return { model, lowered, roles: inputRoles(lowered) };
}

describe('training setup', () => {
  const data = openData('task:reverse');

  it('sets V from the data where the model declares another, with a note; a --set V wins', () => {
    const sets = new Map<string, string>([['D', '16']]);
    const notes = dimsFromData(compileModel(NANO, TINY), data, sets);
    expect(sets.get('V')).toBe(String(data.vocabSize));
    expect(notes).toEqual([expect.stringMatching(new RegExp(`^V = ${data.vocabSize} \\(from the data's vocabulary; the model declares \\d+\\)$`))]);
    const mine = new Map([['V', '99']]);
    expect(dimsFromData(compileModel(NANO, TINY), data, mine)).toEqual([]);
    expect(mine.get('V')).toBe('99');
  });

  it('refuses data with more tokens than V, naming the --set that fits', () => {
    const { model, lowered, roles } = setup({ ...TINY, V: 4 });
    expect(() => checkClasses(model, lowered, roles, data)).toThrow(UsageError);
    expect(() => checkClasses(model, lowered, roles, data)).toThrow(`the data has ${data.vocabSize} distinct tokens, but tokens_BLV's V is 4\n  hint: --set V=${data.vocabSize}`);
    const ok = setup({ ...TINY, V: data.vocabSize });
    expect(() => checkClasses(ok.model, ok.lowered, ok.roles, data)).not.toThrow();
  });

  it("trains a task at its own length within the model's context, and refuses a context too short", () => {
    const { model, lowered, roles } = setup({ ...TINY, V: data.vocabSize });
    const L = trainLength(model, lowered, roles, data, NANO);
    expect(L).toBe(Math.min(64, Math.max(data.task!.contextLength, data.task!.minContextLength)));
    const symbols = trainSymbols(lowered, roles, data, 3, L);
    const tokens = roles.find((r) => r.role === 'tokens')!;
    expect(symbols[tokens.symbols[0]!]).toBe(3);
    expect(symbols[tokens.symbols[1]!]).toBe(L);
    const short = setup({ ...TINY, V: data.vocabSize, L: 1 });
    expect(() => trainLength(short.model, short.lowered, short.roles, data, NANO)).toThrow(/^task:reverse needs a context of at least \d+ positions; the model's is 1\n {2}hint: --set L=\d+$/);
  });
});
