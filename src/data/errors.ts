// Data problems are the user's to fix (a wrong path, a bad file), so each error says what is
// wrong, where, and what to do, in the same `error[...] / --> / = help:` shape as the compiler's.

export interface DataErrorParts {
  /** One line, plain words: what is wrong. */
  what: string;
  /** The file (with a byte offset or line where it helps), task name or option at fault. */
  where: string;
  /** A concrete next step. */
  hint: string;
}

export class DataError extends Error {
  readonly what: string;
  readonly where: string;
  readonly hint: string;

  constructor(parts: DataErrorParts) {
    super(`error[data]: ${parts.what}\n  --> ${parts.where}\n  = help: ${parts.hint}`);
    this.name = 'DataError';
    this.what = parts.what;
    this.where = parts.where;
    this.hint = parts.hint;
  }
}
