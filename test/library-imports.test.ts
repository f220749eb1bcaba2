// arch's core runs wherever WebGPU and JavaScript do: only src/cli and the Node host (src/host/node)
// import Node modules or the `webgpu` package (dawn.node). Checked here by bundling: the library
// entry src/index.ts (and the executor, codegen and IR on their own) bundle for the browser with
// esbuild, failing on any such import, a dependency's included, with the file that makes it. Each
// file's own imports, reached from the entry or not, are read by test/code-shape.test.ts.
import { builtinModules } from 'node:module';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { build as viteBuild } from 'vite';
import { describe, expect, it } from 'vitest';

const NODE_ONLY = new Set(['webgpu', ...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/** Refuses every Node-only import arch's own files make, naming the importer. A dependency's are
 *  left to esbuild, which honours the package's own browser mapping (protobufjs maps its optional
 *  `fs` to nothing) and fails the build on any it cannot resolve for the browser. */
const refuseNodeOnly: Plugin = {
  name: 'refuse-node-only',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) =>
      (NODE_ONLY.has(args.path) || args.path.startsWith('node:')) && !args.importer.includes('node_modules')
        ? { errors: [{ text: `${relative(process.cwd(), args.importer)} imports ${args.path}` }] }
        : undefined,
    );
  },
};

/** The Node-only imports reachable from `entries` (empty: none), and every file bundled. */
async function nodeOnlyImports(entries: string[]): Promise<{ errors: string[]; inputs: string[] }> {
  try {
    const r = await build({ entryPoints: entries, bundle: true, write: false, platform: 'browser', format: 'esm', outdir: 'out', metafile: true, logLevel: 'silent', plugins: [refuseNodeOnly] });
    return { errors: [], inputs: Object.keys(r.metafile.inputs) };
  } catch (e) {
    return { errors: (e as { errors: { text: string }[] }).errors.map((x) => x.text), inputs: [] };
  }
}

const sources = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f));

describe('the executor, codegen and the IR', () => {
  it('import no Node module and not the webgpu package, directly or through another module', async () => {
    const entries = ['src/runtime/executor.ts', ...sources('src/runtime/executor'), ...sources('src/codegen'), ...sources('src/ir')];
    const r = await nodeOnlyImports(entries);
    expect(r.errors).toEqual([]);
    // the whole executor was followed, down to the kernels it generates and the memory plan
    for (const f of ['src/runtime/executor/compile.ts', 'src/runtime/staging.ts', 'src/codegen/wgsl/contraction.ts', 'src/ir/fuse/fuse.ts', 'src/ir/plan.ts']) expect(r.inputs).toContain(f);
  });

  it('would be caught: opening a device imports dawn.node and node:fs', async () => {
    const r = await nodeOnlyImports(['src/host/node/device.ts']);
    expect(r.errors).toEqual(expect.arrayContaining(['src/host/node/device.ts imports node:fs', 'src/host/node/device.ts imports webgpu']));
  });
});

describe('the library entry, src/index.ts', () => {
  it('bundles for the browser with no aliases or shims: nothing it reaches imports Node or dawn.node', async () => {
    const r = await nodeOnlyImports(['src/index.ts']);
    expect(r.errors).toEqual([]);
    // the whole core was followed: the session, the data, the reports, the export, the prelude
    for (const f of ['src/session/train.ts', 'src/session/checkpoint-model.ts', 'src/data/tokenizer.ts', 'src/report/line-chart.ts', 'src/export/onnx.ts', 'src/compiler/prelude-text.ts', 'src/runtime/executor/compile.ts']) {
      expect(r.inputs).toContain(f);
    }
    expect(r.inputs.filter((f) => f.startsWith('src/cli/') || f.startsWith('src/host/'))).toEqual([]);
  }, 60_000);
});

/** Every module specifier a TypeScript file imports or re-exports (static and dynamic). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) {
    out.push(m[1] ?? m[2] ?? m[3]!);
  }
  return out;
}

describe('the playground (web/)', () => {
  it('bundles the core through src/index.ts alone, with no aliases or shims, and builds', async () => {
    expect(existsSync('web/src/shims')).toBe(false);
    const config = readFileSync('web/vite.config.ts', 'utf8');
    expect(config).not.toMatch(/\balias\b/);
    // the page reaches the core only through web/src/core.ts, and that only through the library entry
    const page = sources('web/src');
    const intoCore = page.flatMap((f) => importsOf(f).filter((s) => s.startsWith('../../src/') || s.startsWith('../../grammar/')).map((s) => `${f}: ${s}`));
    expect(intoCore).toEqual([join('web', 'src', 'core.ts') + ': ../../src/index.js']);
    // the real build, refusing any Node-only import arch's files make (Vite would otherwise
    // externalise `node:fs` for the browser with a warning and the page would fail at load)
    const refused: string[] = [];
    const out = await viteBuild({
      configFile: 'web/vite.config.ts',
      logLevel: 'silent',
      build: { write: false },
      plugins: [{ name: 'refuse-node-only', enforce: 'pre', resolveId: (id: string, importer?: string) => {
        if ((NODE_ONLY.has(id) || id.startsWith('node:')) && importer && !importer.includes('node_modules')) refused.push(`${relative(process.cwd(), importer)} imports ${id}`);
        return null;
      } }],
    });
    expect(refused).toEqual([]);
    const outputs = (Array.isArray(out) ? out : [out]).flatMap((o) => ('output' in o ? o.output : []));
    expect(outputs.map((o) => o.fileName)).toContain('index.html');
    // one script: the core, CodeMirror and the page
    expect(outputs.filter((o) => o.type === 'chunk').map((o) => (o.type === 'chunk' ? o.code.length : 0))).toEqual([expect.any(Number)]);
  }, 120_000);
});
