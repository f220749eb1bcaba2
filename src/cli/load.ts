// Reads and checks a model file for any command, printing diagnostics the same way everywhere.
import { readFileSync, statSync } from 'node:fs';
import { compileSource, type CompileResult } from '../compiler/compile.js';
import { renderDiagnostics } from '../compiler/diagnostics.js';
import type { CheckedModel } from '../compiler/graph.js';
import { UsageError } from './args.js';

export class ModelError extends Error {}

const MAX_FILE = 16 * 1024 * 1024;

export function readModelFile(file: string): string {
  let st;
  try {
    st = statSync(file);
  } catch {
    throw new UsageError(`can't read ${file}: no such file\n  hint: the models that ship with arch are in models/, e.g. models/gpt2.arch`);
  }
  if (st.isDirectory()) throw new UsageError(`${file} is a directory, not a .arch file`);
  if (st.size > MAX_FILE) throw new UsageError(`${file} is ${(st.size / 1e6).toFixed(1)} MB: too large to be a .arch model (the limit is 16 MB)`);
  return readFileSync(file, 'utf8');
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
  const shown = opts.quietWarnings ? result.diagnostics.filter((d) => d.severity === 'error') : result.diagnostics;
  if (shown.length) process.stderr.write(renderDiagnostics(shown, { sources: result.sources, color: useColor() }) + '\n');
  if (!result.model) {
    const invocation = result.diagnostics.some((d) => d.code === 'invocation') && result.diagnostics.every((d) => d.severity !== 'error' || d.code === 'invocation');
    if (invocation) throw new UsageError('');
    throw new ModelError('');
  }
  return { model: result.model, result };
}
