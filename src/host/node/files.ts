// Reading a file a user named, safely: only a regular file, and only up to a size. /dev/zero never
// ends, a FIFO blocks its reader until a writer appears, and a directory is no file at all; so the
// path is opened without blocking and checked with fstat before any byte is read, and the bytes
// read are the size fstat gave, whatever the file does meanwhile.
import * as fs from 'node:fs';
import type { FileProblem } from '../../data/files.js';

export type { FileProblem };

function special(st: fs.Stats): NonNullable<FileProblem['special']> {
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  if (st.isSocket()) return 'socket';
  return 'other';
}

const KIND_TEXT: Record<NonNullable<FileProblem['special']>, string> = {
  fifo: 'a named pipe (FIFO)',
  'character device': 'a character device',
  'block device': 'a block device',
  socket: 'a socket',
  other: 'not a regular file',
};

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 0)} MiB`;

function errnoProblem(e: unknown): FileProblem {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing', text: 'not there (no such file)', base: process.cwd() };
  if (code === 'EISDIR') return { kind: 'directory', text: 'a directory, not a regular file' };
  if (code === 'EACCES' || code === 'EPERM') return { kind: 'denied', text: 'not readable (permission denied)' };
  const message = (e as Error)?.message ?? String(e);
  return { kind: 'unreadable', text: `not readable (${message})`, message };
}

function statProblem(st: fs.Stats, maxBytes: number): FileProblem | null {
  if (st.isDirectory()) return { kind: 'directory', text: 'a directory, not a regular file' };
  if (!st.isFile()) {
    const s = special(st);
    return { kind: 'not-file', text: `${KIND_TEXT[s]}, not a regular file`, special: s };
  }
  if (st.size > maxBytes) return { kind: 'too-large', text: `${mb(st.size)}, more than the ${mb(maxBytes)} arch reads from such a file`, size: st.size };
  return null;
}

/** The bytes of a regular file of at most `maxBytes`; `fail` turns a problem into the caller's error. */
export function readRegularFile(path: string, maxBytes: number, fail: (p: FileProblem) => Error): Uint8Array {
  const r = readBounded(path, maxBytes);
  if ('kind' in r) throw fail(r);
  return r.bytes;
}

function readBounded(path: string, maxBytes: number): { bytes: Uint8Array } | FileProblem {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    return errnoProblem(e);
  }
  try {
    const st = fs.fstatSync(fd);
    const problem = statProblem(st, maxBytes);
    if (problem) return problem;
    const bytes = new Uint8Array(st.size);
    let got = 0;
    while (got < bytes.length) {
      const n = fs.readSync(fd, bytes, got, bytes.length - got, got);
      if (n === 0) break; // the file shrank since fstat: the caller sees what is there
      got += n;
    }
    return { bytes: bytes.subarray(0, got) };
  } catch (e) {
    return errnoProblem(e);
  } finally {
    fs.closeSync(fd);
  }
}
