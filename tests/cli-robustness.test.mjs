// The CLI tools against hostile or careless input: special files, huge files, escape sequences in weight files,
// mistakes that would only show after minutes of training, a diverging run, one bad image among good ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, copyFileSync, rmSync, existsSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

import { encodePng } from '../tools/lib/image.mjs';
import { DEFAULT_DATA_DIR } from '../tools/lib/mnist.mjs';
import { assertUserError, runTool } from './cli-helpers.mjs';
import { printable } from '../tools/lib/cli.mjs';
import { loadCnn } from '../web/cnn.mjs';
import { makeSafetensors, parseSafetensors } from './helpers.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), 'cnn-cli-bad-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const PRETRAINED = path.join(root, 'assets/pretrained.safetensors');
const IDX = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

const run = (tool, args) => runTool(tool, args, 120_000);

/** A data directory with the MNIST files, some replaced. */
function dataDir(name, replace = {}) {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  for (const f of IDX) {
    if (f in replace) writeFileSync(path.join(dir, replace[f].name ?? f), replace[f].bytes);
    else copyFileSync(path.join(DEFAULT_DATA_DIR, f), path.join(dir, f));
  }
  return dir;
}

test('special files are refused at once: devices, pipes, folders', () => {
  assertUserError(run('eval.mjs', ['--weights', '/dev/zero']), /--weights '\/dev\/zero': a device, not a regular file/);
  assertUserError(run('train.mjs', ['--model', 'mlp', '--init', '/dev/urandom', '--limit', '10']), /--init '\/dev\/urandom': a device/);
  const fifo = path.join(tmp, 'weights.fifo');
  execFileSync('mkfifo', [fifo]);
  assertUserError(run('eval.mjs', ['--weights', fifo], 30_000), /a pipe \(FIFO\), not a regular file/);
  assertUserError(run('predict.mjs', ['--weights', tmp, 'x.png']), /it is a folder|a folder, not a regular file/);
});

test('files over the core\'s size limit are refused before they are read', () => {
  const big = path.join(tmp, 'big.safetensors');
  writeFileSync(big, '');
  truncateSync(big, 600 * 2 ** 20); // sparse: takes no disk
  assertUserError(run('eval.mjs', ['--weights', big]), /it is 600 MiB, larger than the limit of 512 MiB/);
  // a raw IDX file over 2 GiB (Node cannot even hold it in one buffer)
  const huge = dataDir('huge', { 'train-images-idx3-ubyte': { bytes: '' } });
  truncateSync(path.join(huge, 'train-images-idx3-ubyte'), 2 ** 31 + 16);
  assertUserError(run('train.mjs', ['--model', 'mlp', '--data', huge]), /train-images-idx3-ubyte': it is 2\.0 GiB, larger than the limit/);
});

test('a weight file cannot put escape sequences on the terminal', () => {
  const esc = '\u001b[2J\u001b[Htest accuracy 99.99%';
  // a tensor name the model does not have, and a spec in the metadata, both carrying escape sequences
  const file = path.join(tmp, 'escape.safetensors');
  const good = parseSafetensors(new Uint8Array(readFileSync(PRETRAINED)));
  const tensors = Object.fromEntries(Object.entries(good.tensors).map(([k, t]) => [k, { shape: t.shape, data: t.data }]));
  tensors[`evil${esc}`] = { shape: [1] };
  writeFileSync(file, makeSafetensors(tensors, good.metadata));
  let r = run('eval.mjs', ['--weights', file]);
  assertUserError(r, /tensor 'evil\\x1b\[2J\\x1b\[Htest accuracy 99\.99%' that the model does not have/);
  assert.ok(!r.stderr.includes('\u001b') && !r.stdout.includes('\u001b'), 'no raw escape character is printed');
  writeFileSync(file, makeSafetensors({}, { format: 'cnn-wasm', format_version: '1', spec: `dense 10${esc}\u202e` }));
  r = run('predict.mjs', ['--weights', file, 'x.png']);
  assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/.test(r.stderr), `raw control characters in ${JSON.stringify(r.stderr)}`);
  assert.match(r.stderr, /\\x1b\[2j/i);
  assert.equal(printable('a\u0007b\u009bc\u2067'), 'a\\x07b\\x9bc\\u2067');
});

test('mistakes knowable at the start are refused before training', () => {
  // an output folder that does not exist, a device as output
  let r = run('train.mjs', ['--model', 'mlp', '--out', path.join(tmp, 'no/such/folder/m.safetensors')]);
  assertUserError(r, /cannot write --out .*no such file/);
  assertUserError(run('train.mjs', ['--model', 'mlp', '--out', '/dev/full']), /--out '\/dev\/full': it is a device, not a regular file/);
  // a test set with more classes than the model outputs (labels up to 11)
  const labels = readFileSync(path.join(DEFAULT_DATA_DIR, 't10k-labels-idx1-ubyte'));
  const more = Buffer.from(labels);
  more[8] = 11;
  const dir = dataDir('classes', { 't10k-labels-idx1-ubyte': { bytes: more } });
  r = run('train.mjs', ['--model', 'mlp', '--data', dir, '--epochs', '3']);
  assertUserError(r, /the test set has 12 classes \(labels 0..11\) but the model outputs 10 \(make its last layer 'dense 12'\)/);
  assert.doesNotMatch(r.stderr, /training mlp/, 'refused before training started');
  // integers that would wrap around 2^32
  assertUserError(run('train.mjs', ['--model', 'mlp', '--warmup', '4294967296']), /--warmup '4294967296' is not an integer in 0..100000000/);
  assertUserError(run('train.mjs', ['--model', 'mlp', '--limit', '4294967297']), /--limit '4294967297' is not an integer/);
});

test('presets and layer names are case-insensitive', async () => {
  const out = path.join(tmp, 'upper.safetensors');
  const r = run('train.mjs', ['--model', 'MLP', '--freeze', 'FC1', '--limit', '256', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const after = parseSafetensors(new Uint8Array(readFileSync(out)));
  assert.equal(r.json().model, 'mlp');
  assert.match(r.stderr, /training MLP/);
  const cnn = await loadCnn();
  const initial = parseSafetensors(cnn.createModel('mlp', { seed: 1 }).save());
  assert.deepEqual(after.tensors['fc1.weight'].data, initial.tensors['fc1.weight'].data, 'FC1 was frozen');
  assert.notDeepEqual(after.tensors['fc2.weight'].data, initial.tensors['fc2.weight'].data, 'fc2 trained');
});

test('a gzip file of several members is refused, as in the page', () => {
  const images = readFileSync(path.join(DEFAULT_DATA_DIR, 't10k-images-idx3-ubyte'));
  const joined = Buffer.concat([gzipSync(images.subarray(0, 1000)), gzipSync(images.subarray(1000))]);
  const dir = dataDir('members', { 't10k-images-idx3-ubyte': { name: 't10k-images-idx3-ubyte.gz', bytes: joined } });
  rmSync(path.join(dir, 't10k-images-idx3-ubyte'), { force: true });
  assertUserError(run('eval.mjs', ['--weights', PRETRAINED, '--data', dir]), /holds several gzip members/);
});

test('a diverging run keeps its last good weights and says so', () => {
  const out = path.join(tmp, 'diverged.safetensors');
  const r = run('train.mjs', ['--model', 'dense 256; dense 256; dense 256; dense 10', '--optimizer', 'sgd', '--lr', '10',
    '--schedule', 'constant', '--limit', '3000', '--out', out]);
  assertUserError(r, /became non-finite .* The last good weights \(after \d+ steps?; (test accuracy|they already give)[^)]*\) were saved to .*diverged.safetensors/);
  const steps = Number(/after (\d+) step/.exec(r.stderr)[1]);
  assert.ok(steps >= 1, 'some steps were applied before it diverged');
  assert.ok(existsSync(out), 'the weights were saved');
  const saved = parseSafetensors(new Uint8Array(readFileSync(out)));
  assert.ok(Object.values(saved.tensors).every((t) => t.data.every(Number.isFinite)), 'the saved weights are finite');
  // without --out the message says that nothing was kept, and how to keep it
  assertUserError(run('train.mjs', ['--model', 'dense 256; dense 256; dense 256; dense 10', '--optimizer', 'sgd', '--lr', '10',
    '--schedule', 'constant', '--limit', '3000']), /nothing saved: give --out to keep the last good weights/);
});

test('predict: one bad image among good ones is named, the others are still classified', () => {
  const digit = readFileSync(path.join(DEFAULT_DATA_DIR, 't10k-images-idx3-ubyte')).subarray(16, 16 + 784);
  const good = path.join(tmp, 'seven.png'), bad = path.join(tmp, 'broken.png');
  writeFileSync(good, encodePng(Uint8Array.from(digit), 28, 28));
  writeFileSync(bad, Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
  const r = run('predict.mjs', ['--weights', PRETRAINED, good, bad, path.join(tmp, 'missing.png'), good]);
  assert.equal(r.status, 1, 'a failed image makes the exit status 1');
  const { predictions } = r.json();
  assert.equal(predictions.length, 4);
  assert.equal(predictions[0].label, 7);
  assert.equal(predictions[3].label, 7);
  assert.match(predictions[1].error, /broken.png: /);
  assert.match(predictions[2].error, /missing.png': no such file/);
  assert.match(r.stderr, /predict: .*broken.png: /);
});
