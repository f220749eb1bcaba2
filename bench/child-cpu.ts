// CPU time of finished child processes, for the benches that time a fresh `node bin/arch.js`
// (spawnSync): Node reports only its own process's CPU time, but Linux adds every reaped child's
// (and, through it, grandchild's: bin/arch.js runs device commands in a child of its own) to the
// parent's cutime and cstime in /proc/self/stat.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerS: number | undefined;

/** Seconds of CPU (user + system) used by this process's reaped children so far; undefined where
 *  /proc is absent (not Linux). Take the difference around a spawnSync. */
export function childCpuS(): number | undefined {
  // Before reading: getconf is a child too.
  ticksPerS ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
  let stat: string;
  try {
    stat = readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  // Fields 16 and 17 (cutime, cstime) are the 14th and 15th after the name.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[13]) + Number(fields[14]);
  if (!Number.isFinite(ticks)) return undefined;
  return ticks / ticksPerS;
}

/** The child CPU seconds `run` took (spawnSync inside it), and its result. */
export function withChildCpu<T>(run: () => T): { result: T; cpuS: number | undefined } {
  const before = childCpuS();
  const result = run();
  const after = childCpuS();
  return { result, cpuS: before === undefined || after === undefined ? undefined : after - before };
}
