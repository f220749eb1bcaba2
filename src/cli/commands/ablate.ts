// `arch ablate`: trains every cell of a grid of variants and dims, with every seed, and reports
// the mean and spread per cell. Each run is `trainRun`, on one shared device; an interrupted
// ablation continues where it stopped when run again with the same command.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { oneFile, SET_HELP, type CommandSpec, type ParsedArgs } from '../args.js';
import { onInterrupt } from '../interrupt.js';
import { checkOutDir } from '../../host/node/out-path.js';
import { makeDir } from '../../host/node/write.js';
import { lockDir } from '../../host/node/run-lock.js';
import { removeLeftovers } from '../../host/node/run-dir.js';
import { readModelFile } from '../load.js';
import { fmtDuration, Progress } from '../progress.js';
import { deviceFor } from '../device.js';
import { compileSource } from '../../compiler/compile.js';
import { loadCheckpoint } from '../../host/node/safetensors-file.js';
import { readRegularFile } from '../../host/node/files.js';
import { openData } from '../../data/index.js';
import type { ArchDevice } from '../../runtime/device.js';
import { trainFlags, trainCommand, trainRun, type TrainOutcome } from './train.js';
import { gridCells, parseSeeds, parseVary, type Cell, type Vary } from '../ablate/grid.js';
import { checkGrid } from '../ablate/check.js';
import { claimDirectory, readResult, runDir, sha256, writeResult } from '../ablate/store.js';
import { summarize, type RunResult } from '../ablate/stats.js';
import { writeReports, type AblationInfo } from '../ablate/report.js';

/** The flags ablate passes on to every run, as `arch train` defines them. */
const TRAIN_FLAGS = ['data', 'tokenizer', 'steps', 'batch', 'lr', 'schedule', 'warmup', 'min-lr', 'weight-decay', 'grad-clip', 'accum', 'dropout', 'eval-every', 'eval-batches', 'backend'];
const trainHelp = (flag: string) => trainCommand.help.find(([k]) => k.startsWith(`--${flag} `))!;

export const ablateCommand: CommandSpec = {
  name: 'ablate',
  summary: 'train a grid of variants and dims x seeds; a table, results.json and a loss plot with the spread over seeds',
  usage: 'arch ablate FILE --vary NAME=V1,V2 [--vary ...] --data PATH|task:NAME [--steps N] [--seeds 3] [--out DIR] [--set NAME=VALUE ...] [train flags]',
  options: {
    ...Object.fromEntries(TRAIN_FLAGS.map((f) => [f, trainCommand.options[f]!])),
    set: { type: 'string', multiple: true },
    vary: { type: 'string', multiple: true },
    seeds: { type: 'string' },
    out: { type: 'string' },
  },
  help: [
    ['--vary NAME=V1,V2,...', 'a variant or dim and the values to try; repeat for a grid (every combination)'],
    ['--seeds N | S1,S2,...', 'train every cell with seeds 1..N (default 3), or with these seeds; seed s gives every cell the same data order'],
    ['--out DIR', 'results.json, results.md, loss.svg, ablation.json and runs/CELL/seed-S/ (default runs/ablate-MODEL); the same command continues an interrupted ablation, a different one (flags, model, --vary, --seeds) is refused'],
    SET_HELP,
    ...TRAIN_FLAGS.map(trainHelp),
  ],
  examples: [
    'arch ablate models/gpt-nano.arch --vary act=gelu,relu --vary D=32,64 --data task:reverse --steps 300 --seeds 2',
    'arch ablate models/gpt-nano.arch --vary pos=learned,sinusoidal,none --data task:reverse --steps 300 --out runs/positions',
  ],
  run: runAblate,
};

/** Everything of a run's request but its seed, sets and directory: the same for every run. */
function trainOptions(args: ParsedArgs, file: string) {
  const { o, steps } = trainFlags(args);
  const { seed: _seed, ...rest } = o;
  return { file, steps, ...rest };
}

const shellWord = (s: string) => (/^[A-Za-z0-9_./:=,+@%-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

async function runAblate(args: ParsedArgs): Promise<number> {
  const file = oneFile(args, ablateCommand);
  const source = readModelFile(file);
  const varies = parseVary((args.values.vary as string[] | undefined) ?? []);
  const seeds = parseSeeds(args.values.seeds === undefined ? undefined : String(args.values.seeds));
  const o = trainOptions(args, file);
  const cells = gridCells(varies);
  checkGrid(file, source, args.sets, varies, cells);
  const model = compileSource(file, source, new Map([...args.sets, ...cells[0]!.values])).model!;
  openData(o.data, { tokenizer: o.tokenizer as 'char' | 'gpt2', readFile: readRegularFile }); // a missing file or unknown task: exit 2 before anything starts
  const dir = args.values.out !== undefined ? String(args.values.out) : join('runs', `ablate-${model.name}`);
  checkOutDir(dir);
  makeDir(dir);
  // One ablation at a time in a directory (each run's directory is locked by trainRun as well).
  const lock = lockDir(dir);
  try {
    if (lock.reclaimed) process.stderr.write(`note: ${lock.reclaimed}\n`);
    removeLeftovers(dir, (t) => process.stderr.write(t));
    return await ablateIn({ dir, args, file, source, model, varies, seeds, o, cells });
  } finally {
    lock.release();
  }
}

interface Plan {
  dir: string;
  args: ParsedArgs;
  file: string;
  source: string;
  model: { name: string };
  varies: Vary[];
  seeds: number[];
  o: ReturnType<typeof trainOptions>;
  cells: Cell[];
}

/** The ablation in its (locked) directory: every run not finished yet, then the reports. */
async function ablateIn(plan: Plan): Promise<number> {
  const { dir, args, file, source, model, varies, seeds, o, cells } = plan;
  const command = ['arch', ...process.argv.slice(2)].map(shellWord).join(' ');
  const { file: _f, ...shared } = o;
  const grid = { vary: Object.fromEntries(varies.map((v) => [v.name, v.values])), seeds };
  claimDirectory(dir, { file, modelSha256: sha256(source), ...shared, sets: Object.fromEntries(args.sets), ...grid }, command);

  const jobs = cells.flatMap((cell) => seeds.map((seed) => ({ cell, seed, dir: runDir(dir, cell, seed) })));
  const info: AblationInfo = { command, model: model.name, file, data: o.data, steps: o.steps, batch: o.batch, seeds, vary: varies, backend: o.backend, total: jobs.length };
  const results = new Map<string, RunResult>();
  const keyOf = (j: { cell: Cell; seed: number }) => `${j.cell.key}/${j.seed}`;
  for (const j of jobs) {
    const r = readResult(j.dir);
    if (r) results.set(keyOf(j), r);
  }
  const report = () => {
    const runs = jobs.map((j) => results.get(keyOf(j))).filter((r): r is RunResult => r !== undefined);
    writeReports(dir, info, runs, summarize(cells, runs));
  };

  const partial = jobs.filter((j) => !results.has(keyOf(j)) && existsSync(join(j.dir, 'checkpoint.safetensors'))).length;
  process.stderr.write(
    `ablation of ${model.name} on ${o.data}: ${cells.length} cell${cells.length === 1 ? '' : 's'} x ${seeds.length} seed${seeds.length === 1 ? '' : 's'} = ${jobs.length} runs of ${o.steps} steps -> ${dir}` +
      (results.size || partial ? ` (${results.size} finished, ${partial} to continue)` : '') + '\n',
  );

  const interrupt = onInterrupt('interrupted: checkpointing the current run (Ctrl-C again to quit at once)', 'interrupted again: exiting now (finished runs and the last checkpoint are kept)');
  const stop = interrupt.requested;
  let device: ArchDevice | undefined;
  const progress = new Progress(jobs.length * o.steps);
  const started = performance.now();
  let stepsHere = 0;
  try {
    if (o.backend !== 'interpreter' && results.size < jobs.length) device = await deviceFor(o.backend, false, 'throughput');
    for (const [k, j] of jobs.entries()) {
      if (results.has(keyOf(j))) continue;
      if (stop()) break;
      const before = results.size * o.steps;
      const resumed = existsSync(join(j.dir, 'checkpoint.safetensors')) ? loadCheckpoint(join(j.dir, 'checkpoint.safetensors')) : undefined;
      const fromStep = resumed?.meta?.step ?? 0;
      const runTag = `run ${k + 1}/${jobs.length} ${j.cell.label} seed ${j.seed}`;
      let lastVal = NaN;
      const sets = resumed?.meta ? new Map(Object.entries(resumed.meta.sets)) : new Map([...args.sets, ...j.cell.values]);
      const outcome: TrainOutcome = await trainRun(
        // A run without a checkpoint to continue starts over: what an interrupted one left is moved aside.
        { ...o, seed: j.seed, sets, out: j.dir, ...(resumed?.meta ? { resumeDir: j.dir, resumed } : { force: true }) },
        {
          device,
          quiet: true,
          stopRequested: stop,
          onStep(m) {
            stepsHere += m.step > fromStep ? 1 : 0;
            const rate = stepsHere / Math.max(1e-9, (performance.now() - started) / 1000);
            const left = jobs.length * o.steps - before - m.step;
            const val = Number.isFinite(lastVal) ? ` val ${lastVal.toFixed(4)}` : '';
            progress.update(before + m.step, `${runTag} | step ${m.step}/${o.steps} loss ${m.loss.toFixed(4)}${val}`, stepsHere > 2 ? left / rate : undefined);
          },
          onEval(m) {
            lastVal = m.val_loss;
          },
        },
      );
      if (outcome.stopped) break;
      const r = runResult(j.cell, j.seed, outcome);
      writeResult(j.dir, r);
      results.set(keyOf(j), r);
      progress.log(
        r.diverged
          ? `${runTag}: diverged at step ${outcome.divergedAt ?? r.step} (the loss or a weight is not finite; the last good checkpoint is kept)`
          : `${runTag}: validation ${r.valLoss.toFixed(4)} (best ${r.bestValLoss.toFixed(4)}), train ${r.trainLoss.toFixed(4)}, ${Math.round(r.tokensPerS)} tokens/s, ${fmtDuration(r.elapsedS)}`,
      );
      report();
    }
  } finally {
    interrupt.dispose();
    progress.done();
    device?.destroy();
  }
  report();
  const finished = results.size === jobs.length;
  if (!finished) {
    process.stderr.write(`stopped after ${results.size} of ${jobs.length} runs (${fmtDuration((performance.now() - started) / 1000)}); run the same command again to continue\n`);
    return 130;
  }
  process.stdout.write(readFileSync(join(dir, 'results.md'), 'utf8'));
  process.stderr.write(`  ${join(dir, 'results.md')}\n  ${join(dir, 'results.json')}\n  ${join(dir, 'loss.svg')}\n`);
  return 0;
}

function runResult(cell: Cell, seed: number, t: TrainOutcome): RunResult {
  const last = (xs: [number, number][]) => xs.at(-1)?.[1] ?? NaN;
  return {
    cell: Object.fromEntries(cell.values),
    label: cell.label,
    seed,
    diverged: t.diverged,
    step: t.step,
    params: t.params,
    flopsPerToken: t.flopsPerToken,
    trainLoss: Number.isFinite(t.trainLoss) ? t.trainLoss : last(t.history.train),
    bestTrainLoss: t.bestTrainLoss,
    valLoss: t.valLoss,
    bestValLoss: t.bestValLoss,
    tokensPerS: t.tokensPerS,
    elapsedS: t.elapsedS,
    val: t.history.val,
  };
}
