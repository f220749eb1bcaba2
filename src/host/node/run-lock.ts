// One writer per directory: `DIR/.lock` holds the owner's pid, host and command. It is created
// atomically (open with O_EXCL), so of two processes exactly one gets it; it is removed when the
// owner exits, by any way Node can run code on (return, error, process.exit, Ctrl-C, SIGTERM).
// A lock left by a killed process (kill -9, a crash) names a pid that no longer runs: the next
// process sees that, takes the lock over and says so.
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../session/errors.js';

export const LOCK_FILE = '.lock';

interface Owner {
  pid: number;
  host: string;
  command: string;
  since: string;
}

export interface DirLock {
  /** A line to print when the lock was taken over from a dead process. */
  readonly reclaimed?: string;
  release(): void;
}

const held = new Map<string, string>(); // lock path -> our content
let exitHooked = false;

/** Takes `dir`'s lock (the directory must exist), or refuses with exit 2 naming the owner. */
export function lockDir(dir: string): DirLock {
  const path = join(dir, LOCK_FILE);
  const mine: Owner = { pid: process.pid, host: hostname(), command: ['arch', ...process.argv.slice(2)].join(' '), since: new Date().toISOString() };
  const text = JSON.stringify(mine) + '\n';
  let reclaimed: string | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, text);
      } finally {
        closeSync(fd);
      }
      break;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new UsageError(`cannot take the lock ${path} (${code ?? String(e)})\n  hint: choose a directory you can write to`);
      const stale = staleness(path, dir);
      if (!stale || attempt > 0) throw new UsageError(stale ? `${dir}: could not take over its lock ${path}` : inUse(path, dir));
      rmSync(path, { force: true });
      reclaimed = stale;
    }
  }
  held.set(path, text);
  hookExit();
  return {
    reclaimed,
    release() {
      releaseOne(path);
    },
  };
}

function releaseOne(path: string): void {
  const text = held.get(path);
  if (text === undefined) return;
  held.delete(path);
  try {
    // Only our own lock: never one a later process took after ours was (wrongly) judged stale.
    if (readFileSync(path, 'utf8') === text) rmSync(path, { force: true });
  } catch {
    // already gone
  }
}

function readOwner(path: string): Owner | undefined {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Owner;
    return Number.isInteger(o.pid) && o.pid > 0 ? o : undefined;
  } catch {
    return undefined;
  }
}

/** Why the lock at `path` is stale (a line to report), or undefined when its owner may be alive. */
function staleness(path: string, dir: string): string | undefined {
  const o = readOwner(path);
  if (!o) {
    // Unreadable: either a writer between its open and its write, or one killed right there.
    let age = 0;
    try {
      age = Date.now() - statSync(path).mtimeMs;
    } catch {
      return `${dir}: its lock vanished while being read; took it`;
    }
    return age > 10_000 ? `${dir}: removed an unreadable lock left by a killed process` : undefined;
  }
  if (o.host !== hostname()) return undefined; // another machine's process: can't tell
  if (o.pid === process.pid) return undefined;
  try {
    process.kill(o.pid, 0);
    return undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') return undefined; // EPERM: alive, another user's
  }
  return `${dir}: removed a stale lock (pid ${o.pid}, ${o.command}, since ${o.since}, is no longer running)`;
}

function inUse(path: string, dir: string): string {
  const o = readOwner(path);
  if (!o) return `${dir} is being claimed by another arch process right now (${path})\n  hint: wait for it, or choose another directory`;
  const other = o.host !== hostname();
  return (
    `${dir} is in use by pid ${o.pid}${other ? ` on ${o.host}` : ''} (${o.command}, since ${o.since})\n` +
    (other
      ? `  hint: if that process is not running any more, delete ${path}; otherwise wait for it or choose another directory`
      : `  hint: wait for it to finish, stop it (kill ${o.pid}), or choose another directory; two runs into one directory would overwrite each other`)
  );
}

/** Locks go with the process, whichever way it ends that runs JavaScript. */
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const path of [...held.keys()]) releaseOne(path);
  });
  // Without a handler these signals end the process without 'exit'; with one, exit as they would.
  for (const [signal, code] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) process.on(signal, () => process.exit(code));
}
