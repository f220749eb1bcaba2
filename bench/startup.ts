// CLI start-up for `npm run bench`: the wall time of `arch check models/gpt2.arch` as a user runs it
// (a fresh node process through bin/arch.js), which is mostly loading the CLI's modules: once from
// the bundle (dist/arch.mjs) and once from tsc's output (dist/src/), to show what bundling saves.
// The process's CPU time too (Linux), which the load moves less than the wall time.
import { spawnSync } from 'node:child_process';
import { withChildCpu } from './child-cpu.js';

export interface CheckTime {
  command: string;
  entry: 'bundle' | 'modules';
  runs: number[];
  bestMs: number;
  medianMs: number;
  /** The median run's CPU milliseconds (user + system of the process); absent without /proc. */
  cpuMs?: number;
}

/** `cwd`: the checkout whose CLI is timed (default: this one). */
export function checkTime(entry: 'bundle' | 'modules', runs = 5, cwd?: string): CheckTime {
  const args = ['bin/arch.js', 'check', 'models/gpt2.arch'];
  const times: { ms: number; cpuMs: number | undefined }[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const { result: r, cpuS } = withChildCpu(() => spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: { ...process.env, ARCH_ENTRY: entry } }));
    times.push({ ms: performance.now() - t0, cpuMs: cpuS === undefined ? undefined : cpuS * 1000 });
    if (r.status !== 0) throw new Error(`arch check failed: ${r.stderr}`);
  }
  const sorted = [...times].sort((a, b) => a.ms - b.ms);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return {
    command: `ARCH_ENTRY=${entry} node ${args.join(' ')}`,
    entry,
    runs: times.map((t) => Math.round(t.ms)),
    bestMs: sorted[0]!.ms,
    medianMs: median.ms,
    ...(median.cpuMs === undefined ? {} : { cpuMs: median.cpuMs }),
  };
}
