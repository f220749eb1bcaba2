// `npm run build:grammar`: writes the VS Code extension's TextMate grammar from the highlighting
// rules in src/service/highlight.ts (compiled to dist/ first by the npm script).
import { writeFileSync } from 'node:fs';
import { GRAMMAR_PATH, textmateGrammarText } from '../dist/src/service/textmate.js';

const out = new URL(`../${GRAMMAR_PATH}`, import.meta.url);
writeFileSync(out, textmateGrammarText());
process.stdout.write(`wrote ${GRAMMAR_PATH}\n`);
