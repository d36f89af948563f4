// The command-line tools as a user runs them: results as the last JSON line, one-line errors, exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

import { encodePng, encodePgm } from '../tools/lib/image.mjs';
import { DEFAULT_DATA_DIR } from '../tools/lib/mnist.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), 'cnn-cli-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function run(tool, args) {
  const r = spawnSync(process.execPath, [path.join(root, 'tools', tool), ...args], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  return { ...r, json: () => JSON.parse(r.stdout.trim().split('\n').at(-1)) };
}

/** A user error: non-zero exit, one line on stderr matching pattern, no stack trace. */
function assertUserError(r, pattern) {
  assert.notEqual(r.status, 0, 'exit code must be non-zero');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

test('train, eval and predict work together on real MNIST', async () => {
  const out = path.join(tmp, 'small.safetensors');
  const r = run('train.mjs', ['--model', 'conv2d 8 3x3 relu; maxpool 2; dense 10', '--limit', '3000', '--epochs', '2',
    '--batch', '32', '--seed', '4', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const res = r.json();
  assert.ok(res.test_accuracy > 0.9, `test accuracy ${res.test_accuracy}`);
  assert.equal(res.confusion.length, 10);
  assert.equal(res.precision.length, 10);
  assert.equal(res.epochs.length, 2);
  assert.match(r.stderr, /epoch 2\/2: loss/);
  const ev = run('eval.mjs', ['--weights', out]);
  assert.equal(ev.status, 0, ev.stderr);
  assert.equal(ev.json().test_accuracy, res.test_accuracy, 'eval gives the accuracy train reported');
  assert.deepEqual(ev.json().confusion, res.confusion);
  // --init starts from saved weights; --freeze keeps layers fixed.
  const tuned = path.join(tmp, 'tuned.safetensors');
  const ft = run('train.mjs', ['--model', 'conv2d 8 3x3 relu; maxpool 2; dense 10', '--init', out, '--freeze', 'conv1',
    '--limit', '500', '--out', tuned]);
  assert.equal(ft.status, 0, ft.stderr);
  assert.match(ft.stderr, /loaded 4 tensors/);
  const a = readFileSync(out), b = readFileSync(tuned);
  const conv1 = (buf) => buf.subarray(buf.length - (8 * 9 + 8 + 10 * 1352 + 10) * 4, buf.length - (10 * 1352 + 10) * 4);
  assert.deepEqual(conv1(b), conv1(a), 'conv1 frozen');
});

/** Real MNIST test digits, drawn large as dark ink on white paper at an offset, saved as PNG and PGM. */
function drawnDigits(count) {
  const bytes = readFileSync(path.join(DEFAULT_DATA_DIR, 't10k-images-idx3-ubyte'));
  const labels = readFileSync(path.join(DEFAULT_DATA_DIR, 't10k-labels-idx1-ubyte'));
  const files = [];
  for (let i = 0; i < count; i++) {
    const W = 160, H = 140, scale = 4, ox = 10 + 7 * i, oy = 5 + 3 * i;
    const gray = new Uint8Array(W * H).fill(255);
    for (let y = 0; y < 28 * scale; y++) for (let x = 0; x < 28 * scale; x++) {
      gray[(oy + y) * W + ox + x] = 255 - bytes[16 + i * 784 + Math.floor(y / scale) * 28 + Math.floor(x / scale)];
    }
    const file = path.join(tmp, `digit${i}.${i % 2 ? 'pgm' : 'png'}`);
    writeFileSync(file, i % 2 ? encodePgm(gray, W, H) : encodePng(gray, W, H));
    files.push({ file, label: labels[8 + i] });
  }
  return files;
}

test('predict reads drawn digits with the pretrained model', () => {
  const digits = drawnDigits(10);
  const r = run('predict.mjs', ['--weights', path.join(root, 'assets/pretrained.safetensors'), ...digits.map((d) => d.file)]);
  assert.equal(r.status, 0, r.stderr);
  const { predictions } = r.json();
  assert.equal(predictions.length, 10);
  const right = predictions.filter((p, i) => p.label === digits[i].label).length;
  assert.ok(right >= 9, `${right}/10 right: ${predictions.map((p) => p.label)} vs ${digits.map((d) => d.label)}`);
  predictions.forEach((p) => assert.ok(Math.abs(p.probabilities.reduce((a, b) => a + b) - 1) < 1e-4));
});

test('user errors are one line on stderr with a non-zero exit code', () => {
  assertUserError(run('train.mjs', []), /^train: --model is required/);
  assertUserError(run('train.mjs', ['--model', 'nosuchpreset']), /neither a preset .* nor a readable spec file/);
  assertUserError(run('train.mjs', ['--model', 'conv2d 8 3x3; blur 2; dense 10']), /layer 2 \('blur 2'\): unknown layer 'blur'/);
  assertUserError(run('train.mjs', ['--model', 'mlp', '--batch', '0']), /--batch '0' is not an integer in 1..4096/);
  assertUserError(run('train.mjs', ['--model', 'mlp', '--lr=-0.5', '--limit', '100']), /learning rate -0.5 \(expected > 0/);
  assertUserError(run('train.mjs', ['--model', 'mlp', '--optimizer', 'rmsprop']), /--optimizer 'rmsprop'/);
  assertUserError(run('train.mjs', ['--model', 'mlp', '--bogus']), /Unknown option '--bogus'/);
  assertUserError(run('eval.mjs', []), /^eval: --weights is required/);
  assertUserError(run('eval.mjs', ['--weights', path.join(tmp, 'missing.safetensors')]), /cannot read .*no such file/);
  const junk = path.join(tmp, 'junk.safetensors');
  writeFileSync(junk, 'this is not a weight file');
  assertUserError(run('eval.mjs', ['--weights', junk]), /^eval: safetensors: /);
  assertUserError(run('predict.mjs', ['--weights', junk, junk]), /^predict: safetensors: /);
  const notImage = path.join(tmp, 'not-an-image.png');
  writeFileSync(notImage, 'hello');
  assertUserError(run('predict.mjs', ['--weights', path.join(root, 'assets/pretrained.safetensors'), notImage]), /^predict: /);
  const blank = path.join(tmp, 'blank.png');
  writeFileSync(blank, encodePng(new Uint8Array(50 * 50).fill(255), 50, 50));
  assertUserError(run('predict.mjs', ['--weights', path.join(root, 'assets/pretrained.safetensors'), blank]), /empty/);
});

test('to-pytorch writes a module and a training script for a preset, a spec or a weight file', () => {
  const out = path.join(tmp, 'torch');
  const r = run('to-pytorch.mjs', ['--model', 'resnet', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const res = r.json();
  assert.equal(res.parameters, 151690);
  const module = readFileSync(path.join(out, 'model.py'), 'utf8');
  assert.match(module, /self\.bn8 = nn\.BatchNorm2d\(64\)/);
  assert.match(module, /self\.conv6 = nn\.Conv2d\(32, 64, 1, stride=2, padding=0\)/);
  assert.match(module, /h18 = h15 \+ h17/, 'the projection block adds its branch and its skip');
  assert.equal(module.match(/^SPEC = (.*)$/m)[1], JSON.stringify(res.spec));
  assert.match(readFileSync(path.join(out, 'train_ddp.py'), 'utf8'), /DistributedDataParallel/);
  const fromFile = run('to-pytorch.mjs', ['--model', path.join(root, 'assets/pretrained.safetensors'), '--out', out]);
  assert.equal(fromFile.status, 0, fromFile.stderr);
  assert.match(readFileSync(path.join(out, 'model.py'), 'utf8'), /self\.fc1 = nn\.Linear\(1600, 128\)/);
  assertUserError(run('to-pytorch.mjs', ['--model', 'conv2d 8 3x3; residual; dense 10', '--out', out]), /^to-pytorch: spec: layer 2 \('residual'\): the residual block is not closed/);
  assertUserError(run('to-pytorch.mjs', []), /^to-pytorch: --model is required/);
});

test('a data directory with a truncated or wrong-magic IDX file is refused clearly', () => {
  const dir = path.join(tmp, 'data');
  spawnSync('mkdir', ['-p', dir]);
  for (const f of ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', 'train-labels-idx1-ubyte']) {
    copyFileSync(path.join(DEFAULT_DATA_DIR, f), path.join(dir, f));
  }
  const images = readFileSync(path.join(DEFAULT_DATA_DIR, 'train-images-idx3-ubyte'));
  writeFileSync(path.join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(images.subarray(0, 100000)));
  assertUserError(run('train.mjs', ['--model', 'mlp', '--data', dir]), /images: file is truncated: data is 99984 bytes, dimensions say 47040000/);
  const wrong = Buffer.from(images.subarray(0, 16 + 784));
  wrong[2] = 0x0d;
  spawnSync('rm', [path.join(dir, 'train-images-idx3-ubyte.gz')]);
  writeFileSync(path.join(dir, 'train-images-idx3-ubyte'), wrong);
  assertUserError(run('train.mjs', ['--model', 'mlp', '--data', dir]), /data type 0x0d is not supported/);
  const notGzip = path.join(dir, 'train-images-idx3-ubyte.gz');
  spawnSync('rm', [path.join(dir, 'train-images-idx3-ubyte')]);
  writeFileSync(notGzip, Buffer.from([0x1f, 0x8b, 1, 2, 3]));
  assertUserError(run('train.mjs', ['--model', 'mlp', '--data', dir]), /not a valid gzip file/);
});
