// Checking the text: the page asks the language service (src/service, the one `arch lsp` serves)
// about the editor's source: diagnostics, the checked model, hovers and completions.
import { LanguageService, modelStats, preludeSource, PRELUDE_FILE, renderDiagnostic, type CheckedModel, type Completions, type Diagnostic, type HoverResult, type ModelStats, type ServiceAnalysis, type ServiceDiagnostic } from './core.js';

export const FILE = 'playground.arch';

const service = new LanguageService(preludeSource());

export interface Analysis {
  source: string;
  sets: Map<string, string>;
  /** The service's record of this text: parse tree, tokens, names, instances. */
  service: ServiceAnalysis;
  model: CheckedModel | null;
  stats: ModelStats | null;
  /** Errors first, then warnings, each in source order (as `arch check` prints them). */
  diagnostics: Diagnostic[];
  /** Each diagnostic as `arch check` renders it, by index into `diagnostics`. */
  rendered: string[];
  /** The same problems as the service places them in this text (a prelude error at its call). */
  lint: ServiceDiagnostic[];
  ms: number;
}

export function analyse(source: string, sets: Map<string, string>): Analysis {
  const started = performance.now();
  const a = service.analyze(FILE, source, sets);
  const diagnostics = [...a.diagnostics].sort(
    (x, y) => Number(x.severity === 'warning') - Number(y.severity === 'warning') || x.file.localeCompare(y.file) || x.span.start.offset - y.span.start.offset,
  );
  const sources = new Map([[FILE, source], [PRELUDE_FILE, service.preludeText]]);
  const rendered = diagnostics.map((d) => renderDiagnostic(d, { sources, color: false }));
  const stats = a.model ? modelStats(a.model) : null;
  return { source, sets, service: a, model: a.model, stats, diagnostics, rendered, lint: service.diagnostics(a), ms: performance.now() - started };
}

/** What the service says about the name at `offset` of the analysed text (markdown), or null. */
export function hoverAt(a: Analysis, offset: number): HoverResult | null {
  return service.hover(a.service, a.service.lines.positionAt(offset));
}

export function completionsAt(a: Analysis, offset: number): Completions {
  return service.completion(a.service, a.service.lines.positionAt(offset));
}
