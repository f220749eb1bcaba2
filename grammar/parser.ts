// The grammar of one line of a .arch file, as a chevrotain CST parser. layout.ts has already cut the
// file into lines and nested them by indentation, so every rule here sees a single line's tokens:
// an error stops only its own line, and the next line starts clean.
import { CstParser, EOF, type CstNode, type IRecognitionException, type IToken, type TokenType } from 'chevrotain';
import {
  AddOp, allTokens, Arrow, Block, Colon, Comma, CompareOp, Caret, Dims, Elif, Else, EqEq, Equals, If, Input,
  LBracket, LParen, Minus, Model, MulOp, Name, NotEq, NumberLit, Param, Pipe, RBracket, Repeat, RParen, Star,
  Tilde, Variant,
} from './lexer.js';

/** Parentheses, unary minuses and `^` nest the rules recursively; past this depth the line is refused
 *  before the JavaScript stack runs out. Real models nest a few levels. */
export const MAX_NESTING = 100;
/** A syntax tree costs about ten microseconds per token to build; real lines hold a few dozen tokens. */
export const MAX_LINE_TOKENS = 4000;

/** What the parser expected where it failed, in token-type names; messages.ts turns it into words. */
export interface ParseProblem {
  kind: 'mismatch' | 'noAlternative' | 'redundant' | 'tooDeep' | 'tooLong';
  expected: string[];
  rule: string;
  token: IToken; // the offending token; chevrotain's EOF when the line ended too soon
}

class TooDeep extends Error {
  constructor(readonly token: IToken) {
    super('expressions nested too deeply');
  }
}

const firstNames = (paths: TokenType[][]): string[] => paths.map((p) => p[0]?.name ?? 'EOF');

// chevrotain reports errors as strings; this provider packs the structured facts into that string
// so that messages.ts can word them with the whole line in view.
const capture = {
  buildMismatchTokenMessage: (o: { expected: TokenType; ruleName: string }) =>
    JSON.stringify({ expected: [o.expected.name], rule: o.ruleName }),
  buildNotAllInputParsedMessage: (o: { ruleName: string }) => JSON.stringify({ expected: [], rule: o.ruleName }),
  buildNoViableAltMessage: (o: { expectedPathsPerAlt: TokenType[][][]; ruleName: string }) =>
    JSON.stringify({ expected: [...new Set(o.expectedPathsPerAlt.flatMap(firstNames))], rule: o.ruleName }),
  buildEarlyExitMessage: (o: { expectedIterationPaths: TokenType[][]; ruleName: string }) =>
    JSON.stringify({ expected: [...new Set(firstNames(o.expectedIterationPaths))], rule: o.ruleName }),
};

class ArchParser extends CstParser {
  private depth = 0;

  constructor() {
    super(allTokens, { recoveryEnabled: false, maxLookahead: 2, errorMessageProvider: capture });
    this.performSelfAnalysis();
  }

  resetDepth(): void {
    this.depth = 0;
  }

  // ------------------------------------------------------------ lines

  line = this.RULE('line', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.modelLine) },
      { ALT: () => this.SUBRULE(this.dimsLine) },
      { ALT: () => this.SUBRULE(this.variantLine) },
      { ALT: () => this.SUBRULE(this.inputLine) },
      { ALT: () => this.SUBRULE(this.paramLine) },
      { ALT: () => this.SUBRULE(this.ifLine) },
      { ALT: () => this.SUBRULE(this.elifLine) },
      { ALT: () => this.SUBRULE(this.elseLine) },
      { ALT: () => this.SUBRULE(this.blockLine) },
      { ALT: () => this.SUBRULE(this.assignLine) },
    ]);
  });

  modelLine = this.RULE('modelLine', () => {
    this.CONSUME(Model);
    this.CONSUME(Name);
  });

  dimsLine = this.RULE('dimsLine', () => {
    this.CONSUME(Dims);
  });

  /** A line under `dims`: `B` or `K = D / H`. */
  dimLine = this.RULE('dimLine', () => {
    this.CONSUME(Name);
    this.OPTION(() => {
      this.CONSUME(Equals);
      this.SUBRULE(this.expression);
    });
  });

  variantLine = this.RULE('variantLine', () => {
    this.CONSUME(Variant);
    this.CONSUME(Name);
    this.CONSUME(Equals);
    this.OR([
      { ALT: () => this.CONSUME(NumberLit) },
      {
        ALT: () => {
          this.CONSUME2(Name, { LABEL: 'choice' });
          this.MANY(() => {
            this.CONSUME(Pipe);
            this.CONSUME3(Name, { LABEL: 'choice' });
          });
        },
      },
    ]);
  });

  inputLine = this.RULE('inputLine', () => {
    this.CONSUME(Input);
    this.CONSUME(Name);
    this.OPTION(() => {
      this.CONSUME(Colon);
      this.CONSUME2(Name, { LABEL: 'encoding' });
    });
  });

  paramLine = this.RULE('paramLine', () => {
    this.CONSUME(Param);
    this.CONSUME(Name);
    this.CONSUME(Tilde);
    this.SUBRULE(this.expression);
  });

  ifLine = this.RULE('ifLine', () => {
    this.CONSUME(If);
    this.SUBRULE(this.condition);
  });

  elifLine = this.RULE('elifLine', () => {
    this.CONSUME(Elif);
    this.SUBRULE(this.condition);
  });

  elseLine = this.RULE('elseLine', () => {
    this.CONSUME(Else);
  });

  /** `act == gelu`, `dropout != 0.0` */
  condition = this.RULE('condition', () => {
    this.CONSUME(Name);
    this.OR([
      { ALT: () => this.CONSUME(EqEq, { LABEL: 'op' }) },
      { ALT: () => this.CONSUME(NotEq, { LABEL: 'op' }) },
    ]);
    this.OR2([
      { ALT: () => this.CONSUME2(Name, { LABEL: 'value' }) },
      { ALT: () => this.CONSUME(NumberLit, { LABEL: 'value' }) },
    ]);
  });

  blockLine = this.RULE('blockLine', () => {
    this.CONSUME(Block);
    this.CONSUME(Name);
    this.CONSUME(LParen);
    this.OPTION(() => {
      this.CONSUME2(Name, { LABEL: 'param' });
      this.MANY(() => {
        this.CONSUME(Comma);
        this.CONSUME3(Name, { LABEL: 'param' });
      });
    });
    this.CONSUME(RParen);
    this.CONSUME(Arrow);
    this.SUBRULE(this.resultShape);
  });

  /** `BLD`, `*D`, `*`, `scalar` */
  resultShape = this.RULE('resultShape', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(Star);
          this.OPTION(() => this.CONSUME(Name));
        },
      },
      { ALT: () => this.CONSUME2(Name) },
    ]);
  });

  assignLine = this.RULE('assignLine', () => {
    this.CONSUME(Name);
    this.CONSUME(Equals);
    this.SUBRULE(this.expression);
  });

  // ------------------------------------------------------------ expressions, loosest first

  expression = this.RULE('expression', () => {
    this.SUBRULE(this.additive);
    // Comparisons do not chain; to-ast.ts says so when a second one appears.
    this.MANY(() => {
      this.CONSUME(CompareOp);
      this.SUBRULE2(this.additive);
    });
  });

  additive = this.RULE('additive', () => {
    this.SUBRULE(this.multiplicative);
    this.MANY(() => {
      this.CONSUME(AddOp);
      this.SUBRULE2(this.multiplicative);
    });
  });

  multiplicative = this.RULE('multiplicative', () => {
    this.SUBRULE(this.unary);
    this.MANY(() => {
      this.CONSUME(MulOp);
      this.SUBRULE2(this.unary);
    });
  });

  unary = this.RULE('unary', () => {
    const counting = !this.RECORDING_PHASE;
    try {
      if (counting && ++this.depth > MAX_NESTING) throw new TooDeep(this.LA(1));
      this.OR([
        {
          ALT: () => {
            this.CONSUME(Minus);
            this.SUBRULE(this.unary);
          },
        },
        { ALT: () => this.SUBRULE(this.power) },
      ]);
    } finally {
      if (counting) this.depth--;
    }
  });

  /** `a ^ b ^ c` is `a ^ (b ^ c)`; the exponent may be negated: `x ^ -1`. */
  power = this.RULE('power', () => {
    this.SUBRULE(this.postfix);
    this.OPTION(() => {
      this.CONSUME(Caret);
      this.SUBRULE(this.unary);
    });
  });

  postfix = this.RULE('postfix', () => {
    this.SUBRULE(this.primary);
    this.MANY(() => this.SUBRULE(this.reshape));
  });

  /** `[D -> H K]` */
  reshape = this.RULE('reshape', () => {
    this.CONSUME(LBracket);
    this.AT_LEAST_ONE(() => this.CONSUME(Name, { LABEL: 'from' }));
    this.CONSUME(Arrow);
    this.AT_LEAST_ONE2(() => this.CONSUME2(Name, { LABEL: 'to' }));
    this.CONSUME(RBracket);
  });

  primary = this.RULE('primary', () => {
    this.OR([
      { ALT: () => this.CONSUME(NumberLit) },
      { ALT: () => this.SUBRULE(this.callOrName) },
      { ALT: () => this.SUBRULE(this.repeatExpr) },
      {
        ALT: () => {
          this.CONSUME(LParen);
          this.SUBRULE(this.expression);
          this.CONSUME(RParen);
        },
      },
    ]);
  });

  callOrName = this.RULE('callOrName', () => {
    this.CONSUME(Name);
    this.OPTION(() => this.SUBRULE(this.args));
  });

  args = this.RULE('args', () => {
    this.CONSUME(LParen);
    this.OPTION(() => {
      this.SUBRULE(this.expression);
      this.MANY(() => {
        this.CONSUME(Comma);
        this.SUBRULE2(this.expression);
      });
    });
    this.CONSUME(RParen);
  });

  /** `repeat N layer(x_BLD)` */
  repeatExpr = this.RULE('repeatExpr', () => {
    this.CONSUME(Repeat);
    this.SUBRULE(this.expression);
    this.CONSUME(Name);
    this.SUBRULE(this.args);
  });
}

// Built once: chevrotain's grammar analysis is the expensive part.
const parser = new ArchParser();

export type LineRule = 'line' | 'dimLine';

/** Parses one line's tokens with `rule`: a CST, or the first problem found. */
export function parseLine(tokens: IToken[], rule: LineRule): { cst: CstNode } | { problem: ParseProblem } {
  if (tokens.length > MAX_LINE_TOKENS) {
    // Refused unparsed; its parentheses are counted, so that deep nesting still gets its own message.
    let depth = 0;
    const deep = tokens.find((t) => (depth += t.tokenType === LParen ? 1 : t.tokenType === RParen ? -1 : 0) > MAX_NESTING);
    return { problem: { kind: deep ? 'tooDeep' : 'tooLong', expected: [], rule: 'expression', token: deep ?? tokens[0]! } };
  }
  parser.input = tokens.slice(); // chevrotain pads its input with EOF sentinels: keep ours intact
  parser.resetDepth();
  let cst: CstNode;
  try {
    cst = rule === 'line' ? parser.line() : parser.dimLine();
  } catch (e) {
    if (e instanceof TooDeep) return { problem: { kind: 'tooDeep', expected: [], rule: 'expression', token: e.token } };
    // The nesting limit keeps chevrotain's recursion well inside the stack; this is the backstop.
    if (e instanceof RangeError) return { problem: { kind: 'tooDeep', expected: [], rule: 'expression', token: tokens[0]! } };
    throw e;
  }
  const error = parser.errors[0];
  if (error) return { problem: toProblem(error) };
  return { cst };
}

function toProblem(e: IRecognitionException): ParseProblem {
  let facts: { expected: string[]; rule: string } = { expected: [], rule: '' };
  try {
    facts = JSON.parse(e.message) as typeof facts;
  } catch {
    // a message not from our provider: keep the token, lose the expectations
  }
  const kind =
    e.name === 'NotAllInputParsedException' ? 'redundant' : e.name === 'MismatchedTokenException' ? 'mismatch' : 'noAlternative';
  return { kind, expected: facts.expected, rule: facts.rule, token: e.token };
}

export const isEnd = (t: IToken): boolean => t.tokenType === EOF;
