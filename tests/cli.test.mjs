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
import { assertUserError, runTool } from './cli-helpers.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(path.join(tmpdir(), 'cnn-cli-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const run = (tool, args) => runTool(tool, args);

test('train, eval and predict work together on real MNIST', async () => {
  const out = path.join(tmp, 'small.safetensors');
  const r = run('train.mjs', ['--model', 'conv2d 8 3x3 relu; maxpool 2; dense 10', '--limit', '3000', '--epochs', '2',
    '--batch', '32', '--seed', '4', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const res = r.json();
  assert.ok(res.test_accuracy > 0.88, `test accuracy ${res.test_accuracy}`);
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
  assertUserError(run('eval.mjs', ['--weights', junk]), /^eval: .*junk.safetensors: not a .safetensors file/);
  assertUserError(run('predict.mjs', ['--weights', junk, junk]), /^predict: .*junk.safetensors: not a .safetensors file/);
  const notImage = path.join(tmp, 'not-an-image.png');
  writeFileSync(notImage, 'hello');
  assertUserError(run('predict.mjs', ['--weights', path.join(root, 'assets/pretrained.safetensors'), notImage]),
    /^predict: .*not-an-image.png: unknown image format/);
  const blank = path.join(tmp, 'blank.png');
  writeFileSync(blank, encodePng(new Uint8Array(50 * 50).fill(255), 50, 50));
  assertUserError(run('predict.mjs', ['--weights', path.join(root, 'assets/pretrained.safetensors'), blank]), /blank.png: .*empty/);
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
  assertUserError(run('to-pytorch.mjs', ['--model', 'conv2d 8 3x3; residual; dense 10', '--out', out]), /^to-pytorch: .*layer 2 \('residual'\): the residual block is not closed/);
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

test('train --workers 2 is deterministic; --lr-mult and --early-stop are applied', () => {
  const args = ['--model', 'conv2d 8 3x3 relu; maxpool 2; dense 10', '--limit', '3000', '--batch', '32', '--seed', '3', '--workers', '2'];
  const [a, b] = ['a', 'b'].map((n) => path.join(tmp, `workers-${n}.safetensors`));
  const ra = run('train.mjs', [...args, '--out', a]), rb = run('train.mjs', [...args, '--out', b]);
  assert.equal(ra.status, 0, ra.stderr);
  assert.equal(rb.status, 0, rb.stderr);
  assert.match(ra.stderr, /2 threads/);
  assert.equal(ra.json().workers, 2);
  assert.ok(ra.json().test_accuracy > 0.8, `accuracy ${ra.json().test_accuracy}`);
  assert.deepEqual(readFileSync(a), readFileSync(b), 'the same seed and worker count give the same file');
  const frozen = run('train.mjs', [...args, '--init', a, '--lr-mult', 'CONV1=0', '--out', b]);
  assert.equal(frozen.status, 0, frozen.stderr);
  const conv1 = (buf) => buf.subarray(buf.length - (8 * 9 + 8 + 10 * 1352 + 10) * 4, buf.length - (10 * 1352 + 10) * 4);
  assert.deepEqual(conv1(readFileSync(b)), conv1(readFileSync(a)), 'a multiplier of 0 keeps conv1');
  const early = run('train.mjs', ['--model', 'mlp', '--limit', '3000', '--epochs', '30', '--validation-split', '0.5',
    '--early-stop', '2', '--lr', '0.01', '--schedule', 'constant']);
  assert.equal(early.status, 0, early.stderr);
  const { epochs, best_epoch: best } = early.json();
  assert.ok(epochs.length < 30 && epochs.length === best + 2, `${epochs.length} epochs, best ${best}`);
  assertUserError(run('train.mjs', ['--model', 'mlp', '--early-stop', '2']), /--early-stop needs --validation-split/);
  assertUserError(run('train.mjs', ['--model', 'mlp', '--lr-mult', 'fc1']), /--lr-mult 'fc1' is not LAYER=X/);
});

test('train --init with --reinit and --classes: a new head on a pre-trained body', () => {
  const pretrained = path.join(root, 'assets/pretrained.safetensors');
  const out = path.join(tmp, 'reinit.safetensors');
  // the head drawn afresh and kept there (multiplier 0): it must equal a new model's head of the same seed
  const r = run('train.mjs', ['--init', pretrained, '--reinit', 'fc2', '--lr-mult', 'fc2=0', '--limit', '64', '--seed', '9', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /loaded 6 tensors from .*pretrained.safetensors; fc2 drawn afresh/);
  const fresh = run('train.mjs', ['--model', 'keras', '--lr-mult', 'fc2=0', '--limit', '64', '--seed', '9', '--out', path.join(tmp, 'fresh.safetensors')]);
  assert.equal(fresh.status, 0, fresh.stderr);
  const tensor = (file, name) => {
    const b = readFileSync(file), n = Number(b.readBigUInt64LE(0)), h = JSON.parse(b.subarray(8, 8 + n).toString());
    return b.subarray(8 + n + h[name].data_offsets[0], 8 + n + h[name].data_offsets[1]);
  };
  assert.deepEqual(tensor(out, 'fc2.weight'), tensor(path.join(tmp, 'fresh.safetensors'), 'fc2.weight'));
  assert.notDeepEqual(tensor(out, 'fc2.weight'), tensor(pretrained, 'fc2.weight'));
  // five classes: digits 0-4 written as an IDX directory
  const dir = path.join(tmp, 'five');
  spawnSync('mkdir', ['-p', dir]);
  for (const [imgs, labs] of [['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'], ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']]) {
    const im = readFileSync(path.join(DEFAULT_DATA_DIR, imgs)), lb = readFileSync(path.join(DEFAULT_DATA_DIR, labs));
    const keep = [];
    for (let i = 0; i < lb.length - 8 && keep.length < 2000; i++) if (lb[8 + i] < 5) keep.push(i);
    const idx = (magic, dims, body) => Buffer.concat([Buffer.from(magic), ...dims.map((d) => { const b = Buffer.alloc(4); b.writeUInt32BE(d); return b; }), body]);
    writeFileSync(path.join(dir, imgs), idx([0, 0, 8, 3], [keep.length, 28, 28], Buffer.concat(keep.map((i) => im.subarray(16 + i * 784, 16 + (i + 1) * 784)))));
    writeFileSync(path.join(dir, labs), idx([0, 0, 8, 1], [keep.length], Buffer.from(keep.map((i) => lb[8 + i]))));
  }
  const five = path.join(tmp, 'five.safetensors');
  const c = run('train.mjs', ['--init', pretrained, '--classes', '5', '--freeze', 'conv1,conv2', '--data', dir, '--out', five]);
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stderr, /fc2 drawn afresh \(5 classes\)/);
  assert.equal(c.json().confusion.length, 5);
  assert.ok(c.json().test_accuracy > 0.95, `5-class accuracy ${c.json().test_accuracy}`);
  assert.deepEqual(tensor(five, 'conv1.weight'), tensor(pretrained, 'conv1.weight'), 'frozen body');
  assertUserError(run('train.mjs', ['--model', 'mlp', '--classes', '5']), /give --init FILE/);
});

test('transfer.mjs: the three ways of learning digits 5-9 after 0-4', () => {
  const r = run('transfer.mjs', ['--limit', '1500', '--epochs', '1', '--seed', '2']);
  assert.equal(r.status, 0, r.stderr);
  const { ways, pretrain } = r.json();
  assert.deepEqual(Object.keys(ways), ['frozen', 'finetune', 'scratch']);
  assert.ok(pretrain.accuracy_0_4 > 0.9, `pre-trained on 0-4: ${pretrain.accuracy_0_4}`);
  for (const [name, w] of Object.entries(ways)) {
    assert.equal(w.accuracy.length, 1);
    assert.ok(w.accuracy[0] > 0.8, `${name}: ${w.accuracy[0]} on 5-9 (chance 0.2)`);
  }
  assert.deepEqual(ways.frozen.frozen, ['conv1', 'conv2']);
  assert.match(r.stderr, /way +epoch 1 +time +images\/s\nfrozen /);
});
