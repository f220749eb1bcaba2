// Syntax colouring by lexical rules alone, written once as data for every editor: the VS Code
// extension's TextMate grammar is generated from these rules (textmate.ts, `npm run build:grammar`)
// and a CodeMirror StreamLanguage can call highlightLine. Semantic tokens (tokens.ts) refine this
// with what the checker knows; these rules are what an editor shows before the server answers.
//
// Every construct of the language fits on one line (comments run to the end of theirs), so the
// rules need no state across lines. The regexes use only what JavaScript and Oniguruma (TextMate)
// read alike: classes, \b, \s, \d, lookahead; no lookbehind, no named groups.
import { KEYWORDS } from '../../grammar/lexer.js';
import { BUILTINS } from '../compiler/builtins.js';

/** What a run of characters is. */
export type HighlightKind =
  | 'comment' | 'keyword' | 'control' | 'number' | 'operator' | 'arrow' | 'matmul' | 'punctuation'
  | 'model' | 'block' | 'call' | 'builtin' | 'variant' | 'value' | 'dim' | 'shape' | 'tensor';

/** Each kind's TextMate scope and @lezer/highlight tag (in StreamLanguage's dotted notation). */
export const HIGHLIGHT_STYLES: Record<HighlightKind, { scope: string; tag: string }> = {
  comment: { scope: 'comment.line.number-sign.arch', tag: 'lineComment' },
  keyword: { scope: 'keyword.other.arch', tag: 'keyword' },
  control: { scope: 'keyword.control.conditional.arch', tag: 'controlKeyword' },
  number: { scope: 'constant.numeric.arch', tag: 'number' },
  operator: { scope: 'keyword.operator.arch', tag: 'operator' },
  arrow: { scope: 'keyword.operator.arrow.arch', tag: 'operator' },
  matmul: { scope: 'keyword.operator.matmul.arch', tag: 'operator' },
  punctuation: { scope: 'punctuation.separator.arch', tag: 'punctuation' },
  model: { scope: 'entity.name.namespace.arch', tag: 'namespace' },
  block: { scope: 'entity.name.function.block.arch', tag: 'variableName.function.definition' },
  call: { scope: 'entity.name.function.call.arch', tag: 'variableName.function' },
  builtin: { scope: 'support.function.builtin.arch', tag: 'variableName.function.standard' },
  variant: { scope: 'variable.other.constant.variant.arch', tag: 'variableName.constant' },
  value: { scope: 'constant.language.variant-value.arch', tag: 'atom' },
  dim: { scope: 'entity.name.type.dim.arch', tag: 'typeName' },
  shape: { scope: 'entity.name.type.shape.arch', tag: 'typeName' },
  tensor: { scope: 'variable.other.tensor.arch', tag: 'variableName' },
};

/** One regex: the whole match is `kind`, or each capture group i + 1 is `captures[i]`. */
export interface MatchRule {
  name: string;
  match: string;
  kind?: HighlightKind;
  captures?: HighlightKind[];
}

/** A line whose rest reads by rules of its own: from `begin` to the end of the line. */
export interface LineRule {
  name: string;
  begin: string;
  captures: HighlightKind[];
  patterns: MatchRule[];
}

export type HighlightRule = MatchRule | LineRule;

const NAME = '[A-Za-z][A-Za-z0-9_]*';
const NUMBER = '\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?';
const words = (list: readonly string[]): string => `\\b(?:${list.join('|')})\\b`;
const CONTROL = ['if', 'elif', 'else'];
// `normal`, `zeros`, `ones` are what follows a `~`; they are not callable elsewhere.
const INITS = ['normal', 'zeros', 'ones'];

const comment: MatchRule = { name: 'comment', match: '#.*', kind: 'comment' };
const number: MatchRule = { name: 'number', match: NUMBER, kind: 'number' };
const operators: MatchRule[] = [
  { name: 'arrow', match: '->', kind: 'arrow' },
  { name: 'matmul', match: '@', kind: 'matmul' },
  { name: 'operator', match: '==|!=|<=|>=|[-+*/%^<>=~|]', kind: 'operator' },
  { name: 'punctuation', match: '[()\\[\\],:]', kind: 'punctuation' },
];

/** In order: at any one place the first rule that matches there wins (as in TextMate). */
export const HIGHLIGHT_RULES: HighlightRule[] = [
  comment,
  { name: 'model', match: `\\b(model)\\s+(${NAME})`, captures: ['keyword', 'model'] },
  { name: 'block-declaration', match: `\\b(block)\\s+(${NAME})`, captures: ['keyword', 'block'] },
  // `variant act = gelu | relu`: the words after the name are its values.
  {
    name: 'variant-declaration',
    begin: `\\b(variant)\\s+(${NAME})`,
    captures: ['keyword', 'variant'],
    patterns: [comment, number, { name: 'variant-value', match: NAME, kind: 'value' }, ...operators],
  },
  // `if act == gelu`: a variant and one of its values.
  { name: 'condition', match: `\\b(if|elif)\\s+(${NAME})\\s*(==|!=)\\s*(${NAME}|${NUMBER})`, captures: ['control', 'variant', 'operator', 'value'] },
  { name: 'control', match: words(CONTROL), kind: 'control' },
  { name: 'keyword', match: words(KEYWORDS.filter((k) => !CONTROL.includes(k))), kind: 'keyword' },
  { name: 'init', match: `(~)\\s*(${words(INITS)})`, captures: ['operator', 'builtin'] },
  { name: 'encoding', match: `(:)\\s*(${NAME})`, captures: ['punctuation', 'keyword'] },
  // `x_BLD`, `out_*O`, `mu_*`: the capitals (or `*`) after the last underscore are the shape.
  { name: 'shaped-name', match: `(${NAME}_)(\\*[A-Z]*|[A-Z]+)(?![A-Za-z0-9_])`, captures: ['tensor', 'shape'] },
  { name: 'builtin-call', match: `${words(BUILTINS)}(?=\\s*\\()`, kind: 'builtin' },
  { name: 'call', match: `${NAME}(?=\\s*\\()`, kind: 'call' },
  // A block's result: `-> *D`, `-> *`, `-> scalar` (`-> BLD` is a shape by the rule below).
  { name: 'result', match: '(->)\\s*(\\*[A-Z]*|scalar\\b)', captures: ['arrow', 'shape'] },
  { name: 'dim', match: '\\b[A-Z]\\b', kind: 'dim' },
  { name: 'shape', match: '\\b[A-Z]+\\b', kind: 'shape' },
  { name: 'name', match: NAME, kind: 'tensor' },
  number,
  ...operators,
];

export interface HighlightToken {
  from: number;
  to: number;
  kind: HighlightKind;
}

const compiled = new Map<string, RegExp>();
/** Sticky, with group indices: a rule is tried exactly at one place of the whole line, so that \b
 *  and lookahead see the characters around it. */
function regex(source: string): RegExp {
  let r = compiled.get(source);
  if (!r) compiled.set(source, (r = new RegExp(source, 'dy')));
  return r;
}

/** The coloured runs of one line, in order; characters in no run (spaces, a stray `!`) are plain. */
export function highlightLine(line: string): HighlightToken[] {
  const out: HighlightToken[] = [];
  let rules: HighlightRule[] = HIGHLIGHT_RULES;
  let pos = 0;
  while (pos < line.length) {
    let advanced = false;
    for (const rule of rules) {
      const r = regex('match' in rule ? rule.match : rule.begin);
      r.lastIndex = pos;
      const m = r.exec(line);
      if (!m || m[0].length === 0) continue;
      if (rule.captures) {
        rule.captures.forEach((kind, i) => {
          const at = m.indices?.[i + 1];
          if (at && at[1] > at[0]) out.push({ from: at[0], to: at[1], kind });
        });
      } else if ('match' in rule && rule.kind) out.push({ from: pos, to: pos + m[0].length, kind: rule.kind });
      if (!('match' in rule)) rules = rule.patterns;
      pos += m[0].length;
      advanced = true;
      break;
    }
    if (!advanced) pos++;
  }
  return out;
}

/** What a CodeMirror StringStream offers that the parser below reads. */
export interface LineStream {
  string: string;
  pos: number;
  sol(): boolean;
}

export interface StreamState {
  line: string;
  tokens: HighlightToken[];
}

/** A CodeMirror stream parser over highlightLine: `StreamLanguage.define(archStreamParser)`.
 *  Typed structurally so that the core needs no CodeMirror; each token's style is a tag name. */
export const archStreamParser = {
  name: 'arch',
  startState: (): StreamState => ({ line: '', tokens: [] }),
  token(stream: LineStream, state: StreamState): string | null {
    if (stream.sol() || state.line !== stream.string) {
      state.line = stream.string;
      state.tokens = highlightLine(stream.string);
    }
    const next = state.tokens.find((t) => t.to > stream.pos);
    if (!next) {
      stream.pos = stream.string.length;
      return null;
    }
    if (next.from > stream.pos) {
      stream.pos = next.from;
      return null;
    }
    stream.pos = next.to;
    return HIGHLIGHT_STYLES[next.kind].tag;
  },
  languageData: { commentTokens: { line: '#' }, indentOnInput: /^\s*(?:elif|else)\b/ },
};
