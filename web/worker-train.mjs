/**
 * worker-train.mjs - the training worker: holds the current model, the data sets (uint8, inside the core), and
 * runs training and evaluation so the page never blocks. Training results reach the prediction worker through
 * the page as .safetensors snapshots (events 'snapshot' every few seconds, and the final model as the answer).
 *
 * Requests (see app/worker-rpc.mjs):
 *   init {variant}                    -> {build, kernels}
 *   setModel {bytes}                  -> model info            the current model (validated by the core)
 *   create {spec, seed}               -> {bytes, info}         a new untrained current model
 *   validateSpec {spec}               -> model info            checks spec text (no model is built)
 *   loadMnist {splits}                -> {train?, test?}       fetch once; events 'dataProgress'
 *   loadIdxFiles {files: [{name, bytes}]} -> {train, test}     a data set picked from disk ("custom")
 *   setDrawings {images, labels}      -> {train} | {}          the user's own 28x28 samples
 *   train {dataset, from, freeze, spec, seed, fit} -> {bytes, info, history, stopped, steps}
 *                                        freeze: layer names kept fixed when fine-tuning (from 'current')
 *                                        events 'progress', 'epoch', 'snapshot'
 *   pause, resume, stop               -> training control
 *   evaluate {dataset}                -> metrics, labels, predicted, confidence; events 'evalProgress'
 *   images {dataset, split, indices}  -> {pixels, height, width, channels}
 */
import { loadCnn } from './cnn.mjs';
import { gunzipIfNeeded } from './data.mjs';
import { serve, Transfer } from './app/worker-rpc.mjs';
import { modelInfo, shapeText } from './app/model-info.mjs';
import { MNIST_BASE, SPLITS, classifyIdxFiles, fetchAll } from './app/data-loading.mjs';

const SNAPSHOT_MS = 3000;   // how often the prediction worker gets the model in training
const EVAL_CHUNK = 1000;    // images per evaluation call (progress and message handling in between)

let cnnPromise = null;
let current = null;         // the current Model
/** @type {Record<string, {train?: import('./cnn.mjs').Dataset, test?: import('./cnn.mjs').Dataset}>} */
const sets = { mnist: {}, custom: {}, drawings: {} };
let mnistLoading = null;    // promise while MNIST downloads
let training = null;        // {controller, paused, resume} while training

const rpc = serve({
  async init({ variant = 'auto' }) {
    cnnPromise ??= loadCnn({ variant });
    const cnn = await cnnPromise;
    return { build: cnn.build, kernels: cnn.kernels };
  },

  async setModel({ bytes }) {
    notTraining('load a model');
    const cnn = await core();
    const next = cnn.loadModel(bytes);
    current?.free();
    current = next;
    return modelInfo(current);
  },

  async create({ spec, seed = 1 }) {
    notTraining('create a model');
    const cnn = await core();
    const next = cnn.createModel(spec, { seed });
    current?.free();
    current = next;
    const bytes = current.save();
    return new Transfer({ bytes, info: modelInfo(current) }, [bytes.buffer]);
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

  async loadIdxFiles({ files }) {
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
  },

  async setDrawings({ images, labels }) {
    const cnn = await core();
    sets.drawings.train?.free();
    sets.drawings = {};
    if (labels.length > 0) {
      sets.drawings.train = cnn.datasetFromArrays(images, labels, { height: 28, width: 28, channels: 1, classes: 10 });
    }
    return summary(sets.drawings);
  },

  async train({ dataset, from, freeze = [], spec, seed = 1, fit }) {
    notTraining('train');
    const cnn = await core();
    const { data, owned } = trainingData(cnn, dataset, fit.limit);
    let model = null;
    training = { controller: new AbortController(), paused: false, resume: null, pausedMs: 0, pausedAt: 0 };
    try {
      if (from === 'current') {
        if (!current) throw new Error('train: there is no current model to fine-tune');
        model = cnn.loadModel(current.save(), { maxBatch: fit.batchSize });
        model.freeze(freeze); // the core says so if a name is not a parameter layer, or (in fit) if all are frozen
      } else {
        model = cnn.createModel(spec, { seed, maxBatch: fit.batchSize });
      }
      checkFits(model, data, from);
      const fitOptions = { ...fit, limit: Math.min(fit.limit ?? data.count, data.count) };
      let steps = 0;
      const start = performance.now();
      let lastSnapshot = start;
      const history = await model.fit(data, {
        ...fitOptions,
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
      if (steps === 0) throw new Error('training stopped before its first step; the model is unchanged');
      current?.free();
      current = model;
      model = null;
      const bytes = current.save();
      return new Transfer({ bytes, info: modelInfo(current), history, stopped: history.stopped }, [bytes.buffer]);
    } finally {
      model?.free();
      if (owned) data.free();
      training = null;
    }
  },

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

  async evaluate({ dataset }) {
    notTraining('evaluate');
    const cnn = await core();
    if (!current) throw new Error('evaluate: no model loaded');
    const data = sets[dataset]?.test;
    if (!data) throw new Error(`evaluate: the ${dataset} test set is not loaded`);
    checkFits(current, data, 'current');
    const n = data.count, k = current.classes;
    const predicted = new Int32Array(n), confidence = new Float32Array(n);
    const confusion = Array.from({ length: k }, () => new Array(k).fill(0));
    let lossSum = 0;
    for (let first = 0; first < n; first += EVAL_CHUNK) {
      const count = Math.min(EVAL_CHUNK, n - first);
      const r = current.evaluate(data, { first, count, details: true });
      lossSum += r.loss * count;
      predicted.set(r.predicted, first);
      confidence.set(r.confidence, first);
      for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) confusion[i][j] += r.confusion[i][j];
      rpc.emit('evalProgress', { done: first + count, total: n });
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const labels = data.labels();
    let correct = 0;
    for (let i = 0; i < n; i++) if (predicted[i] === labels[i]) correct++;
    const result = { loss: lossSum / n, accuracy: correct / n, count: n, confusion, ...cnn.metricsFromConfusion(confusion),
      labels, predicted, confidence };
    return new Transfer(result, [labels.buffer, predicted.buffer, confidence.buffer]);
  },

  async images({ dataset, split = 'test', indices }) {
    const data = sets[dataset]?.[split];
    if (!data) throw new Error(`images: the ${dataset} ${split} set is not loaded`);
    const size = data.height * data.width * data.channels;
    const pixels = new Uint8Array(indices.length * size);
    indices.forEach((idx, i) => pixels.set(data.images(idx, 1), i * size));
    return new Transfer({ pixels, height: data.height, width: data.width, channels: data.channels }, [pixels.buffer]);
  },
});

async function core() {
  if (!cnnPromise) throw new Error('train worker: not initialised');
  return cnnPromise;
}

function notTraining(what) {
  if (training) throw new Error(`cannot ${what} while training; stop training first`);
}

function summary(split) {
  const out = {};
  for (const [k, d] of Object.entries(split)) {
    if (d) out[k] = { count: d.count, height: d.height, width: d.width, channels: d.channels, classes: d.classes };
  }
  return out;
}

/** The data set to train on; 'mnist+drawings' is built here (the user's drawings first, then MNIST). */
function trainingData(cnn, dataset, limit) {
  if (dataset === 'mnist+drawings') {
    const mnist = sets.mnist.train, mine = sets.drawings.train;
    if (!mnist) throw new Error('train: MNIST is not loaded');
    if (!mine) throw new Error('train: there are no saved drawings yet (draw a digit and save it with its label)');
    const nm = Math.min(limit ?? mnist.count, mnist.count);
    const images = new Uint8Array((mine.count + nm) * 784);
    const labels = new Uint8Array(mine.count + nm);
    images.set(mine.images(0, mine.count), 0);
    labels.set(mine.labels(), 0);
    images.set(mnist.images(0, nm), mine.count * 784);
    labels.set(mnist.labels().subarray(0, nm), mine.count);
    return { data: cnn.datasetFromArrays(images, labels, { height: 28, width: 28, channels: 1, classes: 10 }), owned: true };
  }
  const data = sets[dataset]?.train;
  if (!data) throw new Error(`train: the ${dataset} training set is not loaded`);
  return { data, owned: false };
}

/** A clear message when a model cannot take a data set (the core checks too, in its own words). */
function checkFits(model, data, from) {
  const dataShape = [data.height, data.width, data.channels];
  const shape = model.inputShape;
  const hint = from === 'current' ? ' Train a new model for this data set.' : '';
  if (shape.join() !== dataShape.join()) {
    throw new Error(`the model takes ${shapeText(shape)} images but the data set has ${shapeText(dataShape)} images ` +
      `(architecture line 'input ${shapeText(dataShape)}').${hint}`);
  }
  if (model.classes < data.classes) {
    throw new Error(`the data set has ${data.classes} classes (labels 0..${data.classes - 1}) but the model outputs ` +
      `${model.classes} (its last dense layer should have ${data.classes} units).${hint}`);
  }
}

function snapshot(model, p) {
  const bytes = model.save();
  rpc.emit('snapshot', { bytes, epoch: p.epoch, step: p.step, stepsPerEpoch: p.stepsPerEpoch }, [bytes.buffer]);
}
