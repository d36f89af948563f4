#!/usr/bin/env node
// bench.mjs - speed of training and inference, one JSON line per measurement, each compared with a baseline
// measured in the same run: the SIMD build against the scalar build, and (where Debian's python3-torch is
// installed) against PyTorch's CPU build on one thread. The machine is shared and noisy: read the ratios.
//
//   npm run bench                     all measurements (a few minutes)
//   node bench/bench.mjs --preset pytorch --steps 10 --also ''
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { loadCnn } from '../web/cnn.mjs';
import { loadIdxPair, DEFAULT_DATA_DIR } from '../tools/lib/mnist.mjs';
import { pytorchModule } from '../tools/lib/pytorch.mjs';

const { values: opts } = parseArgs({
  options: {
    preset: { type: 'string', default: 'keras' }, steps: { type: 'string', default: '30' }, 'no-torch': { type: 'boolean' },
    also: { type: 'string', default: 'resnet' }, // another preset whose training rate is compared with --preset's
  },
});
const preset = opts.preset;
const steps = Number(opts.steps);
const BATCH = 128;

function emit(record) {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** Training images per second of a preset at batch BATCH (after warm-up steps). */
async function trainRate(cnn, train, name, timed) {
  const model = cnn.createModel(name, { seed: 1, maxBatch: BATCH });
  await model.fit(train, { batchSize: BATCH, limit: 3 * BATCH, progressIntervalMs: 3600000 });
  const t0 = performance.now();
  await model.fit(train, { batchSize: BATCH, limit: timed * BATCH, progressIntervalMs: 3600000 });
  model.free();
  return (timed * BATCH) / ((performance.now() - t0) / 1000);
}

async function measure(build) {
  const cnn = await loadCnn({ variant: build });
  const train = await loadIdxPair(cnn, 'train');
  // Training: warm-up steps, then timed steps (the scalar build is ~5x slower: fewer steps).
  const timed = build === 'simd' ? steps : Math.max(3, Math.round(steps / 4));
  const rate = await trainRate(cnn, train, preset, timed);
  const model = cnn.createModel(preset, { seed: 1, maxBatch: BATCH });
  let t0;
  // Inference: one image at a time (latency), and 1000 images in one call (throughput).
  const one = Float32Array.from(train.images(0), (v) => v / 255);
  for (let i = 0; i < 20; i++) model.predict(one);
  const lat = [];
  for (let i = 0; i < 200; i++) {
    t0 = performance.now();
    model.predict(one);
    lat.push(performance.now() - t0);
  }
  lat.sort((a, b) => a - b);
  const thousand = Float32Array.from(train.images(0, 1000), (v) => v / 255);
  model.predict(thousand);
  const reps = build === 'simd' ? 5 : 2;
  t0 = performance.now();
  for (let i = 0; i < reps; i++) model.predict(thousand);
  const inferRate = (reps * 1000) / ((performance.now() - t0) / 1000);
  // The other preset's training rate, timed right after this one's in the same process.
  const also = build === 'simd' && opts.also && opts.also !== preset
    ? { preset: opts.also, flops: cnn.checkSpec(opts.also).flopsPerImage, rate: await trainRate(cnn, train, opts.also, Math.max(5, steps >> 1)) }
    : null;
  return { kernels: cnn.kernels, trainRate: rate, latency: lat[lat.length >> 1], inferRate, flops: model.flopsPerImage, also };
}

/** The preset as PyTorch runs it: the module tools/to-pytorch.mjs writes, in a temporary directory. */
async function torchModelDir() {
  const dir = mkdtempSync(path.join(tmpdir(), 'cnn-bench-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'model.py'), pytorchModule((await loadCnn()).checkSpec(preset)));
  return dir;
}

function torchBaseline(infer, modelDir) {
  if (opts['no-torch'] || !existsSync('/usr/bin/python3')) return null;
  const script = fileURLToPath(new URL('torch_train.py', import.meta.url));
  try {
    const out = execFileSync('/usr/bin/python3', [script, `${DEFAULT_DATA_DIR}/train-images-idx3-ubyte`, '--model-dir', modelDir,
      '--preset', preset, '--steps', String(Math.max(10, Math.round(steps / 2))), ...(infer ? ['--infer'] : [])],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(out.trim().split('\n').at(-1));
  } catch {
    return null; // no torch here: the PyTorch comparison is left out, the SIMD/scalar ones stand
  }
}

const simd = await measure('simd');
const scalar = await measure('scalar');
const modelDir = await torchModelDir();
const torchTrain = torchBaseline(false, modelDir);
const torchInfer = torchBaseline(true, modelDir);
const common = { preset, threads: 1, runtime: `node ${process.versions.node}` };

emit({ ...common, measure: 'train_images_per_second', batch: BATCH, value: round(simd.trainRate), kernels: simd.kernels,
  baseline: { what: 'scalar build', value: round(scalar.trainRate) }, ratio: round(simd.trainRate / scalar.trainRate, 2) });
if (torchTrain) {
  emit({ ...common, measure: 'train_images_per_second_vs_pytorch', batch: BATCH, value: round(simd.trainRate),
    baseline: { what: `pytorch ${torchTrain.torch ?? ''} cpu, blas ${torchTrain.blas ?? '?'}`, value: round(torchTrain.train_images_per_second) },
    ratio: round(simd.trainRate / torchTrain.train_images_per_second, 2) });
}
if (simd.also) {
  emit({ ...common, preset: simd.also.preset, measure: 'train_images_per_second', batch: BATCH, value: round(simd.also.rate),
    kernels: simd.kernels, flops_per_image: Math.round(simd.also.flops),
    baseline: { what: `${preset} preset, same build and run`, value: round(simd.trainRate), flops_per_image: Math.round(simd.flops) },
    ratio: round(simd.also.rate / simd.trainRate, 3) });
}
emit({ ...common, measure: 'inference_latency_ms_one_image', value: round(simd.latency, 3),
  baseline: { what: 'scalar build', value: round(scalar.latency, 3) }, ratio: round(scalar.latency / simd.latency, 2) });
emit({ ...common, measure: 'inference_images_per_second_batch_1000', value: round(simd.inferRate),
  baseline: { what: 'scalar build', value: round(scalar.inferRate) }, ratio: round(simd.inferRate / scalar.inferRate, 2) });
if (torchInfer) {
  emit({ ...common, measure: 'inference_images_per_second_batch_1000_vs_pytorch', value: round(simd.inferRate),
    baseline: { what: 'pytorch cpu', value: round(torchInfer.infer_images_per_second) },
    ratio: round(simd.inferRate / torchInfer.infer_images_per_second, 2) });
  emit({ ...common, measure: 'inference_latency_ms_one_image_vs_pytorch', value: round(simd.latency, 3),
    baseline: { what: 'pytorch cpu', value: round(torchInfer.latency_ms, 3) }, ratio: round(torchInfer.latency_ms / simd.latency, 2) });
}
