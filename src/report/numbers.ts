// Numbers as reports and messages print them.

/** 1,234,567: whole numbers with thousands separators, the same on every machine's locale. */
export const fmtInt = (n: number): string => n.toLocaleString('en-US');
