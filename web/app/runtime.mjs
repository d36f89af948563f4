/**
 * runtime.mjs - what the widgets of one page share: one prediction worker and one training worker (each with
 * its own instance of the core), one state object (the current model, the loaded data sets, the user's
 * drawings, what is running), the feature controllers that change it, and the page's storage scope.
 *
 * Creating a runtime starts nothing: the workers are created by start(), which is idempotent. Views (one set
 * per widget) call the controllers and follow the state through events; every widget of a page uses the same
 * runtime (sharedRuntime()), so they share one data set download, one set of workers, and one writer of the
 * page's records in IndexedDB.
 *
 * Controllers (controllers/*.mjs): predict, models, library, data, drawings, train, evaluation, beforeAfter,
 * transfer.
 *
 * Events (on(topic, fn) returns a function that unsubscribes):
 *   'status'        {text, kind: 'info'|'busy'|'error', source}   the page-wide status line
 *   'build'         {build, forced}                               the core is loaded ('simd' or 'scalar')
 *   'ready'         {}                                            a model answers predictions
 *   'trainerReady'  {}                                            training and evaluation can start
 *   'activity'      {activity, owner, paused}                     what the training worker does (busy-policy.mjs)
 *   'model'         {model}                                       the current model changed
 *   'library'       {entries, currentId, kept}                    the model library changed (library.mjs)
 *   'predictModel'  {info, note, drawable, error}                 the model answering predictions changed
 *   'samples'       {count, held, deferred}                       the user's drawings changed (held: held out)
 *   'rescued'       {rescued}                                     last good weights of a diverged run (or null)
 *   'report'        {report}                                      a fine-tune on drawings, before / after
 *   'data'          {mnist, custom}                               a data set was loaded
 *   'dataProgress'  {loaded, total, unpacking} | null             MNIST download (null: finished)
 *   'train:start', 'train:progress', 'train:epoch', 'train:paused', 'train:done', 'train:failed'  (train.mjs)
 *   'eval:start', 'eval:progress', 'eval:done', 'eval:reset', 'eval:failed'                      (evaluation.mjs)
 */
import { WorkerClient } from './worker-client.mjs';
import { ScopedStorage } from './storage.mjs';
import { refusal, BUSY_STATUS } from '../shared/busy-policy.mjs';
import { heapTooLarge } from '../shared/memory.mjs';
import { PredictController } from './controllers/predict.mjs';
import { ModelsController } from './controllers/models.mjs';
import { LibraryController } from './controllers/library.mjs';
import { DataController } from './controllers/data.mjs';
import { DrawingsController } from './controllers/drawings.mjs';
import { TrainController } from './controllers/train.mjs';
import { EvaluationController } from './controllers/evaluation.mjs';
import { BeforeAfterController } from './controllers/before-after.mjs';
import { TransferController } from './controllers/transfer.mjs';

const MEMORY_CHECK_MS = 1500; // idle time before the workers' heaps are looked at

/** An action refused by the busy policy (or because the page is still starting). */
export class BusyError extends Error {
  constructor(message) {
    super(message);
    this.name = 'BusyError';
    this.status = BUSY_STATUS;
  }
}

/** The one state object the controllers share. Views read it; only controllers change it. */
function createState() {
  return {
    build: '',             // 'simd' | 'scalar' once the core is loaded
    ready: false,          // the prediction worker has a model
    trainerReady: false,   // the training worker has the current model
    activity: 'loading',   // what the training worker does (shared/busy-policy.mjs), null when idle
    owner: null,           // the widget whose action is the activity (views say "in another widget")
    paused: false,         // a training run is paused
    model: null,           // the current model: {bytes, label, info, id} (id: its library entry, null if none)
    library: null,         // the model library: {entries, currentId, kept} (controllers/library.mjs)
    predict: { info: null, note: '', drawable: true, error: false }, // the model answering predictions
    mnist: {},             // loaded MNIST splits: {train?, test?} summaries {count, height, width, ...}
    custom: null,          // IDX data set from disk: {train, test} summaries
    samples: [],           // the user's drawings [{key, pixels: Uint8Array(784), label, heldOut}] (drawings.mjs)
    evaluation: null,      // the last evaluation (labels, predicted, confidence, metrics, dataset)
    rescued: null,         // the last good weights of a diverged run: {bytes, info, label}
    beforeAfter: null,     // the last fine-tune on drawings, measured before and after (before-after.mjs)
    status: { text: '', kind: 'info', source: '' },
  };
}

/** The workers, state, controllers and storage scope that the widgets of a page share (see the file's header). */
export class Runtime {
  /**
   * @param {object} [o]
   * @param {'auto'|'simd'|'scalar'} [o.variant='auto'] build of the core ('auto': SIMD where supported)
   * @param {string|false} [o.storage='studio'] the IndexedDB scope this page owns, or false to keep nothing
   * @param {string|URL} [o.base] the folder of the site (index.html, build/, data/); default: this file's ../..
   */
  constructor({ variant = 'auto', storage = 'studio', base } = {}) {
    this.options = { variant, base: new URL(base ?? '../', import.meta.url) };
    this.state = createState();
    this.storage = storage ? new ScopedStorage(storage) : null;
    this.workers = null;
    this._topics = new Map();
    this._started = null;
    this._trainerReady = null;
    this.predict = new PredictController(this);
    this.models = new ModelsController(this);
    this.library = new LibraryController(this);
    this.data = new DataController(this);
    this.drawings = new DrawingsController(this);
    this.train = new TrainController(this);
    this.evaluation = new EvaluationController(this);
    this.beforeAfter = new BeforeAfterController(this);
    this.transfer = new TransferController(this);
  }

  /** A URL inside the site. @param {string} path e.g. 'build/pretrained.safetensors' */
  url(path) {
    return new URL(path, this.options.base);
  }

  /**
   * Starts the workers and loads the current model (once; later calls return the same promise).
   * @returns {Promise<void>} resolves when the page can predict (training starts a moment later:
   *   whenTrainerReady())
   */
  start() {
    this._started ??= this._start().catch((e) => {
      if (this.state.status.kind !== 'error') this.status(`The page could not start: ${e.message}`, 'error', 'start');
      throw e;
    });
    return this._started;
  }

  /** @returns {Promise<void>} resolves when training and evaluation can start */
  whenTrainerReady() {
    return this.start().then(() => this._trainerReady);
  }

  /** A new worker of a kind ('predict' or 'train'), its events wired to the controllers (connect({role: w})). */
  _worker(kind) {
    const w = new WorkerClient(this.url(`worker-${kind}.mjs`), kind);
    w.on('error', (e) => this.status(e.message, 'error', 'worker'));
    const role = kind === 'predict' ? 'predictor' : 'trainer';
    for (const c of [this.predict, this.models, this.data, this.drawings, this.train, this.evaluation, this.transfer]) c.connect?.({ [role]: w });
    return w;
  }

  async _start() {
    const { variant } = this.options;
    const predictor = this._worker('predict');
    const trainer = this._worker('train');
    this.workers = { predictor, trainer };
    this.status('Loading the model…', 'busy', 'start');

    const predictorReady = predictor.call('init', { variant });
    // the training worker loads its core after the prediction worker: first things first on a small CPU
    const trainerInit = predictorReady.catch(() => {}).then(() => trainer.call('init', { variant }));
    Promise.all([predictorReady, trainerInit]).then(() => performance.mark('workers'), () => {});
    let warning;
    try {
      this.state.build = (await predictorReady).build;
      this.emit('build', { build: this.state.build, forced: variant === 'scalar' });
      warning = await this.models.restore(trainerInit);
    } catch (e) {
      this.status(`The page could not start: ${e.message}`, 'error', 'start');
      throw e;
    }
    this.state.ready = true;
    performance.mark('ready');
    this.emit('ready', {});
    this.status(warning || 'Ready. Draw a digit.', warning ? 'error' : 'info', 'start');

    this._trainerReady = (async () => {
      try {
        await trainerInit;
        await trainer.call('setModel', { bytes: this.state.model.bytes.slice() });
        await this.drawings.restore();
        this.state.trainerReady = true;
        this.emit('trainerReady', {});
      } catch (e) {
        this.status(`Training is unavailable: ${e.message}`, 'error', 'start');
        throw e;
      } finally {
        this.setActivity(null);
      }
    })();
    this._trainerReady.catch(() => {});
  }

  // ---- the busy policy, page side ----

  /** @param {string} request a training worker request (busy-policy.mjs) @returns {string|null} why not now */
  refusal(request) {
    if (!this.state.ready) return 'The page is still starting: try again in a moment.';
    return refusal(request, this.state.activity);
  }

  /** @param {string} request @returns {boolean} whether the request may run now */
  allows(request) {
    return this.refusal(request) === null;
  }

  /** Throws a BusyError when the request may not run now. @param {string} request */
  guard(request) {
    const why = this.refusal(request);
    if (why) throw new BusyError(why);
  }

  /**
   * Runs an action as the training worker's activity (the policy refuses it first if it may not run now).
   * @param {string} request @param {string} activity @param {*} owner the widget asking
   * @param {() => Promise<T>} fn @returns {Promise<T>} @template T
   */
  async exclusive(request, activity, owner, fn) {
    this.guard(request);
    this.setActivity(activity, owner);
    try {
      return await fn();
    } finally {
      this.setActivity(null);
    }
  }

  /** @param {string|null} activity @param {*} [owner] */
  setActivity(activity, owner = null) {
    this.state.activity = activity;
    this.state.owner = activity ? owner : null;
    if (!activity) this.state.paused = false;
    this.emit('activity', { activity, owner: this.state.owner, paused: this.state.paused });
    if (!activity && this.state.trainerReady) this.checkMemorySoon();
  }

  // ---- memory: a fresh worker instance when a heap has grown far past what it holds ----

  /** @returns {Promise<{predictor: {heap, need}, trainer: {heap, need}}>} each worker's wasm heap (bytes) */
  async memory() {
    const [predictor, trainer] = await Promise.all([this.workers.predictor.call('memory'), this.workers.trainer.call('memory')]);
    return { predictor, trainer };
  }

  /** Checks the workers' heaps once the page has been idle for a moment (after work that may grow them). */
  checkMemorySoon() {
    clearTimeout(this._memoryTimer);
    this._memoryTimer = setTimeout(() => this.checkMemory().catch(() => {}), MEMORY_CHECK_MS);
  }

  /**
   * Replaces each idle worker whose heap is far larger than what it holds (memory.mjs) by a fresh instance
   * holding the same: the current model, and for the training worker the drawings and a data set from disk
   * (MNIST is fetched again when next needed).
   * @returns {Promise<{worker: string, before: number, after: number}[]>} the workers replaced
   */
  async checkMemory() {
    if (this._checking || !this.state.trainerReady) return [];
    this._checking = true;
    const replaced = [];
    try {
      for (const [role, kind] of [['predictor', 'predict'], ['trainer', 'train']]) {
        if (this.state.activity || this.workers[role].pending) continue;
        const { heap, need } = await this.workers[role].call('memory');
        if (!heapTooLarge(heap, need) || this.state.activity) continue;
        replaced.push({ worker: kind, before: heap, after: await this._replace(role, kind) });
      }
    } finally {
      this._checking = false;
    }
    return replaced;
  }

  async _replace(role, kind) {
    if (role === 'trainer') this.setActivity('loading');
    const fresh = this._worker(kind);
    try {
      await fresh.call('init', { variant: this.options.variant });
      // the fresh instance gets the model before it answers anything; the old one ends once it has answered
      await fresh.call('setModel', { bytes: this.state.model.bytes.slice() });
      const old = this.workers[role];
      this.workers[role] = fresh;
      old.retire();
      if (role === 'trainer') {
        this.state.mnist = {};
        await this.drawings.resend();
        await this.data.reloadCustom();
      }
      return (await fresh.call('memory')).heap;
    } catch (e) {
      fresh.terminate();
      throw e;
    } finally {
      if (role === 'trainer') this.setActivity(null);
    }
  }

  // ---- events and status ----

  /** @param {string} topic @param {(data: any) => void} fn @returns {() => void} unsubscribes */
  on(topic, fn) {
    if (!this._topics.has(topic)) this._topics.set(topic, new Set());
    this._topics.get(topic).add(fn);
    return () => this._topics.get(topic)?.delete(fn);
  }

  /** @param {string} topic @param {*} [data] */
  emit(topic, data) {
    for (const fn of [...(this._topics.get(topic) ?? [])]) fn(data);
  }

  /**
   * Sets the page-wide status line.
   * @param {string} text @param {'info'|'busy'|'error'} [kind='info']
   * @param {string} [source] what it is about (e.g. 'spec', 'train'): clearStatus(source) removes it when fixed
   */
  status(text, kind = 'info', source = '') {
    this.state.status = { text, kind, source };
    this.emit('status', this.state.status);
  }

  /** Clears the status line if it still shows a message from source. @param {string} source */
  clearStatus(source) {
    if (this.state.status.source === source && this.state.status.text) this.status('', 'info', '');
  }
}

let shared = null;

/**
 * The page's one runtime, created on first use (with these options; later calls get the same one).
 * @param {ConstructorParameters<typeof Runtime>[0]} [options]
 * @returns {Runtime}
 */
export function sharedRuntime(options) {
  shared ??= new Runtime(options);
  return shared;
}
