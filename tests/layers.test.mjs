// The layer kinds through the JS API on real MNIST: forward passes against an independent PyTorch-semantics
// implementation (residual blocks, batch norm, strides, global pooling, leaky ReLU, GELU), batch-norm state in
// weight files, checking specs without memory, saliency and named tensors against finite differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { setup, inputs, parseSafetensors } from './helpers.mjs';
import { referenceForward } from './reference.mjs';

// Every kind in one network: a strided conv, batch norm over channels and over flat features, a pre-activation
// residual block (its first layer reads the input the identity skip needs), a stride-2 block with a projection,
// leaky ReLU, GELU, tanh, sigmoid, average and global pooling, dropout.
const EVERYTHING = 'conv2d 6 3x3 same stride 2 leakyrelu; batchnorm; residual; relu; conv2d 6 3x3 same; end\n' +
  'residual; conv2d 8 3x3 same stride 2 gelu; conv2d 8 3x3 same; batchnorm; skip; conv2d 8 1x1 stride 2; end tanh\n' +
  'avgpool 2; flatten; batchnorm; dropout 0.3; dense 16 sigmoid; batchnorm; dense 10';
const GLOBAL = 'conv2d 8 3x3 valid relu; maxpool 2; residual; conv2d 8 3x3 same; batchnorm; end; leakyrelu 0.2; ' +
  'globalavgpool; dense 10';

function expectCnnError(fn, re) {
  assert.throws(fn, (e) => e.name === 'CnnError' && re.test(e.message), `expected an error matching ${re}`);
}

for (const [name, spec] of [['resnet', 'resnet'], ['every kind', EVERYTHING], ['global pooling', GLOBAL]]) {
  test(`${name}: predictions equal an independent PyTorch-semantics forward pass of the saved file`, async () => {
    const { cnn, train, test: t10k } = await setup();
    const model = cnn.createModel(spec, { seed: 2, maxBatch: 16 });
    await model.fit(train, { epochs: 1, batchSize: 16, limit: 96, augment: true });
    const file = parseSafetensors(model.save());
    if (file.tensors['bn1.num_batches_tracked']) {
      assert.equal(file.tensors['bn1.num_batches_tracked'].dtype, 'I64');
      assert.deepEqual(file.tensors['bn1.num_batches_tracked'].shape, []);
      assert.equal(file.tensors['bn1.num_batches_tracked'].data[0], 6n, 'six training steps were counted');
      assert.ok(file.tensors['bn1.running_var'].data.some((v) => Math.abs(v - 1) > 1e-3), 'running statistics moved');
    }
    for (let i = 0; i < 4; i++) {
      const x = inputs(t10k, 100 + i, 1);
      const ours = model.predict(x), ref = referenceForward(file, model.spec, x);
      ref.forEach((p, j) => assert.ok(Math.abs(p - ours[j]) < 1e-5, `image ${i} class ${j}: ours ${ours[j]}, reference ${p}`));
    }
    model.free();
  });
}

test('batch norm state round-trips through weight files; bad running statistics are refused', async () => {
  const { cnn, train, test: t10k } = await setup();
  const model = cnn.createModel(EVERYTHING, { seed: 4, maxBatch: 16 });
  await model.fit(train, { epochs: 1, batchSize: 16, limit: 48 });
  const bytes = model.save();
  const loaded = cnn.loadModel(bytes);
  const x = inputs(t10k, 0, 8);
  assert.deepEqual(loaded.predict(x), model.predict(x));
  assert.deepEqual(loaded.save(), bytes, 'saved again byte for byte, buffers and counters included');
  assert.equal(loaded.tensor('bn3.num_batches_tracked').data[0], 3);
  const file = parseSafetensors(bytes);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const bad = bytes.slice();
  new DataView(bad.buffer).setFloat32(8 + n + file.tensors['bn2.running_var'].offsets[0] + 4, -0.5, true);
  expectCnnError(() => cnn.loadModel(bad), /'bn2.running_var' element 1 is -0.5 \(expected a variance >= 0\)/);
  const negative = bytes.slice();
  new DataView(negative.buffer).setBigInt64(8 + n + file.tensors['bn1.num_batches_tracked'].offsets[0], -3n, true);
  expectCnnError(() => loaded.loadWeights(negative), /'bn1.num_batches_tracked' is -3 \(expected a count >= 0\)/);
  assert.deepEqual(loaded.save(), bytes, 'a refused file changes nothing');
  // Freezing a batch norm layer keeps its running statistics as well as its weight and bias.
  loaded.freeze('bn1');
  await loaded.fit(train, { epochs: 1, batchSize: 16, limit: 32 });
  assert.deepEqual(loaded.tensor('bn1.running_mean'), model.tensor('bn1.running_mean'));
  assert.equal(loaded.tensor('bn1.num_batches_tracked').data[0], 3);
  assert.equal(loaded.tensor('bn2.num_batches_tracked').data[0], 5);
  [model, loaded].forEach((m) => m.free());
});

test('checkSpec describes a network like createModel, without reserving its memory', async () => {
  const { cnn } = await setup();
  for (const spec of [...cnn.presets(), EVERYTHING, GLOBAL]) {
    const info = cnn.checkSpec(spec), model = cnn.createModel(spec, { maxBatch: 1 });
    assert.equal(info.spec, model.spec);
    assert.equal(info.paramCount, model.paramCount);
    assert.equal(info.flopsPerImage, model.flopsPerImage);
    assert.deepEqual(info.layers, model.layers.map(({ frozen, ...l }) => l));
    assert.deepEqual(cnn.checkSpec(info.spec).layers, info.layers, 'the canonical text checks the same');
    model.free();
  }
  const resnet = cnn.checkSpec('resnet');
  assert.equal(resnet.paramCount, 151690);
  assert.ok(resnet.flopsPerImage > 1e7 && resnet.flopsPerImage < 1e8, `resnet FLOPs ${resnet.flopsPerImage}`);
  assert.deepEqual(resnet.layers.find((l) => l.kind === 'add').inputs, [8, 3], 'the first block adds bn3 and pool1');
  // 2 x 64 MiB of activations per image: checking it must not grow the module's memory.
  const before = cnn._m.HEAPU8.length;
  const big = cnn.checkSpec('input 1024x1024x16; relu; globalavgpool; dense 10');
  assert.equal(big.layers[0].outputShape.join('x'), '1024x1024x16');
  assert.equal(cnn._m.HEAPU8.length, before, 'memory grew while checking a spec');
  expectCnnError(() => cnn.checkSpec('input 512x512x16; conv2d 1024 15x15 same; globalavgpool; dense 2'),
    /layer 2 \('conv2d 1024 15x15 same'\): this layer needs 1\.93e\+12 floating-point operations per image .* limit of 4e\+09/);
});

test('spec text: NUL refused, a BOM accepted, odd characters named with their layer', async () => {
  const { cnn } = await setup();
  // refused by the JS side before the text reaches the core (which refuses it too: tests/c/test_layers.c)
  expectCnnError(() => cnn.checkSpec('dense 10\0 dense 5'), /NUL character/);
  expectCnnError(() => cnn.createModel('dense 10\0 dense 5'), /NUL character/);
  assert.equal(cnn.checkSpec('\uFEFFconv2d 4 3x3\tsame\t relu;dense 10').classes, 10, 'a byte order mark and tabs');
  expectCnnError(() => cnn.checkSpec('conv2d 4 3x3; dense\u00A010'), /layer 2 \('dense\u00A010'\): the character U\+00A0 \(no-break space\) is not allowed here: use a plain space/);
  expectCnnError(() => cnn.checkSpec('conv2d 4 3\u00D73; dense 10'), /layer 1 .*U\+00D7 \(multiplication sign\).*the letter x/);
  expectCnnError(() => cnn.checkSpec('dense 10\u2009'), /U\+2009 \(thin space\)/);
  expectCnnError(() => cnn.checkSpec('dense 10 # only comments may hold \u00e9\nrel\u00fc'), /layer 2 \('rel\u00fc'\): the character U\+00FC is not allowed outside comments/);
  assert.equal(cnn.checkSpec('dense 10 # a comment may hold any text: \u00e9 \u00D7 \u00A0').classes, 10);
  expectCnnError(() => cnn.checkSpec('dense 1'), /has 1 unit \(/);
  expectCnnError(() => cnn.checkSpec('residual; conv2d 8 3x3 same stride 2; end; dense 10'),
    /layer 3 \('end'\): the residual block opened at layer 1 gives 14x14x8 but its input is 28x28x1: add a projection on the skip, e\.g\. 'skip' then 'conv2d 8 1x1 stride 2' before 'end'/);
  expectCnnError(() => cnn.checkSpec('conv2d 4 3x3; residual; conv2d 4 3x3 same; dense 10'), /layer 2 \('residual'\): the residual block is not closed/);
});

test('inputGradient is the gradient of a class score, checked against finite differences', async () => {
  const { cnn, train, test: t10k } = await setup();
  // smooth activations, so that central differences are accurate; batch norm in inference mode
  const model = cnn.createModel('conv2d 4 3x3 same stride 2 tanh; batchnorm; residual; conv2d 4 3x3 same; end; gelu; ' +
    'dense 10', { seed: 5, maxBatch: 16 });
  await model.fit(train, { epochs: 1, batchSize: 16, limit: 64 });
  const gradBefore = model.gradient('conv1.weight');
  const x = inputs(t10k, 7, 1), p = model.predict(x);
  const g = Array.from({ length: 10 }, (_, k) => model.inputGradient(x, k));
  assert.deepEqual(model.gradient('conv1.weight'), gradBefore, 'parameter gradients untouched');
  // d log p_c / dx = d z_c / dx - sum_k p_k d z_k / dx, z the logits: compare with differences of log p_c.
  const c = 3, h = 1e-2;
  let big = 0;
  for (let s = 0; s < 24; s++) {
    const i = (s * 131 + 200) % 784;
    const analytic = g[c][i] - g.reduce((acc, gk, k) => acc + p[k] * gk[i], 0);
    const xp = x.slice(), xm = x.slice();
    xp[i] += h, xm[i] -= h;
    const numeric = (Math.log(model.predict(xp)[c]) - Math.log(model.predict(xm)[c])) / (2 * h);
    assert.ok(Math.abs(analytic - numeric) <= 3e-5 + 1e-2 * Math.abs(analytic), `pixel ${i}: analytic ${analytic}, numeric ${numeric}`);
    big += Math.abs(analytic) > 1e-3;
  }
  assert.ok(big >= 6, `only ${big} of 24 sampled gradients are non-negligible`);
  expectCnnError(() => model.inputGradient(x, 10), /classIndex 10/);
  model.free();
});

test('tensor() and gradient() give PyTorch-layout values and the last step\'s gradients', async () => {
  const { cnn } = await setup();
  // eight 4x4 images, two classes: one step of batch 8 sees them all
  const pixels = Uint8Array.from({ length: 8 * 16 }, (_, i) => (i * 37 + 11) % 256);
  const data = cnn.datasetFromArrays(pixels, Uint8Array.from([0, 1, 1, 0, 1, 0, 0, 1]), { height: 4, width: 4, classes: 2 });
  const model = cnn.createModel('input 4x4x1; conv2d 3 3x3 tanh; batchnorm; dense 2', { seed: 3, maxBatch: 8 });
  const start = model.save();
  const file = parseSafetensors(start);
  assert.deepEqual(model.tensorNames(), Object.keys(file.tensors));
  for (const name of model.tensorNames()) {
    const t = model.tensor(name);
    assert.deepEqual(t.shape, file.tensors[name].shape, `${name} shape`);
    assert.deepEqual(Array.from(t.data), Array.from(file.tensors[name].data, Number), `${name} values`);
  }
  await model.fit(data, { epochs: 1, batchSize: 8, optimizer: 'sgd', lr: 0.01, momentum: 0 });
  const grad = model.gradient('conv1.weight');
  assert.deepEqual(grad.shape, [3, 1, 3, 3]);
  // the mean loss over the eight images as a function of one PyTorch-layout weight, at the starting weights
  // (batch norm in training mode: evaluate would use running statistics, so differences run through fit's
  // own loss: one step of lr 0 reports it)
  const probe = cnn.loadModel(start);
  const lossAt = async (j, delta) => {
    const bytes = start.slice();
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const view = new DataView(bytes.buffer, 8 + n + file.tensors['conv1.weight'].offsets[0]);
    view.setFloat32(4 * j, view.getFloat32(4 * j, true) + delta, true);
    probe.loadWeights(bytes);
    const h = await probe.fit(data, { epochs: 1, batchSize: 8, optimizer: 'sgd', lr: 1e-30, momentum: 0 });
    return h.epochs[0].loss;
  };
  let big = 0;
  for (const j of [0, 4, 8, 13, 17, 22, 26]) {
    const numeric = ((await lossAt(j, 1e-2)) - (await lossAt(j, -1e-2))) / 2e-2;
    assert.ok(Math.abs(grad.data[j] - numeric) <= 5e-4 + 2e-2 * Math.abs(numeric), `conv1.weight[${j}]: ${grad.data[j]} vs ${numeric}`);
    big += Math.abs(numeric) > 1e-3;
  }
  assert.ok(big >= 3, 'the sampled gradients are not all ~0');
  assert.throws(() => model.gradient('bn1.running_mean'), /not trained, so it has no gradient/);
  assert.throws(() => model.tensor('conv9.weight'), /no tensor 'conv9.weight'/);
  model.freeze('conv1');
  await model.fit(data, { epochs: 1, batchSize: 8 });
  assert.ok(model.gradient('conv1.weight').data.every((v) => v === 0), 'a frozen layer has no gradient');
  assert.ok(model.gradient('fc1.weight').data.some((v) => v !== 0));
  [model, probe, data].forEach((o) => o.free());
});

test('the resnet preset learns real digits quickly', async () => {
  const { cnn, train, test: t10k } = await setup();
  const model = cnn.createModel('resnet', { seed: 1, maxBatch: 32 });
  await model.fit(train, { epochs: 1, batchSize: 32, limit: 3000 });
  const { accuracy } = model.evaluate(t10k, { count: 2000 });
  assert.ok(accuracy > 0.9, `resnet accuracy after 3000 images: ${accuracy}`);
  model.free();
});
