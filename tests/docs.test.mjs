// Every code example in docs/ runs as written: js blocks with Node from the repository root, python blocks
// with Debian's python3 (PyTorch), sh blocks with bash, html blocks as pages of the web/ folder in Chromium
// (their widgets must get ready, with no error and no Content-Security-Policy violation). The blocks of one
// file run in order in one scratch folder that links web/, tools/ and node_modules/, so a later block can
// read what an earlier one wrote. And the API reference names every export and public method.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { missingPrerequisite, launch, watchErrors } from './browser/helpers.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DOCS = ['api.md', 'embed.md', 'formats.md'];
const RUNNABLE = new Set(['js', 'html', 'python', 'sh']);

/** The fenced code blocks of a Markdown file: [{lang, code, line}]. */
function blocks(file) {
  const text = fs.readFileSync(path.join(ROOT, 'docs', file), 'utf8');
  const out = [];
  const re = /^```(\w*)\n([\s\S]*?)^```$/gm;
  let m;
  while ((m = re.exec(text))) out.push({ lang: m[1], code: m[2], line: text.slice(0, m.index).split('\n').length });
  return out;
}

/** A scratch folder where the repository's paths used by the examples resolve. */
function scratch() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'docs-'));
  for (const name of ['web', 'tools', 'node_modules']) fs.symlinkSync(path.join(ROOT, name), path.join(dir, name));
  return dir;
}

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 180000, maxBuffer: 16 * 1024 * 1024 });
  return { ok: r.status === 0, out: `${r.stdout}\n${r.stderr}`.trim() };
}

let env;
before(async () => {
  const missing = missingPrerequisite();
  if (missing) throw new Error(`cannot run the docs' examples: ${missing}`);
  env = await launch();
});
after(async () => {
  await env?.close();
});

/** Opens an html example as a page of the site; waits for its widgets and its scripts to settle. */
async function runHtml(code, name) {
  const context = await env.browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  const url = `${env.server.url}${name}.html`;
  await page.route(url, (route) => route.fulfill({ contentType: 'text/html; charset=utf-8', body: code }));
  try {
    await page.goto(url);
    await page.waitForFunction(() => [...document.querySelectorAll('digit-pad, digit-trainer, digit-insight, digit-studio')]
      .every((el) => el.hasAttribute('ready')), null, { timeout: 30000 });
    for (const frame of page.frames().slice(1)) {
      await frame.waitForFunction(() => document.body?.dataset.ready === 'true', null, { timeout: 30000 });
    }
    await page.waitForLoadState('networkidle');
    await page.waitForTimeout(300); // the scripts' last promises
  } finally {
    await context.close();
  }
  return { errors, logs };
}

for (const file of DOCS) {
  test(`docs/${file}: every example runs as written`, async (t) => {
    const dir = scratch();
    try {
      const all = blocks(file);
      const runnable = all.filter((b) => RUNNABLE.has(b.lang));
      assert.ok(runnable.length >= 3, `${file} has ${runnable.length} examples`);
      for (const b of all) assert.ok(RUNNABLE.has(b.lang) || b.lang === 'text', `${file}:${b.line}: a code block without a runnable language (${b.lang || 'none'})`);
      for (const [i, b] of runnable.entries()) {
        const where = `${file}:${b.line} (${b.lang})`;
        if (b.lang === 'html') {
          const { errors, logs } = await runHtml(b.code, `doc-${path.basename(file, '.md')}-${i}`);
          assert.deepEqual(errors, [], `${where}\n${logs.join('\n')}`);
          assert.deepEqual(logs.filter((l) => l.startsWith('error')), [], where);
          continue;
        }
        const script = path.join(dir, `example-${i}.${b.lang === 'js' ? 'mjs' : b.lang === 'python' ? 'py' : 'sh'}`);
        fs.writeFileSync(script, b.code);
        const r = b.lang === 'js' ? run(process.execPath, [script], dir)
          : b.lang === 'python' ? run('/usr/bin/python3', [script], dir)
            : run('bash', ['-euo', 'pipefail', script], dir);
        assert.ok(r.ok, `${where} failed:\n${r.out}`);
        t.diagnostic(`${where}: ${r.out.split('\n').at(-1).slice(0, 120)}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('docs/api.md uses every export of the API modules, and every public method of the core, in an example', async () => {
  const api = fs.readFileSync(path.join(ROOT, 'docs', 'api.md'), 'utf8');
  const code = blocks('api.md').filter((b) => RUNNABLE.has(b.lang)).map((b) => b.code).join('\n');
  const missing = [];
  const modules = ['web/cnn.mjs', 'web/data.mjs', 'web/parallel.mjs', 'web/app/studio.mjs', 'web/app/runtime.mjs', 'web/app/elements.mjs'];
  for (const m of modules) {
    const exports = await import(path.join(ROOT, m));
    for (const [name, value] of Object.entries(exports)) {
      if (!new RegExp(`\\b${name}\\b`).test(code)) missing.push(`${m}: ${name} (in no example)`);
      // the core's classes, member by member (the page's are described by what they do)
      if (!m.startsWith('web/cnn') || typeof value !== 'function' || !value.prototype || !/^[A-Z]/.test(name) || name.endsWith('Error')) continue;
      for (const member of Object.getOwnPropertyNames(value.prototype)) {
        if (member === 'constructor' || member.startsWith('_')) continue;
        if (!new RegExp(`\\b${member}\\b`).test(api)) missing.push(`${m}: ${name}.${member}`);
        else if (!new RegExp(`\\.${member}\\b`).test(code)) missing.push(`${m}: ${name}.${member} (in no example)`);
      }
    }
  }
  assert.deepEqual(missing, []);
});
