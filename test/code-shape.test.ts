// The code's shape and its floors, read with TypeScript's own parser: no source file over 600
// lines, no function over 120; each floor imports only the floors below it (the table is FLOORS);
// only src/cli and the Node host import Node or dawn.node; nothing outside src/cli imports it.
// docs/design.md ("The floors") says why each floor sits where it does.
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const MAX_FILE_LINES = 600;
const MAX_FUNCTION_LINES = 120;

/**
 * The floors, lowest first, each with the floors its files may import (besides its own files).
 * A floor lists only floors above it in this table, so the imports can never form a cycle.
 * Data flows grammar -> compiler -> ir -> codegen -> runtime -> session -> {cli, host/node}, but
 * the IR is the lowest floor: the compiler lowers into it and builds it with the IR's own
 * builder; the IR knows no language, and the runtime no language either (it runs graphs).
 */
const FLOORS: readonly { name: string; path: string; imports: readonly string[] }[] = [
  { name: 'grammar', path: 'grammar/', imports: [] },
  { name: 'ir', path: 'src/ir/', imports: [] },
  { name: 'data', path: 'src/data/', imports: [] },
  { name: 'report', path: 'src/report/', imports: [] },
  { name: 'compiler', path: 'src/compiler/', imports: ['grammar', 'ir'] },
  { name: 'codegen', path: 'src/codegen/', imports: ['ir'] },
  { name: 'runtime', path: 'src/runtime/', imports: ['ir', 'codegen', 'data'] },
  { name: 'service', path: 'src/service/', imports: ['grammar', 'compiler'] },
  { name: 'export', path: 'src/export/', imports: ['ir', 'compiler'] },
  { name: 'session', path: 'src/session/', imports: ['grammar', 'ir', 'data', 'report', 'compiler', 'codegen', 'runtime'] },
  { name: 'index', path: 'src/index.ts', imports: ['grammar', 'ir', 'data', 'report', 'compiler', 'codegen', 'runtime', 'service', 'export', 'session'] },
  { name: 'host/node', path: 'src/host/node/', imports: ['grammar', 'ir', 'data', 'report', 'compiler', 'codegen', 'runtime', 'service', 'export', 'session'] },
  {
    name: 'cli',
    path: 'src/cli/',
    imports: ['grammar', 'ir', 'data', 'report', 'compiler', 'codegen', 'runtime', 'service', 'export', 'session', 'host/node'],
  },
];

/** Where Node or dawn.node may be imported. */
const NODE_HOSTS = ['src/cli/', 'src/host/node/'];
const NODE_ONLY = new Set(['webgpu', ...builtinModules]);
const isNodeOnly = (spec: string): boolean => spec.startsWith('node:') || NODE_ONLY.has(spec);

const tsFiles = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f).split('\\').join('/'))
    .sort();

const parse = (file: string, text = readFileSync(file, 'utf8')): ts.SourceFile => ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
const lineOf = (sf: ts.SourceFile, pos: number): number => sf.getLineAndCharacterOfPosition(pos).line + 1;

interface LongFunction {
  file: string;
  line: number;
  name: string;
  lines: number;
}

/** A function-like node's name as a reader would look it up: `Class.method`, the variable or
 *  property an arrow is assigned to, else `(anonymous)`. */
function nameOf(n: ts.FunctionLikeDeclaration, sf: ts.SourceFile): string {
  const own = n.name ?? (ts.isVariableDeclaration(n.parent) || ts.isPropertyAssignment(n.parent) || ts.isPropertyDeclaration(n.parent) ? n.parent.name : undefined);
  const name = own ? own.getText(sf) : ts.isConstructorDeclaration(n) ? 'constructor' : '(anonymous)';
  const owner = ts.isClassLike(n.parent) ? n.parent.name?.getText(sf) : undefined;
  return owner ? `${owner}.${name}` : name;
}

/** Every function, method, arrow, constructor and accessor with a body over `limit` lines. */
function longFunctions(sf: ts.SourceFile, limit: number): LongFunction[] {
  const out: LongFunction[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body) {
      const f = n as ts.FunctionLikeDeclaration;
      const line = lineOf(sf, f.getStart(sf));
      const lines = lineOf(sf, f.end) - line + 1;
      if (lines > limit) out.push({ file: sf.fileName, line, name: nameOf(f, sf), lines });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** Every module a file imports or re-exports: static, type-only, dynamic and `import('x')` types. */
function importsOf(sf: ts.SourceFile): string[] {
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) out.push(n.moduleSpecifier.text);
    else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteralLike(n.arguments[0])) out.push(n.arguments[0].text);
    else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) out.push(n.argument.literal.text);
    else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference) && ts.isStringLiteral(n.moduleReference.expression))
      out.push(n.moduleReference.expression.text);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** The repository-relative path a relative specifier names (`.js` as written, as tsc resolves it). */
const target = (file: string, spec: string): string => relative(process.cwd(), join(dirname(file), spec)).split('\\').join('/');
const floorOf = (path: string) => FLOORS.find((f) => (f.path.endsWith('/') ? path.startsWith(f.path) : path === f.path.replace(/\.ts$/, '.js') || path === f.path));

const sources = [...tsFiles('src'), ...tsFiles('grammar')];
const parsed = sources.map((f) => parse(f));

describe('the code shape', () => {
  it('the checks see what they look for: a long arrow by its name and line, every kind of import', () => {
    const body = Array.from({ length: 120 }, (_, i) => `  const x${i} = ${i};`).join('\n');
    const sf = parse('probe.ts', `class C {\n  m(): void {}\n}\nexport const build = (): void => {\n${body}\n};\n`);
    expect(longFunctions(sf, MAX_FUNCTION_LINES)).toEqual([{ file: 'probe.ts', line: 4, name: 'build', lines: 122 }]);
    expect(longFunctions(sf, 2).map((f) => f.name)).toEqual(['build']);
    const imports = parse('probe.ts', `import a from './a.js';\nimport type { B } from '../b.js';\nexport * from 'c';\nconst d = await import('node:fs');\nlet e: import('./e.js').E;\n`);
    expect(importsOf(imports)).toEqual(['./a.js', '../b.js', 'c', 'node:fs', './e.js']);
  });

  it(`no source file is over ${MAX_FILE_LINES} lines`, () => {
    expect(sources.length).toBeGreaterThan(100);
    const long = parsed.map((sf) => ({ file: sf.fileName, lines: sf.getLineStarts().length })).filter((f) => f.lines > MAX_FILE_LINES);
    expect(long.map((f) => `${f.file}: ${f.lines} lines`)).toEqual([]);
  });

  it(`no function is over ${MAX_FUNCTION_LINES} lines (split it into named functions, one concern each)`, () => {
    const long = parsed.flatMap((sf) => longFunctions(sf, MAX_FUNCTION_LINES));
    const report = (f: LongFunction) => `${f.file}:${f.line} ${f.name}: ${f.lines} lines`;
    expect(long.map(report)).toEqual([]);
  });
});

describe('the floors', () => {
  it('the table is in order: a floor imports only floors listed before it, so there is no cycle', () => {
    const seen = new Set<string>();
    for (const f of FLOORS) {
      expect(f.imports.filter((i) => !seen.has(i)).map((i) => `${f.name} imports ${i}, listed after it`)).toEqual([]);
      seen.add(f.name);
    }
  });

  it('every source file is on a floor and imports only its own floor and the floors it lists', () => {
    const bad: string[] = [];
    for (const sf of parsed) {
      const floor = floorOf(sf.fileName);
      if (!floor) {
        bad.push(`${sf.fileName} is on no floor: add its folder to FLOORS`);
        continue;
      }
      for (const spec of importsOf(sf).filter((s) => s.startsWith('.'))) {
        const to = floorOf(target(sf.fileName, spec));
        if (to && to !== floor && !floor.imports.includes(to.name)) bad.push(`${sf.fileName} (${floor.name}) imports ${spec} (${to.name})`);
      }
    }
    expect(bad).toEqual([]);
    // and the scan resolves imports to floors: the Node host's reach the session
    const host = parsed.find((sf) => sf.fileName === 'src/host/node/index.ts')!;
    expect(importsOf(host).map((s) => floorOf(target(host.fileName, s))?.name)).toContain('session');
  });

  it('only src/cli and src/host/node import a Node built-in or webgpu', () => {
    const offenders = parsed
      .filter((sf) => !NODE_HOSTS.some((h) => sf.fileName.startsWith(h)))
      .flatMap((sf) => importsOf(sf).filter(isNodeOnly).map((s) => `${sf.fileName} imports ${s}`));
    expect(offenders).toEqual([]);
    // and the scan sees such imports where they are allowed
    expect(importsOf(parsed.find((sf) => sf.fileName === 'src/host/node/device.ts')!)).toEqual(expect.arrayContaining(['webgpu', 'node:fs']));
  });

  it('nothing outside src/cli imports src/cli: not the core, the tests, the benchmarks or the playground', () => {
    const files = [...sources, ...tsFiles('test'), ...tsFiles('bench'), ...tsFiles('web/src')];
    const bad = files
      .filter((f) => !f.startsWith('src/cli/'))
      .flatMap((f) => importsOf(parse(f)).filter((s) => s.startsWith('.') && target(f, s).startsWith('src/cli/')).map((s) => `${f} imports ${s}`));
    expect(bad).toEqual([]);
  });
});
