// Places each parsed line under its header: dims under `dims`, statements under `block` and the
// branches of `if`/`elif`/`else`, everything else at the top level. Says so when a line sits where
// it cannot, and still checks the lines nested under a line that failed.
import type { IfStmt, Program, Span, Stmt } from './ast.js';
import type { Diagnostic } from './diagnostic.js';
import type { Line } from './layout.js';
import { fromTo, KEYWORDS, tokenSpan } from './lexer.js';
import { syntax, syntaxError } from './messages.js';
import { parseLine } from './parser.js';
import { LineConverter, type LineNode } from './to-ast.js';

/** Headers nest bodies recursively here; deeper than this, the nested lines are refused. */
const MAX_BLOCK_NESTING = 50;

interface Context {
  kind: 'top' | 'body' | 'dims';
  where: string; // for messages: "block `layer`", "an `if`"
  keep: boolean; // false under a line that failed: check these lines, add nothing to the program
  depth: number;
}

type Report = (d: Diagnostic) => void;

export function assemble(roots: Line[], program: Program, report: Report): void {
  const top: Context = { kind: 'top', where: 'the top level', keep: true, depth: 0 };
  new Assembler(program, report).statements(roots, top, program.body);
}

class Assembler {
  private readonly converter: LineConverter;

  constructor(
    private readonly program: Program,
    private readonly report: Report,
  ) {
    this.converter = new LineConverter(program.file, report);
  }

  private error(span: Span, message: string, help?: string): void {
    this.report(syntax(this.program.file, span, message, help));
  }

  statements(lines: Line[], ctx: Context, out: Stmt[]): void {
    let chain: IfStmt | null = null; // the `if` that an `elif`/`else` here joins (null when its header failed)
    let state: 'none' | 'open' | 'closed' = 'none';
    for (const line of lines) {
      const node = this.parse(line, ctx);
      const kind = node?.kind ?? guessKind(line);
      if (kind !== 'elif' && kind !== 'else') {
        chain = null;
        state = 'none';
      }
      if (!node || !this.allowed(node, line, ctx)) {
        if (kind === 'if') state = 'open';
        if (kind === 'else') state = 'closed';
        this.checkOnly(line, kind, ctx);
        continue;
      }
      switch (node.kind) {
        case 'model':
          if (this.program.model) {
            this.report({
              ...syntax(this.program.file, node.span, 'a file names its model once'),
              secondary: [{ span: this.program.model.span, label: 'the model is named here' }],
            });
          } else if (ctx.keep) {
            this.program.model = { name: node.name, span: node.span };
          }
          this.noBody(line, ctx, out);
          break;
        case 'dims':
          this.body(line, ctx, { kind: 'dims', where: '`dims`' }, [], '`dims` needs its letters on the lines below it, indented', 'write `dims`, then `  D = 768` on the next line');
          break;
        case 'dim':
          if (ctx.keep) this.program.dims.push(node.decl);
          this.noBody(line, ctx, out);
          break;
        case 'variant':
          if (ctx.keep) this.program.variants.push(node.decl);
          this.noBody(line, ctx, out);
          break;
        case 'input':
          if (ctx.keep) this.program.inputs.push(node.decl);
          this.noBody(line, ctx, out);
          break;
        case 'param':
        case 'assign':
          out.push(node.stmt);
          this.noBody(line, ctx, out);
          break;
        case 'block': {
          const body: Stmt[] = [];
          const where = `block \`${node.header.name}\``;
          this.body(line, ctx, { kind: 'body', where }, body, 'a block needs a body: indented lines below its header', 'indent the lines of the block under `block ...`');
          if (ctx.keep) this.program.blocks.push({ ...node.header, body, span: fromTo(node.header.span, lineEnd(line)) });
          break;
        }
        case 'if':
          chain = { kind: 'if', branches: [], span: node.span };
          out.push(chain);
          state = 'open';
          this.branch(chain, node, line, ctx);
          break;
        case 'elif':
        case 'else':
          if (state !== 'open') {
            const message = state === 'closed' ? `\`${kind}\` after \`else\`: the \`else\` branch comes last` : `\`${kind}\` without an \`if\` before it`;
            this.error(tokenSpan(line.tokens[0]!), message, `an \`${kind}\` follows an \`if\` or an \`elif\` at the same indentation`);
            this.checkOnly(line, kind, ctx);
          } else if (chain) {
            this.branch(chain, node, line, ctx);
          } else {
            this.checkOnly(line, kind, ctx);
          }
          if (kind === 'else') state = 'closed';
          break;
      }
    }
  }

  private parse(line: Line, ctx: Context): LineNode | null {
    if (line.junk) return null; // its unknown characters are reported already
    const rule = ctx.kind === 'dims' ? 'dimLine' : 'line';
    const result = parseLine(line.tokens, rule);
    if ('problem' in result) {
      this.report(syntaxError(result.problem, line.tokens, rule, this.program.file));
      return null;
    }
    return this.converter.convert(result.cst, fromTo(tokenSpan(line.tokens[0]!), tokenSpan(line.tokens[line.tokens.length - 1]!)));
  }

  private allowed(node: LineNode, line: Line, ctx: Context): boolean {
    if (ctx.kind !== 'body') return true;
    const at = tokenSpan(line.tokens[0]!);
    switch (node.kind) {
      case 'block':
        this.error(at, `blocks do not nest: \`block ${node.header.name}\` is inside ${ctx.where}`, 'declare every block at the top level of the file');
        return false;
      case 'model':
      case 'dims':
      case 'variant':
      case 'input':
        this.error(at, `\`${node.kind}\` belongs at the top level of the file, not inside ${ctx.where}`, 'move this line to the top level, without indentation');
        return false;
      default:
        return true;
    }
  }

  private branch(chain: IfStmt, node: LineNode, line: Line, ctx: Context): void {
    const body: Stmt[] = [];
    const head = node.kind === 'if' || node.kind === 'elif' ? node : null;
    const keyword = line.tokens[0]!.image;
    this.body(line, ctx, { kind: 'body', where: 'an `if`' }, body, `\`${keyword}\` needs a body: indented lines below it`, `indent the lines of this branch under \`${keyword}\``);
    const span = fromTo(tokenSpan(line.tokens[0]!), lineEnd(line));
    chain.branches.push({ variant: head?.variant ?? null, op: head?.op ?? null, value: head?.value ?? null, body, span });
    chain.span = fromTo(chain.span, span);
  }

  /** The indented lines under a header. */
  private body(line: Line, ctx: Context, inner: Pick<Context, 'kind' | 'where'>, out: Stmt[], missing: string, help: string): void {
    if (line.children.length === 0) {
      this.error(fromTo(tokenSpan(line.tokens[0]!), tokenSpan(line.tokens[line.tokens.length - 1]!)), missing, help);
      return;
    }
    this.nested(line, { ...inner, keep: ctx.keep, depth: ctx.depth + 1 }, out);
  }

  /** Indented lines under a line that opens no body: reported, then read as if they were not indented. */
  private noBody(line: Line, ctx: Context, out: Stmt[]): void {
    const child = line.children[0];
    if (!child) return;
    this.error(child.indentSpan, 'unexpected indentation: this line is indented more than the line above it', 'only `block`, `if`, `elif`, `else` and `dims` take indented lines below them');
    this.nested(line, { ...ctx, depth: ctx.depth + 1 }, out);
  }

  /** The lines under a line that failed or sits where it cannot: checked, not kept. */
  private checkOnly(line: Line, kind: string, ctx: Context): void {
    if (line.children.length === 0) return;
    const inner: Context['kind'] = kind === 'dims' ? 'dims' : ['block', 'if', 'elif', 'else'].includes(kind) ? 'body' : ctx.kind;
    this.nested(line, { kind: inner, where: ctx.where, keep: false, depth: ctx.depth + 1 }, []);
  }

  private nested(line: Line, ctx: Context, out: Stmt[]): void {
    if (ctx.depth > MAX_BLOCK_NESTING) {
      this.error(line.children[0]!.indentSpan, 'blocks nested too deeply', `more than ${MAX_BLOCK_NESTING} levels of indentation`);
      return;
    }
    this.statements(line.children, ctx, out);
  }
}

/** The kind a line would have had, read from its first word, for a line that failed to parse. */
function guessKind(line: Line): string {
  const word = line.tokens[0]!.image;
  return KEYWORDS.includes(word) && word !== 'repeat' ? word : 'other';
}

/** The last token of a line and everything nested under it. */
function lineEnd(line: Line): Span {
  let last = line;
  while (last.children.length) last = last.children[last.children.length - 1]!;
  return tokenSpan(last.tokens[last.tokens.length - 1]!);
}
