// Interoperability with PyTorch (DESIGN.md "Interfaces" 2 and "Scale-out"): for each spec, the module that
// tools/to-pytorch.mjs generates loads our trained weights with load_state_dict(strict=True) and gives the same
// probabilities on real MNIST test images; models trained in PyTorch (batch norm and residual blocks
// included) load here and predict the same; batch norm's running statistics after N training steps equal
// PyTorch's; and the generated DistributedDataParallel script trains on 2 CPU processes and writes a file that
// loads here. The PyTorch side is tests/torch/interop.py, run with /usr/bin/python3 (Debian's python3-torch).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadCnn } from '../web/cnn.mjs';
import { loadIdxPair, DEFAULT_DATA_DIR } from '../tools/lib/mnist.mjs';
import { ddpScript, pytorchModule } from '../tools/lib/pytorch.mjs';
import { parseSafetensors } from './helpers.mjs';

const PYTHON = '/usr/bin/python3';
const INTEROP = fileURLToPath(new URL('./torch/interop.py', import.meta.url));
const TOLERANCE = 1e-5;
const N_IMAGES = 64;
const TIMEOUT = 120_000;

const SPECS = {
  keras: 'keras',
  pytorch: 'pytorch',
  mlp: 'mlp',
  resnet: 'resnet',
  'same/avgpool/tanh/sigmoid': 'conv2d 8 5x5 same tanh; avgpool 2; conv2d 16 3x3 valid sigmoid; maxpool 2; ' +
    'dense 32 tanh; dense 10',
  // batch norm over channels and over flat features (BatchNorm2d / BatchNorm1d), strides, a pre-activation
  // block (its relu reads the input the identity skip needs), a projection skip, leaky ReLU, GELU, global pooling
  'bn/residual/stride/gelu': 'conv2d 8 3x3 same stride 2 leakyrelu; batchnorm; residual; relu; conv2d 8 3x3 same; ' +
    'end; residual; conv2d 12 3x3 same stride 2 gelu; batchnorm; skip; conv2d 12 1x1 stride 2; end tanh; ' +
    'flatten; batchnorm; dense 24 relu; dropout 0.2; dense 10',
  'global pooling': 'conv2d 16 3x3 relu; maxpool 2; residual; conv2d 16 3x3 same; batchnorm; end; leakyrelu 0.1; ' +
    'globalavgpool; dense 10',
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

/** Writes the generated module (and training script) for a spec into its own directory; returns it. */
function generate(name, spec) {
  const d = path.join(dir, `torch-${name.replace(/\W/g, '_')}`);
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 'model.py'), pytorchModule(cnn.checkSpec(spec)));
  fs.writeFileSync(path.join(d, 'train_ddp.py'), ddpScript());
  return d;
}

function readF32(file) {
  return new Float32Array(new Uint8Array(fs.readFileSync(file)).buffer);
}

/** Max absolute difference; asserts equal lengths and finite values. */
function maxDiff(a, b) {
  assert.equal(a.length, b.length, 'array lengths differ');
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    assert.ok(Number.isFinite(Number(a[i])) && Number.isFinite(Number(b[i])), `non-finite value at ${i}`);
    d = Math.max(d, Math.abs(Number(a[i]) - Number(b[i])));
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
  fs.writeFileSync(images, Float32Array.from(testSet.images(0, N_IMAGES), (v) => v / 255));
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
  test(`${name}: the generated PyTorch module loads our trained model strictly and predicts the same`, { timeout: TIMEOUT }, async (t) => {
    requireTorch();
    const model = cnn.createModel(spec, { seed: 11 });
    try {
      const init = model.params();
      await model.fit(train, { epochs: 1, limit: 8 * 32, batchSize: 32 });
      const trained = model.params();
      assert.ok(trained.some((v, i) => v !== init[i]), 'training did not change the weights');

      const module = generate(name, spec);
      const weights = path.join(dir, `${name.replace(/\W/g, '_')}.safetensors`);
      const out = path.join(dir, `${name.replace(/\W/g, '_')}.torch.f32`);
      fs.writeFileSync(weights, model.save());
      python('predict', module, weights, images, String(N_IMAGES), out);

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

for (const name of ['keras', 'resnet']) {
  test(`${name}: a model trained in PyTorch loads here and predicts the same`, { timeout: TIMEOUT }, async (t) => {
    requireTorch();
    const module = generate(`${name}-export`, name);
    const weights = path.join(dir, `from-torch-${name}.safetensors`);
    const out = path.join(dir, `from-torch-${name}.f32`);
    python('export', module, images, String(N_IMAGES), weights, out, '--seed', '5',
      '--train', path.join(DEFAULT_DATA_DIR, 'train-images-idx3-ubyte'),
      path.join(DEFAULT_DATA_DIR, 'train-labels-idx1-ubyte'), '--steps', '60', '--batch', '64');
    const bytes = new Uint8Array(fs.readFileSync(weights));
    const theirs = readF32(out);
    const x = testImages();

    const loaded = cnn.loadModel(bytes);
    const created = cnn.createModel(name, { seed: 99 });
    try {
      assert.equal(loaded.spec, created.spec, `the file rebuilds the ${name} architecture`);
      const d1 = maxDiff(loaded.predict(x), theirs);
      t.diagnostic(`loadModel: max |ours - pytorch| = ${d1.toExponential(2)}`);
      assert.ok(d1 <= TOLERANCE, `loadModel: max difference ${d1} exceeds ${TOLERANCE}`);

      const tensors = Object.keys(parseSafetensors(bytes).tensors).length;
      assert.equal(created.loadWeights(bytes), tensors, `strict loadWeights loads all ${tensors} tensors`);
      const d2 = maxDiff(created.predict(x), theirs);
      t.diagnostic(`createModel + loadWeights: max |ours - pytorch| = ${d2.toExponential(2)}`);
      assert.ok(d2 <= TOLERANCE, `createModel + loadWeights: max difference ${d2} exceeds ${TOLERANCE}`);
      if (name === 'resnet') assert.equal(loaded.tensor('bn1.num_batches_tracked').data[0], 60, 'PyTorch counted 60 batches');

      // The PyTorch-trained model already classifies: a check that the weights really are its, not a re-init.
      const labels = testSet.labels().subarray(0, N_IMAGES);
      const probs = loaded.predict(x);
      let correct = 0;
      for (let i = 0; i < N_IMAGES; i++) {
        const row = probs.subarray(i * 10, i * 10 + 10);
        if (row.indexOf(Math.max(...row)) === labels[i]) correct++;
      }
      t.diagnostic(`accuracy of the PyTorch-trained model here: ${correct}/${N_IMAGES}`);
      assert.ok(correct >= N_IMAGES / 4, `only ${correct}/${N_IMAGES} correct after PyTorch training (chance: 1/10)`);

      // ... and it can be fine-tuned here.
      const h = await loaded.fit(train, { epochs: 1, limit: 4 * 32, batchSize: 32 });
      assert.ok(Number.isFinite(h.epochs[0].loss), 'fine-tuning loss is finite');
    } finally {
      loaded.free();
      created.free();
    }
  });
}

test('batch norm: running statistics, counters and weights after 5 SGD steps equal PyTorch\'s', { timeout: TIMEOUT }, async (t) => {
  requireTorch();
  const spec = SPECS['bn/residual/stride/gelu'].replace('dropout 0.2; ', ''); // dropout's masks would differ
  const n = 64;
  const pixels = train.images(0, n), labels = train.labels().subarray(0, n);
  const data = cnn.datasetFromArrays(pixels, labels, { height: 28, width: 28, classes: 10 });
  const model = cnn.createModel(spec, { seed: 3, maxBatch: n });
  const module = generate('bn-steps', spec);
  const start = path.join(dir, 'bn-start.safetensors'), theirsFile = path.join(dir, 'bn-torch.safetensors');
  const x = path.join(dir, 'bn-images.f32'), y = path.join(dir, 'bn-labels.u8');
  fs.writeFileSync(start, model.save());
  fs.writeFileSync(x, Float32Array.from(pixels, (v) => v / 255));
  fs.writeFileSync(y, labels);
  try {
    // each step sees all 64 images (one batch), so the order the trainer shuffles them in does not matter
    await model.fit(data, { epochs: 5, batchSize: n, optimizer: 'sgd', lr: 0.05, momentum: 0, schedule: 'constant' });
    python('sgd', module, start, x, y, String(n), '5', '0.05', theirsFile);
    const ours = parseSafetensors(model.save()).tensors, theirs = parseSafetensors(new Uint8Array(fs.readFileSync(theirsFile))).tensors;
    assert.deepEqual(Object.keys(ours), Object.keys(theirs), 'the same tensors, in the same order');
    const worst = { running: 0, weights: 0 };
    for (const [name, a] of Object.entries(ours)) {
      const b = theirs[name];
      assert.deepEqual(a.shape, b.shape, `${name} shape`);
      assert.equal(a.dtype, b.dtype, `${name} dtype`);
      if (a.dtype === 'I64') {
        assert.deepEqual(Array.from(a.data), [5n], `${name}: 5 batches tracked`);
        assert.deepEqual(Array.from(b.data), [5n], `${name}: PyTorch tracked 5 batches`);
        continue;
      }
      const d = maxDiff(a.data, b.data), scale = Math.max(1, ...Array.from(b.data, Math.abs));
      const kind = /running_/.test(name) ? 'running' : 'weights';
      worst[kind] = Math.max(worst[kind], d / scale);
      assert.ok(d <= 1e-4 * scale, `${name}: max difference ${d} (largest value ${scale})`);
    }
    assert.ok(ours['bn1.running_var'].data.some((v) => Math.abs(v - 1) > 0.01), 'the running variance moved');
    t.diagnostic(`after 5 steps: max relative |ours - pytorch| running statistics ${worst.running.toExponential(2)}, ` +
      `weights ${worst.weights.toExponential(2)}`);
  } finally {
    model.free();
    data.free();
  }
});

test('the generated DistributedDataParallel script trains on 2 CPU processes and its file loads here', { timeout: 300_000 }, async (t) => {
  requireTorch();
  const spec = 'conv2d 8 3x3 relu; maxpool 2; batchnorm; residual; conv2d 8 3x3 same; batchnorm; end relu; dense 10';
  const module = generate('ddp', spec);
  const out = path.join(dir, 'ddp.safetensors');
  // --redirects 2 --tee 2: torch 1.13's torchrun cannot parse its default (0) under Python 3.11
  const args = ['--standalone', '--nproc_per_node', '2', '--redirects', '2', '--tee', '2', path.join(module, 'train_ddp.py'),
    '--data', DEFAULT_DATA_DIR, '--limit', '1024', '--epochs', '1', '--batch', '32', '--out', out];
  let stdout;
  try {
    stdout = execFileSync('torchrun', args, { env: { ...process.env, OMP_NUM_THREADS: '1' }, encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
  } catch (e) {
    assert.fail(`torchrun ${args.join(' ')} failed: ${e.stderr ? String(e.stderr).trim().split('\n').slice(-5).join('\n') : e.message}`);
  }
  const result = JSON.parse(stdout.trim().split('\n').pop());
  t.diagnostic(`torchrun --standalone --nproc_per_node 2 train_ddp.py --limit 1024 --epochs 1: ${JSON.stringify(result)}`);
  assert.equal(result.processes, 2);
  assert.ok(result.test_accuracy > 0.5, `test accuracy after 16 steps on 2 processes: ${result.test_accuracy}`);
  const bytes = new Uint8Array(fs.readFileSync(out));
  const model = cnn.loadModel(bytes);
  try {
    assert.equal(model.spec, cnn.checkSpec(spec).spec);
    // 1024 images, 2 processes, batch 32: 16 steps, each counted once in the first process's batch norm
    assert.equal(model.tensor('bn1.num_batches_tracked').data[0], 16);
    const theirs = path.join(dir, 'ddp.torch.f32');
    python('predict', module, out, images, String(N_IMAGES), theirs);
    const d = maxDiff(model.predict(testImages()), readF32(theirs));
    t.diagnostic(`the DDP-trained file here: max |ours - pytorch| = ${d.toExponential(2)}`);
    assert.ok(d <= TOLERANCE, `max difference ${d}`);
    const ev = model.evaluate(testSet);
    t.diagnostic(`its test accuracy here: ${ev.accuracy} (PyTorch: ${result.test_accuracy})`);
    assert.ok(Math.abs(ev.accuracy - result.test_accuracy) < 1e-3, 'the same test accuracy here and in PyTorch');
  } finally {
    model.free();
  }
});
