// Where a command writes (train --out, ablate --out, attention --out), checked before any long
// work: a bad place is one message and exit 2 at once, not an error after an hour of training
// (or, under /proc, a hang: Node's recursive mkdir never returns there). Missing directories are
// created, as `mkdir -p` would, once the place has been checked.
import { closeSync, existsSync, mkdirSync, openSync, realpathSync, renameSync, rmSync, statfsSync, statSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from './args.js';

/** Kernel filesystems: nothing arch writes belongs there (/dev/shm, a plain tmpfs, excepted). */
const VIRTUAL = ['/proc', '/sys', '/dev'];
const under = (p: string, dir: string) => p === dir || p.startsWith(dir + '/');

/** Refuses `path` unless a directory can be made or used there. Creates nothing. */
export function checkOutDir(path: string, flag = '--out'): void {
  if (path === '') throw new UsageError(`${flag} is empty: give a directory, e.g. ${flag} runs/demo`);
  const abs = resolve(path);
  const place = checkPlace(abs, path, flag, 'runs/demo');
  if (place === abs && !statSync(abs).isDirectory()) throw new UsageError(`${flag} ${path}: a file is there, not a directory\n  hint: choose another ${flag}, or move the file away`);
}

/** Refuses `path` unless a file can be written there (its directory is made if missing). */
export function checkOutFile(path: string, flag = '--out'): void {
  if (path === '') throw new UsageError(`${flag} is empty: give a file name, e.g. ${flag} attention.svg`);
  const abs = resolve(path);
  const place = checkPlace(abs, path, flag, 'attention.svg');
  if (place === abs && statSync(abs).isDirectory()) throw new UsageError(`${flag} ${path}: a directory is there, not a file\n  hint: give a file name, e.g. ${flag} ${path.replace(/\/$/, '')}/attention.svg`);
}

/** Creates a checked directory (and its missing parents). */
export function makeDir(path: string): boolean {
  const existed = existsSync(path);
  if (!existed) mkdirSync(path, { recursive: true });
  return !existed;
}

/** The nearest existing ancestor of `abs` (or itself): it must be a writable directory outside
 *  the kernel's filesystems; the probe is a real file, created and removed. */
function checkPlace(abs: string, given: string, flag: string, example: string): string {
  let near = abs;
  while (!existsSync(near) && dirname(near) !== near) near = dirname(near);
  const real = realpathSync(near);
  for (const v of VIRTUAL)
    if ((under(abs, v) || under(real, v)) && !under(abs, '/dev/shm'))
      throw new UsageError(`${flag} ${given}: ${v} is a kernel filesystem, not a place for files\n  hint: choose a place of your own, e.g. ${flag} ${example}`);
  const holder = near === abs ? (statSync(near).isDirectory() ? near : dirname(near)) : near;
  if (!statSync(holder).isDirectory()) throw new UsageError(`${flag} ${given}: ${holder} is a file, so nothing can be made inside it\n  hint: choose another ${flag}`);
  const probe = resolve(holder, `.arch-probe-${process.pid}`);
  try {
    closeSync(openSync(probe, 'wx'));
    rmSync(probe, { force: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EROFS' ? 'a read-only filesystem' : code === 'ENOSPC' ? 'the disk is full' : (code ?? String(e));
    throw new UsageError(`${flag} ${given}: cannot write in ${holder} (${why})\n  hint: choose a directory you can write to`);
  }
  return near;
}

const DISK_FULL = new Set(['ENOSPC', 'EDQUOT']);

/** A failed write of one of a run's files as one message: which file, and for a full disk how
 *  much it needed and how much is free. Anything else is passed on as it was. */
export function writeFailure(path: string, err: unknown, bytes: number, kept: string): Error {
  const code = (err as NodeJS.ErrnoException)?.code ?? ((err as { cause?: NodeJS.ErrnoException })?.cause?.code);
  if (code && DISK_FULL.has(code)) {
    let free = '';
    try {
      const s = statfsSync(dirname(path));
      free = `, ${fmtSize(s.bavail * s.bsize)} free`;
    } catch {
      // the size asked for is the useful part
    }
    return new UsageError(`cannot write ${path}: the disk is full (it needs about ${fmtSize(bytes)}${free}); ${kept}\n  hint: free some space, then run again`);
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return new UsageError(`cannot write ${path} (${code}); ${kept}\n  hint: make the directory writable, then run again`);
  return err instanceof Error ? err : new Error(String(err));
}

export const fmtSize = (n: number): string =>
  n < 1024 ? `${n} bytes` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : n < 1024 ** 3 ? `${(n / 1024 ** 2).toFixed(1)} MiB` : `${(n / 1024 ** 3).toFixed(2)} GiB`;

/** Writes `text` to `path` through a temporary file and a rename: the old file stays whole until
 *  the new one is; a failed write removes its temporary file. */
export function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w');
    const bytes = Buffer.from(text);
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
}
