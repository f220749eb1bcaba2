// The editor: CodeMirror 6 with .arch highlighting, arch's diagnostics underlined in place (a
// linter fed by the page's latest analysis) and a tensor's resolved shape on hover.
import { EditorView, basicSetup } from 'codemirror';
import { EditorState } from '@codemirror/state';
import { HighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { linter, type Diagnostic as LintDiagnostic } from '@codemirror/lint';
import { hoverTooltip } from '@codemirror/view';
import { tags as t } from '@lezer/highlight';
import { archLanguage } from './arch-language.js';
import { FILE, shapesOfName, type Analysis } from './analysis.js';

const archHighlight = HighlightStyle.define([
  { tag: t.keyword, color: '#7c3aed', fontWeight: '600' },
  { tag: t.comment, color: '#6b7280', fontStyle: 'italic' },
  { tag: t.number, color: '#b45309' },
  { tag: t.typeName, color: '#0e7490', fontWeight: '700' },
  { tag: t.definition(t.variableName), color: '#1d4ed8', fontWeight: '600' },
  { tag: t.function(t.variableName), color: '#1d4ed8' },
  { tag: t.operator, color: '#be123c' },
]);

export interface EditorHooks {
  /** Called (debounced by the caller) whenever the text changes. */
  onChange(text: string): void;
  /** The latest analysis of the text, for the linter and hovers. */
  current(): Analysis | null;
  /** Resolves once the analysis of exactly `text` is available. */
  analysisOf(text: string): Promise<Analysis>;
}

function lintFrom(a: Analysis, docLength: number): LintDiagnostic[] {
  const out: LintDiagnostic[] = [];
  for (const d of a.diagnostics) {
    if (d.file !== FILE) continue;
    const from = Math.min(d.span.start.offset, docLength);
    const to = Math.min(Math.max(d.span.end.offset, from), docLength);
    const extra = [...(d.label ? [d.label] : []), ...(d.notes ?? []).map((n) => `note: ${n}`), ...(d.help ? [`help: ${d.help}`] : [])];
    out.push({ from, to, severity: d.severity, source: `${d.severity}[${d.code}]`, message: [d.message, ...extra].join('\n') });
    for (const s of d.secondary ?? []) {
      const sf = Math.min(s.span.start.offset, docLength);
      out.push({ from: sf, to: Math.min(Math.max(s.span.end.offset, sf), docLength), severity: 'info', source: 'related', message: `${s.label} (see: ${d.message})` });
    }
  }
  return out;
}

export function createEditor(parent: HTMLElement, initial: string, hooks: EditorHooks): EditorView {
  const archLint = linter(async (view) => lintFrom(await hooks.analysisOf(view.state.doc.toString()), view.state.doc.length), { delay: 150 });
  const shapeHover = hoverTooltip((view, pos) => {
    const a = hooks.current();
    if (!a?.model) return null;
    const line = view.state.doc.lineAt(pos);
    const re = /[A-Za-z_][A-Za-z0-9_]*/g;
    for (let m = re.exec(line.text); m; m = re.exec(line.text)) {
      const from = line.from + m.index;
      const to = from + m[0].length;
      if (pos < from || pos > to) continue;
      const shapes = shapesOfName(a.model, m[0]);
      if (!shapes.length) return null;
      return {
        pos: from,
        end: to,
        above: true,
        create: () => {
          const dom = document.createElement('div');
          dom.className = 'shape-tip';
          dom.dataset.testid = 'shape-tooltip';
          dom.textContent = `${m![0]}: ${shapes.join(' | ')}`;
          return { dom };
        },
      };
    }
    return null;
  });
  return new EditorView({
    parent,
    state: EditorState.create({
      doc: initial,
      extensions: [
        basicSetup,
        EditorView.lineWrapping,
        archLanguage,
        syntaxHighlighting(archHighlight),
        archLint,
        shapeHover,
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
