// The metadata of a checkpoint written by `arch train`, read back field by field. Each field is
// parsed and type-checked here, before any command uses it, so a broken one is blamed on the
// checkpoint by name (exit 1) instead of surfacing later as a bad --set flag, a data error or a
// crash inside a training step.
import { CheckpointError } from '../safetensors.js';
import { Rng, isTaskSpec, taskFromSpec, tokenizerFromJSON } from '../../data/index.js';
import type { CheckpointMeta } from './checkpoint.js';

export const CHECKPOINT_FORMAT = 'arch-checkpoint';
export const CHECKPOINT_VERSION = '1';

const HINT = 'the checkpoint was edited or damaged; use another checkpoint of the run, or train again';

type Check = (v: unknown) => boolean;
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const wholeAtLeast = (min: number): Check => (v) => Number.isSafeInteger(v) && (v as number) >= min;
const atLeast0: Check = (v) => isNumber(v) && v >= 0;
const oneOf = (...xs: string[]): Check => (v) => typeof v === 'string' && xs.includes(v);
const nonEmpty: Check = (v) => typeof v === 'string' && v !== '';

/** The training flags `arch train` saves in "options", each with what it must be. */
const OPTIONS: Record<string, [Check, string]> = {
  data: [nonEmpty, 'a data path or task:NAME'],
  tokenizer: [oneOf('char', 'gpt2'), '"char" or "gpt2"'],
  batch: [wholeAtLeast(1), 'a whole number >= 1'],
  seed: [Number.isSafeInteger as Check, 'a whole number'],
  lr: [(v) => isNumber(v) && v > 0, 'a positive number'],
  schedule: [oneOf('cosine', 'constant'), '"cosine" or "constant"'],
  warmup: [wholeAtLeast(0), 'a whole number >= 0'],
  minLr: [atLeast0, 'a number >= 0'],
  weightDecay: [atLeast0, 'a number >= 0'],
  gradClip: [atLeast0, 'a number >= 0'],
  accum: [wholeAtLeast(1), 'a whole number >= 1'],
  evalEvery: [wholeAtLeast(0), 'a whole number >= 0'],
  evalBatches: [wholeAtLeast(1), 'a whole number >= 1'],
  backend: [nonEmpty, 'a backend name'],
};

/** The training state in `md`, or null for a plain weights file (one not written by arch train). */
export function parseCheckpointMeta(file: string, md: Record<string, string>): CheckpointMeta | null {
  if (md.format !== CHECKPOINT_FORMAT) return null;
  if (md.version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(file, `checkpoint version ${JSON.stringify(md.version ?? null)}; this arch reads version ${CHECKPOINT_VERSION}`, 'train again with this version of arch');
  }
  const bad = (field: string, problem: string): never => {
    throw new CheckpointError(file, `metadata "${field}" ${problem}`, HINT);
  };
  const text = (field: string): string => md[field] ?? bad(field, 'is missing');
  const json = (field: string): unknown => {
    try {
      return JSON.parse(text(field));
    } catch (e) {
      return bad(field, `is not valid JSON (${(e as Error).message})`);
    }
  };
  const number = (field: string, ok: Check, what: string): number => {
    const raw = text(field);
    const n = raw.trim() === '' ? NaN : Number(raw);
    return ok(n) ? n : bad(field, `is ${JSON.stringify(raw)}, not ${what}`);
  };

  const tokenizer = json('tokenizer');
  try {
    tokenizerFromJSON(tokenizer);
  } catch (e) {
    bad('tokenizer', `is not a tokenizer arch can rebuild: ${whatOf(e)}`);
  }
  const rng = json('rng');
  try {
    Rng.fromState(rng as never);
  } catch {
    bad('rng', `is not a data RNG state (expected {"algorithm":"xoshiro128**","s":[four 32-bit words, not all 0]}): ${JSON.stringify(rng)?.slice(0, 80)}`);
  }
  const data = text('data');
  if (data === '') bad('data', 'is empty');
  if (isTaskSpec(data)) {
    try {
      taskFromSpec(data.slice('task:'.length));
    } catch (e) {
      bad('data', `names a task arch does not have: ${whatOf(e)}`);
    }
  }
  const modelSource = text('model_source');
  if (modelSource.trim() === '') bad('model_source', 'is empty');
  return {
    step: number('step', wholeAtLeast(0), 'a whole number of steps'),
    elapsedS: number('elapsed_s', atLeast0, 'a number of seconds'),
    rng,
    tokenizer,
    modelFile: text('model_file'),
    modelSource,
    sets: parseSets(json('sets'), bad),
    data,
    options: parseOptions(json('options'), bad),
  };
}

function parseSets(v: unknown, bad: (field: string, problem: string) => never): Record<string, string> {
  if (!isRecord(v)) return bad('sets', 'is not an object of NAME: "VALUE" pairs');
  for (const [k, x] of Object.entries(v)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) bad('sets', `has ${JSON.stringify(k)}, which is not a dim or variant name`);
    if (typeof x !== 'string') bad('sets', `gives ${k} the value ${JSON.stringify(x)}, not a string`);
  }
  return Object.fromEntries(Object.entries(v as Record<string, string>));
}

function parseOptions(v: unknown, bad: (field: string, problem: string) => never): Record<string, unknown> {
  if (!isRecord(v)) return bad('options', 'is not an object of training flags');
  for (const [k, [ok, what]] of Object.entries(OPTIONS)) {
    if (!(k in v)) bad('options', `lacks "${k}"`);
    if (!ok(v[k])) bad('options', `has ${k} = ${JSON.stringify(v[k])}, not ${what}`);
  }
  return Object.fromEntries(Object.entries(v));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The first line of what a lower layer said, without its own `error[...]` framing. */
function whatOf(e: unknown): string {
  const parts = e as { what?: unknown; message?: unknown };
  return String(typeof parts.what === 'string' ? parts.what : parts.message ?? e).split('\n')[0]!;
}
