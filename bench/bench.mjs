#!/usr/bin/env node
// bench.mjs - the reference benchmark: speed of training and inference, one JSON line per figure, each with the
// baseline it is compared with, measured in the same run. For the keras and pytorch presets at batch 128:
// training images/s on one thread and on all cores (data-parallel replicas, web/parallel.mjs), in Node and in
// headless Chromium (web/cnn.mjs loaded by a page of tools/serve.mjs, the page's own code), for each kernel
// variant (wasmrelaxed, wasmsimd, scalar); inference latency for one image and images/s at batch 1000; and
// PyTorch's CPU build with 1 and all threads where Debian's python3-torch is installed (`npm run bench:deps`).
// The machine is shared and noisy: read the ratios, not the absolute figures.
//
//   npm run bench                                   everything (about 10 minutes on 2 cores)
//   npm run bench -- --profile                      per-layer ms per training step (forward, backward, update)
//   node bench/bench.mjs --preset pytorch --steps 10 --also '' --no-browser --variants relaxed,simd
//
// Options: --preset P[,P...] (keras,pytorch), --steps N (timed training steps, 20), --variants (relaxed,simd,
// scalar), --workers N (all cores: os.availableParallelism()), --no-browser, --no-torch, --also PRESET (resnet:
// its training rate next to the first preset's, Node, best variant; '' for none), --profile.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { loadCnn } from '../web/cnn.mjs';
import { DEFAULT_DATA_DIR } from '../tools/lib/mnist.mjs';
import { pytorchModule } from '../tools/lib/pytorch.mjs';

const { values: opts } = parseArgs({
  options: {
    preset: { type: 'string', default: 'keras,pytorch' }, steps: { type: 'string', default: '20' },
    variants: { type: 'string', default: 'relaxed,simd,scalar' }, workers: { type: 'string' },
    'no-torch': { type: 'boolean' }, 'no-browser': { type: 'boolean' }, profile: { type: 'boolean' },
    also: { type: 'string', default: 'resnet' },
  },
});
const presets = opts.preset.split(',').filter(Boolean);
const steps = Number(opts.steps);
const variants = opts.variants.split(',').filter(Boolean);
const workers = Number(opts.workers ?? availableParallelism());
const BATCH = 128;
const WEB = fileURLToPath(new URL('../web/', import.meta.url));
for (const v of variants) if (!['relaxed', 'simd', 'scalar'].includes(v)) throw new Error(`--variants: '${v}' (expected relaxed, simd or scalar)`);
if (!(steps >= 1) || !(workers >= 1)) throw new Error('--steps and --workers must be positive integers');

const emit = (record) => process.stdout.write(`${JSON.stringify(record)}\n`);
const round = (x, d = 1) => (x == null ? null : Math.round(x * 10 ** d) / 10 ** d);
const say = (msg) => process.stderr.write(`bench: ${msg}\n`);

/**
 * Every figure of one kernel variant for one preset. Self-contained (no closure), so that the same function runs
 * in Node and, through playwright's evaluate, in a page: it imports the API from `base` (web/ as a URL).
 * @returns {Promise<object>} {kernels, train1, trainAll, latencyMs, infer1000, profile}
 */
async function measureVariant({ base, dataUrls, variant, preset, steps, batch, workers, profile }) {
  const { loadCnn } = await import(`${base}cnn.mjs`);
  const { gunzipIfNeeded } = await import(`${base}data.mjs`);
  const isNode = typeof window === 'undefined';
  const read = async (url) => {
    if (isNode) return new Uint8Array(await (await import('node:fs/promises')).readFile(new URL(url)));
    return new Uint8Array(await (await fetch(url)).arrayBuffer());
  };
  const cnn = await loadCnn({ variant });
  const train = cnn.datasetFromIdx(await gunzipIfNeeded(await read(dataUrls.images)), await gunzipIfNeeded(await read(dataUrls.labels)));
  const quiet = { batchSize: batch, progressIntervalMs: 3600000 };
  const timedSteps = variant === 'scalar' ? Math.max(3, Math.round(steps / 4)) : steps;
  const out = { kernels: cnn.kernels, runtime: isNode ? `node ${process.versions.node}` : navigator.userAgent.match(/(Headless)?Chrom[a-z]*\/[\d.]+/)?.[0] };

  // Training on this thread: warm-up steps, then timed steps (profiled when asked).
  const model = cnn.createModel(preset, { seed: 1, maxBatch: batch });
  await model.fit(train, { ...quiet, limit: 2 * batch });
  if (profile) model.setProfiling(true);
  let t0 = performance.now();
  await model.fit(train, { ...quiet, limit: timedSteps * batch });
  const stepMs = (performance.now() - t0) / timedSteps;
  out.train1 = (1000 * batch) / stepMs;
  if (profile) {
    out.stepMs = stepMs;
    out.profile = model.profile().map((l) => ({ ...l, forwardMs: l.forwardMs / timedSteps, backwardMs: l.backwardMs / timedSteps, updateMs: l.updateMs / timedSteps }));
    model.setProfiling(false);
  }

  // Training on all cores: this thread and workers - 1 replicas.
  if (!profile && workers > 1 && variant !== 'scalar') {
    const { createReplicas } = await import(`${base}parallel.mjs`);
    const replicas = await createReplicas(cnn, workers - 1);
    try {
      const m2 = cnn.createModel(preset, { seed: 1, maxBatch: batch });
      await m2.fit(train, { ...quiet, limit: 2 * batch, replicas });
      t0 = performance.now();
      await m2.fit(train, { ...quiet, limit: timedSteps * batch, replicas });
      out.trainAll = (timedSteps * batch * 1000) / (performance.now() - t0);
      m2.free();
    } finally {
      replicas.close();
    }
  }

  // Inference: one image at a time (median latency), and 1000 images in one call (throughput).
  if (!profile) {
    const one = Float32Array.from(train.images(0), (v) => v / 255);
    for (let i = 0; i < 20; i++) model.predict(one);
    const lat = [];
    for (let i = 0; i < 150; i++) {
      t0 = performance.now();
      model.predict(one);
      lat.push(performance.now() - t0);
    }
    lat.sort((a, b) => a - b);
    out.latencyMs = lat[lat.length >> 1];
    const thousand = Float32Array.from(train.images(0, 1000), (v) => v / 255);
    model.predict(thousand);
    const reps = variant === 'scalar' ? 1 : 3;
    t0 = performance.now();
    for (let i = 0; i < reps; i++) model.predict(thousand);
    out.infer1000 = (reps * 1000 * 1000) / (performance.now() - t0);
  }
  model.free();
  train.free();
  return out;
}

/** Runs fn(args) in headless Chromium, in a page of tools/serve.mjs serving web/; null when Chromium is missing. */
async function inChromium() {
  if (opts['no-browser'] || !existsSync('/usr/bin/chromium')) return null;
  const { chromium } = await import('playwright-core');
  const { startServer } = await import('../tools/serve.mjs');
  const server = await startServer({ root: WEB, port: 0 });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // A page of the site's origin with nothing running on it (the studio would train and predict meanwhile).
  await page.goto(`${server.url}build/`, { waitUntil: 'load' }).catch(() => {});
  return {
    base: server.url,
    dataUrls: { images: `${server.url}data/train-images-idx3-ubyte.gz`, labels: `${server.url}data/train-labels-idx1-ubyte.gz` },
    run: async (args) => {
      try {
        return await page.evaluate(measureVariant, args);
      } catch (e) {
        throw new Error(`in Chromium: ${e.message}${errors.length ? ` (page errors: ${errors.join('; ')})` : ''}`);
      }
    },
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}

/** The preset as PyTorch runs it (the module tools/to-pytorch.mjs writes), or null without torch. */
async function torchBaseline(preset, threads, infer) {
  if (opts['no-torch'] || !existsSync('/usr/bin/python3')) return null;
  const dir = mkdtempSync(path.join(tmpdir(), 'cnn-bench-'));
  try {
    writeFileSync(path.join(dir, 'model.py'), pytorchModule((await loadCnn()).checkSpec(preset)));
    const script = fileURLToPath(new URL('torch_train.py', import.meta.url));
    const out = execFileSync('/usr/bin/python3', [script, `${DEFAULT_DATA_DIR}/train-images-idx3-ubyte`, '--model-dir', dir,
      '--preset', preset, '--threads', String(threads), '--steps', String(Math.max(10, Math.round(steps / 2))),
      ...(infer ? ['--infer'] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(out.trim().split('\n').at(-1));
  } catch {
    return null; // no torch here: the PyTorch comparisons are left out, the others stand
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const node = {
  base: pathToFileURL(WEB).href,
  dataUrls: { images: pathToFileURL(`${DEFAULT_DATA_DIR}/train-images-idx3-ubyte`).href, labels: pathToFileURL(`${DEFAULT_DATA_DIR}/train-labels-idx1-ubyte`).href },
  run: measureVariant,
};

if (opts.profile) {
  // Where the time of a training step goes, layer by layer, for the fastest variant (or --variants' first).
  for (const preset of presets) {
    const r = await node.run({ base: node.base, dataUrls: node.dataUrls, variant: variants[0], preset, steps, batch: BATCH, workers: 1, profile: true });
    const inLayers = r.profile.reduce((s, l) => s + l.forwardMs + l.backwardMs + l.updateMs, 0);
    const common = { preset, batch: BATCH, kernels: r.kernels, runtime: r.runtime, unit: 'ms per training step' };
    say(`${preset}, ${r.kernels}, batch ${BATCH}: ${round(r.stepMs, 2)} ms per step`);
    say(`${'layer'.padEnd(12)}${'kind'.padEnd(14)}${'forward'.padStart(9)}${'backward'.padStart(10)}${'update'.padStart(9)}${'share'.padStart(8)}`);
    for (const l of r.profile) {
      const total = l.forwardMs + l.backwardMs + l.updateMs;
      say(`${l.name.padEnd(12)}${l.kind.padEnd(14)}${l.forwardMs.toFixed(2).padStart(9)}${l.backwardMs.toFixed(2).padStart(10)}${l.updateMs.toFixed(2).padStart(9)}${`${(100 * total / r.stepMs).toFixed(1)}%`.padStart(8)}`);
      emit({ ...common, measure: 'profile_layer_ms', layer: l.name, kind: l.kind, forward: round(l.forwardMs, 3),
        backward: round(l.backwardMs, 3), update: round(l.updateMs, 3), baseline: { what: 'the whole step', value: round(r.stepMs, 3) },
        ratio: round(total / r.stepMs, 3) });
    }
    say(`${'(outside layers: batches, loss, checks)'.padEnd(44)}${(r.stepMs - inLayers).toFixed(2).padStart(8)}`);
    emit({ ...common, measure: 'profile_outside_layers_ms', value: round(r.stepMs - inLayers, 3),
      baseline: { what: 'the whole step', value: round(r.stepMs, 3) }, ratio: round((r.stepMs - inLayers) / r.stepMs, 3) });
  }
  process.exit(0);
}

// --- measurements: Node, then Chromium, then PyTorch (one at a time: the machine's cores are the subject) ---
const results = []; // {runtime, preset, variant, ...figures}
for (const preset of presets) {
  for (const variant of variants) {
    say(`node, ${preset}, ${variant}`);
    results.push({ where: 'node', preset, variant, ...await node.run({ ...node, variant, preset, steps, batch: BATCH, workers, profile: false }) });
  }
}
const also = opts.also && !presets.includes(opts.also) ? opts.also : null;
let alsoResult = null;
if (also) {
  say(`node, ${also}, ${variants[0]}`);
  alsoResult = await node.run({ ...node, variant: variants[0], preset: also, steps: Math.max(5, steps >> 1), batch: BATCH, workers: 1, profile: false });
}
const browser = await inChromium();
if (browser) {
  try {
    for (const preset of presets) {
      for (const variant of variants) {
        say(`chromium, ${preset}, ${variant}`);
        const { run, ...where } = browser;
        results.push({ where: 'chromium', preset, variant, ...await run({ base: where.base, dataUrls: where.dataUrls, variant, preset, steps, batch: BATCH, workers, profile: false }) });
      }
    }
  } finally {
    await browser.close();
  }
}
const torch = {};
for (const preset of opts['no-torch'] ? [] : presets) {
  for (const threads of [...new Set([1, workers])]) {
    say(`pytorch, ${preset}, ${threads} thread(s)`);
    torch[`${preset}/${threads}`] = { train: await torchBaseline(preset, threads, false), infer: await torchBaseline(preset, threads, true) };
  }
}

// --- figures ---
const torchWhat = (t) => `pytorch ${t.torch ?? ''} cpu, ${t.threads} thread${t.threads > 1 ? 's' : ''}, blas ${t.blas ?? '?'}`;
for (const r of results) {
  const common = { preset: r.preset, runtime: r.runtime, kernels: r.kernels, batch: BATCH };
  const scalar = results.find((s) => s.where === r.where && s.preset === r.preset && s.variant === 'scalar');
  const t1 = torch[`${r.preset}/1`], tn = torch[`${r.preset}/${workers}`];
  emit({ ...common, threads: 1, measure: 'train_images_per_second', value: round(r.train1),
    baseline: scalar && scalar !== r ? { what: 'scalar kernels, same runtime', value: round(scalar.train1) } : null,
    ratio: scalar && scalar !== r ? round(r.train1 / scalar.train1, 2) : null });
  if (t1?.train) {
    emit({ ...common, threads: 1, measure: 'train_images_per_second_vs_pytorch', value: round(r.train1),
      baseline: { what: torchWhat(t1.train), value: t1.train.train_images_per_second }, ratio: round(r.train1 / t1.train.train_images_per_second, 2) });
  }
  if (r.trainAll) {
    emit({ ...common, threads: workers, measure: 'train_images_per_second_all_cores', value: round(r.trainAll),
      baseline: { what: 'the same kernels on 1 thread', value: round(r.train1) }, ratio: round(r.trainAll / r.train1, 2) });
    if (tn?.train) {
      emit({ ...common, threads: workers, measure: 'train_images_per_second_all_cores_vs_pytorch', value: round(r.trainAll),
        baseline: { what: torchWhat(tn.train), value: tn.train.train_images_per_second }, ratio: round(r.trainAll / tn.train.train_images_per_second, 2) });
    }
  }
  for (const t of [t1, tn].filter((x, i, all) => x?.infer && all.indexOf(x) === i)) {
    emit({ ...common, threads: 1, measure: 'inference_latency_ms_one_image', value: round(r.latencyMs, 3),
      baseline: { what: torchWhat(t.infer), value: t.infer.latency_ms }, ratio: round(t.infer.latency_ms / r.latencyMs, 2) });
    emit({ ...common, threads: 1, measure: 'inference_images_per_second_batch_1000', value: round(r.infer1000),
      baseline: { what: torchWhat(t.infer), value: t.infer.infer_images_per_second }, ratio: round(r.infer1000 / t.infer.infer_images_per_second, 2) });
  }
  if (!t1?.infer && scalar && scalar !== r) {
    emit({ ...common, threads: 1, measure: 'inference_latency_ms_one_image', value: round(r.latencyMs, 3),
      baseline: { what: 'scalar kernels, same runtime', value: round(scalar.latencyMs, 3) }, ratio: round(scalar.latencyMs / r.latencyMs, 2) });
    emit({ ...common, threads: 1, measure: 'inference_images_per_second_batch_1000', value: round(r.infer1000),
      baseline: { what: 'scalar kernels, same runtime', value: round(scalar.infer1000) }, ratio: round(r.infer1000 / scalar.infer1000, 2) });
  }
}
if (alsoResult) {
  const first = results.find((r) => r.where === 'node' && r.variant === variants[0]);
  emit({ preset: also, runtime: alsoResult.runtime, kernels: alsoResult.kernels, batch: BATCH, threads: 1, measure: 'train_images_per_second',
    value: round(alsoResult.train1), flops_per_image: Math.round((await loadCnn()).checkSpec(also).flopsPerImage),
    baseline: { what: `${first.preset} preset, same kernels and run`, value: round(first.train1), flops_per_image: Math.round((await loadCnn()).checkSpec(first.preset).flopsPerImage) },
    ratio: round(alsoResult.train1 / first.train1, 3) });
}
