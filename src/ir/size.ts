// Size algebra: an axis size is a number or a runtime-symbol product such as 'B' or 'B*L'.
// Symbolic sizes are kept in one canonical form (numeric coefficient first, then symbols sorted)
// so that structural equality is string equality, and merge/split can check products exactly.

import type { Size } from './types.js';

const SYMBOL = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Product {
  coef: number;
  syms: string[]; // sorted, with repeats
}

function parse(s: Size): Product {
  if (typeof s === 'number') {
    if (!Number.isInteger(s) || s < 0) throw new Error(`size must be a non-negative integer, got ${s}`);
    return { coef: s, syms: [] };
  }
  let coef = 1;
  const syms: string[] = [];
  for (const raw of s.split('*')) {
    const f = raw.trim();
    if (/^\d+$/.test(f)) coef *= Number(f);
    else if (SYMBOL.test(f)) syms.push(f);
    else throw new Error(`bad size expression '${s}': factor '${f}' is neither an integer nor a symbol`);
  }
  syms.sort();
  return { coef, syms };
}

function unparse(p: Product): Size {
  if (p.syms.length === 0 || p.coef === 0) return p.coef;
  const parts = p.coef === 1 ? p.syms : [String(p.coef), ...p.syms];
  return parts.join('*');
}

/** The canonical form of a size: 'L*B' -> 'B*L', '2*3' -> 6, '1*B' -> 'B'. */
export function normSize(s: Size): Size {
  return unparse(parse(s));
}

/** Product of sizes, canonical. */
export function sizeMul(...sizes: Size[]): Size {
  const acc: Product = { coef: 1, syms: [] };
  for (const s of sizes) {
    const p = parse(s);
    acc.coef *= p.coef;
    acc.syms.push(...p.syms);
  }
  acc.syms.sort();
  return unparse(acc);
}

/** Structural equality of two sizes (after canonicalisation). */
export function sizeEq(a: Size, b: Size): boolean {
  return normSize(a) === normSize(b);
}

/** The runtime symbols a size mentions. */
export function sizeSymbols(s: Size): string[] {
  return [...new Set(parse(s).syms)];
}

/** Resolve a size to a number given the runtime symbol bindings. */
export function evalSize(s: Size, symbols: Record<string, number>): number {
  const p = parse(s);
  let v = p.coef;
  for (const sym of p.syms) {
    const x = symbols[sym];
    if (x === undefined) throw new Error(`runtime symbol '${sym}' is not bound (needed by size '${s}')`);
    v *= x;
  }
  return v;
}

/** A size as text: '768', 'B', 'B*L'. */
export function formatSize(s: Size): string {
  return String(normSize(s));
}
