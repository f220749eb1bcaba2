// The Node host: dawn.node for the device, the file system, the clock and setImmediate. The only
// place besides src/cli that imports node:* modules or the `webgpu` package.
import { totalmem } from 'node:os';
import { renderDiagnostics } from '../../compiler/diagnostics.js';
import type { SessionEnv } from '../../session/env.js';
import type { Host } from '../../session/host.js';
import { openDevice } from './device.js';
import { readRegularFile } from './files.js';
import { appendLine, writeAtomic } from './write.js';

export const nodeHost: Host = {
  openDevice,
  readFile: readRegularFile,
  writeFile: writeAtomic,
  appendLine,
  now: () => performance.now(),
  pause: () => new Promise((r) => setImmediate(r)),
  memoryBytes: () => totalmem(),
};

/** A session env on the Node host: diagnostics and progress text to stderr (diagnostics in
 *  colour when `color`), unless `quiet`, which drops both (a test, a benchmark). */
export function nodeEnv(o: { color?: boolean; quiet?: boolean } = {}): SessionEnv {
  if (o.quiet) return { host: nodeHost, diagnostics: () => {}, log: () => {} };
  return {
    host: nodeHost,
    diagnostics: (shown, sources) => process.stderr.write(renderDiagnostics(shown, { sources, color: Boolean(o.color) }) + '\n'),
    log: (text) => process.stderr.write(text),
  };
}

export { NoAdapterError, isDawnNoise, openDevice } from './device.js';
export { readRegularFile } from './files.js';
export { loadCheckpoint, loadWeights, readSafetensors, saveCheckpoint, writeSafetensors } from './safetensors-file.js';
export { claimRunDir } from './run-dir.js';
export { appendLine, makeDir, writeAtomic, writeFolderAtomic } from './write.js';
