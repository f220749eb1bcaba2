// The CLI's session env: the Node host, diagnostics rendered to stderr (in colour on a terminal),
// progress text to stderr; and the model loading every command shares, through it.
import type { CheckedModel } from '../compiler/graph.js';
import type { CompileResult } from '../compiler/compile.js';
import { nodeEnv, nodeHost } from '../host/node/index.js';
import type { SessionEnv } from '../session/env.js';
import { loadModel as loadWith, readModelFile as readWith, type LoadOptions } from '../session/model.js';

export { ModelError } from '../session/errors.js';

export function useColor(): boolean {
  return Boolean(process.stderr.isTTY) && !process.env.NO_COLOR;
}

export const cliEnv: SessionEnv = nodeEnv({ color: useColor() });

export function readModelFile(file: string): string {
  return readWith(nodeHost.readFile, file);
}

/** Compiles `file`; prints the diagnostics to stderr; throws ModelError (exit 1) on errors. */
export function loadModel(file: string, sets: Map<string, string>, opts: LoadOptions = {}): { model: CheckedModel; result: CompileResult } {
  return loadWith(cliEnv, file, sets, opts);
}
