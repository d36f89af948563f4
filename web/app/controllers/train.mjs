/**
 * train.mjs - the training controller: architecture checks, one training run at a time in the training
 * worker (pause, resume, stop), its events for the views, and the trained model made current.
 *
 * Events (payloads carry `owner`, the widget that started the run):
 *   'train:start'    {owner, epochs}
 *   'train:progress' {owner, epoch, epochs, step, stepsPerEpoch, loss, accuracy, lr, imagesDone, imagesTotal,
 *                     imagesPerSecond, etaSeconds}       loss and accuracy: of the steps since the last event
 *   'train:epoch'    {owner, epoch, loss, accuracy, valLoss?, valAccuracy?, seconds, steps, complete}
 *   'train:paused'   {owner}                             the worker waits between two steps
 *   'train:histograms' {owner, epoch, step, layers: [{name, weights: {lo, hi, counts}, change: {kind, lo, hi,
 *                     counts} | null}]}                 about every second; change: 'updates' since the last
 *                                                       ones (or 'gradients' where the core exposes them)
 *   'train:done'     {owner, history, stopped, label, kept?}   kept: false when a stopped fine-tune left the
 *                                                       model it started from current
 *   'train:failed'   {owner, error}
 *   'train:diverged' {owner, message}                    the last good weights are in state.rescued
 */
import { DATASET_NAMES, DataController } from './data.mjs';
import { BeforeAfterController } from './before-after.mjs';

/** Presets the page offers besides the core's own (keras, pytorch, mlp). */
export const PRESETS_IN_PAGE = {
  small: 'input 28x28x1\nconv2d 8 5x5 relu\nmaxpool 2\nconv2d 16 5x5 relu\nmaxpool 2\nflatten\ndense 10',
};

/** Runs one training run at a time in the training worker and reports it to the views. */
export class TrainController {
  /** @param {import('../runtime.mjs').Runtime} rt */
  constructor(rt) {
    this.rt = rt;
    this.run = null; // {owner, epochs, stepsPerEpoch} while a run is on
  }

  connect({ trainer }) {
    if (!trainer) return; // a new prediction worker
    trainer.on('progress', (p) => {
      if (!this.run) return;
      this.run.stepsPerEpoch = p.stepsPerEpoch;
      this.rt.emit('train:progress', { ...p, owner: this.run.owner });
    });
    trainer.on('epoch', (e) => this.run && this.rt.emit('train:epoch', { ...e, owner: this.run.owner }));
    trainer.on('paused', () => {
      if (!this.run || !this.rt.state.paused) return;
      this.rt.status('Paused. Resume or stop (stopping keeps the model trained so far).', 'info', 'train');
      this.rt.emit('train:paused', { owner: this.run.owner });
    });
    trainer.on('snapshot', (s) => this._snapshot(s));
    trainer.on('histograms', (h) => this.run && this.rt.emit('train:histograms', { ...h, owner: this.run.owner }));
  }

  /** Asks the core whether spec text is valid. @param {string} spec @returns {Promise<object>} model info */
  async validateSpec(spec) {
    try {
      return await this.rt.workers.trainer.call('validateSpec', { spec });
    } finally {
      this.rt.checkMemorySoon(); // building a model to check it may have grown the heap
    }
  }

  /** @param {string} name a preset @returns {Promise<string>} its spec text */
  async presetSpec(name) {
    return PRESETS_IN_PAGE[name] ?? (await this.validateSpec(name)).spec;
  }

  /**
   * Trains; the result becomes the current model.
   * @param {object} o
   * @param {string} o.dataset a data set choice (data.mjs DATASET_NAMES)
   * @param {'new'|'current'} o.from a new model from o.spec, or fine-tune the current one
   * @param {string[]} [o.freeze] layers kept fixed (fine-tuning)
   * @param {string} [o.spec] architecture (from 'new') @param {string} [o.architecture] its name for the label
   * @param {number} o.seed @param {object} o.fit Model.fit options
   * @param {number} [o.workers=1] threads computing each batch (data-parallel; the same seed and count give the
   *   same weights)
   * @param {*} [o.owner] the widget starting the run
   * @param {() => Promise<void>} [o.check] runs first, inside the run (e.g. the view's architecture check)
   * @returns {Promise<{bytes, info, history, stopped, label, diverged?}>} throws when training did not
   *   complete; diverged: {message} when a step diverged (the last good weights are offered, not made current)
   */
  async start({ dataset, from, freeze = [], spec, architecture = 'custom architecture', seed, workers = 1, fit, owner = null, check }) {
    const { rt } = this;
    rt.guard('train');
    rt.setActivity('training', owner);
    this.run = { owner, epochs: fit.epochs, stepsPerEpoch: 1, workers };
    const measured = BeforeAfterController.applies({ dataset, from }); // a fine-tune on drawings: before / after
    let failure;
    try {
      await check?.();
      if (DataController.usesMnist(dataset)) await rt.data.ensureMnist(['train', 'test']);
      else if (measured) await rt.data.ensureMnist(['test']);
      if (measured) await rt.beforeAfter.before(DATASET_NAMES[dataset]);
      // Stop or Pause clicked before the worker trains (while checking, downloading or measuring)
      if (this.run.stopRequested) throw new Error('stopped before training began; the model is unchanged');
      rt.emit('train:start', { owner, epochs: fit.epochs });
      rt.status('Training…', 'busy', 'train');
      const result = await rt.workers.trainer.call('train', { dataset, from, freeze, spec, seed, workers, fit, paused: rt.state.paused });
      const n = result.history?.epochs.length ?? 0;
      const frozen = freeze.length ? `, ${freeze.join(' + ')} frozen` : '';
      const run = result.diverged ? `${DATASET_NAMES[dataset]}${frozen} (diverged: the last good weights)`
        : `${DATASET_NAMES[dataset]}, ${n} epoch${n === 1 ? '' : 's'}${frozen}${result.stopped ? ' (stopped)' : ''}`;
      result.label = from === 'current'
        ? `fine-tuned on ${run}, from ${rt.state.model.label.replace(/^fine-tuned on .*?, from /, '')}`
        : `trained here: ${architecture}, ${run}`;
      if (result.diverged) {
        if (measured) rt.beforeAfter.ended('diverged', '');
        return this._diverged(result, owner);
      }
      const kept = { source: from === 'current' ? 'fine-tuned' : 'trained', history: result.history, run: true };
      if (from === 'current' && result.stopped) {
        if (measured) rt.beforeAfter.ended('stopped', '');
        return await this._stoppedFineTune(result, kept, owner);
      }
      await rt.models.commit(result.bytes, result.info, result.label, kept);
      if (measured) await rt.beforeAfter.after(owner, result.stopped);
      if (rt.state.rescued) {
        rt.state.rescued = null; // a newer model is current: the weights of an older diverged run go
        rt.emit('rescued', { rescued: null });
      }
      const last = result.history.epochs[n - 1];
      rt.status(result.stopped
        ? `Stopped in epoch ${last?.epoch ?? 1}: the model trained so far is now the current model.`
        : `Training finished: training accuracy ${(100 * (last?.accuracy ?? 0)).toFixed(1)}%` +
          `${last?.valAccuracy !== undefined ? `, validation ${(100 * last.valAccuracy).toFixed(1)}%` : ''}.`, 'info', 'train');
      rt.emit('train:done', { owner, history: result.history, stopped: result.stopped, label: result.label });
      return result;
    } catch (e) {
      failure = e;
      if (measured) rt.beforeAfter.ended('failed', e.message);
      // the prediction worker may hold a snapshot of the abandoned model: give it the current one back
      await rt.predict.setModel(rt.state.model.bytes.slice(), rt.predict.currentNote()).catch(() => {});
    } finally {
      this.run = null;
      rt.setActivity(null);
    }
    // said once the page can act again (a refused start can be corrected and retried at once)
    rt.status(`Training did not complete: ${failure.message}`, 'error', 'train');
    rt.emit('train:failed', { owner, error: failure });
    throw failure;
  }

  /**
   * A fine-tune stopped before its end: it is kept in the library, and the model it started from stays current
   * (in the training worker too).
   */
  async _stoppedFineTune(result, kept, owner) {
    const { rt } = this;
    await rt.workers.trainer.call('setModel', { bytes: rt.state.model.bytes.slice() });
    await rt.predict.setModel(rt.state.model.bytes.slice(), rt.predict.currentNote()).catch(() => {});
    const id = await rt.library.add(result.bytes, result.info, result.label, { ...kept, current: false });
    rt.status('Fine-tuning stopped: the model it started from stays current' +
      `${id === null ? '' : '; the partly fine-tuned one is kept in the model library'}.`, 'info', 'train');
    rt.emit('train:done', { owner, history: result.history, stopped: true, label: result.label, kept: false });
    return { ...result, kept: false };
  }

  /**
   * A run whose step made the loss or the weights non-finite: the core undid that step, so the weights before
   * it are kept for the user (state.rescued) and the current model stays as it was.
   */
  async _diverged(result, owner) {
    const { rt } = this;
    const { stepsDone } = result.diverged;
    // weights after no step are the starting ones: nothing to keep
    rt.state.rescued = stepsDone > 0 ? { bytes: result.bytes, info: result.info, label: result.label } : null;
    const message = `Training diverged: ${result.diverged.message}. ` + (stepsDone > 0
      ? `The weights after the ${stepsDone.toLocaleString('en-US')} good step${stepsDone === 1 ? '' : 's'} before it are kept: ` +
        'use or download them below; the current model is unchanged.'
      : 'It happened at the first step, so nothing was learned; the current model is unchanged.');
    rt.status(message, 'error', 'train');
    await rt.predict.setModel(rt.state.model.bytes.slice(), rt.predict.currentNote()).catch(() => {});
    rt.emit('rescued', { rescued: rt.state.rescued });
    rt.emit('train:diverged', { owner, message });
    return result;
  }

  /** Pauses (true) or resumes (false) the run. @param {boolean} paused */
  async setPaused(paused) {
    const { rt } = this;
    if (!this.run) return;
    rt.state.paused = paused;
    rt.emit('activity', { activity: rt.state.activity, owner: rt.state.owner, paused });
    await rt.workers.trainer.call(paused ? 'pause' : 'resume');
    if (!paused) rt.status('Training…', 'busy', 'train');
  }

  /** Stops the run after its current step (the model trained so far becomes current). */
  async stop() {
    if (!this.run) return;
    this.run.stopRequested = true; // if the worker is not training yet, the run ends before it begins
    this.rt.status('Stopping after the current step…', 'busy', 'train');
    await this.rt.workers.trainer.call('stop');
  }

  async _snapshot(s) {
    if (!this.run) return;
    try {
      await this.rt.predict.setModel(s.bytes, `Predicting with the model in training (epoch ${s.epoch}, step ${s.step}/${s.stepsPerEpoch}).`);
    } catch (e) {
      this.rt.predict.noteError(`Snapshot not usable: ${e.message}`);
    }
  }
}
