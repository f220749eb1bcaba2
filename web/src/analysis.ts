// Checking the text: the one module that asks the compiler about the editor's source, so that it
// can move to the language service (src/service) later without touching the rest of the page.
import { compileSource, modelStats, renderDiagnostic, type CheckedModel, type Diagnostic, type ModelStats } from './core.js';

export const FILE = 'playground.arch';

export interface Analysis {
  source: string;
  sets: Map<string, string>;
  model: CheckedModel | null;
  stats: ModelStats | null;
  /** Errors first, then warnings, each in source order (as `arch check` prints them). */
  diagnostics: Diagnostic[];
  /** Each diagnostic as `arch check` renders it, by index into `diagnostics`. */
  rendered: string[];
  ms: number;
}

export function analyse(source: string, sets: Map<string, string>): Analysis {
  const started = performance.now();
  const r = compileSource(FILE, source, sets);
  const diagnostics = [...r.diagnostics].sort(
    (a, b) => Number(a.severity === 'warning') - Number(b.severity === 'warning') || a.file.localeCompare(b.file) || a.span.start.offset - b.span.start.offset,
  );
  const rendered = diagnostics.map((d) => renderDiagnostic(d, { sources: r.sources, color: false }));
  const stats = r.model ? modelStats(r.model) : null;
  return { source, sets, model: r.model, stats, diagnostics, rendered, ms: performance.now() - started };
}

type Dim = number | string;

export function shapeOf(m: CheckedModel, axes: string[]): Dim[] {
  return axes.map((a) => {
    const info = m.axes.get(a);
    if (!info) return a;
    return info.size === null ? info.letter : `${info.letter}=${info.size}`;
  });
}

export const fmtShape = (s: Dim[]): string => `[${s.join(', ')}]`;

/** The resolved shapes of a tensor name (one per block instance where it differs). */
export function shapesOfName(m: CheckedModel, name: string): string[] {
  const out = new Set<string>();
  for (const t of m.trace) if (t.name === name) out.add(fmtShape(shapeOf(m, m.nodes[t.node]!.axes)));
  for (const i of m.inputs) if (i.name === name) out.add(fmtShape(shapeOf(m, i.axes)));
  for (const p of m.params) if (p.name === name) out.add(fmtShape(p.shape));
  return [...out];
}
