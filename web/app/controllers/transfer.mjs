/**
 * transfer.mjs - the transfer lab controller: runs the lab (shared/transfer.mjs: pre-train on 0-4, then learn
 * 5-9 with the convolutions frozen, fine-tuning everything, from scratch) in the training worker on MNIST, as
 * its 'training' activity, and reports it to the views. The current model is not changed.
 *
 * Events: 'transfer:start' {owner, epochs}, 'transfer:progress' {phase, epoch, epochs, fraction},
 * 'transfer:pretrained' {accuracy04, accuracy59, images}, 'transfer:epoch' {way, epoch, accuracy},
 * 'transfer:done' {owner, result}, 'transfer:failed' {owner, error}
 */

/** Runs the transfer lab in the training worker. */
export class TransferController {
  /** @param {import('../runtime.mjs').Runtime} rt */
  constructor(rt) {
    this.rt = rt;
    this.running = false;
  }

  connect({ trainer }) {
    if (!trainer) return;
    trainer.on('transferProgress', (p) => this.running && this.rt.emit('transfer:progress', p));
    trainer.on('transferPretrained', (p) => this.running && this.rt.emit('transfer:pretrained', p));
    trainer.on('transferEpoch', (e) => this.running && this.rt.emit('transfer:epoch', e));
  }

  /**
   * @param {{epochs: number, preEpochs: number, limit: number, seed: number}} o @param {*} [owner]
   * @returns {Promise<import('../../shared/transfer.mjs').TransferResult>}
   */
  async run({ epochs, preEpochs, limit, seed }, owner = null) {
    const { rt } = this;
    rt.guard('transferLab');
    this.running = true; // before the activity event: views enable Stop on it
    rt.setActivity('training', owner);
    try {
      await rt.data.ensureMnist(['train', 'test']);
      rt.emit('transfer:start', { owner, epochs });
      rt.status('Transfer lab: pre-training on the digits 0–4…', 'busy', 'transfer');
      const result = await rt.workers.trainer.call('transferLab', { epochs, preEpochs, limit, seed });
      rt.status(result.stopped ? 'Transfer lab stopped: the table shows the ways that ran to their end.'
        : 'Transfer lab done: see the table below its chart.', 'info', 'transfer');
      rt.emit('transfer:done', { owner, result });
      return result;
    } catch (e) {
      rt.status(`The transfer lab did not complete: ${e.message}`, 'error', 'transfer');
      rt.emit('transfer:failed', { owner, error: e });
      throw e;
    } finally {
      this.running = false;
      rt.setActivity(null);
    }
  }

  /** Stops the lab after its current step. */
  async stop() {
    if (!this.running) return;
    this.rt.status('Stopping the transfer lab after the current step…', 'busy', 'transfer');
    await this.rt.workers.trainer.call('stop');
  }
}
