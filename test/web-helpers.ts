// The playground under test: the built page (built here if missing) served by `arch playground`,
// driven by playwright-core in the system's Chromium on one of two WebGPU adapters.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** The repository (the folder with package.json above this file, compiled into dist/ or not). */
export const ROOT = ((dir: string): string => {
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})(import.meta.dirname);
export const CHROMIUM = '/usr/bin/chromium';
const BUILD = join(ROOT, 'dist/web/index.html');

// No --disable-gpu: with it Chromium's GPU process runs ANGLE on SwiftShader, so the "OpenGL ES"
// adapter below is SwiftShader, not llvmpipe, at a fifteenth of the speed (docs/playground.md).
const BASE_FLAGS = ['--headless=new', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** llvmpipe through Dawn's OpenGL ES backend (the page picks it at the compatibility level), or
 *  SwiftShader through Dawn's Vulkan backend, or no WebGPU at all. */
export type Adapter = 'llvmpipe' | 'swiftshader' | 'none';

/** The newest modification time under the folders the page is built from. */
function newestSource(): number {
  let newest = 0;
  for (const dir of ['web', 'src', 'grammar', 'models']) {
    for (const f of readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })) newest = Math.max(newest, statSync(join(ROOT, dir, f)).mtimeMs);
  }
  return newest;
}

/** Builds the page when there is no build or a source is newer than it (a stale build would test
 *  yesterday's page). */
export function ensureBuilt(): void {
  if (existsSync(BUILD) && statSync(BUILD).mtimeMs >= newestSource()) return;
  const r = spawnSync('npx', ['vite', 'build', '--config', 'web/vite.config.ts'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`the playground did not build:\n${r.stdout}\n${r.stderr}`);
}

export interface Served {
  url: string;
  stop(): Promise<void>;
}

export async function serve(): Promise<Served> {
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'bin/arch.js'), 'playground', '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((done, fail) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /http:\/\/\S+\//.exec(out);
      if (m) done(m[0]);
    });
    child.once('exit', (code) => fail(new Error(`arch playground exited with ${code}: ${out}`)));
  });
  return {
    url,
    stop: () =>
      new Promise((done) => {
        child.once('exit', () => done());
        child.kill('SIGINT');
      }),
  };
}

export interface Opened {
  context: BrowserContext;
  page: Page;
  errors: string[];
  close(): Promise<void>;
}

export async function openPage(url: string, adapter: Adapter, query = ''): Promise<Opened> {
  const profile = mkdtempSync(join(tmpdir(), 'arch-chromium-'));
  const args = [...BASE_FLAGS];
  if (adapter !== 'none') args.push('--enable-unsafe-webgpu');
  if (adapter === 'llvmpipe') args.push('--use-webgpu-adapter=opengles', '--use-angle=gl-egl');
  // more flags for an experiment (`npm run bench:web` with Dawn's toggles, say), space-separated
  args.push(...(process.env.ARCH_CHROMIUM_FLAGS ?? '').split(' ').filter(Boolean));
  // a new, empty profile (--user-data-dir) each time
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args, viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  // no ?adapter=: the page picks llvmpipe's OpenGL ES adapter itself where the flags offer it
  await page.goto(`${url}${query ? `?${query}` : ''}`);
  await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
  return {
    context,
    page,
    errors,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
