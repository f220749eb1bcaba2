// CLI start-up for `npm run bench`: the wall time of `arch check models/gpt2.arch` as a user runs it
// (a fresh node process through bin/arch.js), which is mostly loading the CLI's modules: once from
// the bundle (dist/arch.mjs) and once from tsc's output (dist/src/), to show what bundling saves.
import { spawnSync } from 'node:child_process';

export interface CheckTime {
  command: string;
  entry: 'bundle' | 'modules';
  runs: number[];
  bestMs: number;
  medianMs: number;
}

export function checkTime(entry: 'bundle' | 'modules', runs = 5): CheckTime {
  const args = ['bin/arch.js', 'check', 'models/gpt2.arch'];
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, ARCH_ENTRY: entry } });
    times.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`arch check failed: ${r.stderr}`);
  }
  const sorted = [...times].sort((a, b) => a - b);
  return { command: `ARCH_ENTRY=${entry} node ${args.join(' ')}`, entry, runs: times.map((t) => Math.round(t)), bestMs: sorted[0]!, medianMs: sorted[Math.floor(sorted.length / 2)]! };
}
