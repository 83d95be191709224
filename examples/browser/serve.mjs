// Serves the browser example on 127.0.0.1 (only this machine can reach it): the page and its
// bundle from examples/browser/ (build it first: npm run build:examples; npm run serve does both),
// and the package's data/ folder under /data/, where the page fetches the Fashion-MNIST subset.
// WebGPU needs a secure context, which http://127.0.0.1 and http://localhost are.
//
//   node examples/browser/serve.mjs [--port 8080]     (--port 0: any free port)
//
// Prints "serving http://127.0.0.1:PORT/" once listening. Plain node:http, no dependency.
import { createServer } from 'node:http';
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
/** URL prefix → directory. The first match wins; `/` is the example itself. */
const MOUNTS = [
  ['/data/', path.join(root, 'data')],
  ['/', here],
];
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  // The IDX files are fetched as the gzip bytes they are (no Content-Encoding: the page gunzips them).
  '.gz': 'application/gzip',
};

function parsePort(argv) {
  const i = argv.indexOf('--port');
  const raw = i >= 0 ? argv[i + 1] : (process.env.PORT ?? '8080');
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve: --port ${raw} is not a port number (0..65535)`);
    process.exit(2);
  }
  return port;
}

/** The file a URL path names, or null when it is outside every mount. */
function resolve(urlPath) {
  let p;
  try {
    p = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  for (const [prefix, dir] of MOUNTS) {
    if (!p.startsWith(prefix)) continue;
    const file = path.resolve(dir, '.' + p.slice(prefix.length - 1));
    if (file !== dir && !file.startsWith(dir + path.sep)) return null;
    return file;
  }
  return null;
}

const server = createServer(async (req, res) => {
  const send = (code, text) => {
    res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(text);
  };
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'GET or HEAD only\n');
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  let file = resolve(url.pathname);
  if (!file) return send(403, 'outside the served folders\n');
  try {
    let s = await stat(file);
    if (s.isDirectory()) {
      file = path.join(file, 'index.html');
      s = await stat(file);
    }
    const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
    res.writeHead(200, { 'Content-Type': type, 'Content-Length': s.size, 'Cache-Control': 'no-store' });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).on('error', () => res.destroy()).pipe(res);
  } catch {
    send(404, `not found: ${url.pathname}\n`);
  }
});

const port = parsePort(process.argv.slice(2));
if (!existsSync(path.join(here, 'dist', 'main.js'))) {
  console.error('serve: examples/browser/dist/main.js is missing: run npm run build:examples first (npm run serve does)');
  process.exit(1);
}
server.listen(port, '127.0.0.1', () => {
  const { port: actual } = server.address();
  console.log(`serving http://127.0.0.1:${actual}/ (examples/browser and data/; Ctrl-C stops)`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)).closeAllConnections());
