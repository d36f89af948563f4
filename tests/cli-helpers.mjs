// Shared by the CLI tests: running a tool as a user would, and what a user error must look like.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs tools/<tool> with args from the repository root; json() parses the last line of stdout. */
export function runTool(tool, args, timeout = 300_000) {
  const r = spawnSync(process.execPath, [path.join(root, 'tools', tool), ...args], { cwd: root, encoding: 'utf8', timeout });
  assert.equal(r.error, undefined, `${tool} did not finish: ${r.error}`);
  return { ...r, json: () => JSON.parse(r.stdout.trim().split('\n').at(-1)) };
}

/** A user error: non-zero exit, one line on stderr matching pattern, no stack trace. */
export function assertUserError(r, pattern) {
  assert.notEqual(r.status, 0, 'exit code must be non-zero');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}
