// The corpus of malformed inputs (tests/corpus/, made by tests/corpus/make.mjs): every file is refused, with the
// reason its manifest names, by the CLI tool that reads it and by the JS API; nothing crashes, no stack trace,
// no raw control character reaches the terminal. (The page refuses the same files: tests/browser/.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import { CnnError } from '../web/cnn.mjs';
import { DataError, gunzipIfNeeded } from '../web/data.mjs';
import { decodeImage } from '../tools/lib/image.mjs';
import { setup } from './helpers.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = path.join(root, 'tests/corpus');
const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
const PRETRAINED = path.join(root, 'assets/pretrained.safetensors');

function cli(tool, args) {
  return spawnSync(process.execPath, [path.join(root, 'tools', tool), ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
}

/** The command that reads a corpus entry, as a user would give it. */
function command(e) {
  const file = path.join(dir, e.file);
  switch (e.kind) {
    case 'weights': return ['eval.mjs', ['--weights', file]];
    case 'idx': return ['eval.mjs', ['--weights', PRETRAINED, '--data', file]];
    case 'images': return ['predict.mjs', ['--weights', PRETRAINED, file]];
    default: return ['train.mjs', ['--model', file, '--limit', '10']];
  }
}

test('the corpus covers every reader', () => {
  const kinds = Object.groupBy ? Object.groupBy(manifest, (e) => e.kind) : manifest.reduce((g, e) => ((g[e.kind] ??= []).push(e), g), {});
  for (const k of ['weights', 'idx', 'images', 'specs']) assert.ok(kinds[k]?.length >= 8, `${k}: ${kinds[k]?.length ?? 0} cases`);
  for (const e of manifest) assert.ok(readdirSync(path.dirname(path.join(dir, e.file))).length > 0, e.file);
});

for (const e of manifest) {
  test(`CLI refuses ${e.file} (${e.about})`, () => {
    const [tool, args] = command(e);
    const r = cli(tool, args);
    assert.notEqual(r.status, 0, `${tool} accepted it:\n${r.stdout.slice(-500)}`);
    assert.equal(r.signal, null, 'no crash');
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(r.stderr), `raw control characters: ${JSON.stringify(r.stderr)}`);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith(tool.replace('.mjs', ':')));
    assert.equal(lines.length, 1, `one error line:\n${r.stderr}`);
    assert.match(lines[0], new RegExp(e.reason));
    if (e.kind !== 'specs') assert.ok(lines[0].includes(path.basename(e.file)), `the message names the file: ${lines[0]}`);
  });
}

test('the JS API refuses every weight file, data set and spec of the corpus with the same reason', async () => {
  const { cnn } = await setup();
  for (const e of manifest) {
    const file = path.join(dir, e.file);
    let refused = null;
    try {
      if (e.kind === 'weights') cnn.loadModel(new Uint8Array(readFileSync(file)));
      else if (e.kind === 'idx') {
        const name = readdirSync(file).find((f) => f.startsWith('t10k-images'));
        const images = await gunzipIfNeeded(new Uint8Array(readFileSync(path.join(file, name))), { name });
        cnn.datasetFromIdx(images, new Uint8Array(readFileSync(path.join(file, 't10k-labels-idx1-ubyte'))));
      } else if (e.kind === 'images') {
        const { gray, width, height } = decodeImage(new Uint8Array(readFileSync(file)), path.basename(file));
        cnn.preprocessDigit(gray, width, height, { invert: true });
      } else {
        const text = readFileSync(file, 'utf8');
        if (text.length > cnn.limits.specChars) throw new CnnError(`${text.length.toLocaleString('en-US')} characters (expected at most ${cnn.limits.specChars})`, 2);
        cnn.createModel(text);
      }
    } catch (err) {
      refused = err;
    }
    assert.ok(refused, `${e.file} was accepted`);
    assert.ok(refused instanceof CnnError || refused instanceof DataError || refused.message.startsWith(path.basename(file)),
      `${e.file}: ${refused.stack}`);
    assert.match(refused.message, new RegExp(e.reason.replace('larger than the limit of 64\\.0 KiB|', '')), e.file);
  }
});
