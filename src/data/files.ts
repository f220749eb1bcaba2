// Reading a file a user named is the host's job (src/host/node/files.ts in Node): the core says
// what it needs (the bytes of a regular file, at most so many) and words the problems itself.

/** Why a path cannot be read as a file, in words that fit after the path ("x.txt is ..."). */
export type FileProblem = {
  kind: 'missing' | 'denied' | 'directory' | 'not-file' | 'too-large' | 'unreadable';
  text: string;
  /** For 'not-file': what the path is instead. */
  special?: 'fifo' | 'character device' | 'block device' | 'socket' | 'other';
  /** For 'too-large': the file's size in bytes. */
  size?: number;
  /** For 'unreadable': the system's own message. */
  message?: string;
  /** Where relative paths start (the working directory), for a hint; absent where there is none. */
  base?: string;
};

/** The bytes of the regular file at `path`, at most `maxBytes`; `fail` turns a problem into the
 *  caller's error, which is thrown. */
export type ReadFile = (path: string, maxBytes: number, fail: (p: FileProblem) => Error) => Uint8Array;

/** A file's bytes as text, as Node's buffer.toString('utf8') gives it (a BOM kept, bad bytes replaced). */
export function utf8Text(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
}
