// The kernel variants through the API: which ones each loadCnn variant gives, relaxed SIMD (fused multiply-add)
// against the scalar reference and SIMD128 on a network of awkward sizes (no dimension a multiple of a tile),
// what can be promised about reproducibility, and the per-layer profile.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { CnnError, loadCnn } from '../web/cnn.mjs';

// Input 11x9x3; sizes around the 4 x 8 GEMM tile and its cache blocks: 7 and 5 filters, 13 and 3 units.
const AWKWARD = 'input 11x9x3; conv2d 7 3x3 same relu; maxpool 2; conv2d 5 2x2 relu; dense 13 tanh; dense 3';

function randomData(cnn, n, seed) {
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) >>> 0) >>> 8;
  const images = Uint8Array.from({ length: n * 11 * 9 * 3 }, () => next() & 255);
  const labels = Uint8Array.from({ length: n }, () => next() % 3);
  return cnn.datasetFromArrays(images, labels, { height: 11, width: 9, channels: 3, classes: 3 });
}

/** Parameters after `steps` SGD steps of batch 16 from seed 5, with the given kernels. */
async function trained(cnn, kernels, steps = 4) {
  cnn.selectKernels(kernels);
  const data = randomData(cnn, 16 * steps, 9);
  const model = cnn.createModel(AWKWARD, { seed: 5, maxBatch: 16 });
  await model.fit(data, { batchSize: 16, optimizer: 'sgd', lr: 0.05, momentum: 0.9, progressIntervalMs: 3600000 });
  const params = model.params();
  const probs = model.predict(Float32Array.from(data.images(0, 16), (v) => v / 255));
  model.free();
  data.free();
  return { params, probs };
}

function maxRelDiff(a, b) {
  let worst = 0, at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / (1e-3 + Math.abs(b[i]));
    if (!(d <= worst)) worst = d, at = i;
  }
  return { worst, at };
}

test('loadCnn: auto takes relaxed SIMD where the engine validates it (Node 20: set by a V8 flag), then SIMD', async () => {
  const auto = await loadCnn();
  assert.equal(auto.kernels, 'wasmrelaxed');
  assert.equal(auto.variant, 'relaxed');
  assert.deepEqual(auto.kernelVariants, ['scalar', 'wasmsimd', 'wasmrelaxed']);
  const simd = await loadCnn({ variant: 'simd' });
  assert.equal(simd.kernels, 'wasmsimd');
  assert.deepEqual(simd.kernelVariants, ['scalar', 'wasmsimd']);
  assert.throws(() => simd.selectKernels('wasmrelaxed'),
    (e) => e instanceof CnnError && /no kernel variant 'wasmrelaxed' in this module \(expected scalar or wasmsimd\)/.test(e.message));
  const relaxed = await loadCnn({ variant: 'relaxed' });
  assert.equal(relaxed.kernels, 'wasmrelaxed');
  const scalar = await loadCnn({ variant: 'scalar' });
  assert.deepEqual([scalar.kernels, scalar.variant, scalar.kernelVariants], ['scalar', 'scalar', ['scalar']]);
  await assert.rejects(loadCnn({ variant: 'fma' }), /variant 'fma' \(expected auto, relaxed, simd or scalar\)/);
});

test('wasmrelaxed: the same seed twice gives bit-identical weights; against scalar and wasmsimd within rounding', async () => {
  const cnn = await loadCnn({ variant: 'relaxed' });
  const a = await trained(cnn, 'wasmrelaxed'), b = await trained(cnn, 'wasmrelaxed');
  assert.deepEqual(a.params, b.params, 'relaxed, twice');
  const ref = await trained(cnn, 'scalar'), simd = await trained(cnn, 'wasmsimd');
  assert.ok(ref.params.length > 500);
  // After training the weights moved far from their start, and every variant moved them the same way.
  const start = cnn.createModel(AWKWARD, { seed: 5, maxBatch: 16 }).params();
  assert.ok(maxRelDiff(ref.params, start).worst > 0.1, 'training changed the weights');
  for (const [name, got] of [['wasmrelaxed', a], ['wasmsimd', simd]]) {
    const w = maxRelDiff(got.params, ref.params), p = maxRelDiff(got.probs, ref.probs);
    assert.ok(w.worst < 1e-3, `${name} weights vs scalar: relative difference ${w.worst} at ${w.at}`);
    assert.ok(p.worst < 1e-3, `${name} probabilities vs scalar: relative difference ${p.worst} at ${p.at}`);
  }
});

test('wasmrelaxed predicts what the scalar reference predicts on a network of awkward sizes', async () => {
  const cnn = await loadCnn({ variant: 'relaxed' });
  const data = randomData(cnn, 37, 4);
  const x = Float32Array.from(data.images(0, 37), (v) => v / 255);
  const model = cnn.createModel(AWKWARD, { seed: 2, maxBatch: 37 });
  const out = {};
  for (const k of ['scalar', 'wasmsimd', 'wasmrelaxed']) {
    cnn.selectKernels(k);
    out[k] = model.predict(x);
  }
  for (const k of ['wasmsimd', 'wasmrelaxed']) {
    const d = maxRelDiff(out[k], out.scalar);
    assert.ok(d.worst < 1e-5, `${k} vs scalar: relative difference ${d.worst} at ${d.at}`);
  }
  assert.ok(out.scalar.some((v, i) => v !== out.scalar[i % 3]), 'the probabilities differ between images');
});

test('profile: per-layer forward, backward and update times while on, nothing added while off', async () => {
  const cnn = await loadCnn();
  const data = randomData(cnn, 64, 1);
  const model = cnn.createModel(AWKWARD, { seed: 1, maxBatch: 32 });
  model.setProfiling(true);
  await model.fit(data, { batchSize: 32, progressIntervalMs: 3600000 });
  const p = model.profile();
  assert.deepEqual(p.map((l) => l.name), model.layers.map((l) => l.name));
  const conv = p.find((l) => l.name === 'conv1'), relu = p.find((l) => l.kind === 'relu');
  assert.ok(conv.forwardMs > 0 && conv.backwardMs > 0 && conv.updateMs > 0, JSON.stringify(conv));
  assert.equal(relu.updateMs, 0, 'a layer without parameters has no update');
  model.setProfiling(false);
  await model.fit(data, { batchSize: 32, progressIntervalMs: 3600000 });
  assert.deepEqual(model.profile(), p, 'the counters stay as they were while profiling is off');
  model.setProfiling(true);
  assert.ok(model.profile().every((l) => l.forwardMs === 0 && l.backwardMs === 0 && l.updateMs === 0), 'turning it on zeroes');
});
