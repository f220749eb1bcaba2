// The editor: CodeMirror 6 with the language service's colouring (src/service/highlight.ts, the
// rules the VS Code grammar is generated from), its diagnostics underlined in place (a linter fed
// by the page's latest analysis), its hovers (a tensor's shapes and where their sizes came from,
// a block call's parameters) and its completions.
import { EditorView, basicSetup } from 'codemirror';
import { EditorState } from '@codemirror/state';
import { HighlightStyle, StreamLanguage, syntaxHighlighting } from '@codemirror/language';
import { linter, type Diagnostic as LintDiagnostic } from '@codemirror/lint';
import type { CompletionContext, CompletionResult } from '@codemirror/autocomplete';
import { hoverTooltip } from '@codemirror/view';
import { tags as t } from '@lezer/highlight';
import { archStreamParser, type CompletionEntry } from './core.js';
import { completionsAt, hoverAt, type Analysis } from './analysis.js';
import { renderMarkdown } from './markdown.js';

const archLanguage = StreamLanguage.define(archStreamParser);

const archHighlight = HighlightStyle.define([
  { tag: [t.keyword, t.controlKeyword], color: '#7c3aed', fontWeight: '600' },
  { tag: t.comment, color: '#6b7280', fontStyle: 'italic' },
  { tag: [t.number, t.atom], color: '#b45309' },
  { tag: t.typeName, color: '#0e7490', fontWeight: '700' },
  { tag: [t.namespace, t.definition(t.function(t.variableName))], color: '#1d4ed8', fontWeight: '600' },
  { tag: [t.function(t.variableName), t.standard(t.function(t.variableName))], color: '#1d4ed8' },
  { tag: t.constant(t.variableName), color: '#15803d' },
  { tag: t.operator, color: '#be123c' },
]);

const COMPLETION_TYPES: Record<CompletionEntry['kind'], string> = { dim: 'type', block: 'function', builtin: 'function', variant: 'constant', value: 'enum', tensor: 'variable' };

export interface EditorHooks {
  /** Called (debounced by the caller) whenever the text changes. */
  onChange(text: string): void;
  /** The analysis of exactly `text`, now (the service keeps the last one, so this is cheap). */
  analysisNow(text: string): Analysis;
  /** Resolves once the page's analysis of exactly `text` is available. */
  analysisOf(text: string): Promise<Analysis>;
}

function lintFrom(a: Analysis, docLength: number): LintDiagnostic[] {
  const lines = a.service.lines;
  const clamp = (p: { line: number; character: number }): number => Math.min(lines.offsetAt(p), docLength);
  const out: LintDiagnostic[] = [];
  for (const d of a.lint) {
    const from = clamp(d.range.start);
    out.push({ from, to: Math.max(clamp(d.range.end), from), severity: d.severity, source: `${d.severity}[${d.code}]`, message: d.message });
    for (const r of d.related) {
      if (r.location.file !== a.service.file) continue;
      const sf = clamp(r.location.range.start);
      out.push({ from: sf, to: Math.max(clamp(r.location.range.end), sf), severity: 'info', source: 'related', message: `${r.message} (see: ${d.message.split('\n')[0]})` });
    }
  }
  return out;
}

export function createEditor(parent: HTMLElement, initial: string, hooks: EditorHooks): EditorView {
  const archLint = linter(async (view) => lintFrom(await hooks.analysisOf(view.state.doc.toString()), view.state.doc.length), { delay: 150 });
  const hover = hoverTooltip((view, pos) => {
    const a = hooks.analysisNow(view.state.doc.toString());
    const r = hoverAt(a, pos);
    if (!r) return null;
    const lines = a.service.lines;
    return {
      pos: lines.offsetAt(r.range.start),
      end: lines.offsetAt(r.range.end),
      above: true,
      create: () => {
        const dom = renderMarkdown(r.contents);
        dom.className = 'shape-tip';
        dom.dataset.testid = 'shape-tooltip';
        return { dom };
      },
    };
  });
  const complete = (ctx: CompletionContext): CompletionResult | null => {
    const word = ctx.matchBefore(/[A-Za-z0-9_*]*/);
    if (!ctx.explicit && (!word || word.from === word.to)) return null;
    const a = hooks.analysisNow(ctx.state.doc.toString());
    const c = completionsAt(a, ctx.pos);
    if (!c.items.length) return null;
    return {
      from: c.replace ? a.service.lines.offsetAt(c.replace.start) : ctx.pos,
      options: c.items.map((i) => ({ label: i.label, type: COMPLETION_TYPES[i.kind], detail: i.detail, info: i.documentation })),
      validFor: /^[A-Za-z0-9_]*$/,
    };
  };
  return new EditorView({
    parent,
    state: EditorState.create({
      doc: initial,
      extensions: [
        basicSetup,
        EditorView.lineWrapping,
        archLanguage,
        archLanguage.data.of({ autocomplete: complete }),
        syntaxHighlighting(archHighlight),
        archLint,
        hover,
        EditorView.updateListener.of((u) => {
          if (u.docChanged) hooks.onChange(u.state.doc.toString());
        }),
      ],
    }),
  });
}

export function setText(view: EditorView, text: string): void {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}
