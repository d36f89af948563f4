/**
 * train-view.mjs - the training card of one widget: architecture (preset, layer editor, spec text checked by
 * the core), hyper-parameters, fine-tuning with frozen layers, start / pause / stop, progress and live charts.
 */
import { LayerEditor } from '../layer-editor.mjs';
import { LineChart, drawHistogram } from '../charts.mjs';
import { adaptSpec } from '../spec.mjs';
import { parts, setEnabled, ErrorSlot, fieldError, download } from './dom.mjs';

const SMOOTHING = 0.9; // exponential moving average of the per-batch curves
const FORM_FIELDS = ['train-from', 'preset', 'optimizer', 'lr', 'schedule', 'batch', 'epochs', 'limit', 'val-split', 'seed', 'workers', 'augment'];
/** Training threads a page starts with: one per core, at most this many. */
export const MAX_DEFAULT_WORKERS = 4;
const ADVANCED_FIELDS = ['momentum', 'nesterov', 'weight-decay', 'decoupled', 'warmup'];

/** @returns {number} the training threads a form starts with: one per core of this computer, capped */
export function defaultWorkers() {
  const cores = globalThis.navigator?.hardwareConcurrency;
  return Math.max(1, Math.min(MAX_DEFAULT_WORKERS, Number.isInteger(cores) ? cores : 1));
}

/** The training card of one widget. */
export class TrainView {
  /**
   * @param {HTMLElement} root the card @param {import('../runtime.mjs').Runtime} rt
   * @param {object} [o]
   * @param {*} [o.owner] the widget, for the runtime's activity and the runs it starts
   * @param {() => string} [o.dataset] the data set choice (the data card's, or fixed)
   * @param {(result: object) => Promise<object|null>} [o.afterTraining] e.g. evaluate the trained model;
   *   resolves with the evaluation (its accuracy goes into the 'done' event)
   * @param {TrainDefaults} [o.defaults] the form's starting values
   */
  constructor(root, rt, { owner = null, dataset = () => 'mnist', afterTraining = async () => null, defaults = {} } = {}) {
    this.rt = rt;
    this.owner = owner;
    this.dataset = dataset;
    this.afterTraining = afterTraining;
    this.$ = parts(root);
    this._specTimer = 0;
    this._specSeq = 0;
    this._ema = null;
    this._stepsPerEpoch = 1;
    this._starting = false;  // this view is between the click and the run's start (checking the architecture)
    this._specReady = false; // the editor holds a preset checked by the core
    this._fresh = false;     // the run started by this view has not reported progress yet (charts still old)
    this._newSpec = null;    // while the editor shows the current model (fine-tuning): the new model's spec text
    const $ = this.$;
    this.error = new ErrorSlot($('train-error'), rt, 'train', owner);

    this.editor = new LayerEditor({ list: $('layer-editor'), textarea: $('spec-text'), onChange: () => this.specEdited() });
    this.lossChart = new LineChart($('chart-loss'), { yMin: 0, format: (v) => v.toFixed(2) });
    this.accChart = new LineChart($('chart-accuracy'), { yMax: 1, format: (v) => `${Math.round(v * 100)}%` });
    for (const chart of [this.lossChart, this.accChart]) {
      chart.setSeries([
        { name: 'training, per batch (smoothed)', color: '--series-1', width: 1.5 },
        { name: 'training, per epoch', color: '--series-2', dots: true, width: 2 },
        { name: 'validation, per epoch', color: '--series-3', dots: true, width: 2 },
      ]);
    }

    $('preset').addEventListener('change', (e) => this.presetChanged(e.target.value));
    $('optimizer').addEventListener('change', (e) => {
      // follow the optimizer's usual learning rate unless the user typed their own
      const lr = $('lr');
      if (['0.002', '0.05'].includes(lr.value)) lr.value = e.target.value === 'sgd' ? '0.05' : '0.002';
    });
    $('train-from').addEventListener('change', () => this.startChanged());
    $('optimizer').addEventListener('change', () => this.updateControls());
    $('weight-decay').addEventListener('input', () => this.updateControls());
    $('train-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.start();
    });
    $('train-pause').addEventListener('click', () => this.rt.train.setPaused(!this.rt.state.paused));
    $('train-stop').addEventListener('click', () => this.rt.train.stop());
    // a change of the form may fix what the last start was refused for
    for (const type of ['input', 'change']) $('train-form').addEventListener(type, () => this.error.clear());
    $('rescue-use').addEventListener('click', () => this.useRescued());
    $('skip-editor').addEventListener('click', (e) => {
      e.preventDefault(); // also inside a shadow root, where #fragments do not reach
      $('hyper').focus();
    });
    $('rescue-download').addEventListener('click', () => this.downloadRescued());

    const mine = (fn) => (e) => { if (e.owner === this.owner) fn(e); };
    this._off = [
      rt.on('activity', () => this.updateControls()),
      rt.on('ready', () => this.updateControls()),
      rt.on('model', ({ model }) => {
        this.showFreezeLayers(model.info.layers);
        if (this.fromCurrent) this.showCurrentSpec();
      }),
      rt.on('trainerReady', () => this._init()),
      rt.on('train:start', mine((e) => this._runStarted(e))),
      rt.on('train:progress', mine((p) => this._progress(p))),
      rt.on('train:epoch', mine((e) => this._epoch(e))),
      rt.on('train:paused', mine(() => this.progressText('Paused.'))),
      rt.on('train:histograms', mine((h) => this.showHistograms(h))),
      rt.on('rescued', ({ rescued }) => this.showRescued(rescued)),
    ];
    /** resolves when the form holds an architecture the core has checked (training can start) */
    this.initialized = new Promise((resolve, reject) => {
      this._initialized = resolve;
      rt.whenTrainerReady().catch(reject);
    });
    $('workers').value = String(defaultWorkers());
    this.applyDefaults(defaults);
    if (rt.state.model) this.showFreezeLayers(rt.state.model.info.layers);
    if (rt.state.trainerReady) this._init();
    this.updateControls();
  }

  /**
   * @typedef {object} TrainDefaults the train form's starting values (a widget's attributes)
   * @property {string} [preset] keras, pytorch, mlp or small @property {string} [spec] spec text (instead of a preset)
   * @property {number} [epochs] @property {number} [limit] training images @property {number} [batch]
   * @property {number} [validationSplit] @property {number} [lr] @property {'adam'|'sgd'} [optimizer]
   * @property {'new'|'current'} [from] @property {number} [seed] @property {number} [workers] training threads
   *   (default: the number of cores, at most MAX_DEFAULT_WORKERS)
   */
  /** @param {TrainDefaults} d */
  applyDefaults(d) {
    const { $ } = this;
    const fields = { epochs: 'epochs', limit: 'limit', batch: 'batch', validationSplit: 'val-split', lr: 'lr', seed: 'seed', workers: 'workers' };
    for (const [k, id] of Object.entries(fields)) if (d[k] !== undefined && d[k] !== null) $(id).value = String(d[k]);
    if (d.optimizer) $('optimizer').value = d.optimizer;
    if (d.from) $('train-from').value = d.from;
    if (d.spec) {
      this._defaultSpec = d.spec;
      $('preset').value = 'custom';
    } else if (d.preset && [...$('preset').options].some((o) => o.value === d.preset)) {
      $('preset').value = d.preset;
    }
  }

  destroy() {
    for (const off of this._off) off();
  }

  async _init() {
    if (this._specReady) return;
    if (this._defaultSpec) {
      this.editor.setText(this._defaultSpec);
      await this.validate();
    } else {
      await this.presetChanged(this.$('preset').value);
    }
    this._specReady = true;
    if (this.fromCurrent) this.showCurrentSpec();
    this.updateControls();
    this._initialized();
  }

  // ---- architecture ----

  specEdited() {
    this.$('preset').value = 'custom';
    this.validateSoon();
  }

  validateSoon() {
    this.specCheck('Checking…', '');
    clearTimeout(this._specTimer);
    this._specTimer = setTimeout(() => this.validate(), 250);
  }

  /** Asks the core whether the spec text is valid; shows its verdict. @returns {Promise<boolean>} */
  async validate() {
    const seq = ++this._specSeq;
    try {
      const info = await this.rt.train.validateSpec(this.editor.text);
      if (seq !== this._specSeq) return true;
      this.editor.showShapes(info.layers);
      const cost = info.flopsPerImage ? `, ${flops(info.flopsPerImage)} per image` : '';
      this.specCheck(`Valid: ${info.paramCount.toLocaleString('en-US')} parameters, ${info.inputShape.join('×')} → ${info.classes} classes${cost}.`, 'ok');
      this.rt.clearStatus('spec'); // the error the status line showed is fixed
      return true;
    } catch (e) {
      if (seq !== this._specSeq) return false;
      this.editor.showShapes(null);
      this.specCheck(e.message, 'error');
      this.rt.status(`Architecture: ${e.message}`, 'error', 'spec');
      return false;
    }
  }

  async presetChanged(name) {
    if (name === 'custom') return;
    this.specCheck('Checking…', '');
    let text;
    try {
      text = await this.rt.train.presetSpec(name);
    } catch (e) {
      this.rt.status(`Preset ${name}: ${e.message}`, 'error', 'spec');
      return;
    }
    const [shape, classes] = this.rt.data.shape(this.dataset());
    this.editor.setText(adaptSpec(text, shape, classes) ?? text);
    this.$('preset').value = name;
    await this.validate();
  }

  /** The data set choice changed: adapt the architecture to its shape and classes. @param {string} choice */
  datasetChanged(choice) {
    const [shape, classes] = this.rt.data.shape(choice);
    if (this.fromCurrent) {
      // the editor shows the current model; the new-model text it keeps aside follows the data set
      if (this._newSpec !== null) this._newSpec = adaptSpec(this._newSpec, shape, classes) ?? this._newSpec;
      return;
    }
    const adapted = adaptSpec(this.editor.text, shape, classes);
    if (adapted && adapted !== this.editor.text) {
      this.editor.setText(adapted);
      this.$('preset').value = 'custom';
      this.validateSoon();
      this.rt.status(`Architecture adapted to the data set: input ${shape.join('x')}, ${classes} classes.`, 'info', 'spec');
    }
  }

  /** @returns {string} the architecture of a new model (the editor's text, kept aside while fine-tuning) */
  get architectureText() {
    return this._newSpec ?? this.editor.text;
  }

  /** @returns {boolean} whether the form fine-tunes the current model */
  get fromCurrent() {
    return this.$('train-from').value === 'current';
  }

  /** "Start from" changed: the editor shows the current model's layers, or the new model's spec again. */
  startChanged() {
    if (this.fromCurrent) {
      this.showCurrentSpec();
    } else if (this._newSpec !== null) {
      const text = this._newSpec;
      this._newSpec = null;
      this.editor.setText(text);
      this.validate();
    }
    this.updateControls();
  }

  /**
   * Fine-tuning keeps the current model's layers: the (disabled) editor shows them, and the new model's spec
   * waits aside until "a new model" is chosen again. An architecture error no longer applies.
   */
  showCurrentSpec() {
    const model = this.rt.state.model;
    if (!model || !this._specReady) return;
    this._newSpec ??= this.editor.text;
    this._specSeq++; // a check of the new model's text still under way no longer applies
    clearTimeout(this._specTimer);
    this.editor.setText(model.info.spec);
    this.editor.showShapes(model.info.layers);
    this.specCheck(`The current model's layers (${model.info.paramCount.toLocaleString('en-US')} parameters): ` +
      'fine-tuning keeps them. Choose "a new model" above to edit an architecture.', '');
    this.rt.clearStatus('spec');
  }

  /**
   * Whether the current model can be fine-tuned on the data set chosen; if not, the error is put on the
   * "Start from" field (the architecture is the current model's own). @returns {boolean}
   */
  checkCurrentFits() {
    const info = this.rt.state.model?.info;
    if (!info) return true;
    const dataset = this.dataset();
    const [shape, classes] = this.rt.data.shape(dataset);
    let why = '';
    if (info.inputShape.join() !== shape.join()) {
      why = `The current model takes ${info.inputShape.join('×')} images, but the data set has ${shape.join('×')} images`;
    } else if (info.classes < classes) {
      why = `The current model outputs ${info.classes} classes, but the data set has ${classes}`;
    }
    if (!why) return true;
    const message = `${why}: choose "a new model" here to train one for it, or another data set.`;
    fieldError(this.$('train-from'), message, () => this.rt.clearStatus('train-form'));
    this.rt.status(message, 'error', 'train-form');
    this.$('train-from').focus();
    return false;
  }

  /** @param {string} text @param {'ok'|'error'|''} kind */
  specCheck(text, kind) {
    const el = this.$('spec-check');
    el.textContent = text;
    el.classList.toggle('error', kind === 'error');
  }

  // ---- training ----

  async start() {
    const { rt } = this;
    if (this._starting) return;
    this.error.clear();
    if (!rt.allows('train')) {
      this.error.show(rt.refusal('train'));
      return;
    }
    let form;
    try {
      form = this.readForm();
    } catch (e) {
      if (!e.field) throw e;
      fieldError(e.field, e.message, () => rt.clearStatus('train-form'));
      rt.status(e.message, 'error', 'train-form');
      e.field.focus();
      return;
    }
    if (form.from === 'current' && !this.checkCurrentFits()) return;
    let result = null;
    this._starting = true;
    this._fresh = true;
    try {
      result = await rt.train.start({
        ...form,
        spec: this.architectureText,
        architecture: this.$('preset').value === 'custom' ? 'custom architecture' : this.$('preset').value,
        owner: this.owner,
        check: async () => {
          if (form.from === 'new' && !(await this.validate())) {
            throw new Error(`Architecture: ${this.editor.text.trim() ? 'see the message below the editor' : 'empty'}`);
          }
        },
      });
    } catch (e) {
      // the controller has said so in the status line; here it goes next to the Train button
      this.error.show(e.name === 'BusyError' ? e.message : `Training did not complete: ${e.message}`, { status: false });
      if (!this._fresh) this.progress(0, '');
      else this.progressText('');
    } finally {
      this._starting = false;
      this.updateControls();
    }
    if (!result) return;
    if (result.diverged) {
      this.error.show(rt.state.status.text, { status: false });
      this.progressText('Diverged.');
      this.owner?.dispatch?.('done', { stopped: false, diverged: true, label: result.label, epochs: [], testAccuracy: null });
      return;
    }
    if (result.stopped) this.progressText(result.kept === false ? 'Stopped: the model it started from stays current.' : 'Stopped.');
    else this.progress(1, 'Done.');
    // a stopped fine-tune changed nothing current: nothing new to evaluate
    const evaluation = result.kept === false ? null : await this.afterTraining(result);
    this.owner?.dispatch?.('done', {
      stopped: result.stopped, diverged: false, label: result.label, epochs: result.history.epochs,
      testAccuracy: evaluation?.accuracy ?? null,
    });
  }

  /** Starts training with the form as it is (a widget's start()). */
  train() {
    return this.start();
  }

  _runStarted() {
    this.progressText('Starting…');
  }

  /** The run really trains: only now do the previous run's charts give way. */
  _clearCharts(epochs) {
    this._fresh = false;
    this.lossChart.clear(epochs);
    this.accChart.clear(epochs);
    this._ema = null;
    this.chartSummary('', '');
  }

  _progress(p) {
    if (this._fresh) this._clearCharts(p.epochs);
    this.owner?.dispatch?.('progress', {
      epoch: p.epoch, epochs: p.epochs, step: p.step, stepsPerEpoch: p.stepsPerEpoch, loss: p.loss, accuracy: p.accuracy,
      imagesPerSecond: p.imagesPerSecond, etaSeconds: p.etaSeconds, fraction: p.imagesDone / p.imagesTotal,
    });
    this._stepsPerEpoch = p.stepsPerEpoch;
    const x = p.epoch - 1 + p.step / p.stepsPerEpoch;
    const ema = this._ema;
    this._ema = ema
      ? { n: ema.n + 1, loss: SMOOTHING * ema.loss + (1 - SMOOTHING) * p.loss, acc: SMOOTHING * ema.acc + (1 - SMOOTHING) * p.accuracy }
      : { n: 1, loss: (1 - SMOOTHING) * p.loss, acc: (1 - SMOOTHING) * p.accuracy };
    const debias = 1 - SMOOTHING ** this._ema.n;
    const loss = this._ema.loss / debias, acc = this._ema.acc / debias;
    this.lossChart.add(0, x, loss);
    this.accChart.add(0, x, acc);
    this.chartSummary(`batch ${loss.toFixed(3)}`, `batch ${(100 * acc).toFixed(1)}%`);
    if (this.rt.state.paused) return;
    const workers = this.rt.train.run?.workers ?? 1;
    this.progress(p.imagesDone / p.imagesTotal,
      `Epoch ${p.epoch}/${p.epochs} · step ${p.step}/${p.stepsPerEpoch} · ${Math.round(p.imagesPerSecond).toLocaleString('en-US')} images/s` +
      `${workers > 1 ? ` on ${workers} workers` : ''} · ` +
      `${duration(p.etaSeconds)} left`);
  }

  _epoch(e) {
    if (this._fresh) this._clearCharts(this.rt.train.run?.epochs ?? e.epoch);
    this.owner?.dispatch?.('epoch', {
      epoch: e.epoch, loss: e.loss, accuracy: e.accuracy, valLoss: e.valLoss ?? null, valAccuracy: e.valAccuracy ?? null,
      seconds: e.seconds, complete: e.complete,
    });
    const x = e.epoch - 1 + (e.complete ? 1 : (e.steps ?? 0) / this._stepsPerEpoch);
    this.lossChart.add(1, x, e.loss);
    this.accChart.add(1, x, e.accuracy);
    if (e.valLoss !== undefined) {
      this.lossChart.add(2, x, e.valLoss);
      this.accChart.add(2, x, e.valAccuracy);
    }
    const val = (v, f) => (v === undefined ? '' : `, validation ${f(v)}`);
    this.chartSummary(`epoch ${e.epoch}: ${e.loss.toFixed(3)}${val(e.valLoss, (v) => v.toFixed(3))}`,
      `epoch ${e.epoch}: ${(100 * e.accuracy).toFixed(1)}%${val(e.valAccuracy, (v) => `${(100 * v).toFixed(1)}%`)}`);
  }

  /**
   * Reads and checks the training form.
   * @returns {{dataset: string, from: string, freeze: string[], seed: number, fit: object}} freeze: layer names
   *   to keep fixed (fine-tuning only); fit: the options of Model.fit
   * @throws {Error} naming the field whose value is out of range (e.field: the input)
   */
  readForm() {
    const { $ } = this;
    const num = (id, what, lo, hi, integer) => {
      const raw = $(id).value.trim();
      const v = Number(raw);
      if (raw === '' || !Number.isFinite(v) || v < lo || v > hi || (integer && !Number.isInteger(v))) {
        const e = new Error(`${what}: '${raw}' is not ${integer ? 'an integer' : 'a number'} in ${lo}..${hi}`);
        e.field = $(id);
        throw e;
      }
      return v;
    };
    const from = $('train-from').value;
    const sgd = $('optimizer').value === 'sgd';
    return {
      dataset: this.dataset(),
      from,
      freeze: from === 'current' ? this.freezeNames() : [],
      seed: num('seed', 'Seed', 0, 4294967295, true),
      workers: num('workers', 'Workers', 1, 16, true),
      fit: {
        optimizer: $('optimizer').value,
        lr: num('lr', 'Learning rate', 1e-7, 10, false),
        schedule: $('schedule').value,
        batchSize: num('batch', 'Batch size', 1, 512, true),
        epochs: num('epochs', 'Epochs', 1, 100, true),
        limit: num('limit', 'Training images', 1, 1e7, true),
        validationSplit: num('val-split', 'Validation split', 0, 0.5, false),
        augment: $('augment').checked,
        momentum: sgd ? num('momentum', 'Momentum', 0, 0.999, false) : 0.9,
        nesterov: sgd && $('nesterov').checked,
        weightDecay: num('weight-decay', 'Weight decay', 0, 1, false),
        decoupledWeightDecay: $('decoupled').checked,
        warmupSteps: num('warmup', 'Warm-up steps', 0, 1e6, true),
      },
    };
  }

  // ---- rendering ----

  /** Enables exactly the controls that can act now. */
  updateControls() {
    const { rt, $ } = this;
    const idle = rt.allows('train') && this._specReady && !this._starting;
    const mine = rt.state.activity === 'training' && rt.state.owner === this.owner;
    for (const id of FORM_FIELDS) setEnabled($(id), idle);
    const fromCurrent = this.fromCurrent;
    $('preset').disabled ||= fromCurrent;
    $('freeze-box').hidden = !fromCurrent;
    // fine-tuning keeps the current model's layers: the editor shows them, read-only (showCurrentSpec)
    $('layer-kinds').hidden = fromCurrent;
    $('preset').closest('.field').hidden = fromCurrent;
    for (const box of $('freeze-layers').querySelectorAll('input')) box.disabled = !idle;
    const sgd = $('optimizer').value === 'sgd';
    for (const id of ADVANCED_FIELDS) setEnabled($(id), idle);
    $('momentum').disabled ||= !sgd;
    $('nesterov').disabled ||= !sgd;
    $('decoupled').disabled ||= !(Number($('weight-decay').value) > 0);
    this.editor.setDisabled(!idle || fromCurrent);
    setEnabled($('train-start'), idle);
    setEnabled($('train-pause'), mine);
    setEnabled($('train-stop'), mine);
    $('train-pause').textContent = mine && rt.state.paused ? 'Resume' : 'Pause';
    if (mine && rt.state.paused && !/Paused/.test($('train-progress-text').textContent)) this.progressText('Pausing after this step…');
  }

  /**
   * One "freeze" checkbox per parameter layer of the current model (for fine-tuning); a layer whose name is
   * kept keeps its choice.
   * @param {{name: string, kind: string, params: number}[]} layers
   */
  showFreezeLayers(layers) {
    const list = this.$('freeze-layers');
    const checked = new Set(this.freezeNames());
    list.replaceChildren(...layers.filter((l) => l.params > 0).map((l) => {
      const label = document.createElement('label');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = l.name;
      box.checked = checked.has(l.name);
      box.disabled = this.$('train-from').disabled;
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = l.name;
      const params = document.createElement('span');
      params.className = 'note';
      params.textContent = `${l.params.toLocaleString('en-US')} parameters`;
      label.append(box, 'freeze ', name, params);
      return label;
    }));
  }

  /** @returns {string[]} the layers ticked "freeze" */
  freezeNames() {
    return [...this.$('freeze-layers').querySelectorAll('input:checked')].map((b) => b.value);
  }

  /** Per-layer histograms of the weights and of their change (train:histograms). */
  showHistograms({ layers }) {
    const box = this.$('histograms');
    if (!this.$('hist-box').open) return;
    const key = layers.map((l) => l.name).join();
    if (box.dataset.layers !== key) {
      box.dataset.layers = key;
      box.replaceChildren(...layers.map((l) => {
        const fig = document.createElement('figure');
        fig.className = 'hist';
        fig.dataset.layer = l.name;
        fig.innerHTML = '<figcaption></figcaption><div class="pair"><canvas class="w" role="img"></canvas><canvas class="d" role="img"></canvas></div><p class="range note"></p>';
        fig.querySelector('figcaption').textContent = `${l.name}.weight`;
        return fig;
      }));
    }
    const f = (v) => (Math.abs(v) >= 0.01 || v === 0 ? v.toFixed(2) : v.toExponential(0));
    layers.forEach((l, i) => {
      const fig = box.children[i];
      const [w, d] = fig.querySelectorAll('canvas');
      drawHistogram(w, l.weights, '--series-2');
      w.setAttribute('aria-label', `${l.name} weights from ${f(l.weights.lo)} to ${f(l.weights.hi)}`);
      if (l.change) {
        drawHistogram(d, l.change, '--series-3');
        d.setAttribute('aria-label', `${l.name} ${l.change.kind} from ${f(l.change.lo)} to ${f(l.change.hi)}`);
      }
      fig.querySelector('.range').textContent = `weights ${f(l.weights.lo)} … ${f(l.weights.hi)}` +
        (l.change ? `; ${l.change.kind} ${f(l.change.lo)} … ${f(l.change.hi)}` : '');
    });
  }

  // ---- the last good weights of a diverged run ----

  /** @param {{label: string, info: object}|null} rescued */
  showRescued(rescued) {
    this.$('rescue').hidden = !rescued;
    if (rescued) {
      this.$('rescue-text').textContent = `Kept from the diverged run: ${rescued.info.paramCount.toLocaleString('en-US')} ` +
        'parameters, the weights before the step that diverged.';
    }
  }

  async useRescued() {
    try {
      await this.rt.models.useRescued(this.owner);
      this.error.clear();
    } catch (e) {
      this.error.show(e.message);
    }
  }

  downloadRescued() {
    const r = this.rt.state.rescued;
    if (r) download(r.bytes, 'digits-model-diverged-last-good.safetensors');
  }

  /** @param {number} fraction @param {string} text */
  progress(fraction, text) {
    this.$('train-progress').value = fraction;
    this.progressText(text);
  }

  /** @param {string} text */
  progressText(text) {
    this.$('train-progress-text').textContent = text;
  }

  chartSummary(loss, accuracy) {
    this.$('loss-summary').textContent = loss;
    this.$('accuracy-summary').textContent = accuracy;
  }
}

/** @param {number} n floating-point operations @returns {string} e.g. '23 MFLOP' */
function flops(n) {
  const [v, unit] = n >= 1e9 ? [n / 1e9, 'GFLOP'] : n >= 1e6 ? [n / 1e6, 'MFLOP'] : [n / 1e3, 'kFLOP'];
  return `${v >= 10 ? Math.round(v) : v.toFixed(1)} ${unit}`;
}

function duration(seconds) {
  if (!Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 3600) return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}
