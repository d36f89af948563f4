/**
 * transfer.mjs - the transfer-learning lab (after the classic Keras "mnist_transfer_cnn" example), shared by
 * the CLI (tools/transfer.mjs) and the page's training worker: pre-train a CNN on the digits 0-4, then learn
 * the digits 5-9 (relabelled 0-4) three ways and measure the test accuracy on 5-9 after each epoch, the
 * training time and the speed of each way. No DOM, no Node: it only needs a loaded core (web/cnn.mjs).
 */

/** The three ways of learning 5-9, in the order they run. */
export const TRANSFER_WAYS = Object.freeze({
  frozen: { pretrained: true, freeze: ['conv1', 'conv2'], title: 'convolutions frozen' },
  finetune: { pretrained: true, freeze: [], title: 'fine-tune all' },
  scratch: { pretrained: false, freeze: [], title: 'from scratch' },
});

/**
 * A data set of the images of ds whose labels are in [lo, lo + 5), relabelled 0..4, at most limit of them.
 * @param {import('../cnn.mjs').Cnn} cnn @param {import('../cnn.mjs').Dataset} ds @param {number} lo 0 or 5
 * @param {number} limit @returns {import('../cnn.mjs').Dataset} a new data set (the caller frees it)
 */
export function digitHalf(cnn, ds, lo, limit) {
  const labels = ds.labels();
  const keep = [];
  for (let i = 0; i < ds.count && keep.length < limit; i++) if (labels[i] >= lo && labels[i] < lo + 5) keep.push(i);
  const size = ds.height * ds.width * ds.channels;
  const images = new Uint8Array(keep.length * size), out = new Uint8Array(keep.length);
  keep.forEach((idx, j) => {
    images.set(ds.images(idx, 1), j * size);
    out[j] = labels[idx] - lo;
  });
  return cnn.datasetFromArrays(images, out, { height: ds.height, width: ds.width, channels: ds.channels, classes: 5 });
}

/**
 * Runs the lab on MNIST-like data sets (labels 0-9).
 * @param {import('../cnn.mjs').Cnn} cnn
 * @param {object} o
 * @param {import('../cnn.mjs').Dataset} o.train @param {import('../cnn.mjs').Dataset} o.test
 * @param {number} [o.epochs=3] epochs on 5-9 for each way @param {number} [o.preEpochs=1] epochs on 0-4
 * @param {number} [o.limit=Infinity] training images of each half @param {number} [o.batch=32]
 * @param {number} [o.lr=0.002] Adam @param {number} [o.seed=1]
 * @param {AbortSignal} [o.signal] stops the lab after the current step (the ways done so far are reported)
 * @param {(e: {phase: string, fraction: number, epoch: number, epochs: number}) => void} [o.onProgress]
 *   phase 'pretrain' or a way's name; fraction: of the whole lab's training images
 * @param {(e: {accuracy04: number, accuracy59: number, images: number}) => void} [o.onPretrained]
 * @param {(e: {way: string, epoch: number, accuracy: number}) => void} [o.onEpoch] epoch 0: before training
 * @returns {Promise<TransferResult>}
 *
 * @typedef {object} TransferResult
 * @property {{epochs: number, images: number, accuracy_0_4: number, accuracy_5_9_before: number}} pretrain
 * @property {Record<string, {accuracy: number[], before: number, seconds: number, images_per_second: number,
 *   frozen: string[]}>} ways the ways that ran to their end, in TRANSFER_WAYS order
 * @property {boolean} stopped @property {number} epochs @property {number} batch @property {number} seed
 */
export async function runTransferLab(cnn, {
  train, test, epochs = 3, preEpochs = 1, limit = Infinity, batch = 32, lr = 2e-3, seed = 1, signal,
  onProgress = () => {}, onPretrained = () => {}, onEpoch = () => {},
} = {}) {
  const owned = [];
  const own = (x) => { owned.push(x); return x; };
  try {
    const trainA = own(digitHalf(cnn, train, 0, limit)), trainB = own(digitHalf(cnn, train, 5, limit));
    const testA = own(digitHalf(cnn, test, 0, Infinity)), testB = own(digitHalf(cnn, test, 5, Infinity));
    const template = own(cnn.createModel('keras', { maxBatch: 1 }));
    const spec = template.specWithClasses(5);
    const fit = { batchSize: batch, lr, augment: false, signal };
    const total = preEpochs * trainA.count + Object.keys(TRANSFER_WAYS).length * epochs * trainB.count;
    let done = 0;
    const progress = (phase, epoch, epochsOf) => (p) => onProgress({ phase, epoch, epochs: epochsOf, fraction: (done + p.imagesDone) / total });

    const base = own(cnn.createModel(spec, { seed, maxBatch: batch }));
    const pre = await base.fit(trainA, { ...fit, epochs: preEpochs, onProgress: progress('pretrain', 1, preEpochs) });
    done += preEpochs * trainA.count;
    const result = { pretrain: { epochs: preEpochs, images: trainA.count, accuracy_0_4: 0, accuracy_5_9_before: 0 },
      ways: {}, stopped: !!pre.stopped, epochs, batch, seed };
    if (result.stopped) return result;
    result.pretrain.accuracy_0_4 = base.evaluate(testA).accuracy;
    result.pretrain.accuracy_5_9_before = base.evaluate(testB).accuracy;
    onPretrained({ accuracy04: result.pretrain.accuracy_0_4, accuracy59: result.pretrain.accuracy_5_9_before, images: trainA.count });
    const pretrained = base.save();

    for (const [name, way] of Object.entries(TRANSFER_WAYS)) {
      const model = own(way.pretrained ? cnn.loadModel(pretrained, { maxBatch: batch }) : cnn.createModel(spec, { seed: seed + 1, maxBatch: batch }));
      model.reseed(seed + 2); // the same shuffling and dropout for every way
      if (way.freeze.length) model.freeze(way.freeze);
      const before = way.pretrained ? result.pretrain.accuracy_5_9_before : model.evaluate(testB).accuracy;
      onEpoch({ way: name, epoch: 0, accuracy: before });
      const curve = [];
      let seconds = 0, images = 0;
      for (let e = 1; e <= epochs; e++) {
        const t0 = performance.now();
        const h = await model.fit(trainB, { ...fit, epochs: 1, schedule: 'constant', onProgress: progress(name, e, epochs) });
        seconds += (performance.now() - t0) / 1000;
        done += trainB.count;
        if (h.stopped) {
          result.stopped = true;
          return result;
        }
        images += Math.min(h.epochs[0].steps * batch, trainB.count);
        curve.push(model.evaluate(testB).accuracy);
        onEpoch({ way: name, epoch: e, accuracy: curve.at(-1) });
      }
      result.ways[name] = { accuracy: curve.map(round4), before: round4(before), seconds: Math.round(seconds * 10) / 10,
        images_per_second: Math.round(images / seconds), frozen: way.freeze };
    }
    return result;
  } finally {
    for (const x of owned.reverse()) x.free();
  }
}

const round4 = (a) => Math.round(a * 1e4) / 1e4;
