// The API tests once more on the debug build (assertions and SAFE_HEAP): a heap access out of bounds or
// misaligned, or a corrupted allocator, aborts there instead of passing unnoticed in the release build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

test('the API tests pass on the debug build (assertions, SAFE_HEAP)', () => {
  assert.ok(existsSync(`${root}build/debug/cnn-simd.cjs`), 'build/debug/cnn-simd.cjs is missing: run bash build.sh');
  // NODE_TEST_CONTEXT would make the inner runner report to this one instead of printing its results
  const { NODE_TEST_CONTEXT, ...env } = process.env;
  void NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', 'tests/core.test.mjs', 'tests/api-robustness.test.mjs'], {
    cwd: root, encoding: 'utf8', timeout: 480_000, env: { ...env, CNN_TEST_BUILD: 'debug' },
  });
  const summary = r.stdout.split('\n').filter((l) => /^# (tests|pass|fail)/.test(l)).join(', ');
  assert.equal(r.status, 0, `${summary}\n${r.stdout.split('\n').filter((l) => /^not ok|Aborted|SAFE_HEAP|segmentation/i.test(l)).join('\n')}\n${r.stderr.slice(-2000)}`);
  assert.match(r.stdout, /^# pass [1-9]\d*$/m, 'the tests ran');
});
