// Data-parallel training in worker threads, and the trainer options built on the split trainer: replay of a
// second data set, per-layer learning-rate multipliers, early stopping, reseeding a loaded model.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';

import { createReplicas } from '../web/parallel.mjs';
import { setup, parseSafetensors } from './helpers.mjs';

const SPEC = 'conv2d 8 3x3 relu; maxpool 2; conv2d 16 3x3 relu; maxpool 2; dense 32 relu; dropout 0.25; dense 10';
let pool = null;
after(() => pool?.close());

async function replicas(count) {
  const { cnn } = await setup();
  pool ??= await createReplicas(cnn, count);
  return pool;
}

async function trainTwoWorkers(seed, fitOptions = {}) {
  const { cnn, train } = await setup();
  const model = cnn.createModel(SPEC, { seed, maxBatch: 64 });
  const history = await model.fit(train, { epochs: 2, batchSize: 32, limit: 3000, augment: true, replicas: await replicas(1), ...fitOptions });
  return { model, history };
}

test('two workers: the same seed gives bit-identical weights, and the accuracy of one worker', async () => {
  const { cnn, train, test: t10k } = await setup();
  const a = await trainTwoWorkers(21), b = await trainTwoWorkers(21), c = await trainTwoWorkers(22);
  assert.deepEqual(a.model.params(), b.model.params(), 'same seed, same worker count: same weights');
  assert.notDeepEqual(a.model.params(), c.model.params(), 'another seed: other weights');
  assert.equal(a.history.epochs[0].steps, Math.ceil(3000 / 32));
  const single = cnn.createModel(SPEC, { seed: 21, maxBatch: 64 });
  await single.fit(train, { epochs: 2, batchSize: 32, limit: 3000, augment: true });
  const acc2 = a.model.evaluate(t10k, { count: 2000 }).accuracy, acc1 = single.evaluate(t10k, { count: 2000 }).accuracy;
  assert.ok(acc2 > 0.8 && acc1 > 0.8, `accuracy with 2 workers ${acc2}, with 1 ${acc1}`);
  assert.ok(Math.abs(acc2 - acc1) < 0.04, `2 workers ${acc2} vs 1 worker ${acc1}: within noise`);
  [a, b, c].forEach((r) => r.model.free());
  single.free();
});

test('a data set in use by a data-parallel run cannot be freed; a diverging worker stops the run cleanly', async () => {
  const { cnn, train } = await setup();
  const data = cnn.datasetFromArrays(train.images(0, 512), train.labels().subarray(0, 512), { height: 28, width: 28, classes: 10 });
  const model = cnn.createModel('dense 256; dense 256; dense 256; dense 10', { seed: 1 });
  const before = model.params();
  let freed = null;
  await assert.rejects(model.fit(data, {
    epochs: 3, batchSize: 32, optimizer: 'sgd', lr: 10, schedule: 'constant', replicas: await replicas(1), progressIntervalMs: 0,
    onProgress: () => { try { data.free(); } catch (e) { freed = e; } },
  }), (e) => e.status === 4 && e.stepsDone >= 0);
  assert.match(freed?.message ?? 'no progress call', /in use by a running fit/);
  const after2 = model.params();
  assert.ok(after2.every(Number.isFinite), 'the last good weights are kept');
  assert.notDeepEqual(after2, before);
  data.free();
  // the pool still works after a failed run
  const again = await trainTwoWorkers(5, { limit: 640, epochs: 1 });
  assert.ok(again.history.epochs.length === 1);
  again.model.free();
});

test('replay mixes images of a second data set into every epoch without copying it', async () => {
  const { cnn, train, test: t10k } = await setup();
  // "my drawings": 200 digits; replay: MNIST's 60,000, 100 of them per epoch (ratio 1/3)
  const mine = cnn.datasetFromArrays(t10k.images(0, 200), t10k.labels().subarray(0, 200), { height: 28, width: 28, classes: 10 });
  const model = cnn.createModel('mlp', { seed: 4 });
  const progress = [];
  const h = await model.fit(mine, { epochs: 2, batchSize: 30, replay: { data: train, ratio: 1 / 3 }, onProgress: (p) => progress.push(p) });
  assert.equal(progress.at(-1).stepsPerEpoch, Math.ceil(300 / 30), '200 + 100 replay images per epoch');
  assert.equal(progress.at(-1).imagesTotal, 600);
  assert.equal(h.epochs.length, 2);
  const withPerEpoch = cnn.createModel('mlp', { seed: 4 });
  const p2 = [];
  await withPerEpoch.fit(mine, { batchSize: 50, replay: { data: train, first: 1000, count: 500, perEpoch: 500 }, onProgress: (p) => p2.push(p) });
  assert.equal(p2.at(-1).stepsPerEpoch, 14);
  await assert.rejects(model.fit(mine, { replay: { data: train, perEpoch: 70000 } }), /replay.perEpoch 70000/);
  await assert.rejects(model.fit(mine, { replay: { data: mine.images(0) } }), /expected a Dataset/);
  [mine, model, withPerEpoch].forEach((o) => o.free());
});

test('learning-rate multipliers: 0 keeps a layer as it was, others scale its steps', async () => {
  const { cnn, train } = await setup();
  const m = cnn.createModel('mlp', { seed: 8 });
  const before = parseSafetensors(m.save()).tensors;
  await m.fit(train, { limit: 500, lrMult: { fc1: 0 } });
  const after1 = parseSafetensors(m.save()).tensors;
  assert.deepEqual(after1['fc1.weight'].data, before['fc1.weight'].data);
  assert.notDeepEqual(after1['fc2.weight'].data, before['fc2.weight'].data);
  await assert.rejects(m.fit(train, { limit: 50, lrMult: { conv9: 0.1 } }), /no layer with parameters named 'conv9'/);
  await assert.rejects(m.fit(train, { limit: 50, lrMult: { fc1: -1 } }), /lrMult.fc1 -1/);
  m.free();
});

test('early stopping keeps the weights of the epoch with the best validation loss', async () => {
  const { cnn, train } = await setup();
  // 150 training images and a large learning rate: it overfits within a few epochs
  const small = cnn.datasetFromArrays(train.images(0, 300), train.labels().subarray(0, 300), { height: 28, width: 28, classes: 10 });
  const m = cnn.createModel('dense 256 relu; dense 10', { seed: 3 });
  const h = await m.fit(small, { epochs: 40, batchSize: 10, lr: 0.01, schedule: 'constant', validationSplit: 0.5, earlyStopping: { patience: 3 } });
  const losses = h.epochs.map((e) => e.valLoss);
  const bestEpoch = losses.indexOf(Math.min(...losses)) + 1;
  assert.equal(h.bestEpoch, bestEpoch, `validation losses ${losses.map((l) => l.toFixed(3))}`);
  assert.ok(h.earlyStopped && h.epochs.length === bestEpoch + 3 && h.epochs.length < 40, `${h.epochs.length} epochs`);
  const now = m.evaluate(small, { first: 150, count: 150 }).loss;
  assert.ok(Math.abs(now - losses[bestEpoch - 1]) < 1e-5, `restored ${now} vs best ${losses[bestEpoch - 1]}`);
  await assert.rejects(m.fit(small, { earlyStopping: {} }), /needs a validationSplit/);
  [small, m].forEach((o) => o.free());
});

test('a loaded model can be reseeded: another seed, another fine-tune; the same seed, the same one', async () => {
  const { cnn, train } = await setup();
  const bytes = cnn.createModel(SPEC, { seed: 1 }).save();
  const tune = async (seed) => {
    const m = cnn.loadModel(bytes);
    if (seed !== undefined) m.reseed(seed);
    await m.fit(train, { limit: 300, augment: true });
    const p = m.params();
    m.free();
    return p;
  };
  const [a, b, c] = [await tune(5), await tune(5), await tune(6)];
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.notDeepEqual(await tune(), a, 'without reseed a loaded model starts from seed 0');
});

test('addGradients adds another replica\'s gradients into the arena, and refuses a wrong size', async () => {
  const { cnn, train } = await setup();
  const model = cnn.createModel(SPEC, { seed: 3, maxBatch: 16 });
  const trainer = model.trainer(train, { batchSize: 16, limit: 64 });
  try {
    trainer.computeGradients();
    const g = trainer.gradients();
    assert.ok(g.some((v) => v !== 0), 'some gradients are not 0');
    trainer.addGradients(g);
    const twice = trainer.gradients();
    assert.ok(twice.every((v, i) => v === 2 * g[i]), 'g + g = 2 g, element by element');
    assert.throws(() => trainer.addGradients(g.subarray(1)), /expected a Float32Array of \d+ gradients/);
    assert.throws(() => trainer.addGradients(Array.from(g)), /expected a Float32Array/);
  } finally {
    trainer.free();
    model.free();
  }
});
