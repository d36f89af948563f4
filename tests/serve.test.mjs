// Tests for tools/serve.mjs: startServer on a temporary folder, and the CLI (help, first line, port in use).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startServer } from '../tools/serve.mjs';

const SERVE = fileURLToPath(new URL('../tools/serve.mjs', import.meta.url));

// tmp/
//   package.json            <- outside the served root: must never be reachable
//   root/index.html, app.mjs, core.wasm, data.bin, sub/index.html
let tmp, root, server;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'serve-test-'));
  root = path.join(tmp, 'root');
  fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(tmp, 'package.json'), '{"secret":true}');
  fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>t</title>');
  fs.writeFileSync(path.join(root, 'app.mjs'), 'export const x = 1;\n');
  fs.writeFileSync(path.join(root, 'core.wasm'), Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  fs.writeFileSync(path.join(root, 'data.bin'), 'xyz');
  fs.writeFileSync(path.join(root, 'sub', 'index.html'), 'sub');
  fs.symlinkSync(path.join(tmp, 'package.json'), path.join(root, 'outside.json')); // leads out of the root
  fs.symlinkSync(tmp, path.join(root, 'up'));
  fs.symlinkSync(path.join(root, 'app.mjs'), path.join(root, 'alias.mjs')); // stays inside
  server = await startServer({ root, port: 0 });
});

after(async () => {
  await server?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// Raw request: the path is sent exactly as given (fetch would normalize '..' and '%2e%2e' away).
function get(rawPath, method = 'GET', headers = {}, url = server.url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: rawPath, method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('startServer listens on 127.0.0.1 with a free port', () => {
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.notEqual(new URL(server.url).port, '0');
});

test('GET / serves index.html as text/html with no-cache', async () => {
  const res = await get('/');
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'], /^text\/html\b/);
  assert.equal(res.headers['cache-control'], 'no-cache');
  assert.equal(res.body.toString(), '<!doctype html><title>t</title>');
  const sub = await get('/sub/?x=1');
  assert.equal(sub.status, 200);
  assert.equal(sub.body.toString(), 'sub');
});

test('MIME types of .wasm, .mjs and unknown extensions', async () => {
  const wasm = await get('/core.wasm');
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers['content-type'], 'application/wasm');
  assert.deepEqual([...wasm.body], [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  const mjs = await get('/app.mjs');
  assert.equal(mjs.status, 200);
  assert.match(mjs.headers['content-type'], /^text\/javascript\b/);
  assert.equal((await get('/data.bin')).headers['content-type'], 'application/octet-stream');
  const head = await get('/app.mjs', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '20');
  assert.equal(head.body.length, 0);
});

test('404 for missing files and folders without index.html', async () => {
  assert.equal((await get('/nope.js')).status, 404);
  assert.equal((await get('/sub')).status, 404); // a folder is not a file
  assert.equal((await get('/index.html/')).status, 404);
});

test('no directory traversal, malformed paths are 400, other methods 405', async () => {
  for (const p of ['/../package.json', '/%2e%2e/package.json', '/%2E%2E/package.json', '/sub/../../package.json',
    '/..%2fpackage.json', '/%2e%2e%2fpackage.json', '/..%5cpackage.json']) {
    const res = await get(p);
    assert.notEqual(res.status, 200, p);
    assert.ok(!res.body.toString().includes('secret'), p);
    assert.ok(res.status === 400 || res.status === 403, `${p}: ${res.status}`);
  }
  assert.equal((await get('/%E0%A4%A')).status, 400);
  assert.equal((await get('/a%00b')).status, 400);
  assert.equal((await get('/', 'POST')).status, 405);
});

test('symbolic links leading outside the root are refused; links inside it are served', async () => {
  for (const p of ['/outside.json', '/up/package.json']) {
    const res = await get(p);
    assert.equal(res.status, 403, p);
    assert.ok(!res.body.toString().includes('secret'), p);
  }
  const alias = await get('/alias.mjs');
  assert.equal(alias.status, 200);
  assert.equal(alias.body.toString(), 'export const x = 1;\n');
});

test('only local host names are answered (DNS rebinding), unless allowed', async () => {
  const port = new URL(server.url).port;
  for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.evil.example:${port}`]) {
    const res = await get('/index.html', 'GET', { Host: host });
    assert.equal(res.status, 421, `Host: ${host}`);
    assert.ok(!res.body.toString().includes('doctype'), host);
  }
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
    assert.equal((await get('/index.html', 'GET', { Host: host })).status, 200, `Host: ${host}`);
  }
  const open = await startServer({ root, port: 0, allowedHosts: ['digits.lan'], frameAncestors: "'self' https://school.example" });
  try {
    const res = await get('/', 'GET', { Host: 'digits.lan:1234' }, open.url);
    assert.equal(res.status, 200);
    assert.match(res.headers['content-security-policy'], /frame-ancestors 'self' https:\/\/school\.example$/);
  } finally {
    await open.close();
  }
});

test('responses carry a Content-Security-Policy: own origin and WebAssembly only, framing allowed', async () => {
  const csp = (await get('/')).headers['content-security-policy'];
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
  assert.match(csp, /object-src 'none'/);
  assert.match(csp, /frame-ancestors \*/);
  assert.doesNotMatch(csp, /'unsafe-inline'|'unsafe-eval'/);
  await assert.rejects(startServer({ root, frameAncestors: "*; script-src *" }), /not a CSP source list/);
});

test('startServer rejects a missing root and a port in use', async () => {
  await assert.rejects(startServer({ root: path.join(tmp, 'missing') }), /startServer: root .* is not a folder/);
  const port = Number(new URL(server.url).port);
  await assert.rejects(startServer({ root, port }), new RegExp(`^Error: port ${port} on 127.0.0.1 is already in use$`));
});

// ---- CLI ----------------------------------------------------------------------------------------------------

function run(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SERVE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('CLI --help prints usage and exits 0', async () => {
  const { code, stdout } = await run(['--help']);
  assert.equal(code, 0);
  assert.match(stdout, /^Usage: node tools\/serve\.mjs \[--port N\]/);
});

test('CLI: port in use and bad arguments give one line on stderr, exit 1, no stack', async () => {
  const port = new URL(server.url).port;
  for (const [args, re] of [[['--port', port], /^serve: port \d+ on 127\.0\.0\.1 is already in use\n$/],
    [['--port', 'abc'], /^serve: --port: expected a number 0..65535 \(got "abc"\)\n$/],
    [['--bogus'], /^serve: unknown argument "--bogus" \(see --help\)\n$/]]) {
    const { code, stdout, stderr } = await run(args);
    assert.equal(code, 1, args.join(' '));
    assert.equal(stdout, '');
    assert.match(stderr, re);
  }
});

test('CLI --port 0 prints exactly one line and serves', async () => {
  const child = spawn(process.execPath, [SERVE, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const line = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c) => {
        out += c;
        if (out.includes('\n')) resolve(out);
      });
      child.on('exit', (code) => reject(new Error(`serve exited with ${code} before listening`)));
    });
    const m = /^Serving web\/ at (http:\/\/127\.0\.0\.1:(\d+)\/)\n$/.exec(line);
    assert.ok(m, JSON.stringify(line));
    assert.notEqual(m[2], '0');
    const res = await new Promise((resolve, reject) => {
      http.get(`${m[1]}no-such-file.xyz`, (r) => { r.resume(); resolve(r); }).on('error', reject);
    });
    assert.equal(res.statusCode, 404);
  } finally {
    child.kill('SIGTERM');
  }
  const code = await new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on('exit', resolve)));
  assert.equal(code, 0);
});
