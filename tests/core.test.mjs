// The JS API on real MNIST: data loading, training, determinism, weight files, freezing and bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { CnnError, loadCnn } from '../web/cnn.mjs';
import { loadIdxPair } from '../tools/lib/mnist.mjs';
import { setup, inputs, parseSafetensors } from './helpers.mjs';
import { referenceForward } from './reference.mjs';

const SMALL_CNN = 'conv2d 8 3x3 relu; maxpool 2; conv2d 16 3x3 same relu; maxpool 2; dense 32 relu; dropout 0.25; dense 10';

test('reads the real MNIST IDX files', async () => {
  const { train, test: t10k } = await setup();
  assert.deepEqual([train.count, train.height, train.width, train.channels, train.classes], [60000, 28, 28, 1, 10]);
  assert.equal(t10k.count, 10000);
  const counts = new Array(10).fill(0);
  for (const y of t10k.labels()) counts[y]++;
  assert.ok(counts.every((c) => c > 800), `every digit appears in the test set: ${counts}`);
  const img = train.images(0);
  assert.equal(img.length, 784);
  assert.ok(img.some((v) => v > 200) && img.filter((v) => v === 0).length > 400, 'an MNIST digit: bright ink on black');
});

test('training on a few thousand real images makes a clear classifier of held-out images', async () => {
  const { cnn, train, test: t10k } = await setup();
  const model = cnn.createModel(SMALL_CNN, { seed: 3, maxBatch: 64 });
  const before = model.evaluate(t10k, { count: 2000 }).accuracy;
  const progress = [];
  const history = await model.fit(train, {
    epochs: 3, batchSize: 32, limit: 4000, validationSplit: 0.1, onProgress: (p) => progress.push(p),
  });
  const after = model.evaluate(t10k, { count: 2000 });
  assert.ok(before < 0.3, `untrained accuracy ${before} should be near chance`);
  assert.ok(after.accuracy > 0.9, `accuracy after 339 steps on 3600 images: ${after.accuracy}`);
  assert.equal(history.epochs.length, 3);
  assert.ok(history.epochs[2].valAccuracy > 0.85, `validation accuracy ${history.epochs[2].valAccuracy}`);
  assert.ok(history.epochs[2].loss < history.epochs[0].loss, 'the training loss falls from epoch to epoch');
  assert.ok(progress.length > 0 && progress.at(-1).step === progress.at(-1).stepsPerEpoch);
  const rowSums = after.confusion.map((r) => r.reduce((a, b) => a + b));
  assert.equal(rowSums.reduce((a, b) => a + b), 2000);
  assert.ok(after.macroF1 > 0.85 && after.f1.every((f) => f > 0.7), `per-class F1 ${after.f1}`);
  model.free();
});

async function trainBriefly(cnn, train, seed) {
  const model = cnn.createModel(SMALL_CNN, { seed, maxBatch: 32 });
  await model.fit(train, { epochs: 1, batchSize: 16, limit: 800, augment: true });
  return model;
}

test('the same seed gives bit-identical weights; another seed does not', async () => {
  const { cnn, train } = await setup();
  const [a, b, c] = [await trainBriefly(cnn, train, 11), await trainBriefly(cnn, train, 11), await trainBriefly(cnn, train, 12)];
  assert.deepEqual(a.params(), b.params());
  assert.notDeepEqual(a.params(), c.params());
  [a, b, c].forEach((m) => m.free());
});

test('save and load round-trip bit-exactly', async () => {
  const { cnn, train, test: t10k } = await setup();
  const model = await trainBriefly(cnn, train, 5);
  const bytes = model.save();
  const loaded = cnn.loadModel(bytes);
  assert.deepEqual(loaded.params(), model.params());
  assert.equal(loaded.spec, model.spec);
  const x = inputs(t10k, 0, 20);
  assert.deepEqual(loaded.predict(x), model.predict(x));
  assert.deepEqual(loaded.save(), bytes, 'saving the loaded model gives the same bytes');
  model.free();
  loaded.free();
});

test('the pretrained model of the page loads, saves back to the same bytes and classifies MNIST', async () => {
  const { cnn, test: t10k } = await setup();
  const file = new Uint8Array(readFileSync(new URL('../assets/pretrained.safetensors', import.meta.url)));
  const model = cnn.loadModel(file);
  assert.deepEqual(model.save(), file, 'a file written by an earlier version is written back byte for byte');
  const { accuracy } = model.evaluate(t10k, { count: 2000 });
  assert.ok(accuracy > 0.98, `pretrained accuracy on 2000 test images: ${accuracy}`);
  model.free();
});

test('the weight file has PyTorch names, shapes and layouts, and the spec in its metadata', async () => {
  const { cnn, train, test: t10k } = await setup();
  const model = await trainBriefly(cnn, train, 8);
  const file = parseSafetensors(model.save());
  assert.equal(file.headerLength % 8, 0);
  assert.deepEqual(Object.keys(file.tensors).sort(),
    ['conv1.bias', 'conv1.weight', 'conv2.bias', 'conv2.weight', 'fc1.bias', 'fc1.weight', 'fc2.bias', 'fc2.weight']);
  assert.deepEqual(file.tensors['conv1.weight'].shape, [8, 1, 3, 3]);
  assert.deepEqual(file.tensors['conv2.weight'].shape, [16, 8, 3, 3]);
  assert.deepEqual(file.tensors['fc1.weight'].shape, [32, 16 * 6 * 6]); // 28 -> 26 -> 13 -> 13 -> 6
  assert.deepEqual(file.tensors['fc2.weight'].shape, [10, 32]);
  assert.ok(Object.values(file.tensors).every((t) => t.dtype === 'F32'));
  assert.equal(file.metadata.format, 'cnn-wasm');
  assert.equal(file.metadata.format_version, '1');
  assert.equal(file.metadata.spec, model.spec);
  // Contiguous data, in order, no holes.
  const spans = Object.values(file.tensors).map((t) => t.offsets).sort((a, b) => a[0] - b[0]);
  spans.forEach(([b], i) => assert.equal(b, i ? spans[i - 1][1] : 0));
  // A PyTorch-semantics forward pass from the file's tensors predicts what the model predicts.
  for (let i = 0; i < 5; i++) {
    const x = inputs(t10k, i, 1);
    const ours = model.predict(x), ref = referenceForward(file, model.spec, x);
    ref.forEach((p, j) => assert.ok(Math.abs(p - ours[j]) < 1e-5, `image ${i} class ${j}: ${ours[j]} vs ${p}`));
  }
  model.free();
});

test('frozen layers stay bit-identical while the others train', async () => {
  const { cnn, train } = await setup();
  const model = cnn.createModel(SMALL_CNN, { seed: 4, maxBatch: 32 });
  const file0 = parseSafetensors(model.save());
  model.freeze(['conv1', 'conv2']);
  assert.deepEqual(model.layers.filter((l) => l.frozen).map((l) => l.name), ['conv1', 'conv2']);
  await model.fit(train, { epochs: 1, batchSize: 16, limit: 320 });
  const file1 = parseSafetensors(model.save());
  for (const name of ['conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias']) {
    assert.deepEqual(file1.tensors[name].data, file0.tensors[name].data, `${name} changed`);
  }
  assert.notDeepEqual(file1.tensors['fc1.weight'].data, file0.tensors['fc1.weight'].data);
  assert.throws(() => model.freeze('conv7'), /no layer with parameters named 'conv7'/);
  model.freeze(['conv1', 'conv2', 'fc1', 'fc2']);
  await assert.rejects(model.fit(train, { limit: 32 }), /every layer is frozen/);
  model.free();
});

test('fine-tuning: weights of one model load into another by name (strict and partial)', async () => {
  const { cnn, train } = await setup();
  const a = await trainBriefly(cnn, train, 21);
  const b = cnn.createModel(SMALL_CNN, { seed: 99 });
  assert.equal(b.loadWeights(a.save()), 8);
  assert.deepEqual(b.params(), a.params());
  const other = cnn.createModel(SMALL_CNN.replace('dense 10', 'dense 5'), { seed: 1 });
  assert.throws(() => other.loadWeights(a.save()), /fc2.weight' has shape \(10, 32\), the model expects \(5, 32\)/);
  assert.equal(other.loadWeights(a.save(), { strict: false }), 6, 'all but the head load');
  [a, b, other].forEach((m) => m.free());
});

/** After an error the module must keep working. */
function stillUsable(cnn) {
  const m = cnn.createModel('mlp', { seed: 1 });
  const p = m.predict(new Float32Array(784).fill(0.5));
  assert.equal(p.length, 10);
  assert.ok(Math.abs(p.reduce((a, b) => a + b) - 1) < 1e-5);
  m.free();
}

function expectCnnError(fn, pattern, status) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof CnnError, `expected a CnnError, got ${e}`);
    assert.match(`${e.where}: ${e.message}`, pattern);
    if (status !== undefined) assert.equal(e.status, status);
    return true;
  });
}

test('bad IDX files give clear errors and the module stays usable', async () => {
  const { cnn, test: t10k } = await setup();
  const labels = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 3, 4]);
  const images = new Uint8Array(16 + 2 * 784);
  images.set([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28]);
  const ok = cnn.datasetFromIdx(images, labels);
  assert.equal(ok.count, 2);
  ok.free();
  expectCnnError(() => cnn.datasetFromIdx(images.subarray(0, 500), labels), /images: file is truncated: data is 484 bytes, dimensions say 1568/, 2);
  const badMagic = images.slice();
  badMagic[1] = 7;
  expectCnnError(() => cnn.datasetFromIdx(badMagic, labels), /bad magic 00 07/, 2);
  const gz = images.slice();
  gz[0] = 0x1f, gz[1] = 0x8b;
  expectCnnError(() => cnn.datasetFromIdx(gz, labels), /gzip-compressed/, 2);
  expectCnnError(() => cnn.datasetFromIdx(images, labels.subarray(0, 9)), /labels: file is truncated/, 2);
  const threeLabels = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3]);
  expectCnnError(() => cnn.datasetFromIdx(images, threeLabels), /2 images but 3 labels/, 2);
  expectCnnError(() => cnn.datasetFromIdx(new Uint8Array(0), labels), /too short/, 2);
  const huge = images.slice();
  huge.set([0xff, 0xff, 0xff, 0xff], 4);
  expectCnnError(() => cnn.datasetFromIdx(huge, labels), /file is truncated: data is 1568 bytes, dimensions say 3367254359280/, 2);
  // A model for 28x28 cannot train on 10x10 images.
  const small = new Uint8Array(16 + 100);
  small.set([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 10, 0, 0, 0, 10]);
  const ds = cnn.datasetFromIdx(small, new Uint8Array([0, 0, 8, 1, 0, 0, 0, 1, 1]));
  const m = cnn.createModel('mlp');
  await assert.rejects(m.fit(ds), /data set images are 10x10x1 but the model takes 28x28x1/);
  m.free();
  ds.free();
  stillUsable(cnn);
  assert.equal(t10k.count, 10000, 'existing data sets are untouched');
});

test('bad specs name the bad layer', async () => {
  const { cnn } = await setup();
  expectCnnError(() => cnn.createModel('conv2d 8 3x3 relu; convolution 3; dense 10'), /layer 2 \('convolution 3'\): unknown layer 'convolution'/, 2);
  expectCnnError(() => cnn.createModel('conv2d 8 3x3 foo; dense 10'), /layer 1 .*unknown option 'foo'/, 2);
  expectCnnError(() => cnn.createModel('input 8x8; conv2d 8 9x9; dense 10'), /kernel 9x9 is larger than its 8x8 input/, 2);
  expectCnnError(() => cnn.createModel('conv2d 8 30x30; dense 10'), /kernel size '30x30' is out of range/, 2);
  expectCnnError(() => cnn.createModel('dense 10; conv2d 8 3x3'), /convolution cannot follow/, 2);
  expectCnnError(() => cnn.createModel('conv2d 8 3x3'), /must end with a dense layer/, 2);
  expectCnnError(() => cnn.createModel('dense 1'), /has 1 unit \(expected 2..256 classes\)/, 2);
  expectCnnError(() => cnn.createModel('dropout 1.5; dense 10'), /dropout probability '1.5'/, 2);
  expectCnnError(() => cnn.createModel('softmax; dense 10'), /softmax must be the last layer/, 2);
  expectCnnError(() => cnn.createModel(''), /spec is empty/, 2);
  expectCnnError(() => cnn.createModel('#\xfc'), /spec is empty/, 2); // a comment running to the very end
  expectCnnError(() => cnn.createModel(',\n*'), /layer 2 \('\*'\): unknown layer '\*'/, 2); // a statement of separators only
  expectCnnError(() => cnn.createModel('input 8x8; input 28x28x3; dense 3'), /input must come first, once/, 2);
  expectCnnError(() => cnn.createModel('input 4294967324x28; dense 3'), /input shape '4294967324x28'/, 2);
  expectCnnError(() => cnn.createModel('conv2d 2 4294967299x4294967299; dense 3'), /kernel size/, 2);
  expectCnnError(() => cnn.createModel('dropout 0.99999999; dense 3'), /dropout probability/, 2);
  // Sizes that would wrap 32-bit arithmetic are refused, not under-allocated.
  expectCnnError(() => cnn.createModel('input 1024x1024x1; dense 2', { maxBatch: 4096 }), /lower max_batch/, 1);
  const wide = cnn.createModel('input 760x760x11; conv2d 1 13x13 same; dense 2', { maxBatch: 1 });
  assert.equal(wide.predict(new Float32Array(760 * 760 * 11).fill(0.5)).length, 2);
  wide.free();
  const odd = cnn.createModel('dropout 0.1234567; dense 3');
  assert.match(odd.spec, /dropout 0.1234567\n/);
  assert.deepEqual(cnn.loadModel(odd.save()).params(), odd.params(), 'odd dropout round-trips');
  odd.free();
  const commented = cnn.createModel('dense 10 # comment without a newline');
  assert.equal(commented.classes, 10);
  commented.free();
  expectCnnError(() => cnn.createModel('mlp', { maxBatch: 0 }), /maxBatch 0/, 1);
  stillUsable(cnn);
  const m = cnn.createModel('# a comment\nINPUT 28x28\nConv2D 4 5x5 same Tanh # trailing\nAvgPool 2\nDense 10\nsoftmax');
  assert.equal(m.spec, 'input 28x28x1\nconv2d 4 5x5 same\ntanh\navgpool 2\nflatten\ndense 10\nsoftmax\n');
  m.free();
});

test('bad hyper-parameters are refused before training starts', async () => {
  const { cnn, train } = await setup();
  const m = cnn.createModel('mlp', { maxBatch: 64 });
  const params0 = m.params();
  await assert.rejects(m.fit(train, { batchSize: 0, limit: 64 }), /batch size 0 \(expected 1..64\)/);
  await assert.rejects(m.fit(train, { batchSize: 65, limit: 64 }), /batch size 65/);
  await assert.rejects(m.fit(train, { lr: -0.01, limit: 64 }), /learning rate -0.01/);
  await assert.rejects(m.fit(train, { lr: NaN, limit: 64 }), /learning rate nan/i);
  await assert.rejects(m.fit(train, { optimizer: 'rmsprop', limit: 64 }), /optimizer 'rmsprop'/);
  await assert.rejects(m.fit(train, { epochs: 0 }), /epochs 0/);
  await assert.rejects(m.fit(train, { optimizer: 'sgd', lr: 10, weightDecay: 1, decoupledWeightDecay: true, limit: 64 }),
    /decoupled weight decay 1 times learning rate 10 must be below 1/);
  assert.deepEqual(m.params(), params0, 'refused runs change nothing');
  stillUsable(cnn);
  m.free();
});

test('a diverging run stops with a clear error and keeps the last finite weights', async () => {
  const { cnn, train } = await setup();
  // Huge (finite) weights make the logits overflow: the first step's loss is not finite.
  const m = cnn.createModel('mlp', { seed: 1, maxBatch: 64 });
  const file = m.save();
  const headerLength = Number(new DataView(file.buffer).getBigUint64(0, true));
  const data = new DataView(file.buffer, 8 + headerLength);
  for (let i = 0; i < data.byteLength; i += 4) data.setFloat32(i, 1e30, true);
  m.loadWeights(file);
  const before = m.params();
  await assert.rejects(m.fit(train, { optimizer: 'sgd', lr: 0.1, batchSize: 64, limit: 640 }),
    (e) => e instanceof CnnError && e.status === 4 && /loss became non-finite \(NaN or infinite\) at step 1 .*try a lower learning rate/.test(e.message));
  assert.deepEqual(m.params(), before, 'the diverged step was not applied');
  m.free();
  stillUsable(cnn);
});

test('a step whose new weights overflow is undone, optimizer state included', async () => {
  const { cnn } = await setup();
  // Black 1x1 images keep the forward pass finite; L2 decay of huge weights makes the update overflow.
  const data = cnn.datasetFromArrays(new Uint8Array(4), new Uint8Array([0, 1, 0, 1]), { height: 1, width: 1, classes: 2 });
  const m = cnn.createModel('input 1x1x1; dense 2', { seed: 1, maxBatch: 4 });
  const file = m.save();
  const headerLength = Number(new DataView(file.buffer).getBigUint64(0, true));
  const weights = new DataView(file.buffer, 8 + headerLength, 8); // fc1.weight (2, 1) comes first
  weights.setFloat32(0, -3e38, true);
  weights.setFloat32(4, 3e38, true);
  m.loadWeights(file);
  const before = m.params();
  await assert.rejects(m.fit(data, { optimizer: 'sgd', lr: 10, momentum: 0, weightDecay: 1, batchSize: 4 }),
    (e) => e instanceof CnnError && e.status === 4 && /weights overflowed at step 1 .*the step was undone/.test(e.message));
  assert.deepEqual(m.params(), before);
  [m, data].forEach((o) => o.free());
});

test('bad weight files give clear errors and change nothing', async () => {
  const { cnn } = await setup();
  const m = cnn.createModel('mlp', { seed: 2 });
  const good = m.save(), before = m.params();
  expectCnnError(() => cnn.loadModel(good.subarray(0, good.length - 10)), /safetensors/, 2);
  expectCnnError(() => cnn.loadModel(good.subarray(0, 5)), /safetensors/, 2);
  expectCnnError(() => cnn.loadModel(new TextEncoder().encode('not a weight file at all, just text')), /safetensors/, 2);
  const nan = good.slice();
  const headerLength = Number(new DataView(nan.buffer).getBigUint64(0, true));
  new DataView(nan.buffer).setFloat32(8 + headerLength + 4 * 10, NaN, true);
  expectCnnError(() => cnn.loadModel(nan), /is NaN \(expected a finite number\)/, 2);
  expectCnnError(() => m.loadWeights(nan), /NaN/, 2);
  assert.deepEqual(m.params(), before);
  const keras = cnn.createModel('keras');
  expectCnnError(() => m.loadWeights(keras.save()), /the file has no tensor 'fc1.weight'|has shape/, 2);
  assert.deepEqual(m.params(), before, 'a failed load leaves the model as it was');
  keras.free();
  stillUsable(cnn);
  m.free();
});

test('predict refuses NaN pixels and wrong sizes; preprocessDigit refuses an empty canvas', async () => {
  const { cnn } = await setup();
  const m = cnn.createModel('mlp');
  const x = new Float32Array(784);
  x[100] = NaN;
  expectCnnError(() => m.predict(x), /pixel 100 of image 0 is not a finite number/, 1);
  expectCnnError(() => m.predict(new Float32Array(700)), /n x 784/, 1);
  expectCnnError(() => cnn.preprocessDigit(new Uint8Array(200 * 100), 200, 100), /empty/, 5);
  const drawing = new Uint8Array(200 * 100);
  for (let y = 20; y < 80; y++) drawing[y * 200 + 50] = 255;
  const out = cnn.preprocessDigit(drawing, 200, 100);
  assert.equal(out.length, 784);
  assert.ok(out.some((v) => v > 0.5));
  m.free();
});

test('the scalar build loads, trains and agrees with the SIMD build', async () => {
  const { cnn, test: t10k } = await setup();
  const scalar = await loadCnn({ variant: 'scalar' });
  assert.equal(scalar.build, 'scalar');
  assert.equal(scalar.kernels, 'scalar');
  const simdModel = cnn.createModel('keras', { seed: 6 });
  const scalarModel = scalar.loadModel(simdModel.save());
  const x = inputs(t10k, 0, 50);
  const a = simdModel.predict(x), b = scalarModel.predict(x);
  let worst = 0;
  a.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - b[i])); });
  assert.ok(worst < 1e-5, `largest difference between builds: ${worst}`);
  const ds = await loadIdxPair(scalar, 'test');
  const before = scalarModel.evaluate(ds, { first: 9000, count: 1000 }).accuracy;
  await scalarModel.fit(ds, { limit: 2000, batchSize: 32 });
  const after = scalarModel.evaluate(ds, { first: 9000, count: 1000 }).accuracy;
  assert.ok(after > before + 0.5, `scalar build training: ${before} -> ${after}`);
  [simdModel, scalarModel, ds].forEach((o) => o.free());
});
