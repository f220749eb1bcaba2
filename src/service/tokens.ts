// Semantic tokens: every keyword, number, comment and name of the document, names coloured by
// what they are, and a tensor name's shape suffix (`BLD` of `x_BLD`) as a type of its own.
import { Block, Dims, Elif, Else, If, Input, Model, Name, NumberLit, Param, Repeat, Variant } from '../../grammar/lexer.js';
import type { Analysis } from './analysis.js';
import type { Occurrence } from './occurrences.js';
import type { SemanticToken, TokenModifier, TokenType } from './types.js';

const KEYWORDS = new Set([Model, Dims, Variant, Input, Param, Block, If, Elif, Else, Repeat]);

export function semanticTokens(a: Analysis): SemanticToken[] {
  const byOffset = new Map<number, Occurrence>(a.names.occurrences.map((o) => [o.span.start.offset, o]));
  const out: SemanticToken[] = [];
  const push = (line: number, character: number, length: number, type: TokenType, modifiers: TokenModifier[] = []): void => {
    if (length > 0) out.push({ line, character, length, type, modifiers });
  };
  for (const t of a.tokens) {
    const line = (t.startLine ?? 1) - 1;
    const ch = (t.startColumn ?? 1) - 1;
    const len = t.image.length;
    if (KEYWORDS.has(t.tokenType)) push(line, ch, len, 'keyword');
    else if (t.tokenType === NumberLit) push(line, ch, len, 'number');
    else if (t.tokenType === Name) {
      const o = byOffset.get(t.startOffset);
      const mods: TokenModifier[] = o?.def ? ['declaration'] : [];
      if (!o) {
        // Words with a meaning where they stand: a result shape (`-> BLD`), `onehot`, the model's name.
        push(line, ch, len, /^\*?[A-Z]*$/.test(t.image) ? 'type' : 'keyword');
      } else if (o.kind === 'tensor') {
        const n = o.tensor;
        const cut = n && (n.letters.length || n.wildcard) ? n.text.lastIndexOf('_') + 1 : len;
        push(line, ch, cut, o.role === 'argument' || (!o.def && isArgument(o)) ? 'parameter' : 'variable', mods);
        push(line, ch + cut, len - cut, 'type');
      } else push(line, ch, len, KIND_TYPE[o.kind], o.kind === 'builtin' ? ['defaultLibrary'] : mods);
    }
  }
  // Comments are not tokens of the program: one runs from a `#` to the end of its line.
  for (let line = 0; line < a.lines.lineCount; line++) {
    const text = a.lines.lineText(line);
    const i = text.indexOf('#');
    if (i >= 0) push(line, i, text.length - i, 'comment');
  }
  return out.sort((x, y) => x.line - y.line || x.character - y.character);
}

const KIND_TYPE: Record<Exclude<Occurrence['kind'], 'tensor'>, TokenType> = {
  dim: 'typeParameter',
  letter: 'typeParameter',
  block: 'function',
  builtin: 'function',
  variant: 'enum',
  value: 'enumMember',
};

function isArgument(o: Occurrence): boolean {
  return Boolean(o.block?.params.some((p) => p.text === o.key));
}
