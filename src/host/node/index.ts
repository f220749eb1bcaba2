// The Node host: dawn.node for the device, the file system, the clock and setImmediate. The only
// place besides src/cli that imports node:* modules or the `webgpu` package.
import { totalmem } from 'node:os';
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

export { NoAdapterError, isDawnNoise, openDevice } from './device.js';
export { readRegularFile } from './files.js';
export { loadCheckpoint, loadWeights, readSafetensors, saveCheckpoint, writeSafetensors } from './safetensors-file.js';
export { appendLine, makeDir, writeAtomic, writeFolderAtomic } from './write.js';
