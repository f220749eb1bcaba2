// A checkpoint is checked as a whole before any command uses it. A corpus of bad checkpoints is
// built here from a real one (the project's own writer, plus byte-level corruption); each goes
// through the real CLI with its exit code and the first words of its message, and the checks
// themselves are tested at unit level (loadCheckpoint, fitCheckpoint).
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initParams } from '../src/ir/index.js';
import { fitCheckpoint } from '../src/runtime/checkpoint-fit.js';
import { CheckpointError } from '../src/runtime/safetensors.js';
import { describeNonFinite } from '../src/runtime/train/checkpoint.js';
import { loadCheckpoint, readSafetensors, writeSafetensors } from '../src/host/node/safetensors-file.js';
import { paramShapes, toGpt2Names } from '../src/runtime/weights.js';
import { compileModel, lowerModel } from './model-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'arch-ckpt-check-'));
const GOOD_RUN = join(dir, 'good');
const GOOD = join(GOOD_RUN, 'checkpoint.safetensors');
const TINY = ['--set', 'D=16', '--set', 'N=1'];
const TRAIN = ['--data', 'task:reverse', ...TINY, '--backend', 'interpreter', '--schedule', 'constant'];

type Result = { code: number; err: string; out: string };

function arch(...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn('node', ['bin/arch.js', ...args]);
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000); // a hang fails, not stalls the suite
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, err, out });
    });
  });
}

/** The good checkpoint with its tensors and metadata edited, written by the project's writer. */
function edited(name: string, edit: (t: Map<string, { shape: number[]; data: Float32Array | Int32Array }>, md: Record<string, string>) => void): string {
  const st = readSafetensors(GOOD);
  const tensors = new Map([...st.tensors].map(([k, v]) => [k, { shape: [...v.shape], data: v.data.slice() }]));
  const md = { ...st.metadata };
  edit(tensors, md);
  const path = join(dir, `${name}.safetensors`);
  writeSafetensors(path, tensors, md);
  return path;
}

/** A run directory to --resume, holding an edited copy of the good run's checkpoint. */
function runDir(name: string, edit: Parameters<typeof edited>[1]): string {
  const d = join(dir, `run-${name}`);
  mkdirSync(d);
  copyFileSync(join(GOOD_RUN, 'metrics.jsonl'), join(d, 'metrics.jsonl'));
  copyFileSync(edited(`resume-${name}`, edit), join(d, 'checkpoint.safetensors'));
  return d;
}

/** A file of raw bytes: the good checkpoint cut or patched, or a safetensors image built by hand. */
function bytesFile(name: string, bytes: Uint8Array): string {
  const path = join(dir, `${name}.safetensors`);
  writeFileSync(path, bytes);
  return path;
}

function image(header: unknown, data: Uint8Array): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

function caught(fn: () => unknown): CheckpointError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}

beforeAll(async () => {
  const r = await arch('train', 'models/gpt-nano.arch', ...TRAIN, '--steps', '2', '--eval-every', '2', '--out', GOOD_RUN);
  expect(r.code, r.err).toBe(0);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const nanWte = (t: Map<string, { data: Float32Array | Int32Array }>) => {
  const w = t.get('wte')!.data;
  w[0] = NaN;
  w[3] = NaN;
  w[9] = NaN;
};

describe('a bad checkpoint through the CLI: exit 1, blamed on the checkpoint by name', () => {
  // [what, the command's arguments (built once the good checkpoint exists), exit code, first words after "checkpoint PATH: "]
  const cases: [string, () => { args: string[]; file: string }, number, string, (() => void)?][] = [
    ['sets metadata that is not JSON', () => sample(edited('sets-json', (_, md) => (md.sets = '{D:'))), 1, 'metadata "sets" is not valid JSON'],
    // today: reported as the user's --set flag (error[invocation] --set D=abc)
    ['sets metadata with a bad dim value', () => sample(edited('sets-dim', (_, md) => (md.sets = '{"D":"abc","N":"1","V":"12"}'))), 1, 'its --set values (metadata "sets": D=abc, N=1, V=12) do not fit models/gpt-nano.arch: --set D=abc'],
    // today: exit 70, "internal error: tokenizer vocabulary has duplicate entries"
    ['a tokenizer with duplicate entries', () => sample(edited('tok-dup', (_, md) => (md.tokenizer = '{"kind":"char","chars":["a","a"]}'))), 1, 'metadata "tokenizer" is not a tokenizer arch can rebuild: tokenizer vocabulary has duplicate entries'],
    // today: exit 2, a data error
    ['a tokenizer of an unknown kind', () => sample(edited('tok-kind', (_, md) => (md.tokenizer = '{"kind":"bogus"}'))), 1, 'metadata "tokenizer" is not a tokenizer arch can rebuild: not a saved tokenizer'],
    ['a tokenizer larger than the model\'s vocabulary', () => sample(edited('tok-big', (_, md) => (md.tokenizer = JSON.stringify({ kind: 'char', chars: [...'abcdefghijklm'] })))), 1, 'its tokenizer has 13 tokens, more than the model\'s 12'],
    ['a task arch does not have', () => sample(edited('task', (_, md) => (md.data = 'task:nonesuch'))), 1, 'metadata "data" names a task arch does not have: no task named "nonesuch"'],
    ['a negative step', () => sample(edited('step', (_, md) => (md.step = '-3'))), 1, 'metadata "step" is "-3", not a whole number of steps'],
    // today: exit 0, answers of NaN weights
    ['NaN weights', () => sample(edited('nan', nanWte)), 1, 'holds values that are not finite numbers:\n    wte: 3 of 192 values are NaN'],
    ['integers where weights belong', () => sample(edited('ints', (t) => (t.get('wpe')!.data = Int32Array.from(t.get('wpe')!.data)))), 1, 'holds integers where weights must be floats:\n    wpe: I32 integers'],
    // the same number of elements, transposed: a different matrix
    ['a transposed tensor', () => sample(edited('transposed', (t) => {
      t.get('wte')!.shape.reverse();
      for (const k of t.keys()) if (k.startsWith('optimizer.')) t.delete(k);
    })), 1, 'the checkpoint (arch names) does not match the model: 1 mismatch:\n    wte: the model needs [12, 16], the file has [16, 12] (transposed)'],
    ['a --set that differs from the checkpoint', () => sample(GOOD, ['--set', 'D=32']), 1, 'the checkpoint (arch names) does not match the model: the checkpoint was trained with D=16; the model has D=32 (20 mismatches):'],
    ['a truncated file', () => sample(bytesFile('cut', readFileSync(GOOD).subarray(0, readFileSync(GOOD).length - 100))), 1, 'tensor "'],
    ['a header length larger than the file', () => {
      const b = Uint8Array.from(readFileSync(GOOD));
      new DataView(b.buffer).setBigUint64(0, BigInt(b.length), true);
      return sample(bytesFile('header-len', b));
    }, 1, 'header length '],
    ['a header that is not JSON', () => {
      const b = Uint8Array.from(readFileSync(GOOD));
      b[8] = 'x'.charCodeAt(0);
      return sample(bytesFile('header-json', b));
    }, 1, 'header is not valid JSON'],
    ['offsets past the data', () => sample(bytesFile('offsets', image({ wte: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8)))), 1, 'tensor "wte" ends at data byte 16 but the data section has only 8 bytes'],
    ['overlapping tensors', () => sample(bytesFile('overlap', image({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)))), 1, 'tensors "a" [0, 8] and "b" [4, 12] overlap'],
    ['a directory', () => sample(dir), 1, 'is a directory, not a file'],
    ['/dev/zero', () => sample('/dev/zero'), 1, 'is a character device, not a regular file'],
    // today: reads forever (a FIFO nobody writes to)
    ['a FIFO', () => {
      const fifo = join(dir, 'fifo.safetensors');
      if (!existsSync(fifo)) spawnSync('mkfifo', [fifo]);
      return sample(fifo);
    }, 1, 'is a FIFO (named pipe), not a regular file'],
    ['eval of NaN weights', () => command('eval', edited('eval-nan', nanWte), ['--tokens', tokens()]), 1, 'holds values that are not finite numbers'],
    ['attention with a broken tokenizer', () => command('attention', edited('attn-tok', (_, md) => (md.tokenizer = '{"kind":"task"}')), ['--prompt', '12', '--out', join(dir, 'a.svg')]), 1, 'metadata "tokenizer" is not a tokenizer arch can rebuild'],
    // today: exit 70, "internal error: not a saved Rng state"
    ['--resume with a broken RNG state', () => resume(runDir('rng', (_, md) => (md.rng = '{"algorithm":"x"}'))), 1, 'metadata "rng" is not a data RNG state'],
    // today: the --data flag is asked for (exit 2)
    ['--resume with broken options', () => resume(runDir('options', (_, md) => (md.options = '{"batch":"abc"}'))), 1, 'metadata "options" lacks "data"'],
    // today: a crash inside the first training step
    ['--resume with optimizer moments missing', () => resume(runDir('moments', (t) => t.delete('optimizer.m.wte'))), 1, 'its optimizer state does not fit its weights:\n    optimizer.m.wte is missing'],
    ['--resume whose weights do not fit the model it records', () => resume(runDir('recorded', (t) => {
      for (const k of ['wpe', 'optimizer.m.wpe', 'optimizer.v.wpe']) t.set(k, { shape: [32, 16], data: new Float32Array(512) });
    })), 1, 'its weights do not fit the model it records (metadata "model_source" and "sets"): its tensors have L=32; the model has L=64 (1 mismatch):'],
    ['--init-from NaN weights', () => command('train', edited('init-nan', nanWte), [...TRAIN, '--steps', '1', '--out', join(dir, 'init-nan-run')], '--init-from'), 1, 'holds values that are not finite numbers', () => expect(existsSync(join(dir, 'init-nan-run'))).toBe(false)],
  ];

  function command(cmd: string, file: string, rest: string[] = [], flag = '--weights') {
    return { args: [cmd, 'models/gpt-nano.arch', flag, file, ...rest], file };
  }
  function sample(file: string, rest: string[] = []) {
    return command('sample', file, ['--backend', 'interpreter', '--tokens', '2', ...rest]);
  }
  function resume(d: string) {
    return { args: ['train', 'models/gpt-nano.arch', '--resume', d, '--steps', '3'], file: join(d, 'checkpoint.safetensors') };
  }
  function tokens(): string {
    const path = join(dir, 'rows.json');
    writeFileSync(path, '[[1,2,3,4,5],[5,4,3,2,1]]');
    return path;
  }

  it.concurrent.each(cases)('%s', async (_what, make, code, first, after) => {
    const { args, file } = make();
    const r = await arch(...args);
    expect(r.code, r.err).toBe(code);
    // the message, after any notes printed before the checkpoint was read
    const message = r.err.slice(Math.max(0, r.err.indexOf(`arch ${args[0]}: `)));
    expect(message.startsWith(`arch ${args[0]}: checkpoint ${file}: ${first}`), r.err).toBe(true);
    expect(r.err).toMatch(/\n {2}hint: /);
    expect(r.err).not.toMatch(/\n\s+at |internal error/);
    // a mismatch shows a few tensors, not every one
    expect(r.err.split('\n').length).toBeLessThanOrEqual(8);
    after?.();
  }, 120_000);
});

describe('what a checkpoint brings with it', () => {
  it('arch eval takes the checkpoint\'s --set values, as arch sample does', async () => {
    // trained with D=16 N=1: today eval compiles the file's D=64, N=2 and reports 36 mismatches
    const rows = join(dir, 'eval-rows.json');
    writeFileSync(rows, '[[1,2,3,4,5],[5,4,3,2,1]]');
    const r = await arch('eval', 'models/gpt-nano.arch', '--weights', GOOD, '--tokens', rows, '--backend', 'interpreter', '--json');
    expect(r.code, r.err).toBe(0);
    const { loss } = JSON.parse(r.out);
    // two steps from random weights over 12 tokens: near ln(12) = 2.48
    expect(loss).toBeGreaterThan(1.5);
    expect(loss).toBeLessThan(3.5);
  }, 120_000);

  it('--resume keeps the model it was trained with and says what changed in the file', async () => {
    const model = join(dir, 'nano.arch');
    copyFileSync('models/gpt-nano.arch', model);
    const [whole, cut] = [join(dir, 'whole'), join(dir, 'cut')];
    const [a, b] = await Promise.all([
      arch('train', model, ...TRAIN, '--steps', '4', '--eval-every', '2', '--out', whole),
      arch('train', model, ...TRAIN, '--steps', '2', '--eval-every', '2', '--out', cut),
    ]);
    expect(a.code, a.err).toBe(0);
    expect(b.code, b.err).toBe(0);
    // relu instead of gelu: the losses would differ if the changed file were trained
    const before = readFileSync(model, 'utf8');
    const line = before.split('\n').find((l) => /^variant act\s*=\s*gelu \| relu/.test(l))!;
    writeFileSync(model, before.replace(line, line.replace('gelu | relu', 'relu | gelu')));
    const r = await arch('train', model, '--resume', cut, '--steps', '4');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`note: ${model} has changed since the checkpoint (line 18 was \`${line}\`, now \`${line.replace('gelu | relu', 'relu | gelu')}\`); resuming with the model as it was then`);
    const losses = (d: string) => readFileSync(join(d, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((m) => 'loss' in m).map((m) => m.loss);
    expect(losses(cut)).toEqual(losses(whole));
  }, 180_000);
});

describe('loadCheckpoint: each metadata field parsed and checked, a broken one named', () => {
  const fields: [string, string | undefined, string][] = [
    ['version', '2', 'checkpoint version "2"; this arch reads version 1'],
    ['step', undefined, 'metadata "step" is missing'],
    ['step', '1.5', 'metadata "step" is "1.5", not a whole number of steps'],
    ['elapsed_s', 'soon', 'metadata "elapsed_s" is "soon", not a number of seconds'],
    ['rng', '{"algorithm":"xoshiro128**","s":[0,0,0,0]}', 'metadata "rng" is not a data RNG state'],
    ['rng', '[1,', 'metadata "rng" is not valid JSON'],
    ['tokenizer', 'null', 'metadata "tokenizer" is not a tokenizer arch can rebuild'],
    ['sets', '["D"]', 'metadata "sets" is not an object of NAME: "VALUE" pairs'],
    ['sets', '{"D":16}', 'metadata "sets" gives D the value 16, not a string'],
    ['sets', '{"D;x":"1"}', 'metadata "sets" has "D;x", which is not a dim or variant name'],
    ['options', '{"data":"task:reverse","tokenizer":"char","batch":8,"seed":1,"lr":-1}', 'metadata "options" has lr = -1, not a positive number'],
    ['data', '', 'metadata "data" is empty'],
    ['model_source', ' ', 'metadata "model_source" is empty'],
  ];
  it.each(fields)('%s = %j', (field, value, message) => {
    const path = edited(`meta-${field}-${String(value).length}`, (_, md) => {
      if (value === undefined) delete md[field];
      else md[field] = value;
    });
    expect(caught(() => loadCheckpoint(path)).message).toContain(`checkpoint ${path}: ${message}`);
  });

  it('reads the good checkpoint whole: weights, moments and metadata', () => {
    const c = loadCheckpoint(GOOD);
    expect(c.meta).toMatchObject({ step: 2, data: 'task:reverse', modelFile: 'models/gpt-nano.arch', sets: { D: '16', N: '1', V: '12' } });
    expect(c.optimizer!.m.size).toBe(c.weights.size);
    expect(c.weights.get('wte')!.shape).toEqual([12, 16]);
  });

  it('counts non-finite values in words', () => {
    expect(describeNonFinite(3, 0, 1040)).toBe('3 of 1,040 values are NaN');
    expect(describeNonFinite(0, 1, 16)).toBe('1 of 16 values is infinite');
    expect(describeNonFinite(2, 1, 9)).toBe('2 of 9 values are NaN and 1 is infinite');
  });
});

describe('fitCheckpoint: names and shapes against the model, the dims that differ first', () => {
  const plain = (name: string, sets: Record<string, number>) => {
    const l = lowerModel('models/gpt-nano.arch', sets);
    const shapes = paramShapes(l.graph);
    const path = join(dir, `${name}.safetensors`);
    writeSafetensors(path, new Map(Object.entries(initParams(l.graph, {}, 1)).map(([k, v]) => [k, { shape: shapes.find((p) => p.name === k)!.shape, data: Float32Array.from(v) }])));
    return path;
  };
  const against = (sets: Record<string, number>) => {
    const model = compileModel('models/gpt-nano.arch', sets);
    return { model, params: paramShapes(lowerModel('models/gpt-nano.arch', sets).graph) };
  };

  it('without --set metadata, reads the differing dims off the shapes', () => {
    const path = plain('plain-d16', { D: 16, N: 1, L: 8 });
    const { model, params } = against({ D: 32, N: 1, L: 8 });
    const msg = caught(() => fitCheckpoint(loadCheckpoint(path), params, model)).message;
    expect(msg).toContain('does not match the model: its tensors have D=16, K=4, F=64; the model has D=32, K=8, F=128 (20 mismatches):');
    expect(msg).toContain('... and 16 more');
  });

  it('a different number of blocks is said in words', () => {
    const path = plain('plain-n2', { D: 16, N: 2, L: 8 });
    const { model, params } = against({ D: 16, N: 1, L: 8 });
    expect(caught(() => fitCheckpoint(loadCheckpoint(path), params, model)).message).toContain('does not match the model: the checkpoint has 2 stream layers; the model has 1 (16 mismatches):\n    unexpected stream.1.layernorm.gain [16]');
  });

  describe('GPT-2 files', () => {
    const TINY_GPT2 = { V: 13, L: 8, D: 12, H: 3, N: 1 };
    const l = lowerModel('models/gpt2.arch', TINY_GPT2);
    const params = paramShapes(l.graph);
    const hf = () => toGpt2Names(new Map(Object.entries(initParams(l.graph, {}, 2)).map(([k, v]) => [k, Float32Array.from(v)])), params);

    it('loads with a transformer. prefix and integer or infinite mask buffers, which are ignored', () => {
      const file = new Map<string, { shape: number[]; data: Float32Array | Int32Array }>([...hf()].map(([k, v]) => [k.startsWith('h.') ? `transformer.${k}` : k, v]));
      file.set('transformer.h.0.attn.bias', { shape: [1, 1, 8, 8], data: new Int32Array(64).fill(1) });
      file.set('transformer.h.0.attn.masked_bias', { shape: [], data: new Float32Array([-Infinity]) });
      const path = join(dir, 'gpt2-buffers.safetensors');
      writeSafetensors(path, file);
      const fitted = fitCheckpoint(loadCheckpoint(path), params, compileModel('models/gpt2.arch', TINY_GPT2));
      expect(fitted.format).toBe('gpt2');
      expect(fitted.weights.size).toBe(params.length);
    });

    it('a transposed Conv1D weight is a mismatch, though it has as many numbers', () => {
      const file = hf();
      const fc = file.get('h.0.mlp.c_fc.weight')!;
      expect(fc.shape).toEqual([12, 48]);
      file.set('h.0.mlp.c_fc.weight', { shape: [48, 12], data: fc.data });
      const path = join(dir, 'gpt2-transposed.safetensors');
      writeSafetensors(path, file);
      const msg = caught(() => fitCheckpoint(loadCheckpoint(path), params, compileModel('models/gpt2.arch', TINY_GPT2))).message;
      expect(msg).toContain('the checkpoint (GPT-2 names) does not match the model: 1 mismatch:\n    stream.0.mlp.hidden.w: the model needs [12, 48], the file has [48, 12] (transposed)');
    });
  });
});
