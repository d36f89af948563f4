/**
 * replica-worker.mjs - one replica of a model for data-parallel training (see parallel.mjs), in a Web Worker or a
 * Node worker thread. Messages, answered in order:
 *   init {variant, kernels}                          -> {type: 'ready'}   (the calling thread's kernels)
 *   begin {modelBytes, seed, maxBatch, frozen, images, labels, shape, replay, options} -> {type: 'ready'}
 *   compute                                          -> {type: 'grads', grads, stats}   (grads transferred)
 *   apply {sum}                                      applies the summed gradients, then computes the next
 *                                                    shard and answers as compute
 *   end                                              -> {type: 'ended'}
 * Any failure answers {type: 'error', message, status, where}.
 */
import { loadCnn } from './cnn.mjs';

const port = typeof self === 'object' && typeof self.postMessage === 'function' ? self
  : (await import('node:worker_threads')).parentPort;
const post = (msg, transfer = []) => port.postMessage(msg, transfer);

let cnn = null, run = null;

function endRun() {
  run?.trainer.free();
  run?.model.free();
  run?.data.free();
  run?.replay?.free();
  run = null;
}

const handlers = {
  async init({ variant, kernels }) {
    cnn = await loadCnn({ variant });
    if (kernels && cnn.kernels !== kernels) cnn.selectKernels(kernels); // the same sums as the calling thread
    return { type: 'ready' };
  },
  begin({ modelBytes, seed, maxBatch, frozen, images, labels, shape, replay, options }) {
    endRun();
    const model = cnn.loadModel(modelBytes, { maxBatch });
    model.reseed(seed);
    if (frozen.length) model.freeze(frozen);
    const data = cnn.datasetFromArrays(images, labels, shape);
    const rep = replay ? cnn.datasetFromArrays(replay.images, replay.labels, replay.shape) : null;
    run = { model, data, replay: rep, trainer: null, spare: null };
    run.trainer = model.trainer(data, { ...options, replay: rep ? { ...options.replay, data: rep } : undefined });
    return { type: 'ready' };
  },
  compute() {
    const stats = run.trainer.computeGradients();
    const grads = run.trainer.gradients(run.spare); // the last sum's buffer, when there is one
    run.spare = null;
    return [{ type: 'grads', grads, stats }, [grads.buffer]];
  },
  apply({ sum }) {
    run.trainer.applySummed(sum);
    run.spare = sum;
    return handlers.compute();
  },
  end() {
    endRun();
    return { type: 'ended' };
  },
};

async function receive(msg) {
  try {
    const out = await handlers[msg.type](msg);
    if (out === null) return;
    if (Array.isArray(out)) post(...out);
    else post(out);
  } catch (e) {
    post({ type: 'error', message: e?.message ?? String(e), status: e?.status ?? 1, where: e?.where ?? '' });
  }
}

if (typeof self === 'object' && port === self) self.onmessage = (e) => receive(e.data);
else port.on('message', receive);
