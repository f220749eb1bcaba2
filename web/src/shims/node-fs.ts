// removed once the core has no Node imports. The page has no file system: the one file the core
// reads here is the prelude, which ships in the bundle; everything else is an error.
import prelude from '../../../src/compiler/prelude.arch?raw';

function noFiles(what: string): never {
  throw new Error(`${what}: the playground has no file system`);
}

export function readFileSync(path: unknown): string {
  if (String(path).endsWith('prelude.arch')) return prelude;
  return noFiles(String(path));
}
export const existsSync = (): boolean => false;
export const statSync = (p: unknown): never => noFiles(String(p));
export const openSync = (p: unknown): never => noFiles(String(p));
export const writeSync = (): never => noFiles('write');
export const fsyncSync = (): never => noFiles('fsync');
export const closeSync = (): never => noFiles('close');
export const renameSync = (p: unknown): never => noFiles(String(p));
export const rmSync = (p: unknown): never => noFiles(String(p));
export default { readFileSync, existsSync, statSync, openSync, writeSync, fsyncSync, closeSync, renameSync, rmSync };
