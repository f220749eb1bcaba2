// removed once the core has no Node imports: compile.ts's prelude lookup, answered by node-fs.ts.
export const fileURLToPath = (u: URL | string): string => (typeof u === 'string' ? u : u.pathname);
