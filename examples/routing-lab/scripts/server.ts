// Builds the lab with Vite and serves dist/ on localhost with the cross-origin isolation headers
// (COOP/COEP). Used by `npm run lab`, `npm run lab:build` and the browser tests.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';

export const LAB_ROOT = resolve(import.meta.dirname, '..');
export const DIST = join(LAB_ROOT, 'dist');

/** Runs `vite build` for the lab; returns the output folder. */
export async function buildLab(options: { quiet?: boolean } = {}): Promise<string> {
  const { build } = await import('vite');
  await build({ configFile: join(LAB_ROOT, 'vite.config.ts'), logLevel: options.quiet ? 'error' : 'info' });
  return DIST;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export interface Served {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/**
 * Serves `dir` on 127.0.0.1:`port` (0: any free port). `isolate` (default true) sends
 * Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp.
 */
export function serveStatic(dir: string, port = 0, isolate = true): Promise<Served> {
  const root = resolve(dir);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = normalize(join(root, path));
    if (!file.startsWith(root)) {
      res.writeHead(403).end('forbidden');
      return;
    }
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found: ${path}`);
      return;
    }
    const headers: Record<string, string | number> = {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': statSync(file).size,
      'Cache-Control': 'no-cache',
    };
    if (isolate) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    }
    res.writeHead(200, headers);
    createReadStream(file).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const p = typeof address === 'object' && address ? address.port : port;
      ok({ url: `http://127.0.0.1:${p}/`, server, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}
