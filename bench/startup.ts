// CLI start-up for `npm run bench`: the wall time of `arch check models/gpt2.arch` as a user runs it
// (a fresh node process through bin/arch.js), which is mostly loading the CLI's modules.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';

export interface CheckTime {
  command: string;
  runs: number[];
  bestMs: number;
  medianMs: number;
  /** Whether bin/arch.js ran the bundle (dist/arch.mjs), which it does when the bundle is the newer build. */
  bundled: boolean;
}

export function checkTime(runs = 5): CheckTime {
  const args = ['bin/arch.js', 'check', 'models/gpt2.arch'];
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
    times.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`arch check failed: ${r.stderr}`);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const mtime = (f: string) => {
    try {
      return statSync(f).mtimeMs;
    } catch {
      return -1;
    }
  };
  const bundled = mtime('dist/arch.mjs') >= Math.max(0, mtime('dist/src/cli/main.js'));
  return { command: `node ${args.join(' ')}`, runs: times.map((t) => Math.round(t)), bestMs: sorted[0]!, medianMs: sorted[Math.floor(sorted.length / 2)]!, bundled };
}
