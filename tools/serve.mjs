// Static file server for web/ on 127.0.0.1 (development and browser tests). No special headers are needed by the
// page (see DESIGN.md "Browser runtime"); every response says Cache-Control: no-cache so rebuilds show up at once.
// It serves only regular files under its root (a symbolic link leading outside is refused), answers only requests
// addressed to a local host name (a web page elsewhere cannot reach it through DNS rebinding), and sends a
// Content-Security-Policy that allows only its own origin and WebAssembly.
//
//   node tools/serve.mjs [--port N] [--allow-host NAME] [--frame-ancestors SOURCES]

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

/** Host names a local server answers to (with any port); others may be a DNS-rebinding attack. */
const LOCAL_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

/**
 * The policy: scripts, workers, data and WebAssembly from this origin only. Embedding in a frame is allowed from
 * `frameAncestors` (default: any page, like the static site, whose <meta> policy cannot restrict framing).
 * @param {string} frameAncestors CSP source list, e.g. "'self' https://school.example"
 */
export function contentSecurityPolicy(frameAncestors = '*') {
  return ["default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "worker-src 'self'", "connect-src 'self'",
    "img-src 'self' data: blob:", "style-src 'self'", "object-src 'none'", "base-uri 'self'", "form-action 'self'",
    `frame-ancestors ${frameAncestors}`].join('; ');
}

const USAGE = `Usage: node tools/serve.mjs [--port N] [--allow-host NAME] [--frame-ancestors SOURCES]

Serve the folder web/ of this repository at http://127.0.0.1:PORT/ (static files, no caching).

Options:
  --port N                   port to listen on, 0..65535 (default 8080; 0 picks a free port)
  --allow-host NAME          also answer requests for this host name (default: only 127.0.0.1, localhost,
                             [::1]); repeat for several
  --frame-ancestors SOURCES  which pages may show this one in a frame, as a CSP source list (default '*',
                             any page; e.g. "'self' https://school.example")
  --help                     show this help
`;

/**
 * Start a static file server for a folder.
 * GET and HEAD only; '/' and paths ending in '/' serve index.html; paths that are malformed (400) or escape the
 * root, also through a symbolic link (403), are refused; anything that is not a regular file is 404; a Host
 * header that is not a local name or one of allowedHosts is 421.
 * @param {object} options
 * @param {string} options.root - folder to serve
 * @param {number} [options.port=0] - 0 picks a free port
 * @param {string} [options.host='127.0.0.1']
 * @param {string[]} [options.allowedHosts=[]] - host names answered besides the local ones
 * @param {string} [options.frameAncestors='*'] - the policy's frame-ancestors sources
 * @returns {Promise<{ url: string, close(): Promise<void> }>} url like "http://127.0.0.1:8080/"; close() drops open
 *   connections and stops listening
 * @throws {Error} one-line message when root is not a folder or the port cannot be used (e.g. already in use)
 */
export async function startServer({ root, port = 0, host = '127.0.0.1', allowedHosts = [], frameAncestors = '*' }) {
  if (typeof root !== 'string' || root === '') throw new Error('startServer: root must be a folder path');
  if (/[;\r\n,]/.test(frameAncestors)) throw new Error(`startServer: frameAncestors ${JSON.stringify(frameAncestors)} is not a CSP source list`);
  const rootDir = await fs.promises.realpath(path.resolve(root)).catch(() => path.resolve(root));
  const stat = await fs.promises.stat(rootDir).catch(() => null);
  if (!stat || !stat.isDirectory()) throw new Error(`startServer: root ${rootDir} is not a folder`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`startServer: port ${port} out of range (expected 0..65535)`);

  const site = {
    rootDir, csp: contentSecurityPolicy(frameAncestors),
    hosts: new Set([...LOCAL_HOSTS, host.includes(':') ? `[${host}]` : host, ...allowedHosts].map((h) => h.toLowerCase())),
  };
  const server = http.createServer((req, res) => handle(site, req, res));
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
    'X-Content-Type-Options': 'nosniff',
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

/** The host name of a Host header without its port ("localhost:8080" -> "localhost", "[::1]:80" -> "[::1]"). */
function hostName(header) {
  if (typeof header !== 'string') return '';
  const m = /^(\[[^\]]*\]|[^:]*)(?::\d*)?$/.exec(header.trim());
  return m ? m[1].toLowerCase() : '';
}

function handle(site, req, res) {
  if (!site.hosts.has(hostName(req.headers.host))) {
    return send(res, 421, 'Misdirected Request: this server answers only to a local host name (see --allow-host)');
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
  const { status, file } = resolveTarget(site.rootDir, req.url);
  if (status) return send(res, status, http.STATUS_CODES[status]);
  // The real path must stay under the root: a symbolic link inside it may point anywhere.
  fs.realpath(file, (linkErr, real) => {
    if (linkErr) return send(res, 404, 'Not Found');
    if (!real.startsWith(site.rootDir + path.sep)) return send(res, 403, 'Forbidden');
    fs.stat(real, (err, stat) => {
      if (err || !stat.isFile()) return send(res, 404, 'Not Found');
      res.writeHead(200, {
        'Content-Type': MIME[path.extname(real).toLowerCase()] ?? DEFAULT_MIME,
        'Content-Length': stat.size,
        'Cache-Control': 'no-cache',
        'X-Content-Type-Options': 'nosniff',
        'Content-Security-Policy': site.csp,
      });
      if (req.method === 'HEAD') return res.end();
      const stream = fs.createReadStream(real);
      stream.on('error', () => res.destroy()); // headers are out; all we can do is cut the connection
      stream.pipe(res);
    });
  });
}

// ---------------------------------------------------------------------------------------------------------
// CLI

function parseArgs(argv) {
  const opts = { port: 8080, help: false, allowedHosts: [], frameAncestors: '*' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => (inline !== undefined ? inline : argv[++i]);
    if (name === '--help' || name === '-h') opts.help = true;
    else if (name === '--port') {
      const v = value();
      if (v === undefined || !/^\d{1,5}$/.test(v) || Number(v) > 65535) {
        throw new Error(`--port: expected a number 0..65535 (got ${v === undefined ? 'nothing' : JSON.stringify(v)})`);
      }
      opts.port = Number(v);
    } else if (name === '--allow-host') {
      const v = value();
      if (!v || !/^[a-z0-9.-]+$|^\[[0-9a-f:.]+\]$/i.test(v)) throw new Error(`--allow-host: expected a host name (got ${JSON.stringify(v ?? '')})`);
      opts.allowedHosts.push(v);
    } else if (name === '--frame-ancestors') {
      const v = value();
      if (!v || /[;\r\n,]/.test(v)) throw new Error(`--frame-ancestors: expected CSP sources such as "'self' https://example.org" (got ${JSON.stringify(v ?? '')})`);
      opts.frameAncestors = v;
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
  const server = await startServer({ root, port: opts.port, allowedHosts: opts.allowedHosts, frameAncestors: opts.frameAncestors });
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
