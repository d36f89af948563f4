/**
 * parallel.mjs - data-parallel training on several cores, in a page (Web Workers) and in Node (worker_threads),
 * with no special HTTP headers: each worker has its own instance of the core and a replica of the model.
 *
 *   const replicas = await createReplicas(cnn, navigator.hardwareConcurrency - 1);
 *   await model.fit(train, { epochs: 1, replicas });   // this model is replica 0, on the calling thread
 *   replicas.close();
 *
 * Per step every replica computes the gradients of its shard of the same batch; the gradients are summed in rank
 * order (so the result does not depend on which worker answers first) and every replica applies the same step.
 * The same seed and the same number of replicas give bit-identical weights. A worker computes its shard of the
 * next batch as soon as it has applied a step (one message each way per step); when no step follows, that work
 * is dropped with the run.
 */
import { CnnError } from './cnn.mjs';

const isNode = typeof process === 'object' && !!process.versions?.node && typeof window === 'undefined';

/** One worker seen as a message port, the same in browsers and in Node. */
class Port {
  constructor(worker, node) {
    this.worker = worker;
    this.node = node;
    this.waiting = [];
    const receive = (msg) => {
      const w = this.waiting.shift();
      if (!w) return;
      if (msg.type === 'error') w.reject(new CnnError(msg.message, msg.status, msg.where));
      else w.resolve(msg);
    };
    const fail = (e) => {
      const err = new CnnError(`replica worker: ${e?.message ?? 'failed'}`, 3);
      for (const w of this.waiting.splice(0)) w.reject(err);
    };
    if (node) {
      worker.on('message', receive);
      worker.on('error', fail);
    } else {
      worker.onmessage = (e) => receive(e.data);
      worker.onerror = (e) => { e.preventDefault?.(); fail(e); };
    }
  }

  /** Sends a message; @returns {Promise<object>} the answer (replies come in the order requests were sent) */
  request(msg, transfer = []) {
    const p = new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.worker.postMessage(msg, transfer);
    return p;
  }

  close() {
    this.worker.terminate();
  }
}

/**
 * Starts `count` workers, each loading its own instance of the core. Pass the result to Model.fit as
 * `replicas`; it can serve several fits, one at a time; close() stops the workers.
 * @param {import('./cnn.mjs').Cnn} cnn the calling thread's instance (its build and kernels are loaded in the workers)
 * @param {number} count workers besides the calling thread (0..255)
 * @param {{workerUrl?: string|URL}} [o] the worker script (default: replica-worker.mjs next to this file)
 * @returns {Promise<{ranks: number, begin(args: object): Promise<void>, step(trainer: object): Promise<object>,
 *   end(): Promise<void>, close(): void}>}
 */
export async function createReplicas(cnn, count, { workerUrl } = {}) {
  if (!Number.isInteger(count) || count < 0 || count > 255) {
    throw new CnnError(`createReplicas: ${count} workers (expected an integer in 0..255)`, 1);
  }
  const url = workerUrl ?? new URL('./replica-worker.mjs', import.meta.url);
  const ports = [];
  try {
    for (let i = 0; i < count; i++) {
      if (isNode) {
        const { Worker } = await import('node:worker_threads');
        // execArgv: [] so that the workers do not inherit flags such as --eval or --input-type of the main script
        ports.push(new Port(new Worker(url, { execArgv: [] }), true));
      } else {
        ports.push(new Port(new Worker(url, { type: 'module', name: `replica ${i + 1}` }), false));
      }
    }
    await Promise.all(ports.map((p) => p.request({ type: 'init', variant: cnn.variant, kernels: cnn.kernels })));
  } catch (e) {
    ports.forEach((p) => p.close());
    throw e;
  }
  let pending = []; // the workers' answers awaited: their gradients for the next step, once asked for
  return {
    ranks: count + 1,

    /** Builds the other replicas: the model (bytes, seed, frozen layers), the data, the same trainer options. */
    async begin({ modelBytes, seed, maxBatch, data, replay, options, frozen, nTrain }) {
      const images = data.images(0, nTrain), labels = data.labels().subarray(0, nTrain);
      const shape = { height: data.height, width: data.width, channels: data.channels, classes: data.classes };
      const r = replay ? { images: replay.images(0, replay.count), labels: replay.labels(), shape: {
        height: replay.height, width: replay.width, channels: replay.channels, classes: replay.classes } } : null;
      await Promise.all(ports.map((p, i) => p.request({
        type: 'begin', modelBytes, seed, maxBatch, frozen, images, labels, shape, replay: r,
        options: { ...options, rank: i + 1, ranks: count + 1 },
      })));
    },

    /** One step: every replica's gradients, summed in rank order, applied everywhere. */
    async step(trainer) {
      if (!pending.length) pending = ports.map((p) => p.request({ type: 'compute' }));
      let local, localError = null;
      try {
        local = trainer.computeGradients(); // meanwhile the workers compute theirs
      } catch (e) {
        localError = e;
      }
      const answers = await Promise.allSettled(pending); // all of them, so that no request is left behind
      pending = [];
      if (localError) throw localError;
      const failed = answers.find((a) => a.status === 'rejected');
      if (failed) throw failed.reason;
      let images = local.images, loss = local.loss * local.images, correct = local.accuracy * local.images;
      for (const { value: a } of answers) {
        trainer.addGradients(a.grads); // in the core, in rank order
        images += a.stats.images;
        loss += a.stats.loss * a.stats.images;
        correct += a.stats.accuracy * a.stats.images;
      }
      // every worker applies the sum and goes on with its shard of the next batch; the sum goes back in the
      // buffer the worker's gradients came in (no allocation per step)
      pending = ports.map((p, i) => {
        const sum = trainer.gradients(answers[i].value.grads);
        return p.request({ type: 'apply', sum }, [sum.buffer]);
      });
      const applied = trainer.applySummed(null);
      return { images, loss: loss / images, accuracy: correct / images, lr: applied.lr };
    },

    /** Frees the other replicas' models and data (the workers stay, for the next fit). */
    async end() {
      await Promise.allSettled(pending); // a next shard computed for no step: dropped
      pending = [];
      await Promise.all(ports.map((p) => p.request({ type: 'end' })));
    },

    close() {
      ports.forEach((p) => p.close());
    },
  };
}
