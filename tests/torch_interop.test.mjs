// Weight-file interoperability with PyTorch (DESIGN.md "Interfaces" 2): a model trained here is loaded by a
// torch.nn.Module with load_state_dict(strict=True) and gives the same probabilities on real MNIST test images,
// and a model trained in PyTorch loads here (loadModel, and createModel + loadWeights) with the same result.
// The PyTorch side is tests/torch/interop.py, run with /usr/bin/python3 (Debian's python3-torch).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadCnn } from '../web/cnn.mjs';
import { loadIdxPair, DEFAULT_DATA_DIR } from '../tools/lib/mnist.mjs';

const PYTHON = '/usr/bin/python3';
const INTEROP = fileURLToPath(new URL('./torch/interop.py', import.meta.url));
const TOLERANCE = 1e-5;
const N_IMAGES = 64;
const TIMEOUT = 60_000;

const SPECS = {
  keras: 'keras',
  pytorch: 'pytorch',
  mlp: 'mlp',
  'same/avgpool/tanh/sigmoid': 'conv2d 8 5x5 same tanh; avgpool 2; conv2d 16 3x3 valid sigmoid; maxpool 2; ' +
    'dense 32 tanh; dense 10',
};

let cnn, train, testSet, images, dir, torchProblem;

/** Why PyTorch cannot be used here, or null. Checked once; every test fails (not skips) with the reason. */
function checkTorch() {
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    return null;
  } catch (e) {
    const why = e.code === 'ENOENT' ? `${PYTHON} not found` : `${PYTHON} cannot import torch (${String(e.stderr).trim().split('\n').pop()})`;
    return `${why}: install python3-torch (apt-get install -y python3-torch)`;
  }
}

function requireTorch() {
  if (torchProblem) assert.fail(torchProblem);
}

function python(...args) {
  try {
    execFileSync(PYTHON, [INTEROP, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: TIMEOUT });
  } catch (e) {
    assert.fail(`interop.py ${args[0]} failed: ${e.stderr ? String(e.stderr).trim() : e.message}`);
  }
}

function readF32(file) {
  return new Float32Array(new Uint8Array(fs.readFileSync(file)).buffer);
}

/** Max absolute difference; asserts equal lengths and finite values. */
function maxDiff(a, b) {
  assert.equal(a.length, b.length, 'probability array lengths differ');
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    assert.ok(Number.isFinite(a[i]) && Number.isFinite(b[i]), `non-finite probability at ${i}`);
    d = Math.max(d, Math.abs(a[i] - b[i]));
  }
  return d;
}

before(async () => {
  torchProblem = checkTorch();
  cnn = await loadCnn();
  train = await loadIdxPair(cnn, 'train');
  testSet = await loadIdxPair(cnn, 'test');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnn-torch-interop-'));
  images = path.join(dir, 'images.f32');
  const x = Float32Array.from(testSet.images(0, N_IMAGES), (v) => v / 255);
  fs.writeFileSync(images, x);
});

after(() => {
  train?.free();
  testSet?.free();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function testImages() {
  return readF32(images);
}

for (const [name, spec] of Object.entries(SPECS)) {
  test(`${name}: PyTorch loads our trained model strictly and predicts the same`, { timeout: TIMEOUT }, async (t) => {
    requireTorch();
    const model = cnn.createModel(spec, { seed: 11 });
    try {
      const init = model.params();
      await model.fit(train, { epochs: 1, limit: 8 * 32, batchSize: 32 });
      const trained = model.params();
      assert.ok(trained.some((v, i) => v !== init[i]), 'training did not change the weights');

      const weights = path.join(dir, `${name.replace(/\W/g, '_')}.safetensors`);
      const out = path.join(dir, `${name.replace(/\W/g, '_')}.torch.f32`);
      fs.writeFileSync(weights, model.save());
      python('predict', weights, images, String(N_IMAGES), out);

      const ours = model.predict(testImages());
      const theirs = readF32(out);
      assert.equal(theirs.length, N_IMAGES * model.classes);
      const d = maxDiff(ours, theirs);
      t.diagnostic(`${name}: max |ours - pytorch| = ${d.toExponential(2)} over ${N_IMAGES} MNIST test images`);
      assert.ok(d <= TOLERANCE, `max difference ${d} exceeds ${TOLERANCE}`);
    } finally {
      model.free();
    }
  });
}

test('keras: a model trained in PyTorch loads here and predicts the same', { timeout: TIMEOUT }, async (t) => {
  requireTorch();
  const specFile = path.join(dir, 'keras.spec');
  const weights = path.join(dir, 'from-torch.safetensors');
  const out = path.join(dir, 'from-torch.f32');
  fs.writeFileSync(specFile, cnn.presetSpec('keras'));
  python('export', specFile, images, String(N_IMAGES), weights, out, '--seed', '5',
    '--train', path.join(DEFAULT_DATA_DIR, 'train-images-idx3-ubyte'),
    path.join(DEFAULT_DATA_DIR, 'train-labels-idx1-ubyte'), '--steps', '40', '--batch', '64');
  const bytes = new Uint8Array(fs.readFileSync(weights));
  const theirs = readF32(out);
  const x = testImages();

  const loaded = cnn.loadModel(bytes);
  const created = cnn.createModel('keras', { seed: 99 });
  try {
    assert.equal(loaded.spec, created.spec, 'the file rebuilds the keras architecture');
    const d1 = maxDiff(loaded.predict(x), theirs);
    t.diagnostic(`loadModel: max |ours - pytorch| = ${d1.toExponential(2)}`);
    assert.ok(d1 <= TOLERANCE, `loadModel: max difference ${d1} exceeds ${TOLERANCE}`);

    assert.equal(created.loadWeights(bytes), 8, 'strict loadWeights loads all 8 tensors');
    const d2 = maxDiff(created.predict(x), theirs);
    t.diagnostic(`createModel + loadWeights: max |ours - pytorch| = ${d2.toExponential(2)}`);
    assert.ok(d2 <= TOLERANCE, `createModel + loadWeights: max difference ${d2} exceeds ${TOLERANCE}`);

    // The PyTorch-trained model already classifies: a check that the weights really are its, not a re-init.
    const labels = testSet.labels().subarray(0, N_IMAGES);
    const probs = loaded.predict(x);
    let correct = 0;
    for (let i = 0; i < N_IMAGES; i++) {
      const row = probs.subarray(i * 10, i * 10 + 10);
      if (row.indexOf(Math.max(...row)) === labels[i]) correct++;
    }
    t.diagnostic(`accuracy of the PyTorch-trained model here: ${correct}/${N_IMAGES}`);
    assert.ok(correct >= N_IMAGES / 2, `only ${correct}/${N_IMAGES} correct after PyTorch training`);

    // ... and it can be fine-tuned here.
    const h = await loaded.fit(train, { epochs: 1, limit: 4 * 32, batchSize: 32 });
    assert.ok(Number.isFinite(h.epochs[0].loss), 'fine-tuning loss is finite');
  } finally {
    loaded.free();
    created.free();
  }
});
