// Static file server for web/ on 127.0.0.1 (development and browser tests). No special headers are needed by the
// page (see DESIGN.md "Browser runtime"); every response says Cache-Control: no-cache so rebuilds show up at once.
//
//   node tools/serve.mjs [--port N]

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.gz': 'application/gzip', // served as is (no Content-Encoding): the page inflates the IDX files itself
  '.safetensors': 'application/octet-stream',
};
const DEFAULT_MIME = 'application/octet-stream';

const USAGE = `Usage: node tools/serve.mjs [--port N]

Serve the folder web/ of this repository at http://127.0.0.1:PORT/ (static files, no caching).

Options:
  --port N   port to listen on, 0..65535 (default 8080; 0 picks a free port)
  --help     show this help
`;

/**
 * Start a static file server for a folder.
 * GET and HEAD only; '/' and paths ending in '/' serve index.html; paths that are malformed (400) or escape the
 * root (403) are refused; anything that is not a regular file is 404.
 * @param {object} options
 * @param {string} options.root - folder to serve
 * @param {number} [options.port=0] - 0 picks a free port
 * @param {string} [options.host='127.0.0.1']
 * @returns {Promise<{ url: string, close(): Promise<void> }>} url like "http://127.0.0.1:8080/"; close() drops open
 *   connections and stops listening
 * @throws {Error} one-line message when root is not a folder or the port cannot be used (e.g. already in use)
 */
export async function startServer({ root, port = 0, host = '127.0.0.1' }) {
  if (typeof root !== 'string' || root === '') throw new Error('startServer: root must be a folder path');
  const rootDir = path.resolve(root);
  const stat = await fs.promises.stat(rootDir).catch(() => null);
  if (!stat || !stat.isDirectory()) throw new Error(`startServer: root ${rootDir} is not a folder`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`startServer: port ${port} out of range (expected 0..65535)`);

  const server = http.createServer((req, res) => handle(rootDir, req, res));
  await new Promise((resolve, reject) => {
    const onError = (err) => {
      const why = err.code === 'EADDRINUSE' ? 'is already in use'
        : err.code === 'EACCES' ? 'needs more privileges' : `cannot be used (${err.code || err.message})`;
      reject(new Error(`port ${port} on ${host} ${why}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => { server.off('error', onError); resolve(); });
  });
  const actual = server.address().port;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${hostInUrl}:${actual}/`,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function send(res, status, text, extra = {}) {
  const body = `${status} ${text}\n`;
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-cache',
    ...extra,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

// Map a request target to a file inside rootDir, or an HTTP status for why not.
function resolveTarget(rootDir, target) {
  if (typeof target !== 'string' || !target.startsWith('/')) return { status: 400 };
  const rawPath = target.split(/[?#]/, 1)[0];
  let decoded;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return { status: 400 }; // malformed percent-encoding
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return { status: 400 };
  if (decoded.split('/').includes('..')) return { status: 403 };
  const rel = decoded.endsWith('/') ? decoded + 'index.html' : decoded;
  const file = path.resolve(rootDir, '.' + rel);
  if (file !== rootDir && !file.startsWith(rootDir + path.sep)) return { status: 403 }; // belt and braces
  return { file };
}

function handle(rootDir, req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
  const { status, file } = resolveTarget(rootDir, req.url);
  if (status) return send(res, status, http.STATUS_CODES[status]);
  fs.stat(file, (err, stat) => {
    if (err || !stat.isFile()) return send(res, 404, 'Not Found');
    res.writeHead(200, {
      'Content-Type': MIME[path.extname(file).toLowerCase()] ?? DEFAULT_MIME,
      'Content-Length': stat.size,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    });
    if (req.method === 'HEAD') return res.end();
    const stream = fs.createReadStream(file);
    stream.on('error', () => res.destroy()); // headers are out; all we can do is cut the connection
    stream.pipe(res);
  });
}

// ---------------------------------------------------------------------------------------------------------
// CLI

function parseArgs(argv) {
  const opts = { port: 8080, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') opts.help = true;
    else if (arg === '--port' || arg.startsWith('--port=')) {
      const value = arg === '--port' ? argv[++i] : arg.slice('--port='.length);
      if (value === undefined || !/^\d{1,5}$/.test(value) || Number(value) > 65535) {
        throw new Error(`--port: expected a number 0..65535 (got ${value === undefined ? 'nothing' : JSON.stringify(value)})`);
      }
      opts.port = Number(value);
    } else throw new Error(`unknown argument ${JSON.stringify(arg)} (see --help)`);
  }
  return opts;
}

async function main(argv) {
  const opts = parseArgs(argv);
  if (opts.help) {
    process.stdout.write(USAGE);
    return;
  }
  const root = fileURLToPath(new URL('../web/', import.meta.url));
  const server = await startServer({ root, port: opts.port });
  process.stdout.write(`Serving web/ at ${server.url}\n`);
  const stop = () => server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function isMain() {
  if (!process.argv[1]) return false;
  try {
    return import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`serve: ${err.message}\n`);
    process.exit(1);
  });
}
