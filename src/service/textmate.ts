// The TextMate grammar of .arch (VS Code, and any editor that reads .tmLanguage.json), generated
// from the highlighting rules in highlight.ts: `npm run build:grammar` writes it to
// editors/vscode/syntaxes/arch.tmLanguage.json, and a test checks that the committed file is current.
import { HIGHLIGHT_RULES, HIGHLIGHT_STYLES, type HighlightKind, type HighlightRule } from './highlight.js';

export const GRAMMAR_PATH = 'editors/vscode/syntaxes/arch.tmLanguage.json';

const scope = (kind: HighlightKind): string => HIGHLIGHT_STYLES[kind].scope;
const captures = (kinds: HighlightKind[]): Record<string, { name: string }> =>
  Object.fromEntries(kinds.map((k, i) => [String(i + 1), { name: scope(k) }]));

function pattern(rule: HighlightRule): Record<string, unknown> {
  if ('begin' in rule)
    return { comment: rule.name, begin: rule.begin, beginCaptures: captures(rule.captures), end: '$', patterns: rule.patterns.map(pattern) };
  return { comment: rule.name, match: rule.match, ...(rule.kind ? { name: scope(rule.kind) } : {}), ...(rule.captures ? { captures: captures(rule.captures) } : {}) };
}

export function textmateGrammar(): Record<string, unknown> {
  return {
    information_for_contributors: [`Generated from src/service/highlight.ts by \`npm run build:grammar\`: edit the rules there, not this file.`],
    $schema: 'https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json',
    name: 'arch',
    scopeName: 'source.arch',
    fileTypes: ['arch'],
    patterns: HIGHLIGHT_RULES.map(pattern),
  };
}

/** The file's text, as committed. */
export function textmateGrammarText(): string {
  return `${JSON.stringify(textmateGrammar(), null, 2)}\n`;
}
