// The syntax tree of a .arch file, as the parser (grammar/) produces it.
// Every node carries the span of its source text so that any later stage can point at it.

export interface Pos {
  offset: number; // 0-based character offset
  line: number; // 1-based
  col: number; // 1-based
}

export interface Span {
  start: Pos;
  end: Pos; // exclusive
}

/** A tensor or scalar name as written: `q_BLHK` is base `q`, letters ['B','L','H','K'].
 *  A name with no `_` followed by capitals (e.g. `loss`, `eps`) is a scalar: letters = [].
 *  `x_*D` in a block with a wildcard signature has wildcard = true, letters = ['D']. */
export interface TensorName {
  text: string; // the whole identifier, e.g. "q_BLHK"
  base: string; // "q"
  letters: string[]; // ["B","L","H","K"]
  wildcard: boolean; // the suffix starts with `*`
  span: Span;
}

// ---------------------------------------------------------------- expressions

export type Expr =
  | NumberExpr
  | NameExpr
  | BinaryExpr
  | UnaryExpr
  | CallExpr
  | RepeatExpr
  | ReshapeExpr;

export interface NumberExpr {
  kind: 'number';
  value: number;
  text: string;
  span: Span;
}

/** A reference: a tensor (`x_BLD`), a scalar name, a dim letter used as a number (`K`),
 *  or a variant name (`dropout`). The checker decides which. */
export interface NameExpr {
  kind: 'name';
  name: TensorName;
  span: Span;
}

export type BinaryOp = '+' | '-' | '*' | '/' | '@' | '^' | '%' | '<' | '>' | '<=' | '>=' | '==' | '!=';

export interface BinaryExpr {
  kind: 'binary';
  op: BinaryOp;
  left: Expr;
  right: Expr;
  opSpan: Span;
  span: Span;
}

export interface UnaryExpr {
  kind: 'unary';
  op: '-';
  operand: Expr;
  span: Span;
}

/** `f(a, b)`. Arguments may be expressions or bare dim letters (`softmax(x_BHLM, M)`):
 *  a bare capital letter parses as a NameExpr whose name has base = the letter and no suffix;
 *  the checker resolves it against the callee's signature. */
export interface CallExpr {
  kind: 'call';
  callee: string;
  calleeSpan: Span;
  args: Expr[];
  span: Span;
}

/** `repeat N block(x_BLD)`: applies the block N times, each with its own parameters. */
export interface RepeatExpr {
  kind: 'repeat';
  count: Expr; // usually a dim letter or an integer
  call: CallExpr;
  span: Span;
}

/** `x_BLD[D -> H K]` (split), `x_BLHK[H K -> D]` (merge), `x_BLD[L -> M]` (rename). */
export interface ReshapeExpr {
  kind: 'reshape';
  operand: Expr;
  from: Letter[];
  to: Letter[];
  span: Span;
}

export interface Letter {
  letter: string;
  span: Span;
}

// ---------------------------------------------------------------- statements

export type Stmt = AssignStmt | ParamStmt | IfStmt;

export interface AssignStmt {
  kind: 'assign';
  target: TensorName;
  value: Expr;
  span: Span;
}

export interface ParamStmt {
  kind: 'param';
  name: TensorName;
  init: Expr; // `normal(0.02)`, `zeros`, `ones`, `normal(0.02 / sqrt(2 * N))`
  span: Span;
}

/** `if act == gelu` / `elif ...` / `else`, each with an indented body. */
export interface IfStmt {
  kind: 'if';
  branches: { variant: Letter | null; op: '==' | '!=' | null; value: VariantValue | null; body: Stmt[]; span: Span }[];
  // the final `else` branch, if any, has variant = op = value = null
  span: Span;
}

export interface VariantValue {
  text: string; // an identifier (gelu) or a number literal (0.1)
  span: Span;
}

// ---------------------------------------------------------------- declarations

export interface DimDecl {
  kind: 'dim';
  letter: string;
  value: Expr | null; // null: a runtime dim such as B
  span: Span;
}

/** `variant act = gelu | relu` (first is default) or `variant dropout = 0.0` (a number). */
export interface VariantDecl {
  kind: 'variant';
  name: string;
  choices: VariantValue[]; // one entry for a numeric variant
  numeric: boolean;
  span: Span;
}

/** `input tokens_BLV : onehot`: token ids, seen as one-hot rows over the last letter.
 *  `input x_BLD` (no annotation): a float tensor. */
export interface InputDecl {
  kind: 'input';
  name: TensorName;
  encoding: 'onehot' | 'float';
  span: Span;
}

/** `block attention(x_BLD) -> BLD` with an indented body. The signature's letters bind to the
 *  caller's letters at each call; `*` binds to any run of leading letters. The block's value is
 *  its last assignment (in an `if`, each branch's last assignment). */
export interface BlockDecl {
  kind: 'block';
  name: string;
  nameSpan: Span;
  params: TensorName[];
  result: TensorName; // parsed from the suffix after `->`, base = '' (e.g. "BLD", "*D", or "" for a scalar)
  body: Stmt[];
  span: Span;
}

export interface Program {
  file: string;
  source: string;
  model: { name: string; span: Span } | null;
  dims: DimDecl[];
  variants: VariantDecl[];
  inputs: InputDecl[];
  blocks: BlockDecl[];
  body: Stmt[]; // top-level params and assignments, in order
}
