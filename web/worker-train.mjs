/**
 * worker-train.mjs - the training worker: holds the current model, the data sets (uint8, inside the core), and
 * runs training and evaluation so the page never blocks. Training results reach the prediction worker through
 * the page as .safetensors snapshots (events 'snapshot' every few seconds, and the final model as the answer).
 *
 * Every request is first checked against the busy policy (shared/busy-policy.mjs) with this worker's own
 * activity: what a run holds (the model, its data sets) is never replaced or freed under it.
 *
 * Requests (see shared/worker-rpc.mjs):
 *   init {variant}                    -> {build, kernels}
 *   setModel {bytes, spec?}           -> model info            the current model (validated by the core); with
 *                                        spec: that architecture with the file's weights. A refused file's
 *                                        error status says 'not-safetensors' or 'no-architecture' when so
 *   currentBytes                      -> {bytes}               the current model as .safetensors
 *   memory                            -> {heap, need}          wasm heap bytes, and about what is held needs
 *   create {spec, seed}               -> {bytes, info}         a new untrained current model
 *   validateSpec {spec}               -> model info            checks spec text (no model is built)
 *   loadMnist {splits}                -> {train?, test?}       fetch once; events 'dataProgress'
 *   loadIdxFiles {files: [{name, bytes}]} -> {train, test}     a data set picked from disk ("custom")
 *   setDrawings {images, labels, heldOut?} -> {train?, test?, deferred}  the user's own 28x28 samples; heldOut
 *                                        (1 per image kept aside) makes the test split, the others the train
 *                                        split; while a run trains on them the new set waits (deferred: true)
 *   decodeIdx {images, labels}        -> {pixels, labels, count, height, width, channels}  IDX files (raw or .gz)
 *                                        read and checked by the core, e.g. drawings to import
 *   train {dataset, from, freeze, spec, seed, workers, fit, paused?} -> {bytes, info, history, stopped, workers}
 *                                        paused: pause at the first step (the page was paused before it began)
 *                                        freeze: layer names kept fixed when fine-tuning (from 'current');
 *                                        workers: threads computing each batch (this one and workers - 1
 *                                        replica workers, parallel.mjs; kept for the next run)
 *                                        events 'progress', 'epoch', 'paused', 'snapshot', 'histograms'
 *                                     -> {diverged: {message, stepsDone, history}, bytes, info} when a step
 *                                        diverged: the last good weights; the current model stays as it was
 *   transferLab {epochs, preEpochs, limit, seed, batch, lr} -> the lab's result (shared/transfer.mjs) on MNIST;
 *                                        events 'transferProgress', 'transferPretrained', 'transferEpoch';
 *                                        stop ends it (the current model is not touched)
 *   pause, resume, stop               -> training control
 *   evaluate {dataset, quiet?}        -> metrics, labels, predicted, confidence; events 'evalProgress'
 *                                        {done, total} (none when quiet); -> {cancelled, done, total} after
 *                                        cancelEvaluation. 'drawings': the held-out drawings
 *   cancelEvaluation                  -> {cancelling}          stops the evaluation after its current chunk
 *   images {dataset, split, indices}  -> {pixels, labels, height, width, channels}
 */
import { loadCnn } from './cnn.mjs';
import { gunzipIfNeeded } from './data.mjs';
import { serve, Transfer, RequestError } from './shared/worker-rpc.mjs';
import { modelInfo, shapeText } from './shared/model-info.mjs';
import { MNIST_BASE, SPLITS, classifyIdxFiles, fetchAll } from './shared/data-loading.mjs';
import { refusal, BUSY_STATUS } from './shared/busy-policy.mjs';
import { heapNeed } from './shared/memory.mjs';
import { describeRefusedModel } from './shared/model-file.mjs';
import { histogram } from './shared/histogram.mjs';
import { runTransferLab } from './shared/transfer.mjs';
import { createReplicas } from './parallel.mjs';

const SNAPSHOT_MS = 3000;   // how often the prediction worker gets the model in training
const HISTOGRAM_MS = 1000;  // how often the page gets weight histograms during training
const EVAL_CHUNK_MS = 100;  // work per evaluation call: progress and 'cancelEvaluation' are seen in between
const EVAL_CHUNK_MAX = 2000;
const DIVERGED = 4;         // CnnError status: a step made the loss or the weights non-finite (the step was undone)
const MAX_WORKERS = 16;

let cnnPromise = null;
let current = null;         // the current Model
/** @type {Record<string, {train?: import('./cnn.mjs').Dataset, test?: import('./cnn.mjs').Dataset}>} */
const sets = { mnist: {}, custom: {}, drawings: {} };
let mnistLoading = null;    // promise while MNIST downloads
let training = null;        // {controller, paused, resume, sets} while training; sets: the data sets it reads
let activity = null;        // 'training' | 'evaluating' | 'loading' | null (see shared/busy-policy.mjs)
let pendingDrawings = null; // {images, labels} received while a run trains on the drawings
let evaluation = null;      // {cancelled} while evaluating
let replicaPool = null;     // {count, replicas}: the replica workers of the last data-parallel run

const rpc = serve({
  async init({ variant = 'auto' }) {
    cnnPromise ??= loadCnn({ variant });
    const cnn = await cnnPromise;
    return { build: cnn.build, kernels: cnn.kernels };
  },

  async setModel({ bytes, spec }) {
    const cnn = await core();
    const next = spec ? weightsInto(cnn, spec, bytes) : loadRefusedWithReason(cnn, bytes);
    current?.free();
    current = next;
    return modelInfo(current);
  },

  async create({ spec, seed = 1 }) {
    const cnn = await core();
    const next = cnn.createModel(spec, { seed });
    current?.free();
    current = next;
    const bytes = current.save();
    return new Transfer({ bytes, info: modelInfo(current) }, [bytes.buffer]);
  },

  currentBytes() {
    if (!current) throw new Error('there is no current model');
    const bytes = current.save();
    return new Transfer({ bytes }, [bytes.buffer]);
  },

  async memory() {
    const cnn = await core();
    const held = Object.values(sets).flatMap((split) => Object.values(split)).filter(Boolean);
    const datasetBytes = held.reduce((n, d) => n + d.count * (d.height * d.width * d.channels + 1), 0);
    const models = current ? [modelInfo(current)] : [];
    return { heap: cnn.memoryBytes, need: heapNeed(models, models.map(() => current.maxBatch), datasetBytes) };
  },

  async validateSpec({ spec }) {
    const cnn = await core();
    return cnn.checkSpec(spec); // reserves no memory for weights or activations
  },

  async loadMnist({ splits = ['train', 'test'] }) {
    const cnn = await core();
    while (mnistLoading) await mnistLoading.catch(() => {});
    const missing = splits.filter((s) => !sets.mnist[s]);
    if (missing.length) {
      mnistLoading = (async () => {
        const urls = missing.flatMap((s) => [new URL(`${SPLITS[s].images}.gz`, MNIST_BASE), new URL(`${SPLITS[s].labels}.gz`, MNIST_BASE)]);
        const files = await fetchAll(urls, (loaded, total) => rpc.emit('dataProgress', { what: 'MNIST', loaded, total }));
        rpc.emit('dataProgress', { what: 'MNIST', loaded: 1, total: 1, unpacking: true });
        for (let i = 0; i < missing.length; i++) {
          const s = missing[i];
          const images = await gunzipIfNeeded(files[2 * i], { name: SPLITS[s].images });
          const labels = await gunzipIfNeeded(files[2 * i + 1], { name: SPLITS[s].labels });
          sets.mnist[s] = cnn.datasetFromIdx(images, labels);
        }
      })();
      try {
        await mnistLoading;
      } finally {
        mnistLoading = null;
      }
    }
    return summary(sets.mnist);
  },

  loadIdxFiles: ({ files }) => during('loading', async () => {
    const cnn = await core();
    const slots = classifyIdxFiles(files);
    const loaded = {};
    try {
      for (const split of ['train', 'test']) {
        const { images, labels } = slots[split];
        let im, lb;
        try {
          im = await gunzipIfNeeded(new Uint8Array(images.bytes), { name: images.name });
          lb = await gunzipIfNeeded(new Uint8Array(labels.bytes), { name: labels.name });
          loaded[split] = cnn.datasetFromIdx(im, lb);
        } catch (e) {
          e.message = `${images.name} + ${labels.name}: ${e.message}`;
          throw e;
        }
      }
      const { train, test } = loaded;
      if (train.height !== test.height || train.width !== test.width || train.channels !== test.channels) {
        throw new Error(`training images are ${shapeText([train.height, train.width, train.channels])} but test images are ` +
          shapeText([test.height, test.width, test.channels]));
      }
    } catch (e) {
      loaded.train?.free();
      loaded.test?.free();
      throw e;
    }
    sets.custom.train?.free();
    sets.custom.test?.free();
    sets.custom = loaded;
    return summary(sets.custom);
  }),

  async setDrawings({ images, labels, heldOut = null }) {
    const cnn = await core();
    if (training?.sets.has('drawings')) {
      // the run reads this data set: the new one replaces it when the run ends
      pendingDrawings = { images, labels, heldOut };
      return { ...summary(sets.drawings), deferred: true };
    }
    replaceDrawings(cnn, { images, labels, heldOut });
    return summary(sets.drawings);
  },

  async decodeIdx({ images, labels }) {
    const cnn = await core();
    const data = cnn.datasetFromIdx(await gunzipIfNeeded(new Uint8Array(images), { name: 'images' }),
      await gunzipIfNeeded(new Uint8Array(labels), { name: 'labels' }));
    try {
      const pixels = data.images(0, data.count), all = data.labels();
      return new Transfer({ pixels, labels: all, count: data.count, height: data.height, width: data.width, channels: data.channels },
        [pixels.buffer, all.buffer]);
    } finally {
      data.free();
    }
  },

  train: (args) => during('training', () => trainRun(args)),

  transferLab: (args) => during('training', () => transferRun(args)),

  pause() {
    if (training && !training.paused) {
      training.paused = true;
      training.pausedAt = performance.now();
    }
    return { paused: !!training?.paused };
  },

  resume() {
    if (training?.paused) {
      training.paused = false;
      training.pausedMs += performance.now() - training.pausedAt;
      training.resume?.();
      training.resume = null;
    }
    return { paused: false };
  },

  cancelEvaluation() {
    if (evaluation) evaluation.cancelled = true;
    return { cancelling: !!evaluation };
  },

  stop() {
    if (training) {
      training.controller.abort();
      if (training.paused) {
        training.paused = false;
        training.resume?.();
      }
    }
    return { stopping: !!training };
  },

  evaluate: ({ dataset, quiet = false }) => during('evaluating', async () => {
    const cnn = await core();
    if (!current) throw new Error('evaluate: no model loaded');
    const data = sets[dataset]?.test;
    if (!data && dataset === 'drawings') throw new Error('evaluate: none of your drawings is held out yet (every 5th drawing of a digit is)');
    if (!data) throw new Error(`evaluate: the ${dataset} test set is not loaded`);
    checkFits(current, data, 'current');
    return evaluateChunks(cnn, current, data, quiet);
  }),

  async images({ dataset, split = 'test', indices }) {
    const data = sets[dataset]?.[split];
    if (!data) throw new Error(`images: the ${dataset} ${split} set is not loaded`);
    const size = data.height * data.width * data.channels;
    const pixels = new Uint8Array(indices.length * size);
    indices.forEach((idx, i) => pixels.set(data.images(idx, 1), i * size));
    const all = data.labels();
    const labels = Uint8Array.from(indices, (idx) => all[idx]);
    return new Transfer({ pixels, labels, height: data.height, width: data.width, channels: data.channels }, [pixels.buffer, labels.buffer]);
  },
}, {
  refuse(type) {
    const why = refusal(type, activity);
    return why ? new RequestError(why, BUSY_STATUS) : null;
  },
});

/** Loads a model file; a refusal says whether the file is not safetensors at all or has no architecture. */
function loadRefusedWithReason(cnn, bytes) {
  try {
    return cnn.loadModel(bytes);
  } catch (e) {
    const kind = describeRefusedModel(bytes);
    if (kind === 'other') throw e;
    throw new RequestError(e.message, kind);
  }
}

/** A model from spec text with the weights of a file (e.g. one written by PyTorch without our metadata). */
function weightsInto(cnn, spec, bytes) {
  const model = cnn.createModel(spec);
  try {
    model.loadWeights(bytes);
    return model;
  } catch (e) {
    model.free();
    throw e;
  }
}

/** Runs fn as this worker's activity: set before fn's first await, so the next request already sees it. */
async function during(kind, fn) {
  activity = kind;
  try {
    return await fn();
  } finally {
    activity = null;
  }
}

/**
 * The replica workers for a run on `workers` threads (none for one): kept between runs, replaced when the
 * count changes. @returns {Promise<object|null>}
 */
async function replicasFor(cnn, workers) {
  if (!Number.isInteger(workers) || workers < 1 || workers > MAX_WORKERS) {
    throw new Error(`train: ${workers} workers (expected an integer in 1..${MAX_WORKERS})`);
  }
  if (replicaPool?.count !== workers - 1) {
    replicaPool?.replicas.close();
    replicaPool = null;
    if (workers === 1) return null;
    replicaPool = { count: workers - 1, replicas: await createReplicas(cnn, workers - 1) };
  }
  return replicaPool?.replicas ?? null;
}

async function trainRun({ dataset, from, freeze = [], spec, seed = 1, workers = 1, fit, paused = false }) {
  const cnn = await core();
  const replicas = await replicasFor(cnn, workers);
  const { data, replay, reads } = trainingData(dataset, fit.limit);
  let model = null;
  training = {
    controller: new AbortController(), paused, resume: null, pausedMs: 0, pausedAt: performance.now(), sets: new Set(reads),
  };
  try {
    if (from === 'current') {
      if (!current) throw new Error('train: there is no current model to fine-tune');
      model = cnn.loadModel(current.save(), { maxBatch: fit.batchSize });
      model.reseed(seed); // a loaded model's generator starts at 0: the Seed field picks shuffle, dropout, augmentation
      model.freeze(freeze); // the core says so if a name is not a parameter layer, or (in fit) if all are frozen
    } else {
      model = cnn.createModel(spec, { seed, maxBatch: fit.batchSize });
    }
    checkFits(model, data, from);
    // with replay, 'limit' counts the replayed (MNIST) images of an epoch; the drawings are all used
    const fitOptions = replay ? { ...fit, limit: undefined, replay } : { ...fit, limit: Math.min(fit.limit ?? data.count, data.count) };
    let steps = 0;
    const start = performance.now();
    let lastSnapshot = start, lastHistograms = -Infinity;
    let history;
    const fitting = model.fit(data, {
      ...fitOptions,
      replicas,
      signal: training.controller.signal,
      progressIntervalMs: 100,
      onProgress: (p) => {
        steps++;
        const t = performance.now();
        const activeSec = Math.max(1e-3, (t - start - training.pausedMs) / 1000);
        const rate = p.imagesDone / activeSec;
        rpc.emit('progress', { ...p, imagesPerSecond: rate, etaSeconds: (p.imagesTotal - p.imagesDone) / rate });
        if (t - lastSnapshot > SNAPSHOT_MS) {
          lastSnapshot = t;
          snapshot(model, p);
        }
        if (t - lastHistograms > HISTOGRAM_MS) {
          lastHistograms = t;
          histograms(model, p);
        }
        if (training.paused) {
          // Say so only now: every progress message of this run was sent before this one.
          rpc.emit('paused', {});
          return new Promise((resolve) => { training.resume = resolve; });
        }
        return undefined;
      },
      onEpoch: (e) => {
        rpc.emit('epoch', e);
      },
    });
    try {
      history = await fitting;
    } catch (e) {
      if (e.status !== DIVERGED) throw e;
      // The core undid the step that diverged: the model holds the last good weights. They are returned, not
      // made current; the page offers them.
      const bytes = model.save();
      const diverged = { message: e.message, stepsDone: e.stepsDone ?? 0, history: e.history ?? { epochs: [] } };
      return new Transfer({ diverged, bytes, info: modelInfo(model) }, [bytes.buffer]);
    }
    if (steps === 0) throw new Error('training stopped before its first step; the model is unchanged');
    current?.free();
    current = model;
    model = null;
    const bytes = current.save();
    return new Transfer({ bytes, info: modelInfo(current), history, stopped: history.stopped, workers }, [bytes.buffer]);
  } finally {
    model?.free();
    training = null;
    if (pendingDrawings) {
      replaceDrawings(cnn, pendingDrawings);
      pendingDrawings = null;
    }
  }
}

/** The transfer lab on MNIST (shared/transfer.mjs), stoppable like a training run. */
async function transferRun({ epochs, preEpochs, limit, seed, batch = 32, lr = 2e-3 }) {
  const cnn = await core();
  const { train, test } = sets.mnist;
  if (!train || !test) throw new Error('transfer lab: MNIST is not loaded');
  training = {
    controller: new AbortController(), paused: false, resume: null, pausedMs: 0, pausedAt: 0, sets: new Set(['mnist']),
  };
  let last = 0;
  try {
    return await runTransferLab(cnn, {
      train, test, epochs, preEpochs, limit, seed, batch, lr, signal: training.controller.signal,
      onProgress: (p) => {
        const t = performance.now();
        if (t - last < 200) return;
        last = t;
        rpc.emit('transferProgress', p);
      },
      onPretrained: (p) => rpc.emit('transferPretrained', p),
      onEpoch: (e) => rpc.emit('transferEpoch', e),
    });
  } finally {
    training = null; // it reads MNIST only: drawings sent meanwhile were not deferred
  }
}

/**
 * Evaluates a model on a whole test set in chunks of about EVAL_CHUNK_MS of work, with a progress event after
 * each and a look at 'cancelEvaluation' in between.
 * @returns {Promise<Transfer|{cancelled: true, done: number, total: number}>}
 */
async function evaluateChunks(cnn, model, data, quiet = false) {
  const n = data.count, k = model.classes;
  const predicted = new Int32Array(n), confidence = new Float32Array(n);
  const confusion = Array.from({ length: k }, () => new Array(k).fill(0));
  let lossSum = 0, chunk = 8;
  evaluation = { cancelled: false };
  try {
    for (let first = 0; first < n;) {
      if (evaluation.cancelled) return { cancelled: true, done: first, total: n };
      const count = Math.min(chunk, n - first);
      const t0 = performance.now();
      const r = model.evaluate(data, { first, count, details: true });
      const ms = performance.now() - t0;
      chunk = Math.max(1, Math.min(EVAL_CHUNK_MAX, Math.round(count * EVAL_CHUNK_MS / Math.max(ms, 1))));
      lossSum += r.loss * count;
      predicted.set(r.predicted, first);
      confidence.set(r.confidence, first);
      for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) confusion[i][j] += r.confusion[i][j];
      first += count;
      if (!quiet) rpc.emit('evalProgress', { done: first, total: n });
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  } finally {
    evaluation = null;
  }
  const labels = data.labels();
  let correct = 0;
  for (let i = 0; i < n; i++) if (predicted[i] === labels[i]) correct++;
  const result = { loss: lossSum / n, accuracy: correct / n, count: n, confusion, ...cnn.metricsFromConfusion(confusion),
    labels, predicted, confidence };
  return new Transfer(result, [labels.buffer, predicted.buffer, confidence.buffer]);
}

/** The drawings as the train split (not held out) and the test split (held out); a split without images is absent. */
function replaceDrawings(cnn, { images, labels, heldOut }) {
  sets.drawings.train?.free();
  sets.drawings.test?.free();
  sets.drawings = {};
  for (const [split, held] of [['train', 0], ['test', 1]]) {
    const picked = [];
    for (let i = 0; i < labels.length; i++) if ((heldOut?.[i] ?? 0) === held) picked.push(i);
    if (!picked.length) continue;
    const im = new Uint8Array(picked.length * 784);
    picked.forEach((idx, k) => im.set(images.subarray(idx * 784, (idx + 1) * 784), k * 784));
    sets.drawings[split] = cnn.datasetFromArrays(im, Uint8Array.from(picked, (idx) => labels[idx]),
      { height: 28, width: 28, channels: 1, classes: 10 });
  }
}

async function core() {
  if (!cnnPromise) throw new Error('train worker: not initialised');
  return cnnPromise;
}

function summary(split) {
  const out = {};
  for (const [k, d] of Object.entries(split)) {
    if (d) out[k] = { count: d.count, height: d.height, width: d.width, channels: d.channels, classes: d.classes };
  }
  return out;
}

/**
 * The data set to train on, and the names of the data sets the run reads (kept while it runs). 'mnist+drawings'
 * trains on the user's drawings with MNIST training images mixed into every epoch (fit's replay: min(limit,
 * 60000) of them, drawn afresh each epoch, nothing copied).
 */
function trainingData(dataset, limit) {
  if (dataset === 'mnist+drawings') {
    const mnist = sets.mnist.train, mine = sets.drawings.train;
    if (!mnist) throw new Error('train: MNIST is not loaded');
    if (!mine) throw new Error('train: there are no saved drawings to train on yet (draw a digit and save it with its label)');
    const perEpoch = Math.min(limit ?? mnist.count, mnist.count);
    return { data: mine, replay: { data: mnist, perEpoch }, reads: ['drawings', 'mnist'] };
  }
  const data = sets[dataset]?.train;
  if (!data) throw new Error(`train: the ${dataset} training set is not loaded`);
  return { data, replay: null, reads: [dataset] };
}

/** A clear message when a model cannot take a data set (the core checks too, in its own words). */
function checkFits(model, data, from) {
  const dataShape = [data.height, data.width, data.channels];
  const shape = model.inputShape;
  const hint = from === 'current' ? ' Train a new model for this data set.' : '';
  if (shape.join() !== dataShape.join()) {
    throw new Error(`the model takes ${shapeText(shape)} images but the data set has ${shapeText(dataShape)} images` +
      (from === 'current' ? '.' : ` (architecture line 'input ${shapeText(dataShape)}').`) + hint);
  }
  if (model.classes < data.classes) {
    throw new Error(`the data set has ${data.classes} classes (labels 0..${data.classes - 1}) but the model outputs ` +
      `${model.classes} (its last dense layer should have ${data.classes} units).${hint}`);
  }
}

/** Sends per-layer histograms of the weights and of their gradients at the last step (PyTorch layouts). */
function histograms(model, p) {
  const layers = model.tensorNames().filter((n) => n.endsWith('.weight')).map((name) => ({
    name: name.slice(0, -'.weight'.length),
    weights: histogram(model.tensor(name).data),
    change: { kind: 'gradients', ...histogram(model.gradient(name).data) },
  }));
  rpc.emit('histograms', { epoch: p.epoch, step: p.step, layers });
}

function snapshot(model, p) {
  const bytes = model.save();
  rpc.emit('snapshot', { bytes, epoch: p.epoch, step: p.step, stepsPerEpoch: p.stepsPerEpoch }, [bytes.buffer]);
}
