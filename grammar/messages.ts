// Words for syntax errors. The parser says which tokens it expected in which rule; this file says
// what that means in the language's terms, with the line in view, and where a fix is obvious, the fix.
import type { IToken } from 'chevrotain';
import type { Span } from './ast.js';
import type { Diagnostic } from './diagnostic.js';
import { editDistance } from './edit-distance.js';
import { fromTo, KEYWORDS, LBracket, LParen, RBracket, RParen, spanAfter, tokenSpan, type UnknownRun } from './lexer.js';
import { isEnd, MAX_LINE_TOKENS, MAX_NESTING, type LineRule, type ParseProblem } from './parser.js';

const WORDS: Record<string, string> = {
  Name: 'a name',
  Number: 'a number',
  Arrow: '`->`',
  Equals: '`=`',
  EqEq: '`==`',
  NotEq: '`!=`',
  Tilde: '`~`',
  Colon: '`:`',
  Comma: '`,`',
  Pipe: '`|`',
  Star: '`*`',
  LParen: '`(`',
  RParen: '`)`',
  LBracket: '`[`',
  RBracket: '`]`',
  EOF: 'the end of the line',
};

// The tokens an expression can start with; when the parser expected all of these, it wanted "an expression".
const EXPRESSION_START = ['Minus', 'Number', 'Name', 'Repeat', 'LParen'];

const EXAMPLE = {
  block: '`block mlp(x_BLD) -> BLD`',
  param: '`param w_D ~ normal(0.02)`',
  variant: '`variant act = gelu | relu`',
  input: '`input tokens_BLV : onehot`',
  if: '`if act == gelu`',
  repeat: '`repeat N layer(x_BLD)`',
  reshape: '`x_BLD[D -> H K]`',
};

interface Wording {
  message: string;
  help?: string;
  span?: Span; // defaults to the offending token (or the end of the line)
  secondary?: { span: Span; label: string }[];
}

/** The diagnostic for a line that failed to parse. */
export function syntaxError(problem: ParseProblem, line: IToken[], rule: LineRule, file: string): Diagnostic {
  const at = problem.token;
  const last = line[line.length - 1]!;
  const w = word(problem, line, rule, last);
  const d = syntax(file, w.span ?? (isEnd(at) ? spanAfter(last) : tokenSpan(at)), w.message, w.help);
  return w.secondary ? { ...d, secondary: w.secondary } : d;
}

function word(p: ParseProblem, line: IToken[], rule: LineRule, last: IToken): Wording {
  const at = p.token;
  const end = isEnd(at);
  const prev = previous(line, at);
  const found = end ? ', but the line ends' : `, found ${show(at)}`;
  const first = line[0]!;
  const lineKind = rule === 'dimLine' ? 'dim' : KEYWORDS.includes(first.image) ? first.image : 'assign';

  if (p.kind === 'tooDeep') {
    return {
      message: 'expressions nested too deeply',
      help: `more than ${MAX_NESTING} levels of parentheses, minus signs or powers: name the inner parts on lines of their own`,
    };
  }

  if (p.kind === 'tooLong') {
    return {
      message: `line too long: ${line.length} tokens`,
      help: `a line holds at most ${MAX_LINE_TOKENS} tokens: name parts of it on lines of their own`,
      span: fromTo(tokenSpan(first), tokenSpan(last)),
    };
  }

  // An unclosed `(` or `[` explains any problem at the end of its line.
  const open = unclosed(line, at);
  if (end && open) {
    const closer = open.tokenType === LParen ? '`)`' : '`]`';
    return {
      message: `unclosed \`${open.image}\`: expected ${closer} before the end of the line`,
      span: tokenSpan(open),
      secondary: [{ span: spanAfter(line[line.length - 1]!), label: `${closer} expected here` }],
    };
  }

  if (p.kind === 'redundant') return leftover(at, prev, line, lineKind);

  const expected = p.expected;
  const wantsExpression = EXPRESSION_START.every((t) => expected.includes(t));
  if (wantsExpression) {
    if (prev?.image === '=' && lineKind === 'assign') return { message: `expected a value after \`=\`${found}` };
    return { message: `expected an expression after ${show(prev)}${found}` };
  }

  switch (p.rule) {
    case 'line':
      return {
        message: `expected a statement${found}`,
        help: 'a line starts with a name to assign (`x_BLD = ...`) or a keyword: `param`, `if`, `block`, `dims`, `variant`, `input`, `model`',
      };
    case 'dimLine':
      return {
        message: `expected a dim letter${found}`,
        help: 'under `dims`, each line declares one capital letter: `D = 768`, or `B` alone for a dim chosen when the model runs',
      };
    case 'modelLine':
      return { message: `expected the model's name after \`model\`${found}`, help: 'write `model gpt2`' };
    case 'variantLine':
      if (prev?.image === 'variant') return { message: `expected the variant's name after \`variant\`${found}`, help: `for example ${EXAMPLE.variant}` };
      if (expected.includes('Equals')) return { message: `expected \`=\` after \`variant ${prev?.image}\`${found}`, help: `for example ${EXAMPLE.variant}` };
      if (prev?.image === '|') return { message: `expected a choice after \`|\`${found}`, help: "a variant's choices are names: " + EXAMPLE.variant };
      return {
        message: `expected the variant's choices after \`=\`${found}`,
        help: 'names separated by `|` (`gelu | relu`, the first is the default), or one number (`variant dropout = 0.1`)',
      };
    case 'inputLine':
      if (prev?.image === ':') return { message: `expected the input's encoding after \`:\`${found}`, help: 'write `: onehot` for token ids, or nothing for a float tensor' };
      return { message: `expected the input's name after \`input\`${found}`, help: `for example ${EXAMPLE.input}` };
    case 'paramLine':
      if (prev?.image === 'param') return { message: `expected the parameter's name after \`param\`${found}`, help: `for example ${EXAMPLE.param}` };
      if (at.image === '=') return { message: 'a parameter is initialised with `~`, not `=`', help: `write \`param ${prev?.image} ~ ...\`` };
      return {
        message: `expected \`~\` and an initialiser after \`param ${prev?.image}\`${found}`,
        help: 'for example `~ normal(0.02)`, `~ zeros` or `~ ones`',
      };
    case 'condition': {
      const head = first.image;
      if (prev === first) return { message: `expected a variant name after \`${head}\`${found}`, help: `for example ${EXAMPLE.if}` };
      if (expected.includes('EqEq')) {
        if (at.image === '=') return { message: `\`${head}\` compares with \`==\`, not \`=\``, help: `write ${EXAMPLE.if}` };
        return { message: `expected \`==\` or \`!=\` after \`${prev?.image}\`${found}`, help: `\`${head}\` compares a variant with one of its values: ${EXAMPLE.if}` };
      }
      return { message: `expected a value after \`${prev?.image}\`${found}`, help: 'a choice of the variant, such as `gelu`, or a number' };
    }
    case 'blockLine':
    case 'resultShape':
      return blockHeader(p, prev, found);
    case 'assignLine':
      return assignment(at, line, found);
    case 'reshape':
      return { message: `expected ${expect(expected).replace('a name', 'a dim letter')} in the reshape${found}`, help: `a reshape lists letters on both sides of \`->\`: ${EXAMPLE.reshape}` };
    case 'repeatExpr':
      return { message: `\`repeat\` needs a count and then a block call${end ? '' : `, found ${show(at)}`}`, help: `for example ${EXAMPLE.repeat}` };
    case 'args':
      if (prev?.tokenType === LParen) return { message: `expected an argument or \`)\` after \`(\`${found}` };
      return { message: `expected \`,\` or \`)\` after the argument ${show(prev)}${found}` };
    case 'primary':
      if (expected.includes('RParen')) return { message: `expected an operator or \`)\` after ${show(prev)}${found}` };
      break;
  }
  return { message: `expected ${expect(expected)}${prev ? ` after ${show(prev)}` : ''}${found}` };
}

/** Tokens left over after a complete statement. */
function leftover(at: IToken, prev: IToken | undefined, line: IToken[], lineKind: string): Wording {
  if (at.tokenType === RParen) return { message: 'unexpected `)`: this parenthesis has no matching `(`' };
  if (at.tokenType === RBracket) return { message: 'unexpected `]`: this bracket has no matching `[`' };
  const after = prev ? ` after ${show(prev)}` : '';
  switch (lineKind) {
    case 'dim':
      if (prev === line[0]) {
        const help = /^[A-Z]$/.test(at.image) ? `one dim per line: put ${show(at)} on a line of its own` : 'write `D = 768`';
        return { message: `expected \`=\` or a new line after the dim letter ${show(prev)}, found ${show(at)}`, help };
      }
      break;
    case 'model':
      return { message: `unexpected ${show(at)}${after}: a model's name is one word` };
    case 'dims':
      return { message: 'the dims go on the lines below `dims`, indented, one per line', help: 'write `dims`, then `  D = 768` on the next line' };
    case 'variant':
      if (line[3]?.image && /^\d/.test(line[3].image)) return { message: `unexpected ${show(at)}: a numeric variant has one value`, help: 'write `variant dropout = 0.1`' };
      return { message: `unexpected ${show(at)}${after}: separate a variant's choices with \`|\``, help: `write ${EXAMPLE.variant}` };
    case 'if':
    case 'elif':
      return { message: `unexpected ${show(at)}${after}: \`${line[0]!.image}\` tests one variant against one value`, help: `write ${EXAMPLE.if}` };
    case 'else':
      return { message: '`else` takes no condition', help: 'to test another value, write `elif pos == none`' };
    case 'block':
      if (/^[A-Z]+$/.test(at.image) && prev && /^[A-Z]+$/.test(prev.image)) {
        const arrow = line.findIndex((t) => t.image === '->');
        const letters = line.slice(arrow + 1).map((t) => t.image).join('');
        return { message: 'a result shape is one word: write its letters together', help: `write \`-> ${letters}\`` };
      }
      return { message: `unexpected ${show(at)} after the block's result shape`, help: `for example ${EXAMPLE.block}` };
    case 'input':
      return { message: `unexpected ${show(at)}${after}`, help: `for example ${EXAMPLE.input}` };
  }
  if (at.image === '=') return { message: 'unexpected `=`: a line assigns one value', help: 'to compare two values, write `==`' };
  if (at.image === ',') return { message: 'unexpected `,` outside the parentheses of a call' };
  return { message: `expected an operator or the end of the line${after}, found ${show(at)}` };
}

function blockHeader(p: ParseProblem, prev: IToken | undefined, found: string): Wording {
  const e = p.expected;
  if (prev?.image === 'block') return { message: `expected the block's name after \`block\`${found}`, help: `for example ${EXAMPLE.block}` };
  if (e.includes('Arrow') || (p.rule === 'resultShape' && isEnd(p.token))) {
    return { message: `a block needs a result shape: ${EXAMPLE.block}`, help: 'add `->` and the letters of its result after the parameters: `-> BLD`, `-> *D` or `-> scalar`' };
  }
  if (p.rule === 'resultShape') return { message: `expected the result's letters after \`->\`${found}`, help: 'for example `-> BLD`, `-> *D` or `-> scalar`' };
  if (e.length === 1 && e[0] === 'LParen') return { message: `a block lists its parameters in parentheses${found}`, help: `for example ${EXAMPLE.block}` };
  if (e.includes('RParen')) {
    const after = prev?.tokenType === LParen ? 'a parameter or `)` after `(`' : `\`,\` or \`)\` after the parameter ${show(prev)}`;
    return { message: `expected ${after}${found}`, help: `for example ${EXAMPLE.block}` };
  }
  return { message: `expected ${expect(e)} in the block's parameters${found}`, help: `for example ${EXAMPLE.block}` };
}

/** `name = value` went wrong right after the name: often a misspelt keyword. */
function assignment(at: IToken, line: IToken[], found: string): Wording {
  const name = line[0]!.image;
  const keyword = KEYWORDS.find((k) => k !== 'repeat' && nearlyEqual(name, k));
  if (keyword && !isEnd(at)) return { message: `unknown keyword \`${name}\``, help: `did you mean \`${keyword}\`?`, span: tokenSpan(line[0]!) };
  if (at.image === '~') return { message: `expected \`=\` after \`${name}\`${found}`, help: `a parameter is declared with \`param\`: \`param ${name} ~ ...\`` };
  if (isEnd(at)) return { message: `expected \`=\` after \`${name}\`: a line gives a name a value`, help: `write \`${name} = ...\`` };
  return { message: `expected \`=\` after \`${name}\`${found}` };
}

/** The innermost `(` or `[` still open before `at`. */
function unclosed(line: IToken[], at: IToken): IToken | undefined {
  const stack: IToken[] = [];
  for (const t of line) {
    if (!isEnd(at) && t.startOffset >= at.startOffset) break;
    if (t.tokenType === LParen || t.tokenType === LBracket) stack.push(t);
    else if (t.tokenType === RParen || t.tokenType === RBracket) stack.pop();
  }
  return stack[stack.length - 1];
}

function previous(line: IToken[], at: IToken): IToken | undefined {
  if (isEnd(at)) return line[line.length - 1];
  let prev: IToken | undefined;
  for (const t of line) {
    if (t.startOffset >= at.startOffset) break;
    prev = t;
  }
  return prev;
}

function show(t: IToken | undefined): string {
  if (!t || isEnd(t)) return 'the end of the line';
  return quote(t.image.length > 30 ? t.image.slice(0, 30) + '...' : t.image);
}

/** Source text in backticks, as the messages write code; a backtick itself gets double ones. */
function quote(text: string): string {
  const shown = printable(text);
  return shown.includes('`') ? '`` ' + shown + ' ``' : '`' + shown + '`';
}

function expect(names: string[]): string {
  const words = [...new Set(names.map((n) => WORDS[n] ?? n))];
  if (words.length <= 1) return words[0] ?? 'something else';
  return words.slice(0, -1).join(', ') + ' or ' + words[words.length - 1];
}

/** One edit apart (or two for longer words): `blok`, `parm`, `varient`. */
function nearlyEqual(a: string, b: string): boolean {
  return a !== b && editDistance(a, b, b.length > 4 ? 2 : 1) < Number.POSITIVE_INFINITY;
}

/** One diagnostic for a run of characters that start no token. */
export function unknownCharacters(run: UnknownRun, source: string, file: string): Diagnostic {
  const text = source.slice(run.offset, run.offset + run.length);
  const shown = text.length > 12 ? text.slice(0, 12) + '...' : text;
  const start = { offset: run.offset, line: run.line, col: run.col };
  const span = { start, end: { offset: run.offset + run.length, line: run.line, col: run.col + run.length } };
  const message = `unknown character${text.length > 1 ? 's' : ''} ${quote(shown)}`;
  return syntax(file, span, message, unknownHelp(text, source[run.offset + run.length]));
}

function unknownHelp(run: string, next: string | undefined): string | undefined {
  const c = run[0]!;
  if (c === '.' && next !== undefined && /\d/.test(next)) return 'write a digit before the point: `0.5`';
  if (c === '!') return '`!=` means "not equal"';
  if (c === '"' || c === "'") return 'arch has no strings';
  if (c === ';') return 'a statement ends at the end of its line: no `;` is needed';
  if (c === '{' || c === '}') return 'blocks are made by indentation, not braces';
  if (c === '_') return 'a name starts with a letter';
  if (c === '\uFFFD' || /[\u0000-\u0008\u000e-\u001f]/.test(c)) return 'the file is not plain UTF-8 text here';
  if (/\p{L}/u.test(run)) return 'names are made of ASCII letters, digits and `_`';
  return undefined;
}

/** Control characters and the like, written as escapes so that a message stays one readable line. */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\uFFFD\uFEFF]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

export function syntax(file: string, span: Span, message: string, help?: string): Diagnostic {
  return help ? { severity: 'error', code: 'syntax', message, file, span, help } : { severity: 'error', code: 'syntax', message, file, span };
}
