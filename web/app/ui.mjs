/**
 * ui.mjs - the page's DOM: finds the elements, wires their events to the handlers main.mjs passes in, and
 * renders state (status, prediction, model, progress, controls). The other DOM modules are the drawing pad
 * (draw.mjs), the charts (charts.mjs), the layer editor and the evaluation view, each handed its elements here.
 */
import { renderInput } from './draw.mjs';
import { LayerEditor } from './layer-editor.mjs';
import { EvaluationView } from './evaluation-view.mjs';

const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`ui: no element #${id}`);
  return el;
};

/** Keys that clear the drawing when no text field has the focus. */
const CLEAR_KEYS = new Set(['Escape', 'Delete', 'Backspace', 'c', 'C']);

/**
 * Wires the page's controls to handlers.
 * @param {Record<string, Function>} h clear, saveSample(label), clearSamples, download, loadModelFile(file),
 *   revert, dropFiles(files), datasetChanged(value), loadMnist, loadIdxFiles(files), presetChanged(value),
 *   trainStart, trainPause, trainStop, evaluate
 */
export function bind(h) {
  $('clear-canvas').addEventListener('click', () => h.clear());
  document.addEventListener('keydown', (e) => {
    if (!CLEAR_KEYS.has(e.key) || e.ctrlKey || e.metaKey || e.altKey || isTextEntry(e.target)) return;
    if (e.key === 'Escape' && document.activeElement?.closest('select, details')) return;
    e.preventDefault();
    h.clear();
  });
  const labelSel = $('sample-label');
  for (let i = 0; i < 10; i++) labelSel.append(new Option(String(i), String(i)));
  $('sample-save').addEventListener('click', () => h.saveSample(Number(labelSel.value)));
  $('samples-clear').addEventListener('click', () => h.clearSamples());
  $('model-download').addEventListener('click', () => h.download());
  onFiles($('model-file'), (files) => h.loadModelFile(files[0]));
  $('model-revert').addEventListener('click', () => h.revert());
  $('dataset').addEventListener('change', (e) => h.datasetChanged(e.target.value));
  $('mnist-load').addEventListener('click', () => h.loadMnist());
  onFiles($('idx-files'), (files) => h.loadIdxFiles(files));
  $('preset').addEventListener('change', (e) => h.presetChanged(e.target.value));
  $('optimizer').addEventListener('change', (e) => {
    // follow the optimizer's usual learning rate unless the user typed their own
    const lr = $('lr');
    if (['0.002', '0.05'].includes(lr.value)) lr.value = e.target.value === 'sgd' ? '0.05' : '0.002';
  });
  $('train-form').addEventListener('submit', (e) => {
    e.preventDefault();
    h.trainStart();
  });
  $('train-pause').addEventListener('click', () => h.trainPause());
  $('train-stop').addEventListener('click', () => h.trainStop());
  $('evaluate').addEventListener('click', () => h.evaluate());

  // drag and drop anywhere on the page
  let depth = 0;
  const hasFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes('Files');
  document.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    depth++;
    document.body.classList.add('dropping');
  });
  document.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (!depth) document.body.classList.remove('dropping');
  });
  document.addEventListener('dragover', (e) => {
    if (hasFiles(e)) e.preventDefault();
  });
  document.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    document.body.classList.remove('dropping');
    h.dropFiles([...e.dataTransfer.files]);
  });
}

function onFiles(input, fn) {
  input.addEventListener('change', () => {
    const files = [...input.files];
    input.value = ''; // the same file can be picked again
    if (files.length) fn(files);
  });
}

function isTextEntry(el) {
  return el instanceof HTMLTextAreaElement || (el instanceof HTMLInputElement && el.type !== 'checkbox') ||
    el instanceof HTMLSelectElement || el?.isContentEditable;
}

// ---- status ----

/** @param {string} text @param {'info'|'busy'|'error'} [kind='info'] */
export function status(text, kind = 'info') {
  const el = $('status');
  el.textContent = text;
  el.className = `status ${kind}`;
}

/** Asks the user to confirm. @param {string} question @returns {boolean} */
export function confirm(question) {
  return window.confirm(question);
}

/** The page can predict. */
export function setReady() {
  document.body.dataset.ready = 'true';
}

/** Shows the notice for the scalar (no SIMD) build. @param {boolean} forced chosen with ?build=scalar */
export function showScalarNotice(forced) {
  const el = $('build-notice');
  if (forced) el.textContent = 'The scalar build of the core is in use (?build=scalar): training is about 3–5× slower.';
  el.hidden = false;
}

// ---- drawing and prediction ----

/** @returns {HTMLCanvasElement} */
export const drawCanvas = () => $('draw-canvas');

/** Builds one bar per class (when the class count changes). @param {number} classes */
export function setClasses(classes) {
  const list = $('probabilities');
  if (list.children.length === classes) return;
  list.classList.toggle('many', classes > 10);
  list.replaceChildren(...Array.from({ length: classes }, (_, i) => {
    const li = document.createElement('li');
    li.dataset.class = String(i);
    li.innerHTML = '<span class="name"></span><span class="track"><span class="fill"></span></span><span class="pct"></span>';
    li.querySelector('.name').textContent = String(i);
    return li;
  }));
}

/** @param {Float32Array|null} probs null: nothing drawn @param {Float32Array|null} input the model's input */
export function showPrediction(probs, input) {
  const list = $('probabilities');
  let best = -1;
  if (probs) best = probs.reduce((b, p, i) => (p > probs[b] ? i : b), 0);
  [...list.children].forEach((li, i) => {
    const p = probs ? probs[i] : 0;
    li.querySelector('.fill').style.transform = `scaleX(${p.toFixed(3)})`;
    setText(li.querySelector('.pct'), probs ? `${(100 * p).toFixed(p < 0.1 ? 1 : 0)}%` : '');
    if (li.classList.contains('best') !== (i === best)) li.classList.toggle('best', i === best);
  });
  list.setAttribute('aria-label', probs ? `Probability of each class; highest: ${best}` : 'Probability of each class');
  setText($('prediction'), probs ? String(best) : '');
  renderInput($('model-input'), input);
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** Marks the shown prediction as older than the drawing (a newer one is on its way). @param {boolean} stale */
export function setPredictionStale(stale) {
  const el = $('prediction');
  if (('pending' in el.dataset) === stale) return;
  el.classList.toggle('stale', stale);
  if (stale) el.dataset.pending = 'true';
  else delete el.dataset.pending;
}

/** @param {string} text @param {boolean} [error] */
export function predictionNote(text, error = false) {
  const el = $('prediction-note');
  setText(el, text);
  if (el.classList.contains('error') !== error) el.classList.toggle('error', error);
}

/** @param {number} count saved drawings */
export function showSampleCount(count) {
  $('sample-count').textContent = count ? `${count} saved drawing${count === 1 ? '' : 's'}` : '';
  $('samples-clear').hidden = count === 0;
}

// ---- model ----

/**
 * @param {{label: string, info: {spec: string, classes: number, inputShape: number[], paramCount: number,
 *   layers: object[]}, build: string}} m
 */
export function showModel({ label, info, build }) {
  const dl = $('model-info');
  const layers = info.layers.filter((l) => ['conv2d', 'dense', 'maxpool', 'avgpool', 'dropout'].includes(l.kind))
    .map((l) => (l.kind === 'conv2d' ? `conv ${l.outputShape[2]}` : l.kind === 'dense' ? `dense ${l.outputShape[2]}` : l.kind))
    .join(' → ');
  const rows = [
    ['Current', label],
    ['Layers', layers],
    ['Parameters', info.paramCount.toLocaleString('en-US')],
    ['Input', `${info.inputShape.join('×')} → ${info.classes} classes`],
    ['Engine', build === 'simd' ? 'WebAssembly SIMD' : 'WebAssembly (scalar)'],
  ];
  dl.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    return [dt, dd];
  }));
  dl.dataset.spec = info.spec;
  dl.dataset.label = label;
  showFreezeLayers(info.layers);
}

/**
 * One "freeze" checkbox per parameter layer of the current model (for fine-tuning); a layer whose name is kept
 * keeps its choice.
 * @param {{name: string, kind: string, params: number}[]} layers
 */
function showFreezeLayers(layers) {
  const list = $('freeze-layers');
  const checked = new Set(freezeNames());
  list.replaceChildren(...layers.filter((l) => l.params > 0).map((l) => {
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = l.name;
    box.checked = checked.has(l.name);
    box.disabled = $('train-from').disabled;
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
function freezeNames() {
  return [...$('freeze-layers').querySelectorAll('input:checked')].map((b) => b.value);
}

/** Saves bytes as a file download. @param {Uint8Array} bytes @param {string} name */
export function download(bytes, name) {
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---- data ----

/** @returns {string} the chosen data set */
export const dataset = () => $('dataset').value;

/** Selects a data set. @param {string} value */
export function selectDataset(value) {
  $('dataset').value = value;
}

/**
 * Updates the data set choices.
 * @param {{custom: {train: object, test: object}|null, customName?: string, samples: number}} o
 */
export function datasetOptions({ custom, samples }) {
  const opts = Object.fromEntries([...$('dataset').options].map((o) => [o.value, o]));
  opts.custom.disabled = !custom;
  opts.custom.textContent = custom
    ? `IDX files from disk (${custom.train.count.toLocaleString('en-US')} training images, ${custom.train.height}×${custom.train.width}×${custom.train.channels}, ${custom.train.classes} classes)`
    : 'IDX files from disk (none loaded)';
  opts.drawings.disabled = samples === 0;
  opts.drawings.textContent = `My drawings (${samples ? samples : 'none'} saved)`;
  opts['mnist+drawings'].disabled = samples === 0;
  if ($('dataset').selectedOptions[0]?.disabled) $('dataset').value = 'mnist';
}

/** @param {number|null} fraction null hides the bar @param {string} [text] */
export function dataProgress(fraction, text = '') {
  $('data-progress-box').hidden = fraction === null;
  if (fraction !== null) $('data-progress').value = fraction;
  $('data-progress-text').textContent = text;
}

/** @param {string} text @param {boolean} [error] */
export function dataInfo(text, error = false) {
  const el = $('data-info');
  el.textContent = text;
  el.classList.toggle('error', error);
}

// ---- training ----

/** @param {(text: string) => void} onChange @returns {LayerEditor} */
export function createLayerEditor(onChange) {
  return new LayerEditor({ list: $('layer-editor'), textarea: $('spec-text'), onChange });
}

/** @returns {string} */
export const preset = () => $('preset').value;
/** @param {string} value */
export function setPreset(value) {
  $('preset').value = value;
}

/** @param {string} text @param {'ok'|'error'|''} kind */
export function specCheck(text, kind) {
  const el = $('spec-check');
  el.textContent = text;
  el.classList.toggle('error', kind === 'error');
}

/**
 * Reads and checks the training form.
 * @returns {{dataset: string, from: string, freeze: string[], seed: number, fit: object}} freeze: layer names
 *   to keep fixed (fine-tuning only); fit: the options of Model.fit
 * @throws {Error} naming the field whose value is out of range
 */
export function readTrainForm() {
  const num = (id, what, lo, hi, integer) => {
    const raw = $(id).value.trim();
    const v = Number(raw);
    if (raw === '' || !Number.isFinite(v) || v < lo || v > hi || (integer && !Number.isInteger(v))) {
      $(id).focus();
      throw new Error(`${what}: '${raw}' is not ${integer ? 'an integer' : 'a number'} in ${lo}..${hi}`);
    }
    return v;
  };
  const from = $('train-from').value;
  const sgd = $('optimizer').value === 'sgd';
  return {
    dataset: $('dataset').value,
    from,
    freeze: from === 'current' ? freezeNames() : [],
    seed: num('seed', 'Seed', 0, 4294967295, true),
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

/** @param {number} fraction @param {string} text */
export function trainProgress(fraction, text) {
  $('train-progress').value = fraction;
  $('train-progress-text').textContent = text;
}

/** Changes the progress text only. @param {string} text */
export function trainProgressText(text) {
  $('train-progress-text').textContent = text;
}

/** @returns {{loss: HTMLCanvasElement, accuracy: HTMLCanvasElement}} */
export const chartCanvases = () => ({ loss: $('chart-loss'), accuracy: $('chart-accuracy') });

/** @param {string} loss @param {string} accuracy */
export function chartSummary(loss, accuracy) {
  $('loss-summary').textContent = loss;
  $('accuracy-summary').textContent = accuracy;
}

/** @param {boolean} paused */
export function setPaused(paused) {
  $('train-pause').textContent = paused ? 'Resume' : 'Pause';
}

// ---- evaluation ----

/** @param {(trueClass: number, predicted: number) => void} onCell @returns {EvaluationView} */
export function createEvaluationView(onCell) {
  return new EvaluationView({
    accuracy: $('test-accuracy'), body: $('eval-body'), confusion: $('confusion'), metrics: $('metrics'),
    galleryTitle: $('gallery-title'), gallery: $('gallery'),
  }, onCell);
}

/** @param {number|null} fraction null hides the bar */
export function evalProgress(fraction) {
  $('eval-progress').hidden = fraction === null;
  if (fraction !== null) $('eval-progress').value = fraction;
}

// ---- what can act now ----

/**
 * Enables exactly the controls that can act in this state.
 * @param {{ready: boolean, training: boolean, busy: boolean, canSaveSample: boolean}} s busy: loading data,
 *   evaluating, loading a model
 * @param {LayerEditor} editor
 */
export function setControls(s, editor) {
  const idle = s.ready && !s.training && !s.busy;
  const set = (id, on) => {
    const el = $(id);
    el.disabled = !on;
    el.closest('label.button')?.classList.toggle('disabled', !on);
  };
  set('clear-canvas', s.ready);
  set('sample-save', s.ready && s.canSaveSample);
  set('model-download', s.ready);
  set('model-file', idle);
  set('model-revert', idle);
  set('dataset', idle);
  set('mnist-load', idle);
  set('idx-files', idle);
  for (const id of ['train-from', 'preset', 'optimizer', 'lr', 'schedule', 'batch', 'epochs', 'limit', 'val-split', 'seed', 'augment']) {
    set(id, idle);
  }
  const fromCurrent = $('train-from').value === 'current';
  $('preset').disabled ||= fromCurrent;
  $('freeze-box').hidden = !fromCurrent;
  for (const box of $('freeze-layers').querySelectorAll('input')) box.disabled = !idle;
  const sgd = $('optimizer').value === 'sgd';
  for (const id of ['momentum', 'nesterov', 'weight-decay', 'decoupled', 'warmup']) set(id, idle);
  $('momentum').disabled ||= !sgd;
  $('nesterov').disabled ||= !sgd;
  $('decoupled').disabled ||= !(Number($('weight-decay').value) > 0);
  editor.setDisabled(!idle || fromCurrent);
  set('train-start', idle);
  set('train-pause', s.training);
  set('train-stop', s.training);
  set('evaluate', idle);
}

/** @returns {string} 'new' or 'current' */
export const trainFrom = () => $('train-from').value;
/** Calls fn when a choice changes which controls apply (start from, optimizer, weight decay). @param {() => void} fn */
export function onTrainOptionsChange(fn) {
  $('train-from').addEventListener('change', fn);
  $('optimizer').addEventListener('change', fn);
  $('weight-decay').addEventListener('input', fn);
}
