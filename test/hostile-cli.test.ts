// Bad input as a hostile user types it: numbers out of range, unknown backends, models far too
// large, files that are not files. Each case runs the real CLI and must end within its timeout
// in one located message and a documented exit code, never a hang, a stack trace or
// `internal error`.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { maxOf, minOf } from '../src/report/extent.js';
import { checkFits, fmtBytes } from '../src/runtime/fits.js';
import { DEFAULT_LIMITS, PlanLimitError, planGraph } from '../src/runtime/executor.js';
import { GraphBuilder } from '../src/ir/builder.js';
import type { Graph } from '../src/ir/index.js';

const dir = mkdtempSync(join(tmpdir(), 'arch-hostile-'));
const fifo = join(dir, 'pipe');
execFileSync('mkfifo', [fifo]);
const folder = join(dir, 'folder');
mkdirSync(folder);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NANO = 'models/gpt-nano.arch';
const TASK = ['--data', 'task:reverse'];
const NO_WEIGHTS = ['--weights', join(dir, 'none.safetensors')];
/** Long enough for a slow machine, far shorter than a hang or a run of 10^12 steps. */
const CASE_TIMEOUT_MS = 30_000;

// [argv, exit code, the start of the message (after `arch COMMAND: `)]
const CASES: [string[], number, string | RegExp][] = [
  // numbers out of range, quoted as typed
  [['train', NANO, ...TASK, '--seed', '1e20'], 2, '--seed 1e20: expected at most 9,007,199,254,740,991'],
  [['train', NANO, ...TASK, '--seed', 'abc'], 2, '--seed abc: expected a whole number'],
  [['train', NANO, ...TASK, '--steps', '0'], 2, '--steps 0: expected at least 1'],
  [['train', NANO, ...TASK, '--steps', '1e12'], 2, '--steps 1e12: expected at most 1,000,000,000'],
  [['train', NANO, ...TASK, '--steps', '2.5'], 2, '--steps 2.5: expected a whole number from 1 to'],
  [['train', NANO, ...TASK, '--batch', '1e9'], 2, '--batch 1e9: expected at most 1,048,576'],
  [['train', NANO, ...TASK, '--lr', '1e400'], 2, '--lr 1e400: out of range; expected a number above 0'],
  [['train', NANO, ...TASK, '--lr', 'NaN'], 2, '--lr NaN: expected a number above 0'],
  [['train', NANO, ...TASK, '--warmup=-1'], 2, '--warmup -1: expected at least 0'],
  // a negative value after a space is the option's value, not an option of its own
  [['train', NANO, ...TASK, '--steps', '-1'], 2, '--steps -1: expected at least 1'],
  [['train', NANO, ...TASK, '--lr', '-.5'], 2, '--lr -.5: expected a number above 0'],
  [['sample', NANO, ...NO_WEIGHTS, '--temperature', '-1'], 2, '--temperature -1: expected at least 0'],
  [['train', NANO, ...TASK, '--dropout', '1'], 2, '--dropout 1: expected a number below 1'],
  [['train', NANO, ...TASK, '--eval-batches', 'Infinity'], 2, '--eval-batches Infinity: out of range'],
  [['sample', NANO, ...NO_WEIGHTS, '--tokens', '1e9'], 2, '--tokens 1e9: expected at most 1,000,000'],
  [['sample', NANO, ...NO_WEIGHTS, '--temperature=-1'], 2, '--temperature -1: expected at least 0'],
  [['sample', NANO, ...NO_WEIGHTS, '--top-k', '1.5'], 2, '--top-k 1.5: expected a whole number'],
  [['sample', NANO, ...NO_WEIGHTS, '--top-p', '0'], 2, '--top-p 0: expected a number above 0'],
  [['sample', NANO, ...NO_WEIGHTS, '--seed', '99999999999999999999'], 2, '--seed 99999999999999999999: expected at most'],
  [['sample', NANO, ...NO_WEIGHTS, '--prompt-tokens', '1,1e400'], 2, '--prompt-tokens 1,1e400: 1e400 is not a token id'],
  [['attention', NANO, ...NO_WEIGHTS, '--prompt-tokens', 'x'], 2, '--prompt-tokens x: x is not a token id'],
  [['compile', NANO, '--emit', 'plan', '--batch', '0x'], 2, '--batch 0x: expected a whole number'],
  [['profile', NANO, '--reps', '1e9'], 2, '--reps 1e9: expected at most 10,000'],
  [['check', NANO, '--set', 'V=0'], 2, /^error\[invocation\]: --set V=0: a dim must be a whole number/],
  [['check', NANO, '--set', 'D=1e12'], 2, /^error\[invocation\]: --set D=1e12/],
  // backends
  [['info', '--backend', 'bogus'], 2, '--backend bogus: expected one of webgpu, interpreter'],
  [['eval', NANO, ...NO_WEIGHTS, '--tokens', 'x.json', '--backend', 'bogus'], 2, '--backend bogus: expected one of'],
  // too large: refused from the shapes, before weights or kernels exist
  [['train', NANO, ...TASK, '--set', 'D=20000'], 2, /^the model's parameters take [\d.]+ GiB \(the largest: .*\); this run holds 5 copies/],
  [['compile', 'models/gpt2.arch', '--emit', 'plan', '--set', 'D=500000004'], 2, /^parameter wte \[V=50257, D=500000004\] needs [\d.]+ TiB, more than the adapter's largest buffer/],
  [['compile', 'models/gpt2.arch', '--emit', 'plan', '--grad', '--train', '--set', 'D=500000004'], 2, /^parameter wte .* needs/],
  [['compile', NANO, '--emit', 'plan', '--batch', '1000000'], 2, /^tensor .*\[B=1000000, .*\] needs [\d.]+ GiB, more than the [\d.]+ GiB arch allows a run on this machine .*; use a smaller --batch/],
  // files that are not regular files: refused by what they are, never read, never waited on
  [['check', '/dev/zero'], 2, '/dev/zero is a character device, not a regular file'],
  [['check', fifo], 2, `${fifo} is a named pipe (FIFO), not a regular file`],
  [['inspect', folder], 2, `${folder} is a directory, not a .arch file`],
  [['train', NANO, '--data', '/dev/zero'], 2, 'error[data]: /dev/zero is a character device, not a regular file'],
  [['train', NANO, '--data', fifo], 2, `error[data]: ${fifo} is a named pipe (FIFO)`],
  [['eval', NANO, ...NO_WEIGHTS, '--tokens', fifo], 2, `--tokens ${fifo}: a named pipe (FIFO), not a regular file`],
  [['eval', NANO, ...NO_WEIGHTS, '--tokens', '/dev/zero'], 2, '--tokens /dev/zero: a character device, not a regular file'],
];

describe('hostile command lines', () => {
  it.each(CASES.map(([argv, code, start]) => ({ name: argv.join(' '), argv, code, start })))('$name', ({ argv, code, start }) => {
    const r = spawnSync('node', ['bin/arch.js', ...argv], { encoding: 'utf8', timeout: CASE_TIMEOUT_MS });
    expect(r.signal, `killed after ${CASE_TIMEOUT_MS} ms: a hang`).toBeNull();
    const all = r.stdout + r.stderr;
    expect(all).not.toContain('internal error');
    expect(all).not.toMatch(/\n\s+at /);
    // a value is quoted as typed: these words appear only where the user typed them
    for (const word of ['NaN', 'Infinity', 'null', 'undefined']) if (!argv.join(' ').includes(word)) expect(all).not.toMatch(new RegExp(`\\b${word}\\b`));
    expect(r.status, r.stderr).toBe(code);
    const message = r.stderr.replace(/^note: .*\n/gm, '').replace(new RegExp(`^arch ${argv[0]}: `), '');
    if (typeof start === 'string') expect(message.startsWith(start), message).toBe(true);
    else expect(message).toMatch(start);
  });
});

describe('limits of the adapter', () => {
  it("a batch whose gradients would loop past llvmpipe's 65535 iterations an invocation is refused, not silently wrong", () => {
    const out = join(dir, 'loops');
    const argv = ['train', NANO, '--data', 'task:copy', '--set', 'L=16', '--set', 'D=16', '--set', 'N=1', '--batch', '4097', '--steps', '1', '--eval-every', '0', '--out', out];
    const r = spawnSync('node', ['bin/arch.js', ...argv], { encoding: 'utf8', timeout: 4 * CASE_TIMEOUT_MS });
    expect(r.signal).toBeNull();
    const cpu = /llvmpipe|lavapipe/.test(r.stderr);
    if (!cpu) return void expect(r.status, r.stderr).toBe(0); // a GPU has no such limit
    expect(r.status).toBe(2);
    // 4097 x 16 = 65552 positions summed by one invocation of a weight gradient (and its stores),
    // and swept by the embedding gradient's, which comes later
    expect(r.stderr).toMatch(/arch train: kernel k\d+_contract\S* would run 656\d\d loop iterations in one invocation, more than this adapter runs \(65535: llvmpipe stops there.*\); use a smaller batch or sequence length, or a GPU/);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  });
});

describe('loops an invocation runs, planned under a limit', () => {
  const limits = { ...DEFAULT_LIMITS, maxLoopIterations: 65535 };
  const ax = (name: string, size: number) => ({ name, size });
  /** A sum over `n` elements of one row, and a scatter over `n` positions into 1031 rows. */
  const graphs = (n: number) => {
    const b = new GraphBuilder();
    b.output('total', b.sum(b.input('x', [ax('R', 3), ax('N', n)]), 'N'));
    const s = new GraphBuilder();
    s.output('table', s.scatterAdd(s.input('g', [ax('P', n), ax('D', 5)]), s.input('tokens', [ax('P', n)], 'i32'), ax('V', 1031), ['V', 'D']));
    return [b.build(), s.build()];
  };
  it('a row whose 8 lanes each sweep 65532 elements (and 3 tree rounds) is planned, 8 more refused; a scatter over 65535 positions planned, over 65536 refused', () => {
    const [row, scatter] = graphs(8 * 65532);
    expect(() => planGraph(row!, {}, { kernels: 'cpu' }, limits)).not.toThrow();
    expect(() => planGraph(graphs(8 * 65533)[0]!, {}, { kernels: 'cpu' }, limits)).toThrow(/would run 65536 loop iterations in one invocation/);
    expect(() => planGraph(graphs(65535)[1]!, {}, { kernels: 'cpu' }, limits)).not.toThrow();
    expect(() => planGraph(graphs(65536)[1]!, {}, { kernels: 'cpu' }, limits)).toThrow(PlanLimitError);
    // no limit (a GPU): both planned
    expect(() => planGraph(scatter!, {}, { kernels: 'cpu' }, DEFAULT_LIMITS)).not.toThrow();
  });
});

describe('the helpers under them', () => {
  it('maxOf and minOf take arrays far longer than a call has room for arguments', () => {
    const xs = Array.from({ length: 1_000_000 }, (_, i) => (i * 7919) % 1_000_003);
    expect(() => Math.max(...xs)).toThrow(RangeError);
    expect(maxOf(xs)).toBe(xs.reduce((a, x) => (x > a ? x : a), -Infinity));
    expect(minOf(xs)).toBe(0);
    expect([maxOf([]), minOf([]), maxOf([1, NaN])]).toEqual([-Infinity, Infinity, NaN]);
  });

  it('checkFits sizes a graph from its shapes without allocating it', () => {
    // a 2^20 x 2^20 parameter: 4 TiB, which an allocation would fail on or take the machine down with
    const graph: Graph = {
      nodes: [{ id: 0, op: { kind: 'param', init: { kind: 'zeros' } } as Graph['nodes'][number]['op'], inputs: [], type: { dtype: 'f32', axes: [{ name: 'A', size: 2 ** 20 }, { name: 'C', size: 2 ** 20 }] } }],
      inputs: new Map(),
      params: new Map([['w', 0]]),
      outputs: new Map(),
    };
    expect(() => checkFits(graph, { paramCopies: 0, limits: { maxBufferSize: 2 ** 30 } })).toThrow(/parameter w \[A=1048576, C=1048576\] needs 4 TiB, more than the adapter's largest buffer \(maxBufferSize: 1 GiB\)/);
    expect(() => checkFits(graph, { paramCopies: 1, hostBytes: 2 ** 40 })).toThrow(PlanLimitError);
    expect(() => checkFits(graph, { paramCopies: 1, hostBytes: 2 ** 43 })).not.toThrow();
    expect([fmtBytes(512), fmtBytes(1536), fmtBytes(256 * 2 ** 20)]).toEqual(['512 bytes', '1.5 KiB', '256 MiB']);
  });
});
