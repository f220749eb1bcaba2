// The language service's hovers are markdown (as LSP clients take them); the page renders the
// little they use: ``` fences, `- ` items, `code` spans and paragraphs. Text only, never HTML.
import { h } from './dom.js';

function inline(text: string): (string | HTMLElement)[] {
  return text.split(/(`[^`]*`)/).filter(Boolean).map((part) => (part.startsWith('`') && part.endsWith('`') && part.length > 1 ? h('code', {}, part.slice(1, -1)) : part));
}

export function renderMarkdown(md: string): HTMLElement {
  const root = h('div', {});
  const lines = md.split('\n');
  let list: HTMLElement | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('```')) {
      const code: string[] = [];
      for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) code.push(lines[i]!);
      root.append(h('pre', {}, code.join('\n')));
      list = null;
    } else if (line.startsWith('- ')) {
      list ??= root.appendChild(h('ul', {}));
      list.append(h('li', {}, ...inline(line.slice(2))));
    } else if (line.trim()) {
      root.append(h('p', {}, ...inline(line)));
      list = null;
    } else list = null;
  }
  return root;
}
