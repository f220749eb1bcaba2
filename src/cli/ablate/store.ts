// An ablation's directory: ablation.json (the settings every run shares, the grid and the seeds,
// so that a second invocation with the same --out continues the same ablation and nothing else), and one directory per run with
// arch train's files plus result.json once the run has finished. A run with result.json is
// never redone; one with only a checkpoint continues from it.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../args.js';
import { writeAtomic } from '../../host/node/write.js';
import type { Cell } from './grid.js';
import { runFromJSON, toJSON, type RunResult } from './stats.js';

/** What must not change between an interrupted ablation and its continuation. */
export type Settings = Record<string, string | number | number[] | Record<string, string> | Record<string, string[]>>;

/**
 * Recorded since the grid and seeds are part of an ablation: a directory written before then has
 * no such key and is continued as it was (its grid is whatever the command that continues it says).
 */
const GRID_KEYS = ['vary', 'seeds'];

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export function runDir(dir: string, cell: Cell, seed: number): string {
  return join(dir, 'runs', cell.key, `seed-${seed}`);
}

/** Records the settings on the first invocation; on a later one, insists they are the same. */
export function claimDirectory(dir: string, settings: Settings, command: string): void {
  const path = join(dir, 'ablation.json');
  if (existsSync(path)) {
    let prev: { command?: string; settings?: Settings } = {};
    try {
      prev = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      throw new UsageError(`${path} is not readable JSON; choose another --out, or delete ${dir}`);
    }
    const changed = Object.keys({ ...settings, ...prev.settings })
      .filter((k) => !(GRID_KEYS.includes(k) && prev.settings && !(k in prev.settings)))
      .filter((k) => JSON.stringify(prev.settings?.[k]) !== JSON.stringify(settings[k]));
    if (changed.length) {
      const what = changed.map((k) => (k === 'modelSha256' ? 'the model file has changed' : `${k}: ${JSON.stringify(prev.settings?.[k])} then, ${JSON.stringify(settings[k])} now`));
      throw new UsageError(
        `${dir} holds an ablation with other settings (${what.join('; ')}); its results would be replaced\n  hint: continue it with the same command (${prev.command ?? 'see ablation.json'}), or choose another --out`,
      );
    }
    return;
  }
  mkdirSync(dir, { recursive: true });
  writeAtomic(path, toJSON({ command, settings }));
}

export function readResult(dir: string): RunResult | undefined {
  const path = join(dir, 'result.json');
  if (!existsSync(path)) return undefined;
  try {
    return runFromJSON(readFileSync(path, 'utf8'));
  } catch {
    return undefined; // a torn write cannot happen (writeAtomic), but a hand-edited file can: redo the run
  }
}

export function writeResult(dir: string, r: RunResult): void {
  writeAtomic(join(dir, 'result.json'), toJSON(r));
}
