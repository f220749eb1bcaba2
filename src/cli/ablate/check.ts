// Before any run starts: every --vary value and every cell of the grid must compile, with the
// same diagnostics (and exit codes) as --set gives.
import { compileSource } from '../../compiler/compile.js';
import { renderDiagnostics } from '../../compiler/diagnostics.js';
import { UsageError } from '../args.js';
import { ModelError, useColor } from '../load.js';
import type { Cell, Vary } from './grid.js';

type Result = ReturnType<typeof compileSource>;

export function checkGrid(file: string, source: string, base: Map<string, string>, varies: readonly Vary[], cells: readonly Cell[]): void {
  for (const v of varies)
    if (base.has(v.name)) throw new UsageError(`${v.name} is both set (--set ${v.name}=${base.get(v.name)}) and varied (--vary ${v.name}=...); keep one`);
  // Stage by stage, so that a bad value is reported once, not once per cell that holds it.
  // A value alone is checked for what is wrong whatever the rest of the grid (an unknown name, a
  // value the variant lacks); whether sizes divide depends on the cell.
  fail([{ label: '', result: compileSource(file, source, base) }], varies, true);
  fail(varies.flatMap((v) => v.values.map((x) => ({ label: '', result: compileSource(file, source, new Map([...base, [v.name, x]])) }))), varies, true);
  fail(cells.map((c) => ({ label: c.label, result: compileSource(file, source, new Map([...base, ...c.values])) })), varies, false);
}

function fail(checked: { label: string; result: Result }[], varies: readonly Vary[], invocationOnly: boolean): void {
  const seen = new Set<string>();
  const parts: string[] = [];
  let onlyInvocation = true;
  for (const { label, result } of checked) {
    const errors = result.diagnostics.filter((d) => d.severity === 'error' && (!invocationOnly || d.code === 'invocation'));
    if (!errors.length && (result.model || invocationOnly)) continue;
    let text = renderDiagnostics(errors, { sources: result.sources, color: useColor() });
    // The checker names the flag --set; here the value came from --vary.
    for (const v of varies) for (const x of v.values) text = text.split(`--set ${v.name}=${x}`).join(`--vary ${v.name}=${x}`);
    if (seen.has(text)) continue;
    seen.add(text);
    if (!errors.every((d) => d.code === 'invocation')) onlyInvocation = false;
    parts.push(label ? `in the cell ${label}:\n${text}` : text);
  }
  if (!parts.length) return;
  process.stderr.write(parts.join('\n') + '\n');
  if (onlyInvocation) throw new UsageError('no run was started: fix the --vary/--set values above');
  throw new ModelError('no run was started: every cell of the grid must compile');
}
