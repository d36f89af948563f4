// Runs the C test programs (tests/c/test_*.c) built by build.sh: in WebAssembly with the SIMD build (which
// checks every kernel variant) and natively with ASan + UBSan. Each "ok"/"not ok" line becomes a subtest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const suites = readdirSync(path.join(root, 'tests/c')).filter((f) => /^test_.*\.c$/.test(f)).map((f) => f.slice(0, -2));

async function runSuite(t, command, args) {
  const r = spawnSync(command, args, { cwd: root, encoding: 'utf8', timeout: 300_000 });
  const lines = r.stdout.split('\n');
  const results = lines.filter((l) => /^(ok|not ok) test_/.test(l));
  for (const line of results) {
    const name = line.replace(/^(ok|not ok) /, '').split(' ')[0];
    await t.test(name, () => {
      const details = lines.filter((l) => l.startsWith('not ok') && !/^not ok test_/.test(l)).join('\n');
      assert.ok(line.startsWith('ok'), `${line}\n${details}`);
    });
  }
  assert.ok(results.length > 0, `${command} ${args.join(' ')} reported no test\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.status, 0, `exit status ${r.status} (signal ${r.signal})\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
}

for (const suite of suites) {
  test(`${suite} (wasm, SIMD build)`, async (t) => {
    const file = path.join(root, 'build/wasm-tests', `${suite}.cjs`);
    assert.ok(existsSync(file), `${file} is missing: run bash build.sh`);
    await runSuite(t, process.execPath, [file]);
  });
  test(`${suite} (native, ASan + UBSan)`, async (t) => {
    const file = path.join(root, 'build/native', suite);
    assert.ok(existsSync(file), `${file} is missing: build.sh needs a host C compiler (apt-get install gcc)`);
    await runSuite(t, file, []);
  });
}
