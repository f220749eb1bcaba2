// Questions about the syntax tree that several features ask: a block's header as written, the
// call under the cursor, every expression of a program.
import type { BlockDecl, CallExpr, Expr, Program, Stmt } from '../../grammar/ast.js';

/** `block linear(x_*I) -> *O`: the declaration's first line. */
export function blockHeader(text: string, b: BlockDecl): string {
  const rest = text.slice(b.span.start.offset, b.span.end.offset);
  const cut = rest.search(/\r|\n/);
  return (cut < 0 ? rest : rest.slice(0, cut)).trim();
}

export interface CallSite {
  call: CallExpr;
  /** The name the call's value is assigned to, when the call is the whole value. */
  target: string | null;
  block: BlockDecl | null;
}

/** The call whose callee is at this offset. */
export function callAt(program: Program, offset: number): CallSite | null {
  let found: CallSite | null = null;
  forEachExpr(program, (e, ctx) => {
    if (e.kind === 'call' && e.calleeSpan.start.offset <= offset && offset <= e.calleeSpan.end.offset) {
      const value = ctx.stmt?.kind === 'assign' ? ctx.stmt.value : null;
      const direct = value === e || (value?.kind === 'repeat' && value.call === e);
      found = { call: e, target: direct && ctx.stmt?.kind === 'assign' ? ctx.stmt.target.text : null, block: ctx.block };
    }
  });
  return found;
}

export interface ExprContext {
  block: BlockDecl | null;
  stmt: Stmt | null;
}

/** Every expression of the program, outermost first, with the statement and block it is in. */
export function forEachExpr(program: Program, visit: (e: Expr, ctx: ExprContext) => void): void {
  const expr = (e: Expr, ctx: ExprContext): void => {
    visit(e, ctx);
    if (e.kind === 'binary') {
      expr(e.left, ctx);
      expr(e.right, ctx);
    } else if (e.kind === 'unary') expr(e.operand, ctx);
    else if (e.kind === 'call') for (const x of e.args) expr(x, ctx);
    else if (e.kind === 'repeat') {
      expr(e.count, ctx);
      expr(e.call, ctx);
    } else if (e.kind === 'reshape') expr(e.operand, ctx);
  };
  const stmts = (list: Stmt[], block: BlockDecl | null): void => {
    for (const s of list) {
      if (s.kind === 'assign') expr(s.value, { block, stmt: s });
      else if (s.kind === 'param') expr(s.init, { block, stmt: s });
      else for (const b of s.branches) stmts(b.body, block);
    }
  };
  for (const d of program.dims) if (d.value) expr(d.value, { block: null, stmt: null });
  stmts(program.body, null);
  for (const b of program.blocks) stmts(b.body, b);
}
