// Interleaved A/B runs of `npm run bench`'s figures: an old checkout against this one (or another),
// each measured by its own bench code, in fresh processes, the two sides in turn (old first in odd
// rounds, new first in even ones; --fixed-order: old first always), with the
// load average before each run and the process's CPU time next to the wall time.
//
//   git worktree add /tmp/ab-old COMMIT && ln -s "$PWD/node_modules" /tmp/ab-old/ && (cd /tmp/ab-old && npm run build)
//   npm run build && node dist/bench/ab.js --old /tmp/ab-old [--new .] [--rounds 3] [--fixed-order]
//       [--parts coldstep,kernels,step,training,sampling,check,cold] [--out bench/results/ab-DATE.json]
//   node dist/bench/ab.js --summary FILE...     (the table again, over several runs' files)
//
// Parts: coldstep (trainRun's first step in a fresh process, Mesa's shader cache off: CPU and wall
// time from the process's start), kernels (contraction GFLOP/s), step (forward + backward, speed config and L = 256),
// training (trainRun tokens/s), sampling (KV cache, one `arch sample`-like process), check (`arch
// check models/gpt2.arch`, bundled), cold (first `arch train` step, Mesa's shader cache off).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withChildCpu } from './child-cpu.js';
import { coldFirstStep } from './coldstart.js';
import { checkTime } from './startup.js';

type Result = Record<string, unknown>;
interface Run {
  round: number;
  side: 'old' | 'new';
  part: string;
  load1: number;
  /** Wall and CPU seconds of the whole measuring process (or processes). */
  wallS: number;
  cpuS: number | undefined;
  result: Result;
}

const CHILD = fileURLToPath(new URL('./ab-child.js', import.meta.url));

/** The last stdout line of a fresh node process in `tree`, as JSON. */
function nodeJson(tree: string, args: string[], env: Record<string, string> = {}): Result {
  const r = spawnSync(process.execPath, args, { cwd: tree, encoding: 'utf8', env: { ...process.env, ...env } });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as Result;
  } catch {
    throw new Error(`${args.join(' ')} in ${tree} failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
}

const PARTS: Record<string, (tree: string) => Result> = {
  coldstep: (tree) => nodeJson(tree, [CHILD, 'coldstep'], { MESA_SHADER_CACHE_DISABLE: 'true' }),
  kernels: (tree) => ({ contraction: nodeJson(tree, [CHILD, 'kernels']) }),
  step: (tree) => nodeJson(tree, [CHILD, 'step']),
  training: (tree) => nodeJson(tree, [CHILD, 'training']),
  sampling: (tree) => nodeJson(tree, [join(tree, 'dist/bench/sampling-child.js'), '63', 'latency']),
  check: (tree) => ({ ...checkTime('bundle', 5, tree) }),
  cold: (tree) => ({ ...coldFirstStep(tree) }),
};

/** The figures compared: name, how to read it from a part's result, and whether more is better. */
const FIGURES: [string, string, (r: Result) => number | undefined, boolean][] = [
  ...[128, 256, 512].flatMap((n): [string, string, (r: Result) => number | undefined, boolean][] => {
    const at = (r: Result) => (r.contraction as { size: number; gflops: number; cpuGflops: number }[]).find((c) => c.size === n);
    return [
      ['kernels', `contraction ${n}^3 GFLOP/s`, (r) => at(r)?.gflops, true],
      ['kernels', `contraction ${n}^3 GFLOP/s by CPU time`, (r) => at(r)?.cpuGflops, true],
    ];
  }),
  ['step', 'fwd + bwd step, speed config, ms', (r) => (r.fused as { ms: number }).ms, false],
  ['step', 'fwd + bwd step, speed config, CPU ms / cores', (r) => (r.fused as { cpuMs: number }).cpuMs, false],
  ['step', 'fwd + bwd step, L = 256 streamed, ms', (r) => (r.long as { ms: number }).ms, false],
  ['step', 'fwd + bwd step, L = 256 streamed, CPU ms / cores', (r) => (r.long as { cpuMs: number }).cpuMs, false],
  ['training', 'training tokens/s', (r) => r.tokensPerS as number, true],
  ['training', 'training tokens/s by CPU time', (r) => r.cpuTokensPerS as number, true],
  ['training', 'training: first step, s (warm shader cache)', (r) => (r.firstStepMs as number) / 1000, false],
  ['sampling', 'sampling tokens/s (KV cache)', (r) => r.tokensPerS as number, true],
  ['sampling', 'sampling tokens/s by CPU time', (r) => r.cpuTokensPerS as number, true],
  ['sampling', 'sampling tokens/s, one token a submit', (r) => r.stepwiseTokensPerS as number, true],
  ['check', 'arch check gpt2.arch, median ms', (r) => r.medianMs as number, false],
  ['check', 'arch check gpt2.arch, CPU ms', (r) => r.cpuMs as number | undefined, false],
  ['coldstep', 'cold: process start to the end of step 1, CPU s', (r) => r.cpuS as number | undefined, false],
  ['coldstep', 'cold: process start to the end of step 1, wall s', (r) => r.wallS as number | undefined, false],
  ['cold', 'cold first step, s (elapsed_s)', (r) => r.firstStepS as number, false],
  ['cold', 'cold arch train --steps 1, process CPU s', (r) => r.cpuS as number | undefined, false],
];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

function summary(runs: Run[]): string[] {
  const lines = ['| figure (better) | old: median (range) | new: median (range) | new / old | runs each |', '|---|---:|---:|---:|---:|'];
  const cell = (xs: number[]) => `${fmt(median(xs))} (${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))})`;
  for (const [part, name, read, more] of FIGURES) {
    const of = (side: Run['side']) => runs.filter((r) => r.part === part && r.side === side).map((r) => read(r.result)).filter((x): x is number => typeof x === 'number');
    const [a, b] = [of('old'), of('new')];
    if (a.length === 0 || b.length === 0) continue;
    const ratio = median(b) / median(a);
    lines.push(`| ${name} (${more ? 'higher' : 'lower'}) | ${cell(a)} | ${cell(b)} | ${ratio.toFixed(2)} | ${a.length} |`);
  }
  return lines;
}

/** The table over earlier runs' files (the same two checkouts), rounds pooled. */
function summarise(files: string[]): void {
  const runs = files.flatMap((f) => (JSON.parse(readFileSync(f, 'utf8')) as { runs: Run[] }).runs);
  const loads = runs.map((r) => r.load1);
  process.stdout.write(`${runs.length} runs from ${files.length} files, load average (1 min) ${Math.min(...loads)}-${Math.max(...loads)}\n${summary(runs).join('\n')}\n`);
}

function main(): void {
  const args = process.argv.slice(2);
  if (args[0] === '--summary') {
    summarise(args.slice(1));
    return;
  }
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const oldTree = opt('old');
  const parts = (opt('parts') ?? Object.keys(PARTS).join(',')).split(',');
  const rounds = Number(opt('rounds') ?? 3);
  const fixedOrder = args.includes('--fixed-order');
  const unknown = parts.filter((p) => !(p in PARTS));
  if (oldTree === undefined || unknown.length > 0 || !(Number.isInteger(rounds) && rounds > 0)) {
    process.stderr.write(`usage: node dist/bench/ab.js --old DIR [--new DIR] [--rounds N] [--parts ${Object.keys(PARTS).join(',')}] [--fixed-order] [--out FILE]${unknown.length ? ` (unknown part: ${unknown.join(', ')})` : ''}\n`);
    process.exit(2);
  }
  const trees = { old: resolve(oldTree), new: resolve(opt('new') ?? '.') };
  const out = opt('out') ?? `bench/results/ab-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  const commits = Object.fromEntries(Object.entries(trees).map(([side, tree]) => [side, spawnSync('git', ['-C', tree, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim()]));
  const head = { started: new Date().toISOString(), trees, commits, loadAverageBefore: loadavg().map((x) => Number(x.toFixed(2))) };
  const runs: Run[] = [];
  const save = () => {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify({ ...head, runs, loadAverageNow: loadavg().map((x) => Number(x.toFixed(2))) }, null, 2) + '\n');
  };
  process.stdout.write(`old ${commits.old} (${trees.old}), new ${commits.new} (${trees.new}), load average ${head.loadAverageBefore.join(' ')}\n`);
  for (let round = 1; round <= rounds; round++) {
    for (const part of parts) {
      // Which side goes first alternates (old, new; new, old; ...): a fixed order favours the first
      // (an A/A run of sampling gave the first side ~10 % more), whatever the code.
      const order = fixedOrder || round % 2 === 1 ? (['old', 'new'] as const) : (['new', 'old'] as const);
      for (const side of order) {
        const load1 = Number(loadavg()[0]!.toFixed(2));
        const t0 = performance.now();
        // A failed run is recorded and the rounds go on: the other figures are still worth having.
        const { result, cpuS } = withChildCpu((): Result => {
          try {
            return PARTS[part]!(trees[side]);
          } catch (e) {
            return { error: (e as Error).message };
          }
        });
        const run: Run = { round, side, part, load1, wallS: (performance.now() - t0) / 1000, cpuS, result };
        runs.push(run);
        process.stdout.write(`round ${round} ${part} ${side} (load ${load1}, ${run.wallS.toFixed(0)} s): ${JSON.stringify(result)}\n`);
        save();
      }
    }
  }
  process.stdout.write(`${summary(runs).join('\n')}\nwritten to ${out}\n`);
}

main();
