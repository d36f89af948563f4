// The JS API against careless and hostile callers: objects in use, wrong array types, numbers that would wrap
// in int32 fields, NUL bytes, objects of another module instance, ragged matrices and a full heap.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { CnnError } from '../web/cnn.mjs';
import { MAX_FILE_BYTES } from '../web/data.mjs';
import { MAX_SIDE } from '../tools/lib/image.mjs';
import { setup, inputs, loadTestCnn } from './helpers.mjs';

function rejects(fn, pattern, status = 1) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof CnnError, `expected a CnnError, got ${e?.stack ?? e}`);
    assert.match(e.message, pattern);
    assert.equal(e.status, status, `status of '${e.message}'`);
    return true;
  });
}

/** The module still works: a model builds, predicts and its probabilities sum to 1. */
function stillWorks(cnn, data) {
  const m = cnn.createModel('mlp', { seed: 9 });
  const p = m.predict(inputs(data, 0, 2));
  assert.ok(Math.abs(p.subarray(0, 10).reduce((a, b) => a + b) - 1) < 1e-5);
  m.free();
}

test('a model or data set cannot be freed while fit() uses it; both work afterwards', async () => {
  const { cnn, train } = await setup();
  const data = cnn.datasetFromArrays(train.images(0, 600), train.labels().subarray(0, 600), { height: 28, width: 28, classes: 10 });
  const model = cnn.createModel('mlp', { seed: 3 });
  let tried = false;
  const run = model.fit(data, {
    epochs: 2, batchSize: 16, progressIntervalMs: 0,
    onProgress: () => {
      if (tried) return;
      tried = true;
      rejects(() => data.free(), /the data set is in use by a running fit\(\); stop training first/);
      rejects(() => model.free(), /the model is in use by a running fit\(\)/);
      rejects(() => model.freeze('fc1'), /the model is training/);
      rejects(() => model.loadWeights(model.save()), /the model is training/);
      assert.equal(data.images(5).length, 784, 'the data set is still there');
    },
  });
  await assert.rejects(model.fit(data), /the model is training/);
  const history = await run;
  assert.ok(tried, 'the checks ran during training');
  assert.equal(history.epochs.length, 2);
  assert.ok(model.evaluate(data).accuracy > 0.5, 'the run was not disturbed');
  data.free();
  model.free();
  assert.ok(data.freed && model.freed);
  rejects(() => data.images(0), /the data set has been freed/);
  rejects(() => data.labels(), /the data set has been freed/);
  rejects(() => model.predict(new Float32Array(784)), /the model has been freed/);
  await assert.rejects(cnn.createModel('mlp').fit(data), /fit: data|the data set has been freed/);
});

test('objects of another module instance are refused', async () => {
  const { cnn, test: t10k } = await setup();
  const other = await loadTestCnn();
  const foreign = other.createModel('mlp');
  rejects(() => foreign.evaluate(t10k), /the data set belongs to another module instance/);
  await assert.rejects(foreign.fit(t10k, { limit: 10 }), /belongs to another module instance/);
  rejects(() => cnn.createModel('mlp').evaluate({ _ptr: 8, count: 10 }), /expected a Dataset, got Object/);
  foreign.free();
});

test('arrays of the wrong type or size are refused, not reinterpreted', async () => {
  const { cnn, test: t10k } = await setup();
  const labels = new Uint8Array([1, 2]);
  rejects(() => cnn.datasetFromArrays(new Float32Array(2 * 784), labels, { height: 28, width: 28, classes: 10 }),
    /images: expected a Uint8Array of values 0..255, got Float32Array/);
  rejects(() => cnn.datasetFromArrays(new Uint8Array(2 * 784), new Uint16Array([1, 2]), { height: 28, width: 28, classes: 10 }),
    /labels: expected a Uint8Array .* got Uint16Array/);
  rejects(() => cnn.datasetFromArrays(new Uint8Array(2 * 784), labels, { height: 28.5, width: 28, classes: 10 }), /height 28.5 \(expected an integer/);
  rejects(() => cnn.datasetFromArrays(new Uint8Array(2 * 784), labels, { height: 28, width: 28 }), /classes undefined/);
  rejects(() => cnn.datasetFromArrays(new Uint8Array(100), labels, { height: 28, width: 28, classes: 10 }), /100 pixels for 2 images/);
  rejects(() => cnn.preprocessDigit(new Float32Array(100), 10, 10), /gray: expected a Uint8Array .* got Float32Array/);
  rejects(() => cnn.preprocessDigit(new Uint8Array(100), 10.5, 10), /width 10.5/);
  rejects(() => cnn.preprocessDigit(new Uint8Array(5000 * 5000), 5000, 5000), /width 5000 \(expected an integer in 1..4096\)/);
  rejects(() => cnn.loadModel(new Float32Array(100)), /expected bytes \(a Uint8Array or an ArrayBuffer\), got Float32Array/);
  rejects(() => cnn.datasetFromIdx('images', new Uint8Array(9)), /expected bytes .* got string/);
  const m = cnn.createModel('mlp');
  rejects(() => m.predict(new Float64Array(784)), /expected a Float32Array of n x 784 values, got Float64Array/);
  rejects(() => m.layerOutput(1.5), /layer 1.5/);
  rejects(() => m.layerOutput(99), /layer 99/);
  assert.equal(t10k.images(0).length, 784);
  m.free();
});

test('integers are range-checked before they reach an int32 field (no wrap at 2^32)', async () => {
  const { cnn, train, test: t10k } = await setup();
  const m = cnn.createModel('mlp', { maxBatch: 64 });
  const before = m.params();
  await assert.rejects(m.fit(train, { batchSize: 2 ** 32 + 8, limit: 64 }), /batch size 4294967304 \(expected 1..64\)/);
  await assert.rejects(m.fit(train, { warmupSteps: 2 ** 32, limit: 64 }), /warmupSteps 4294967296/);
  await assert.rejects(m.fit(train, { stepSize: 2 ** 32 + 1, limit: 64 }), /stepSize 4294967297/);
  await assert.rejects(m.fit(train, { totalSteps: -(2 ** 32) + 5, limit: 64 }), /totalSteps/);
  await assert.rejects(m.fit(train, { epochs: 2 ** 32 + 1 }), /epochs 4294967297/);
  await assert.rejects(m.fit(train, { optimizer: 'toString' }), /optimizer 'toString'/);
  await assert.rejects(m.fit(train, { lr: '0.1', limit: 64 }), /lr 0.1 \(expected a number\)/);
  rejects(() => m.evaluate(t10k, { first: 2 ** 32 }), /first 4294967296 \(expected an integer in 0..9999\)/);
  rejects(() => m.evaluate(t10k, { first: 9990, count: 20 }), /count 20 \(expected an integer in 1..10\)/);
  rejects(() => cnn.createModel('mlp', { seed: 2 ** 32 }), /seed 4294967296/);
  assert.deepEqual(m.params(), before, 'nothing trained');
  m.free();
});

test('text with a NUL byte is refused; over-long text is refused before it is copied', async () => {
  const { cnn } = await setup();
  rejects(() => cnn.createModel('dense 10\0 dense 5'), /NUL character \(\\0\) at position 8/);
  rejects(() => cnn.createModel('mlp').freeze('fc1\0'), /NUL/);
  rejects(() => cnn.createModel('x'.repeat(cnn.limits.specChars + 1)), /65,537 characters \(expected at most 65536\)/);
  rejects(() => cnn.createModel(42), /expected a string, got number/);
});

test('a ragged or negative confusion matrix is refused and the module stays healthy', async () => {
  const { cnn, test: t10k } = await setup();
  rejects(() => cnn.metricsFromConfusion([[1, 2], [3, 4, 5, 6, 7, 8, 9]]), /row 1 has 7 entries \(expected 2/);
  rejects(() => cnn.metricsFromConfusion([[1, 2], [3]]), /row 1 has 1 entry \(expected 2/);
  rejects(() => cnn.metricsFromConfusion([[1, -2], [3, 4]]), /count \[0\]\[1\] -2/);
  rejects(() => cnn.metricsFromConfusion([[1, 0.5], [3, 4]]), /count \[0\]\[1\] 0.5/);
  rejects(() => cnn.metricsFromConfusion([]), /class count 0/);
  rejects(() => cnn.metricsFromConfusion('x'), /expected an array of rows/);
  const ok = cnn.metricsFromConfusion([[3, 1], [0, 4]]);
  assert.ok(Math.abs(ok.precision[0] - 1) < 1e-7 && Math.abs(ok.recall[0] - 0.75) < 1e-7);
  stillWorks(cnn, t10k);
});

test('a full heap gives "out of memory" errors, never writes at address 0', async () => {
  const { test: t10k } = await setup();
  const cnn = await loadTestCnn(); // an instance of its own: its heap is filled on purpose
  const m = cnn._m, blocks = [];
  for (let size = 256 << 20; size >= 64; ) {
    const p = m._malloc(size);
    if (p) blocks.push(p);
    else size >>= 1;
  }
  try {
    rejects(() => cnn.createModel('keras'), /out of memory/, 3);
    rejects(() => cnn.preprocessDigit(new Uint8Array(400 * 400).fill(255), 400, 400), /out of memory/, 3);
    rejects(() => cnn.metricsFromConfusion(Array.from({ length: 200 }, () => new Array(200).fill(1))), /out of memory/, 3);
    assert.equal(m.HEAPU8[0], 0, 'nothing was written at address 0');
  } finally {
    blocks.forEach((p) => m._free(p));
  }
  const data = cnn.datasetFromArrays(t10k.images(0, 4), t10k.labels().subarray(0, 4), { height: 28, width: 28, classes: 10 });
  stillWorks(cnn, data);
  data.free();
});

test('the JS side uses the core\'s limits', async () => {
  const { cnn } = await setup();
  assert.equal(MAX_FILE_BYTES, cnn.limits.fileBytes, 'data.mjs decompression bound');
  assert.equal(MAX_SIDE, cnn.limits.drawingSide, 'image decoder bound');
  assert.deepEqual(Object.keys(cnn.limits).sort(), ['batch', 'channels', 'classes', 'drawingSide', 'fileBytes', 'headerBytes',
    'images', 'layers', 'params', 'side', 'specChars'].sort());
  assert.ok(Object.isFrozen(cnn.limits));
});
