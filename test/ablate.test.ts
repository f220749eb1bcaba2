// arch ablate as a user runs it: a 2x2 grid with 2 seeds writes its three outputs with the spread
// over seeds; Ctrl-C and a second invocation give the same results without redoing finished runs;
// a run whose loss stops being a number is marked and the grid goes on; bad --vary values stop
// everything before a run starts.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Resvg } from '@resvg/resvg-js';

const dir = mkdtempSync(join(tmpdir(), 'arch-ablate-'));
// The interpreter is exact and needs no shader compilation: the grid's 8 runs take seconds.
const BACKEND = ['--backend', process.env.ARCH_TEST_BACKEND ?? 'interpreter'];
const GRID = ['models/gpt-nano.arch', '--vary', 'act=gelu,relu', '--vary', 'D=8,16', '--seeds', '2', '--data', 'task:copy',
  '--steps', '12', '--eval-every', '4', '--set', 'N=1', '--set', 'L=8', '--set', 'H=2', '--batch', '4', '--eval-batches', '1', ...BACKEND];

function arch(...args: string[]) {
  const r = spawnSync('node', ['bin/arch.js', ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

interface Run { label: string; seed: number; diverged: boolean; valLoss: number | null; trainLoss: number | null; bestValLoss: number | null; val: [number, number | null][]; params: number }
interface CellOut { label: string; seeds: number[]; diverged: number; valLoss: { mean: number; std: number; min: number; max: number; n: number } }
const results = (d: string) => JSON.parse(readFileSync(join(d, 'results.json'), 'utf8')) as { complete: boolean; runs: Run[]; cells: CellOut[] };
/** What must not depend on how the ablation was run: everything but timings. */
const losses = (d: string) => results(d).runs.map((r) => ({ label: r.label, seed: r.seed, diverged: r.diverged, valLoss: r.valLoss, trainLoss: r.trainLoss, bestValLoss: r.bestValLoss, val: r.val }));
const resultFiles = (d: string) =>
  readdirSync(join(d, 'runs')).flatMap((c) => readdirSync(join(d, 'runs', c)).map((s) => join(d, 'runs', c, s, 'result.json'))).filter(existsSync);

describe('arch ablate', () => {
  const full = join(dir, 'full');

  it('a 2x2 grid with 2 seeds: results.json, results.md and loss.svg, with the spread over seeds', () => {
    const r = arch('ablate', ...GRID, '--out', full);
    expect(r.code, r.err).toBe(0);
    const res = results(full);
    expect(res.complete).toBe(true);
    expect(res.runs).toHaveLength(8);
    expect(res.cells.map((c) => c.label).sort()).toEqual(['act=gelu D=16', 'act=gelu D=8', 'act=relu D=16', 'act=relu D=8']);
    for (const c of res.cells) {
      expect(c.seeds).toEqual([1, 2]);
      expect(c.valLoss.n).toBe(2);
      const mine = res.runs.filter((x) => x.label === c.label).map((x) => x.valLoss!);
      expect(c.valLoss.mean).toBeCloseTo((mine[0]! + mine[1]!) / 2, 10);
      expect(c.valLoss.min).toBe(Math.min(...mine));
      expect(c.valLoss.max).toBe(Math.max(...mine));
      expect(c.valLoss.std).toBeCloseTo(Math.abs(mine[0]! - mine[1]!) / Math.SQRT2, 10);
      expect(c.valLoss.std).toBeGreaterThan(0); // two seeds, two initialisations
    }
    // Sorted by mean validation loss, in the JSON and in the table.
    const means = res.cells.map((c) => c.valLoss.mean);
    expect(means).toEqual([...means].sort((a, b) => a - b));
    const md = readFileSync(join(full, 'results.md'), 'utf8');
    const rows = md.split('\n').filter((l) => /^\| (gelu|relu) \|/.test(l));
    expect(rows.map((l) => l.split('|').slice(1, 3).map((s) => s.trim()).join(' '))).toEqual(res.cells.map((c) => `${c.label.split(' ')[0]!.slice(4)} ${c.label.split('D=')[1]}`));
    expect(rows[0]).toContain(`${res.cells[0]!.valLoss.mean.toFixed(4)} ± ${res.cells[0]!.valLoss.std.toFixed(4)}`);
    expect(r.out).toBe(md); // the table is also printed
    // 12 steps is a short run: the table says so in the column's head and a footnote, and gives
    // each cell's fall over the last fifth (evaluations at 4, 8, 12: from step 8 to 12).
    expect(md).toContain('| val loss at 12 steps * |');
    expect(md).toMatch(/^\\\* Short: 12 steps is under 500\. Rankings/m);
    for (const [i, c] of res.cells.entries()) {
      const at = (step: number) => res.runs.filter((x) => x.label === c.label).reduce((a, x) => a + x.val.find(([s]) => s === step)![1]! / 2, 0);
      const drop = (at(8) - at(12)) / at(8);
      expect((c as CellOut & { lateDrop: number }).lateDrop).toBeCloseTo(drop, 10);
      expect(rows[i]).toContain(`| ${drop > 0 ? '-' : '+'}${Math.abs(100 * drop).toFixed(1)}%${drop > 0.01 ? ' still falling' : ''} |`);
    }
    // The same seed gives every cell the same initial weights where shapes agree: D=8 gelu vs relu
    // start identical, so they differ only through the activation.
    expect(res.runs.find((x) => x.label === 'act=gelu D=8')!.params).toBe(res.runs.find((x) => x.label === 'act=relu D=8')!.params);

    // The plot: four labelled cells, each a line and a shaded band.
    const svg = readFileSync(join(full, 'loss.svg'), 'utf8');
    for (const c of res.cells) expect(svg).toContain(`>${c.label}<`);
    expect(svg.match(/<polygon/g)).toHaveLength(4);
    const png = new Resvg(svg).render();
    const px = png.pixels;
    let coloured = 0;
    for (let i = 0; i < px.length; i += 4) if (Math.max(px[i]!, px[i + 1]!, px[i + 2]!) - Math.min(px[i]!, px[i + 1]!, px[i + 2]!) > 60) coloured++;
    expect(coloured).toBeGreaterThan(500); // curves and bands were drawn, not just axes
  });

  it('Ctrl-C stops it; the same command continues without redoing finished runs, and the results are the same', async () => {
    const d = join(dir, 'interrupted');
    const child = spawn('node', ['bin/arch.js', 'ablate', ...GRID, '--out', d]);
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    const exited = new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (existsSync(join(d, 'runs')) && resultFiles(d).length >= 1) {
          clearInterval(poll);
          child.kill('SIGINT');
          resolve();
        }
      }, 10);
    });
    const code = await exited;
    const done = resultFiles(d);
    expect(done.length).toBeGreaterThanOrEqual(1);
    const before = new Map(done.map((f) => [f, { mtime: statSync(f).mtimeMs, text: readFileSync(f, 'utf8') }]));
    if (done.length < 8) {
      expect(code, err).toBe(130);
      expect(err).toMatch(/run the same command again to continue/);
      expect(results(d).complete).toBe(false);
    }

    const again = arch('ablate', ...GRID, '--out', d);
    expect(again.code, again.err).toBe(0);
    // The run that Ctrl-C stopped left a checkpoint, and continues from it.
    expect(again.err).toMatch(new RegExp(`\\(${done.length} finished, ${done.length < 8 ? 1 : 0} to continue\\)`));
    for (const [f, b] of before) {
      expect(statSync(f).mtimeMs).toBe(b.mtime);
      expect(readFileSync(f, 'utf8')).toBe(b.text);
    }
    expect(losses(d)).toEqual(losses(full));

    // Once everything is done, a third invocation trains nothing.
    const third = arch('ablate', ...GRID, '--out', d);
    expect(third.code).toBe(0);
    expect(third.err).toMatch(/\(8 finished, 0 to continue\)/);
    expect(third.err).not.toMatch(/^run \d/m);
    // A different command with the same --out is refused rather than mixed in.
    const other = arch('ablate', ...GRID, '--out', d, '--lr', '0.01');
    expect(other.code).toBe(2);
    expect(other.err).toMatch(/holds an ablation with other settings \(lr: 0\.001 then, 0\.01 now/);
    // So is another grid or other seeds: the results of this one would be replaced by a table of
    // another grid. The refusal says what differs and the command that continues it.
    const table = readFileSync(join(d, 'results.md'), 'utf8');
    const seeds = arch('ablate', ...GRID.map((x) => (x === '2' ? '3' : x)), '--out', d);
    expect(seeds.code).toBe(2);
    expect(seeds.err).toMatch(/other settings \(seeds: \[1,2\] then, \[1,2,3\] now\); its results would be replaced/);
    expect(seeds.err).toMatch(/continue it with the same command \(arch ablate models\/gpt-nano\.arch --vary act=gelu,relu/);
    const vary = arch('ablate', ...GRID.map((x) => (x === 'D=8,16' ? 'D=8' : x)), '--out', d);
    expect(vary.code).toBe(2);
    expect(vary.err).toMatch(/vary: \{"act":\["gelu","relu"\],"D":\["8","16"\]\} then, \{"act":\["gelu","relu"\],"D":\["8"\]\} now/);
    expect(readFileSync(join(d, 'results.md'), 'utf8')).toBe(table);
  });

  it('a run whose loss is not a number is marked diverged, and the grid goes on', () => {
    const d = join(dir, 'diverged');
    const r = arch('ablate', ...GRID.map((x) => (x === '2' ? '1' : x)), '--lr', '1e6', '--grad-clip', '0', '--warmup', '0', '--out', d);
    expect(r.code, r.err).toBe(0);
    const res = results(d);
    expect(res.runs).toHaveLength(4);
    expect(res.runs.every((x) => x.diverged)).toBe(true);
    expect(res.runs.every((x) => x.valLoss === null || Number.isFinite(x.valLoss))).toBe(true);
    for (const c of res.cells) expect(c).toMatchObject({ diverged: 1, valLoss: { n: 0, mean: null } });
    expect(r.err).toMatch(/diverged at step \d+/);
    expect(readFileSync(join(d, 'results.md'), 'utf8')).toMatch(/\| diverged \|.*\| 1\/1 \|/);
    expect(readFileSync(join(d, 'loss.svg'), 'utf8')).toContain('(diverged)');
  });

  it('bad --vary names and values are refused before any run starts, like --set', () => {
    const d = join(dir, 'bad');
    const common = ['models/gpt-nano.arch', '--data', 'task:copy', '--steps', '2', ...BACKEND, '--out', d];
    const value = arch('ablate', ...common, '--vary', 'act=gelu,swish');
    expect(value.code).toBe(2);
    expect(value.err).toMatch(/error\[invocation\]: --vary act=swish: `act` is one of gelu or relu/);
    const name = arch('ablate', ...common, '--vary', 'depth=1,2');
    expect(name.code).toBe(2);
    expect(name.err).toMatch(/--vary depth=1: the model has no dim or variant named `depth`/);
    // D=64 divides by H=4 but not H=3: only that cell is wrong, and it is named.
    const cell = arch('ablate', ...common, '--vary', 'H=2,3');
    expect(cell.code).toBe(1);
    expect(cell.err).toMatch(/in the cell H=3:\nerror\[dims\]: 64 is not divisible by 3/);
    expect(cell.err).not.toMatch(/cell H=2/);
    expect(arch('ablate', ...common, '--vary', 'act').code).toBe(2);
    expect(arch('ablate', ...common, '--vary', 'act=gelu', '--set', 'act=relu').code).toBe(2);
    expect(existsSync(d)).toBe(false);
  });
});
