// `arch playground`: serves the built playground (dist/web, from `npm run build:web`) on this
// machine. A small static server: GET and HEAD of the build's own files, nothing else; local
// only unless --allow-remote says otherwise.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { numberOption, UsageError, type CommandSpec, type ParsedArgs } from '../args.js';

const DEFAULT_PORT = 8370;
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.arch': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

export const playgroundCommand: CommandSpec = {
  name: 'playground',
  summary: 'serve the in-browser playground (edit, check, see, train and sample a model) on this machine',
  usage: 'arch playground [--port P] [--host 127.0.0.1] [--dir DIR]',
  options: { port: { type: 'string' }, host: { type: 'string' }, dir: { type: 'string' }, 'allow-remote': { type: 'boolean' } },
  help: [
    ['--port P', `the port (default ${DEFAULT_PORT}; 0: any free port)`],
    ['--host H', 'the address to listen on (default 127.0.0.1: this machine only)'],
    ['--allow-remote', 'allow a --host other machines can reach (0.0.0.0, a LAN address)'],
    ['--dir DIR', 'serve this build instead of dist/web (npm run build:web writes it)'],
  ],
  examples: ['arch playground', 'arch playground --port 9000', 'arch playground --host 0.0.0.0 --allow-remote'],
  run: runPlayground,
};

/** The build beside this file: dist/web from dist/src/cli/commands (tsc) or from dist/arch.mjs. */
export function defaultBuildDir(): string {
  const candidates = [new URL('../../../web/', import.meta.url), new URL('./web/', import.meta.url)];
  for (const u of candidates) {
    const dir = fileURLToPath(u);
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return fileURLToPath(candidates[0]!);
}

function isLocal(host: string): boolean {
  return LOCAL_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The file a request path names inside `root`, or null (outside it, or not a file). */
export function resolveRequest(root: string, url: string): string | null {
  let path: string;
  try {
    path = decodeURIComponent(new URL(url, 'http://x').pathname);
  } catch {
    return null;
  }
  if (path.includes('\0')) return null;
  const file = resolve(root, '.' + (path.endsWith('/') ? path + 'index.html' : path));
  if (file !== root && !file.startsWith(root.endsWith(sep) ? root : root + sep)) return null;
  try {
    return statSync(file).isFile() ? file : null;
  } catch {
    return null;
  }
}

function handle(root: string, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  const file = resolveRequest(root, req.url ?? '/');
  if (!file) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    return;
  }
  const body = readFileSync(file);
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': body.length, 'cache-control': 'no-cache' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

async function runPlayground(args: ParsedArgs): Promise<number> {
  if (args.positionals.length) throw new UsageError(`arch playground takes no files (open the examples in the page)\nusage: ${playgroundCommand.usage}`);
  const port = numberOption(args, 'port', DEFAULT_PORT, (n) => Number.isInteger(n) && n >= 0 && n <= 65535, 'a port number from 0 to 65535');
  const host = String(args.values.host ?? '127.0.0.1');
  if (!isLocal(host) && !args.values['allow-remote'])
    throw new UsageError(`--host ${host} lets other machines reach the playground; add --allow-remote if that is what you want, or leave --host out (127.0.0.1: this machine only)`);
  const root = resolve(args.values.dir ? String(args.values.dir) : defaultBuildDir());
  if (!existsSync(join(root, 'index.html')))
    throw new UsageError(`the playground is not built: ${join(root, 'index.html')} is missing\n  hint: run \`npm run build:web\` in the arch checkout (it writes dist/web)${args.values.dir ? ', or give --dir the folder it wrote' : ''}`);
  const server = createServer((req, res) => handle(root, req, res));
  await new Promise<void>((done, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') fail(new UsageError(`port ${port} on ${host} is taken (another server is using it)\n  hint: choose another with --port, or --port 0 for any free port`));
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') fail(new UsageError(`--host ${host}: this machine has no such address`));
      else if (e.code === 'EACCES') fail(new UsageError(`port ${port} needs privileges to listen on; choose one above 1023 with --port`));
      else fail(e);
    });
    server.listen(port, host, () => done());
  });
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  const shown = host.includes(':') ? `[${host}]` : host;
  process.stdout.write(`arch playground: http://${shown}:${actual}/  (serving ${root}; Ctrl-C to stop)\n`);
  return new Promise((done) => {
    process.once('SIGINT', () => {
      process.stderr.write('\nstopped\n');
      server.close(() => done(130));
      server.closeAllConnections();
    });
  });
}
