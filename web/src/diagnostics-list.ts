// The diagnostics beside the editor: each as `arch check` renders it (message, location, the
// source line with its spans, notes and help), one list item each, text starting LINE:COL.
import { h } from './dom.js';
import type { Analysis } from './analysis.js';

export interface DiagnosticInfo {
  line: number;
  col: number;
  endLine: number;
  endCol: number;
  severity: 'error' | 'warning';
  code: string;
  message: string;
  help?: string;
  text: string;
}

export function diagnosticInfos(a: Analysis): DiagnosticInfo[] {
  return a.diagnostics.map((d, i) => ({
    line: d.span.start.line,
    col: d.span.start.col,
    endLine: d.span.end.line,
    endCol: d.span.end.col,
    severity: d.severity,
    code: d.code,
    message: d.message,
    help: d.help,
    text: `${d.span.start.line}:${d.span.start.col} ${a.rendered[i]}`,
  }));
}

export function renderDiagnostics(root: HTMLElement, a: Analysis, jump: (offset: number) => void): void {
  root.replaceChildren();
  a.diagnostics.forEach((d, i) => {
    const li = h('li', { class: d.severity, 'data-line': d.span.start.line }, `${d.span.start.line}:${d.span.start.col} ${a.rendered[i]}`);
    li.addEventListener('click', () => jump(d.span.start.offset));
    root.append(li);
  });
  const time = document.getElementById('check-time');
  if (time) time.textContent = `checked in ${a.ms.toFixed(0)} ms`;
  if (!a.diagnostics.length && time) time.textContent += a.model ? ' — no problems' : '';
}
