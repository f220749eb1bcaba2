// Writing files so that a reader never sees half of one: into a temporary name beside the target,
// fsynced, then renamed over it, so a crash, a full disk or Ctrl-C leaves the earlier file whole.
// These are the primitives; what a command refuses to write where (--out checks) is the CLI's.
import * as fs from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** What a file is written from: text, bytes, or pieces of bytes written in order (no joined copy). */
export type FileContents = string | Uint8Array | readonly Uint8Array[];

export function writeBytes(fd: number, bytes: Uint8Array): void {
  // writeSync may write less than asked (and takes at most 2 GiB per call)
  const CHUNK = 1 << 30;
  for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, Math.min(CHUNK, bytes.length - at));
}

function pieces(contents: FileContents): readonly Uint8Array[] {
  if (typeof contents === 'string') return [new TextEncoder().encode(contents)];
  return contents instanceof Uint8Array ? [contents] : contents;
}

/** The temporary name a file is written under before it is renamed into place: NAME.tmp-PID, which
 *  a run directory recognises and removes when the process that wrote it is gone. */
export function tempName(path: string): string {
  return `${path}.tmp-${process.pid}`;
}

/** Writes `contents` to `path` atomically. A failure removes the temporary file and throws the
 *  system's error (its code: ENOSPC, EACCES) for the caller to word. */
export function writeAtomic(path: string, contents: FileContents): void {
  const tmp = tempName(path);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'w');
    for (const p of pieces(contents)) writeBytes(fd, p);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, path);
  } catch (e) {
    try {
      if (fd !== undefined) fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
    } catch {
      // the write's own error is the one worth reporting
    }
    throw e;
  }
  syncDir(dirname(resolve(path)));
}

/** Makes a rename durable; not every platform can fsync a directory, which is harmless. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Appends one line (a metrics record) to `path`, creating it if missing. */
export function appendLine(path: string, line: string): void {
  fs.appendFileSync(path, line.endsWith('\n') ? line : `${line}\n`);
}

/** Creates a directory and its missing parents; what it created, deepest first (empty when the
 *  directory was there), so that a run that never starts can take them all away again. */
export function makeDir(path: string): string[] {
  const created: string[] = [];
  for (let p = resolve(path); !fs.existsSync(p); p = dirname(p)) created.push(p);
  if (created.length) fs.mkdirSync(path, { recursive: true });
  return created;
}

/** Fills a fresh temporary folder beside `out` with `fill`, then puts it in out's place (an empty
 *  folder there is replaced; a non-empty one is moved aside, then removed once the new one is in).
 *  A failure removes the temporary folder, restores what was there, and throws the error. */
export function writeFolderAtomic(out: string, fill: (dir: string) => void): void {
  const parent = dirname(resolve(out));
  const tmp = fs.mkdtempSync(join(parent, `.${basename(resolve(out))}.tmp-`));
  fs.chmodSync(tmp, 0o777 & ~process.umask()); // mkdtemp makes it private; the result is an ordinary folder
  let old: string | undefined;
  try {
    fill(tmp);
    if (fs.existsSync(out) && fs.readdirSync(out).length > 0) fs.renameSync(out, (old = `${tmp}-old`));
    fs.renameSync(tmp, out);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (old && !fs.existsSync(out)) fs.renameSync(old, out);
    throw e;
  }
  if (old) fs.rmSync(old, { recursive: true, force: true });
}
