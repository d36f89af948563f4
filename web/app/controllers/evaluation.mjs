/**
 * evaluation.mjs - the evaluation controller: the current model on a test set (accuracy, confusion matrix,
 * per-class metrics, per-image predictions) and the images of the test set for the gallery.
 *
 * Events: 'eval:start' {owner}, 'eval:progress' {done, total}, 'eval:done' {result, owner},
 * 'eval:cancelled' {owner, done, total}, 'eval:failed' {error, owner}, 'eval:reset' {} (the model changed:
 * the last results no longer apply).
 */
import { DataController } from './data.mjs';

/** Images shown in a gallery at most. */
export const GALLERY_MAX = 48;

/** Evaluates the current model and fetches test images for the gallery. */
export class EvaluationController {
  /** @param {import('../runtime.mjs').Runtime} rt */
  constructor(rt) {
    this.rt = rt;
  }

  connect({ trainer }) {
    if (!trainer) return; // a new prediction worker
    trainer.on('evalProgress', (p) => this.rt.emit('eval:progress', p));
  }

  /** Forgets the last results (the model changed). */
  reset() {
    this.rt.state.evaluation = null;
    this.rt.emit('eval:reset', {});
  }

  /**
   * Evaluates the current model on a test set, and fetches the most confidently wrong images.
   * @param {'mnist'|'custom'|'drawings'} dataset drawings: the held-out ones @param {*} [owner]
   * @returns {Promise<object|null>} the result: metrics, labels, predicted, confidence, count, dataset, and
   *   wrong: {indices, images} (the GALLERY_MAX most confident errors); null when cancelled
   */
  run(dataset, owner = null) {
    const { rt } = this;
    return rt.exclusive('evaluate', 'evaluating', owner, async () => {
      rt.emit('eval:start', { owner });
      try {
        if (DataController.usesMnist(dataset)) await rt.data.ensureMnist(['test']);
        rt.status('Evaluating on the test set…', 'busy', 'evaluate');
        let r;
        try {
          r = await rt.workers.trainer.call('evaluate', { dataset });
        } catch (e) {
          throw new Error(`Evaluation failed: ${e.message}`);
        }
        if (r.cancelled) {
          rt.status(`Evaluation cancelled after ${r.done.toLocaleString('en-US')} of ${r.total.toLocaleString('en-US')} images.`, 'info', 'evaluate');
          rt.emit('eval:cancelled', { owner, done: r.done, total: r.total });
          return null;
        }
        return await this.adopt(r, dataset, owner);
      } catch (e) {
        rt.status(e.message, 'error', 'evaluate');
        rt.emit('eval:failed', { error: e, owner });
        throw e;
      }
    });
  }

  /**
   * Makes a worker's evaluation of the current model the last evaluation (shown in the evaluate cards): adds
   * the most confidently wrong images. Also used for evaluations made inside a training run (before-after.mjs).
   * @param {object} r the training worker's 'evaluate' answer @param {string} dataset @param {*} [owner]
   * @returns {Promise<object>} the result (as run())
   */
  async adopt(r, dataset, owner = null) {
    const { rt } = this;
    r.dataset = dataset;
    const wrong = [];
    for (let i = 0; i < r.count; i++) if (r.predicted[i] !== r.labels[i]) wrong.push(i);
    wrong.sort((a, b) => r.confidence[b] - r.confidence[a]);
    r.wrongCount = wrong.length;
    const indices = wrong.slice(0, GALLERY_MAX);
    r.wrong = { indices, images: await this.images(dataset, indices) };
    rt.state.evaluation = r;
    const n = r.count.toLocaleString('en-US');
    rt.status(`Test accuracy ${(100 * r.accuracy).toFixed(2)}% on ` +
      `${dataset === 'drawings' ? `${n} held-out drawing${r.count === 1 ? '' : 's'}` : `${n} ${dataset === 'mnist' ? 'MNIST ' : ''}test images`}.`,
    'info', 'evaluate');
    rt.emit('eval:done', { result: r, owner });
    return r;
  }

  /** Stops the evaluation in progress after its current chunk of images. */
  cancel() {
    return this.rt.workers.trainer.call('cancelEvaluation');
  }

  /** Indices of the last evaluation's test images with a true class and a prediction, most confident first. */
  cell(trueClass, predicted) {
    const ev = this.rt.state.evaluation;
    if (!ev) return [];
    const idx = [];
    for (let i = 0; i < ev.count; i++) if (ev.labels[i] === trueClass && ev.predicted[i] === predicted) idx.push(i);
    return idx.sort((a, b) => ev.confidence[b] - ev.confidence[a]);
  }

  /**
   * @param {string} dataset @param {number[]} indices test images
   * @returns {Promise<{pixels: Uint8Array, labels: Uint8Array, height: number, width: number, channels: number}>}
   *   pixels (n, H, W, C), labels (n)
   */
  async images(dataset, indices, split = 'test') {
    if (!indices.length) return { pixels: new Uint8Array(0), labels: new Uint8Array(0), height: 1, width: 1, channels: 1 };
    return this.rt.workers.trainer.call('images', { dataset, split, indices });
  }
}
