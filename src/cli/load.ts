// Reads and checks a model file for any command, printing diagnostics the same way everywhere.
import { compileSource, type CompileResult } from '../compiler/compile.js';
import { renderDiagnostics } from '../compiler/diagnostics.js';
import type { CheckedModel } from '../compiler/graph.js';
import { UsageError } from './args.js';
import { readRegularFile } from '../host/node/files.js';
import { utf8Text } from '../data/files.js';

export class ModelError extends Error {}

const MAX_FILE = 16 * 2 ** 20;

export function readModelFile(file: string): string {
  const bytes = readRegularFile(file, MAX_FILE, (p) => {
    if (p.kind === 'missing') return new UsageError(`can't read ${file}: no such file\n  hint: the models that ship with arch are in models/, e.g. models/gpt2.arch`);
    if (p.kind === 'directory') return new UsageError(`${file} is a directory, not a .arch file`);
    if (p.kind === 'too-large') return new UsageError(`${file} is ${p.text}: too large to be a .arch model`);
    return new UsageError(`${file} is ${p.text}\n  hint: a model is a .arch text file, e.g. models/gpt2.arch`);
  });
  return utf8Text(bytes);
}

export function useColor(): boolean {
  return Boolean(process.stderr.isTTY) && !process.env.NO_COLOR;
}

export interface LoadOptions {
  quietWarnings?: boolean;
  /** The source to compile under `file`'s name instead of the file's text (a resumed run's own). */
  source?: string;
  /** Called when the model does not compile, before anything is printed: may throw its own error. */
  onFailure?: (result: CompileResult, source: string) => void;
}

/** Compiles `file`; prints the diagnostics to stderr; throws ModelError (exit 1) on errors. */
export function loadModel(file: string, sets: Map<string, string>, opts: LoadOptions = {}): { model: CheckedModel; result: CompileResult } {
  const source = opts.source ?? readModelFile(file);
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
  if (shown.length) process.stderr.write(renderDiagnostics(shown, { sources: result.sources, color: useColor() }) + '\n');
  if (!result.model) throw invocation ? new UsageError('') : new ModelError('');
  return { model: result.model, result };
}
