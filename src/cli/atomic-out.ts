// Writing a command's output file or folder all at once: into a temporary name beside it, renamed
// into place at the end, so a failure or Ctrl-C never leaves half an output, and what is already
// there is replaced only when the user said --force.
import { chmodSync, closeSync, existsSync, fsyncSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, type Stats, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from './args.js';

/** Checks `out` before any work: its folder exists, and it is new (or empty, or --force). */
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

export function writeBytes(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
}

/** Writes one file atomically (temp file, fsync, rename). */
export function writeFileAtomic(out: string, bytes: Uint8Array): void {
  const tmp = join(dirname(resolve(out)), `.${basename(out)}.tmp-${process.pid}`);
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeBytes(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, out);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw cantWrite(out, e);
  }
}

/** Fills a fresh temporary folder beside `out` with `fill`, then puts it in out's place. */
export function writeFolderAtomic(out: string, fill: (dir: string) => void): void {
  const parent = dirname(resolve(out));
  let tmp: string;
  try {
    tmp = mkdtempSync(join(parent, `.${basename(resolve(out))}.tmp-`));
    chmodSync(tmp, 0o777 & ~process.umask()); // mkdtemp makes it private; the result is an ordinary folder
  } catch (e) {
    throw cantWrite(out, e);
  }
  let old: string | undefined;
  try {
    fill(tmp);
    // rename() replaces an empty folder; a non-empty one (--force) is moved aside first.
    if (existsSync(out) && readdirSync(out).length > 0) renameSync(out, (old = `${tmp}-old`));
    renameSync(tmp, out);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (old && !existsSync(out)) renameSync(old, out);
    throw e instanceof UsageError ? e : cantWrite(out, e);
  }
  if (old) rmSync(old, { recursive: true, force: true });
}
