// Where a command writes (train --out, ablate --out, attention --out, export --out), checked before
// any long work: a bad place is one message and exit 2 at once, not an error after an hour of
// training (or, under /proc, a hang: Node's recursive mkdir never returns there). Missing
// directories are created, as `mkdir -p` would, once the place has been checked. The writing
// itself (atomic: temporary file, fsync, rename) is the Node host's, src/host/node/write.ts.
import { closeSync, existsSync, openSync, readdirSync, realpathSync, rmSync, statfsSync, type Stats, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeAtomic, writeFolderAtomic as fillFolderAtomic } from './write.js';
import { UsageError } from '../../session/errors.js';

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

/** Checks an export's `out` before any work: its folder exists, and it is new (or empty, or --force). */
export function checkOut(out: string, kind: 'file' | 'folder', force: boolean): void {
  const parent = dirname(resolve(out));
  let p: Stats;
  try {
    p = statSync(parent);
  } catch {
    throw new UsageError(`--out ${out}: the folder ${parent} does not exist\n  hint: create it first, or choose another --out`);
  }
  if (!p.isDirectory()) throw new UsageError(`--out ${out}: ${parent} is not a folder`);
  if (!existsSync(out)) return;
  const st = statSync(out);
  if (kind === 'folder' && !st.isDirectory()) throw new UsageError(`--out ${out} is a file; this export writes a folder\n  hint: choose a folder name that does not exist yet`);
  if (kind === 'file' && st.isDirectory()) throw new UsageError(`--out ${out} is a folder; this export writes one file\n  hint: give a file name, e.g. ${join(out, 'model.onnx')}`);
  const empty = kind === 'folder' && readdirSync(out).length === 0;
  if (!empty && !force) throw new UsageError(`--out ${out} already exists${kind === 'folder' ? ' and is not empty' : ''}\n  hint: pass --force to replace it, or choose another --out`);
}

function cantWrite(out: string, e: unknown): UsageError {
  const err = e as NodeJS.ErrnoException;
  return new UsageError(`--out ${out}: can't write there (${err.code ?? 'error'}: ${err.message.replace(/^\w+: /, '').replace(/, \w+ '.*'$/, '')})\n  hint: choose a folder you can write to`);
}

/** Writes an export's one file atomically; a failure is one message (exit 2). */
export function writeFileAtomic(out: string, bytes: Uint8Array): void {
  try {
    writeAtomic(out, bytes);
  } catch (e) {
    throw cantWrite(out, e);
  }
}

/** Writes an export's folder atomically (src/host/node/write.ts); a failure is one message (exit 2). */
export function writeFolderAtomic(out: string, fill: (dir: string) => void): void {
  try {
    fillFolderAtomic(out, fill);
  } catch (e) {
    throw e instanceof UsageError ? e : cantWrite(out, e);
  }
}
