// Reading and checking a model for any host: the file through the host's reader, the compile, and
// which diagnostics to show (a bad --set alone, else errors and warnings), reported to the env.
import { compileSource, type CompileResult } from '../compiler/compile.js';
import type { CheckedModel } from '../compiler/graph.js';
import { utf8Text, type ReadFile } from '../data/files.js';
import type { SessionEnv } from './env.js';
import { ModelError, UsageError } from './errors.js';

const MAX_FILE = 16 * 2 ** 20;

/** The text of a .arch file; a path that is no model file is a UsageError saying why. */
export function readModelFile(readFile: ReadFile, file: string): string {
  const bytes = readFile(file, MAX_FILE, (p) => {
    if (p.kind === 'missing') return new UsageError(`can't read ${file}: no such file\n  hint: the models that ship with arch are in models/, e.g. models/gpt2.arch`);
    if (p.kind === 'directory') return new UsageError(`${file} is a directory, not a .arch file`);
    if (p.kind === 'too-large') return new UsageError(`${file} is ${p.text}: too large to be a .arch model`);
    return new UsageError(`${file} is ${p.text}\n  hint: a model is a .arch text file, e.g. models/gpt2.arch`);
  });
  return utf8Text(bytes);
}

export interface LoadOptions {
  quietWarnings?: boolean;
  /** The source to compile under `file`'s name instead of the file's text (a resumed run's own). */
  source?: string;
  /** Called when the model does not compile, before anything is shown: may throw its own error. */
  onFailure?: (result: CompileResult, source: string) => void;
}

/** Compiles `file`; shows its diagnostics through the env; throws ModelError (exit 1) on errors,
 *  UsageError (exit 2) when a --set value is at fault. */
export function loadModel(env: SessionEnv, file: string, sets: Map<string, string>, opts: LoadOptions = {}): { model: CheckedModel; result: CompileResult } {
  const source = opts.source ?? readModelFile(env.host.readFile, file);
  const result = compileSource(file, source, sets);
  if (!result.model) opts.onFailure?.(result, source);
  // A bad --set (V=0) is the user's invocation, and what it breaks downstream (tokens_BLV no longer
  // defined) follows from it: show the invocation errors alone, exit 2.
  const invocation = result.diagnostics.some((d) => d.code === 'invocation' && d.severity === 'error');
  const shown = invocation
    ? result.diagnostics.filter((d) => d.code === 'invocation')
    : opts.quietWarnings
      ? result.diagnostics.filter((d) => d.severity === 'error')
      : result.diagnostics;
  if (shown.length) env.diagnostics(shown, result.sources);
  if (!result.model) throw invocation ? new UsageError('') : new ModelError('');
  return { model: result.model, result };
}
