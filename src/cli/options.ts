// Numeric flags, for every command: one rule per kind of value (a count with a sane maximum, a
// seed, a rate, a finite number in a range), so each flag is checked the same way and a bad value
// is quoted as the user typed it, never as NaN, null or Infinity.
import { fmtInt, UsageError, type ParsedArgs } from './args.js';

export interface NumberRule {
  /** A whole number (and so a safe integer). */
  whole?: boolean;
  /** Inclusive bounds. */
  min?: number;
  max?: number;
  /** Exclusive bounds. */
  above?: number;
  below?: number;
}

/** The largest values the flags accept: far beyond any real run, small enough that no count
 *  turns into an allocation or a loop that cannot end. */
export const FLAG_MAX = {
  /** optimizer steps, warmup, evaluation interval, profile steps and repetitions */
  steps: 1_000_000_000,
  /** sequences per batch, batches accumulated or evaluated, sequence length */
  batch: 1 << 20,
  /** tokens `arch sample` generates, examples it grades */
  tokens: 1_000_000,
  /** top-k: a vocabulary is at most a dim (2^31 - 1) */
  dim: 2 ** 31 - 1,
  /** a temperature, learning rate or clip norm beyond this is a typo */
  real: 1e6,
} as const;

/** Kinds of value, by what they mean. */
export const RULES = {
  /** a positive count: steps, batch, accum, ... */
  count: (max: number): NumberRule => ({ whole: true, min: 1, max }),
  /** a count where 0 means none or off */
  countOrZero: (max: number): NumberRule => ({ whole: true, min: 0, max }),
  /** any seed a run can be reproduced from */
  seed: { whole: true, min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER } as NumberRule,
  /** a learning rate: above 0 */
  positive: { above: 0, max: FLAG_MAX.real } as NumberRule,
  /** a weight decay, clip norm, minimum rate: 0 or more */
  nonNegative: { min: 0, max: FLAG_MAX.real } as NumberRule,
  /** a probability mass, a dropout rate */
  fraction: (o: { includeZero: boolean; includeOne: boolean }): NumberRule => ({
    ...(o.includeZero ? { min: 0 } : { above: 0 }),
    ...(o.includeOne ? { max: 1 } : { below: 1 }),
  }),
} as const;

/** "a whole number from 1 to 1,048,576", "a number above 0": what a rule accepts, in words. */
export function describeRule(r: NumberRule): string {
  const noun = r.whole ? 'a whole number' : 'a number';
  if (r.min !== undefined && r.max !== undefined) return `${noun} from ${fmtBound(r.min)} to ${fmtBound(r.max)}`;
  const lo = r.min !== undefined ? `at least ${fmtBound(r.min)}` : r.above !== undefined ? `above ${fmtBound(r.above)}` : undefined;
  const hi = r.max !== undefined ? `at most ${fmtBound(r.max)}` : r.below !== undefined ? `below ${fmtBound(r.below)}` : undefined;
  const range = [lo, hi].filter(Boolean).join(' and ');
  return range ? `${noun} ${range}` : noun;
}

const fmtBound = (x: number): string => (Number.isInteger(x) && Math.abs(x) >= 1e4 && Math.abs(x) < 1e16 ? fmtInt(x) : String(x));

/** `raw` as a number that `rule` accepts, or a UsageError quoting `--flag raw`. */
export function parseNumber(flag: string, raw: string, rule: NumberRule): number {
  const say = (why: string) => new UsageError(`--${flag} ${raw}: ${why}`);
  const n = Number(raw);
  if (raw.trim() === '' || Number.isNaN(n)) throw say(`expected ${describeRule(rule)}`);
  if (!Number.isFinite(n)) throw say(`out of range; expected ${describeRule(rule)}`);
  if (rule.whole && !Number.isInteger(n)) throw say(`expected ${describeRule(rule)}`);
  if (rule.min !== undefined && n < rule.min) throw say(`expected at least ${fmtBound(rule.min)}`);
  if (rule.above !== undefined && !(n > rule.above)) throw say(`expected a number above ${fmtBound(rule.above)}`);
  if (rule.max !== undefined && n > rule.max) throw say(`expected at most ${fmtBound(rule.max)}`);
  if (rule.below !== undefined && !(n < rule.below)) throw say(`expected a number below ${fmtBound(rule.below)}`);
  return n;
}

/** A numeric flag's value, or `fallback` when it is absent. */
export function numberFlag(args: ParsedArgs, name: string, fallback: number, rule: NumberRule): number {
  const v = args.values[name];
  return v === undefined ? fallback : parseNumber(name, String(v), rule);
}

/** `--prompt-tokens 1,2,3`: whole numbers of at least 0, each quoted as typed when it is not one
 *  (whether each is a token id of the model is for the caller, which knows the vocabulary). */
export function tokenIdsFlag(args: ParsedArgs, name: string): number[] | undefined {
  const v = args.values[name];
  if (v === undefined) return undefined;
  const parts = String(v).split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const p of parts) {
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(Number(p)))
      throw new UsageError(`--${name} ${String(v)}: ${p} is not a token id; expected whole numbers of at least 0, separated by commas (--${name} 1,2,3)`);
  }
  return parts.map(Number);
}
