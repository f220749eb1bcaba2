// Reading a file a user named, safely: only a regular file, and only up to a size. /dev/zero never
// ends, a FIFO blocks its reader until a writer appears, and a directory is no file at all; so
// what the path is gets checked with stat (which opens nothing) before anything reads it.
import { readFileSync, statSync, type Stats } from 'node:fs';

/** Why a path cannot be read as a file, in words that fit after the path ("x.txt is ..."). */
export type FileProblem = { kind: 'missing' | 'denied' | 'directory' | 'not-file' | 'too-large' | 'unreadable'; text: string };

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 0)} MiB`;

/** The problem with reading `path` as a file of at most `maxBytes`, or null when there is none. */
export function fileProblem(path: string, maxBytes: number): FileProblem | null {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing', text: 'not there (no such file)' };
    if (code === 'EACCES' || code === 'EPERM') return { kind: 'denied', text: 'not readable (permission denied)' };
    return { kind: 'unreadable', text: `not readable (${(e as Error).message})` };
  }
  if (!st.isFile()) return { kind: st.isDirectory() ? 'directory' : 'not-file', text: `${kindOf(st)}, not a regular file` };
  if (st.size > maxBytes) return { kind: 'too-large', text: `${mb(st.size)}, more than the ${mb(maxBytes)} arch reads from such a file` };
  return null;
}

/** The bytes of a regular file of at most `maxBytes`; `fail` turns a problem into the caller's error. */
export function readRegularFile(path: string, maxBytes: number, fail: (p: FileProblem) => Error): Buffer {
  const problem = fileProblem(path, maxBytes);
  if (problem) throw fail(problem);
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw fail(code === 'EACCES' || code === 'EPERM' ? { kind: 'denied', text: 'not readable (permission denied)' } : { kind: 'unreadable', text: `not readable (${(e as Error).message})` });
  }
}
