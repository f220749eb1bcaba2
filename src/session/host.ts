// What the core needs from the program it runs in (the CLI and the language server in Node, a page
// in a browser), in one small interface: everything else in src/ below src/cli and src/host is
// plain TypeScript that runs wherever WebGPU and JavaScript do. src/host/node/ is Node's.
import type { ReadFile } from '../data/files.js';
import type { ArchDevice, OpenDeviceOptions } from '../runtime/device.js';

export type { ReadFile };

export interface Host {
  /** A WebGPU device (Node: dawn.node's best adapter or the backend asked for); a host without
   *  one throws its own error (Node: NoAdapterError, exit 3). */
  openDevice(opts?: OpenDeviceOptions): Promise<ArchDevice>;
  /** The bytes of a regular file, at most `maxBytes`; `fail` words the problem (thrown). */
  readFile: ReadFile;
  /** Writes a file whole or not at all: the earlier file stays until the new one is complete.
   *  Pieces are written in order without being joined. Throws the system's error. */
  writeFile(path: string, contents: string | Uint8Array | readonly Uint8Array[]): void;
  /** Appends one line (a metrics record). */
  appendLine(path: string, line: string): void;
  /** Milliseconds from an arbitrary start, for durations and rates. */
  now(): number;
  /** Lets the host's event loop run (signal handlers, a page's input) between long steps. */
  pause(): Promise<void>;
  /** The machine's memory in bytes, for the size checks before allocation; undefined: unknown. */
  memoryBytes(): number | undefined;
}
