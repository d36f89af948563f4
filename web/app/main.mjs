/**
 * main.mjs - orchestration: the page's state and what happens when.
 *
 * Two Web Workers, each with its own instance of the core:
 *   - worker-predict.mjs holds a snapshot of the current model and answers drawing predictions (a few ms);
 *   - worker-train.mjs holds the current model, the data sets, and trains and evaluates.
 * While training, the training worker sends a .safetensors snapshot every few seconds and the final model at
 * the end; this module hands them to the prediction worker, so drawing stays instant during training. The
 * main thread only draws and talks to the workers.
 *
 * URL options: ?build=scalar (or simd) forces a build of the core; default picks SIMD where supported.
 *
 * Test hook (used by tests/browser, harmless otherwise): window.cnnTest
 *   .drawn() -> Promise<{digit, probs}>  predicts whatever is on the drawing canvas now (e.g. an image a test
 *                                         painted into it) through the same path as drawing with the pointer
 *   .predictInputs(x) -> Promise<Float32Array>  class probabilities for (n, 28, 28) model inputs in [0, 1]
 * Timing: performance.mark 'ready' when the page can predict (body[data-ready]), 'workers' when both workers
 * have loaded the core, and a performance.measure 'pointerup-to-prediction' after each stroke.
 */
import * as ui from './ui.mjs';
import * as storage from './storage.mjs';
import { DrawingPad } from './draw.mjs';
import { LineChart } from './charts.mjs';
import { WorkerClient } from './worker-client.mjs';
import { adaptSpec } from './spec.mjs';

const PRETRAINED_URL = new URL('../build/pretrained.safetensors', import.meta.url);
const PRETRAINED_LABEL = 'pretrained (Keras MNIST CNN)';
const PRESETS_IN_PAGE = {
  small: 'input 28x28x1\nconv2d 8 5x5 relu\nmaxpool 2\nconv2d 16 5x5 relu\nmaxpool 2\nflatten\ndense 10',
};
const DATASET_NAMES = { mnist: 'MNIST', custom: 'IDX files', drawings: 'my drawings', 'mnist+drawings': 'MNIST + my drawings' };
const GALLERY_MAX = 48;
const STROKE_PREDICT_MS = 50; // prediction rate limit while a stroke is drawn
const SMOOTHING = 0.9; // exponential moving average of the per-batch curves

const requested = new URLSearchParams(location.search).get('build');
const variant = ['simd', 'scalar'].includes(requested) ? requested : 'auto';

const predictor = new WorkerClient(new URL('../worker-predict.mjs', import.meta.url), 'predict');
const trainer = new WorkerClient(new URL('../worker-train.mjs', import.meta.url), 'train');

const state = {
  ready: false,          // the prediction worker has a model
  training: false,
  paused: false,
  busy: 0,               // loading data, evaluating, loading a model, starting up the training worker
  build: '',
  model: null,           // the current model: {bytes, label, info}
  predictNote: '',       // which model answers the drawing predictions
  drawable: true,        // the prediction model takes 28x28x1 inputs
  mnist: {},             // loaded MNIST splits (summaries)
  custom: null,          // loaded IDX data set from disk (summaries)
  samples: [],           // the user's drawings [{pixels, label}]
  lastInput: null,       // the model input of the drawing shown
  lastProbs: null,
  evaluation: null,      // last evaluation (labels, predicted, confidence, dataset)
  stepsPerEpoch: 1,
};

let pad, editor, evalView, lossChart, accChart;

// ---------------------------------------------------------------------------------------------------------
// Drawing and prediction: one request in flight; when it returns and the drawing changed, ask again.

let drawVersion = 0;    // bumped on every change of the drawing (or of the model answering)
let shownVersion = 0;   // the version whose prediction is on screen
let inFlight = false;
let strokeEndAt = 0;    // performance.now() of the last pointerup, until its prediction is shown
let waiters = [];       // cnnTest.drawn() callers
let lastPredictAt = 0;
let wakeUp = null;      // ends the wait between two predictions during a stroke

function drawingChanged() {
  drawVersion++;
  ui.setPredictionStale(true);
  requestPrediction();
}

async function requestPrediction() {
  if (inFlight || !state.ready) return;
  inFlight = true;
  try {
    while (shownVersion < drawVersion) {
      // while a stroke goes on, predict at most every STROKE_PREDICT_MS (each one reads the canvas back and
      // updates the page, which costs frames); the stroke's end cuts the wait short
      const wait = lastPredictAt + STROKE_PREDICT_MS - performance.now();
      if (pad.drawing && wait > 0) await new Promise((resolve) => { wakeUp = resolve; setTimeout(resolve, wait); });
      wakeUp = null;
      lastPredictAt = performance.now();
      const version = drawVersion;
      let probs = null, input = null, error = '';
      if (pad.hasInk && state.drawable) {
        const { width, height } = pad.canvas;
        const gray = pad.grayPixels();
        try {
          const r = await predictor.call('predictDrawing', { gray, width, height }, [gray.buffer]);
          if (!r.empty) ({ probs, input } = r);
        } catch (e) {
          error = e.message;
        }
      }
      state.lastProbs = probs;
      state.lastInput = input;
      ui.showPrediction(probs, input);
      ui.predictionNote(error || (state.drawable ? state.predictNote : drawableNote()), !!error || !state.drawable);
      shownVersion = version;
    }
  } finally {
    inFlight = false;
  }
  ui.setPredictionStale(false);
  if (strokeEndAt) {
    performance.measure('pointerup-to-prediction', { start: strokeEndAt, end: performance.now() });
    strokeEndAt = 0;
  }
  for (const w of waiters) w({ digit: state.lastProbs ? argmax(state.lastProbs) : null, probs: state.lastProbs });
  waiters = [];
  updateControls();
}

function drawableNote() {
  const [h, w, c] = state.model?.info.inputShape ?? [28, 28, 1];
  return `This model takes ${h}×${w}×${c} images; drawings are 28×28×1, so it cannot read them.`;
}

function clearDrawing() {
  pad.clear();
  drawingChanged();
}

/** Gives the prediction worker a model (bytes are transferred) and predicts the drawing again. */
async function setPredictModel(bytes) {
  const info = await predictor.call('setModel', { bytes }, [bytes.buffer]);
  ui.setClasses(info.classes);
  const [h, w, c] = info.inputShape;
  state.drawable = h === 28 && w === 28 && c === 1;
  drawingChanged();
  return info;
}

// ---------------------------------------------------------------------------------------------------------
// Start-up

async function start() {
  editor = ui.createLayerEditor(specEdited);
  evalView = ui.createEvaluationView(showCell);
  const canvases = ui.chartCanvases();
  lossChart = new LineChart(canvases.loss, { yMin: 0, format: (v) => v.toFixed(2) });
  accChart = new LineChart(canvases.accuracy, { yMax: 1, format: (v) => `${Math.round(v * 100)}%` });
  for (const chart of [lossChart, accChart]) {
    chart.setSeries([
      { name: 'training, per batch (smoothed)', color: '--series-1', width: 1.5 },
      { name: 'training, per epoch', color: '--series-2', dots: true, width: 2 },
      { name: 'validation, per epoch', color: '--series-3', dots: true, width: 2 },
    ]);
  }
  pad = new DrawingPad(ui.drawCanvas(), {
    onChange: drawingChanged,
    onStrokeEnd: () => {
      strokeEndAt = performance.now();
      wakeUp?.();
      if (!inFlight && shownVersion >= drawVersion) requestPrediction();
    },
  });
  ui.bind(handlers);
  ui.onTrainOptionsChange(updateControls);
  ui.setClasses(10);
  ui.showPrediction(null, null);
  state.busy++; // until the training worker has the model
  updateControls();
  ui.status('Loading the model…', 'busy');
  predictor.on('error', (e) => ui.status(e.message, 'error'));
  trainer.on('error', (e) => ui.status(e.message, 'error'));
  trainer.on('dataProgress', showDataProgress);
  trainer.on('progress', showTrainProgress);
  trainer.on('epoch', showEpoch);
  trainer.on('paused', showPaused);
  trainer.on('snapshot', useSnapshot);
  trainer.on('evalProgress', ({ done, total }) => ui.evalProgress(done / total));

  const predictorReady = predictor.call('init', { variant });
  // the training worker loads its core after the prediction worker: first things first on a small CPU
  const trainerReady = predictorReady.catch(() => {}).then(() => trainer.call('init', { variant }));
  Promise.all([predictorReady, trainerReady]).then(() => performance.mark('workers'), () => {});
  const stored = storage.loadCurrentModel().catch((e) => ({ error: e }));
  // fetch the pretrained model meanwhile, unless this browser keeps a model
  const pretrained = stored.then((kept) => (kept?.bytes ? null : fetchPretrained())).catch((e) => e);
  let warning = '';
  try {
    state.build = (await predictorReady).build;
    if (state.build === 'scalar') ui.showScalarNotice(variant === 'scalar');
    const kept = await stored;
    if (kept?.error) warning = `Models cannot be kept in this browser (${kept.error.message}). `;
    else if (kept?.bytes) {
      try {
        state.model = { bytes: kept.bytes, label: kept.label, info: await setPredictModel(kept.bytes.slice()) };
      } catch (e) {
        warning = `The model kept in this browser could not be loaded (${e.message}); using the pretrained one. `;
      }
    }
    if (!state.model) {
      try {
        let bytes = await pretrained;
        if (bytes instanceof Error) throw bytes;
        bytes ??= await fetchPretrained(); // the kept model failed to load
        state.model = { bytes, label: PRETRAINED_LABEL, info: await setPredictModel(bytes.slice()) };
      } catch (e) {
        // no pretrained model: an untrained one keeps the page usable
        warning += `${e.message}. Using an untrained model: train it below.`;
        await trainerReady;
        const r = await trainer.call('create', { spec: 'keras' });
        state.model = { bytes: r.bytes, label: 'untrained (Keras MNIST CNN)', info: await setPredictModel(r.bytes.slice()) };
      }
    }
  } catch (e) {
    ui.status(`The page could not start: ${e.message}`, 'error');
    return;
  }
  state.ready = true;
  performance.mark('ready');
  state.predictNote = `Predicting with the current model: ${state.model.label}.`;
  ui.setReady();
  ui.showModel({ ...state.model, build: state.build });
  drawingChanged();
  ui.status(warning || 'Ready. Draw a digit.', warning ? 'error' : 'info');

  try {
    await trainerReady;
    await trainer.call('setModel', { bytes: state.model.bytes.slice() });
    await presetChanged(ui.preset());
    state.samples = await storage.loadSamples().catch(() => []);
    await sendSamples();
  } catch (e) {
    ui.status(`Training is unavailable: ${e.message}`, 'error');
    return;
  } finally {
    state.busy--;
    updateControls();
  }
}

async function fetchPretrained() {
  let res;
  try {
    res = await fetch(PRETRAINED_URL);
  } catch (e) {
    throw new Error(`The pretrained model could not be fetched (${e.message})`);
  }
  if (!res.ok) throw new Error(`No pretrained model at build/pretrained.safetensors (HTTP ${res.status})`);
  return new Uint8Array(await res.arrayBuffer());
}

function updateControls() {
  ui.setControls({
    ready: state.ready, training: state.training, busy: state.busy > 0,
    canSaveSample: !!state.lastInput && state.drawable,
  }, editor);
}

/** Runs a task that other tasks must not overlap; shows its error in the status line. */
async function exclusive(task) {
  if (state.busy || state.training || !state.ready) {
    ui.status(state.training ? 'Training is running: stop it first.' : 'Busy: try again in a moment.', 'error');
    return false;
  }
  state.busy++;
  updateControls();
  try {
    await task();
    return true;
  } catch (e) {
    ui.status(e.message, 'error');
    return false;
  } finally {
    state.busy--;
    updateControls();
  }
}

// ---------------------------------------------------------------------------------------------------------
// The current model

/** Makes bytes the current model everywhere: prediction worker, page, IndexedDB. The trainer has it already. */
async function commitModel(bytes, info, label) {
  state.model = { bytes, label, info };
  state.predictNote = `Predicting with the current model: ${label}.`;
  await setPredictModel(bytes.slice());
  ui.showModel({ ...state.model, build: state.build });
  evalView.reset();
  state.evaluation = null;
  try {
    await storage.saveCurrentModel(bytes, label);
  } catch (e) {
    ui.status(`The model could not be kept in this browser: ${e.message}`, 'error');
  }
}

async function loadModelFile(file) {
  await exclusive(async () => {
    ui.status(`Loading ${file.name}…`, 'busy');
    const bytes = new Uint8Array(await file.arrayBuffer());
    let info;
    try {
      info = await trainer.call('setModel', { bytes: bytes.slice() });
    } catch (e) {
      throw new Error(`${file.name} is not a model this page can load: ${e.message}`);
    }
    await commitModel(bytes, info, `file ${file.name}`);
    ui.status(`Loaded ${file.name}: ${info.paramCount.toLocaleString('en-US')} parameters, ${info.classes} classes.`);
  });
}

async function revertToPretrained() {
  await exclusive(async () => {
    ui.status('Loading the pretrained model…', 'busy');
    const bytes = await fetchPretrained();
    const info = await trainer.call('setModel', { bytes: bytes.slice() });
    await commitModel(bytes, info, PRETRAINED_LABEL);
    await storage.forgetCurrentModel().catch(() => {});
    ui.status('Back to the pretrained model.');
  });
}

function downloadModel() {
  if (!state.model) return;
  const stamp = new Date().toISOString().slice(0, 16).replace(/[-:T]/g, '');
  ui.download(state.model.bytes, `digits-model-${stamp}.safetensors`);
  ui.status('Model downloaded (.safetensors: PyTorch names and layouts, architecture in the metadata).');
}

// ---------------------------------------------------------------------------------------------------------
// Data

function showDataProgress({ loaded, total, unpacking }) {
  const mb = (n) => (n / 1e6).toFixed(1);
  if (unpacking) ui.dataProgress(1, 'Unpacking…');
  else ui.dataProgress(total ? loaded / total : 0, total ? `Downloading MNIST: ${mb(loaded)} of ${mb(total)} MB` : 'Downloading MNIST…');
}

/** Downloads the MNIST splits not loaded yet (once; kept in the training worker). */
async function ensureMnist(splits) {
  if (splits.every((s) => state.mnist[s])) return;
  showDataProgress({ loaded: 0, total: 0 });
  try {
    state.mnist = await trainer.call('loadMnist', { splits });
  } finally {
    ui.dataProgress(null);
  }
  const t = state.mnist.train, e = state.mnist.test;
  ui.dataInfo(`MNIST loaded: ${[t && `${t.count.toLocaleString('en-US')} training`, e && `${e.count.toLocaleString('en-US')} test`]
    .filter(Boolean).join(' and ')} images.`);
}

async function loadIdxFiles(files) {
  await exclusive(async () => {
    ui.status(`Reading ${files.length} file${files.length === 1 ? '' : 's'}…`, 'busy');
    const payload = await Promise.all(files.map(async (f) => ({ name: f.name, bytes: await f.arrayBuffer() })));
    try {
      state.custom = await trainer.call('loadIdxFiles', { files: payload }, payload.map((p) => p.bytes));
    } catch (e) {
      ui.dataInfo(`Not loaded: ${e.message}`, true);
      throw new Error(`The IDX files could not be loaded: ${e.message}`);
    }
    const { train, test } = state.custom;
    ui.datasetOptions({ custom: state.custom, samples: state.samples.length });
    ui.selectDataset('custom');
    datasetChanged('custom');
    ui.dataInfo(`Loaded from disk: ${train.count.toLocaleString('en-US')} training and ${test.count.toLocaleString('en-US')} test ` +
      `images of ${train.height}×${train.width}×${train.channels}, ${Math.max(train.classes, test.classes)} classes.`);
    ui.status('IDX data set loaded. Train a new model for it (the architecture was adapted to its shape).');
  });
}

function dropFiles(files) {
  if (files.length === 1 && !/idx\d|ubyte/i.test(files[0].name)) loadModelFile(files[0]);
  else loadIdxFiles(files);
}

/** [shape, classes] of a data set choice. */
function datasetShape(value) {
  if (value === 'custom' && state.custom) {
    const { train, test } = state.custom;
    return [[train.height, train.width, train.channels], Math.max(train.classes, test.classes)];
  }
  return [[28, 28, 1], 10];
}

function datasetChanged(value) {
  const [shape, classes] = datasetShape(value);
  const adapted = adaptSpec(editor.text, shape, classes);
  if (adapted && adapted !== editor.text) {
    editor.setText(adapted);
    ui.setPreset('custom');
    validateSpecSoon();
    ui.status(`Architecture adapted to the data set: input ${shape.join('x')}, ${classes} classes.`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Architecture

let specTimer = 0, specSeq = 0;

function specEdited() {
  ui.setPreset('custom');
  validateSpecSoon();
}

function validateSpecSoon() {
  ui.specCheck('Checking…', '');
  clearTimeout(specTimer);
  specTimer = setTimeout(validateSpec, 250);
}

/** Asks the core whether the spec text is valid; shows its verdict (and its error in the status line). */
async function validateSpec() {
  const seq = ++specSeq;
  try {
    const info = await trainer.call('validateSpec', { spec: editor.text });
    if (seq !== specSeq) return true;
    editor.showShapes(info.layers);
    ui.specCheck(`Valid: ${info.paramCount.toLocaleString('en-US')} parameters, ${info.inputShape.join('×')} → ${info.classes} classes.`, 'ok');
    return true;
  } catch (e) {
    if (seq !== specSeq) return false;
    editor.showShapes(null);
    ui.specCheck(e.message, 'error');
    ui.status(`Architecture: ${e.message}`, 'error');
    return false;
  }
}

async function presetChanged(name) {
  if (name === 'custom') return;
  ui.specCheck('Checking…', '');
  let text = PRESETS_IN_PAGE[name];
  if (!text) {
    try {
      text = (await trainer.call('validateSpec', { spec: name })).spec;
    } catch (e) {
      ui.status(`Preset ${name}: ${e.message}`, 'error');
      return;
    }
  }
  const [shape, classes] = datasetShape(ui.dataset());
  editor.setText(adaptSpec(text, shape, classes) ?? text);
  ui.setPreset(name);
  await validateSpec();
}

// ---------------------------------------------------------------------------------------------------------
// Training

let ema = null;

async function trainStart() {
  if (state.training || state.busy || !state.ready) return;
  let form;
  try {
    form = ui.readTrainForm();
  } catch (e) {
    ui.status(e.message, 'error');
    return;
  }
  state.training = true;
  updateControls();
  let result = null;
  try {
    if (form.from === 'new' && !(await validateSpec())) throw new Error(`Architecture: ${editor.text.trim() ? 'see the message below the editor' : 'empty'}`);
    if (form.dataset === 'mnist' || form.dataset === 'mnist+drawings') await ensureMnist(['train', 'test']);
    lossChart.clear(form.fit.epochs);
    accChart.clear(form.fit.epochs);
    ema = null;
    ui.chartSummary('', '');
    ui.trainProgress(0, 'Starting…');
    ui.status('Training…', 'busy');
    result = await trainer.call('train', {
      dataset: form.dataset, from: form.from, freeze: form.freeze, spec: editor.text, seed: form.seed, fit: form.fit,
    });
    const last = result.history.epochs[result.history.epochs.length - 1];
    const n = result.history.epochs.length;
    const frozen = form.freeze.length ? `, ${form.freeze.join(' + ')} frozen` : '';
    const run = `${DATASET_NAMES[form.dataset]}, ${n} epoch${n === 1 ? '' : 's'}${frozen}${result.stopped ? ' (stopped)' : ''}`;
    const label = form.from === 'current'
      ? `fine-tuned on ${run}, from ${state.model.label.replace(/^fine-tuned on .*?, from /, '')}`
      : `trained here: ${ui.preset() === 'custom' ? 'custom architecture' : ui.preset()}, ${run}`;
    await commitModel(result.bytes, result.info, label);
    ui.status(result.stopped
      ? `Stopped in epoch ${last?.epoch ?? 1}: the model trained so far is now the current model.`
      : `Training finished: training accuracy ${(100 * (last?.accuracy ?? 0)).toFixed(1)}%` +
        `${last?.valAccuracy !== undefined ? `, validation ${(100 * last.valAccuracy).toFixed(1)}%` : ''}.`);
    if (result.stopped) ui.trainProgressText('Stopped.');
    else ui.trainProgress(1, 'Done.');
  } catch (e) {
    result = null;
    ui.status(`Training did not complete: ${e.message}`, 'error');
    ui.trainProgress(0, '');
    // the prediction worker may hold a snapshot of the abandoned model: give it the current one back
    state.predictNote = `Predicting with the current model: ${state.model.label}.`;
    await setPredictModel(state.model.bytes.slice()).catch(() => {});
  } finally {
    state.training = false;
    state.paused = false;
    ui.setPaused(false);
    updateControls();
  }
  const evalSet = evaluationSet();
  if (result && (evalSet === 'custom' || state.mnist.test)) await evaluate();
}

function showTrainProgress(p) {
  state.stepsPerEpoch = p.stepsPerEpoch;
  const x = p.epoch - 1 + p.step / p.stepsPerEpoch;
  ema = ema ? { n: ema.n + 1, loss: SMOOTHING * ema.loss + (1 - SMOOTHING) * p.loss, acc: SMOOTHING * ema.acc + (1 - SMOOTHING) * p.accuracy }
    : { n: 1, loss: (1 - SMOOTHING) * p.loss, acc: (1 - SMOOTHING) * p.accuracy };
  const debias = 1 - SMOOTHING ** ema.n;
  const loss = ema.loss / debias, acc = ema.acc / debias;
  lossChart.add(0, x, loss);
  accChart.add(0, x, acc);
  ui.chartSummary(`batch ${loss.toFixed(3)}`, `batch ${(100 * acc).toFixed(1)}%`);
  if (state.paused) return;
  ui.trainProgress(p.imagesDone / p.imagesTotal,
    `Epoch ${p.epoch}/${p.epochs} · step ${p.step}/${p.stepsPerEpoch} · ${Math.round(p.imagesPerSecond).toLocaleString('en-US')} images/s · ` +
    `${duration(p.etaSeconds)} left`);
}

function showEpoch(e) {
  const x = e.epoch - 1 + (e.complete ? 1 : (e.steps ?? 0) / state.stepsPerEpoch);
  lossChart.add(1, x, e.loss);
  accChart.add(1, x, e.accuracy);
  if (e.valLoss !== undefined) {
    lossChart.add(2, x, e.valLoss);
    accChart.add(2, x, e.valAccuracy);
  }
  const val = (v, f) => (v === undefined ? '' : `, validation ${f(v)}`);
  ui.chartSummary(`epoch ${e.epoch}: ${e.loss.toFixed(3)}${val(e.valLoss, (v) => v.toFixed(3))}`,
    `epoch ${e.epoch}: ${(100 * e.accuracy).toFixed(1)}%${val(e.valAccuracy, (v) => `${(100 * v).toFixed(1)}%`)}`);
}

async function useSnapshot(s) {
  if (!state.training) return;
  try {
    state.predictNote = `Predicting with the model in training (epoch ${s.epoch}, step ${s.step}/${s.stepsPerEpoch}).`;
    await setPredictModel(s.bytes);
  } catch (e) {
    ui.predictionNote(`Snapshot not usable: ${e.message}`, true);
  }
}

async function trainPause() {
  if (!state.training) return;
  state.paused = !state.paused;
  ui.setPaused(state.paused);
  if (state.paused) ui.trainProgressText('Pausing after this step…');
  await trainer.call(state.paused ? 'pause' : 'resume');
  if (!state.paused) ui.status('Training…', 'busy');
}

/** The training worker has stopped between two steps and waits. */
function showPaused() {
  if (!state.paused) return;
  ui.status('Paused. Resume or stop (stopping keeps the model trained so far).', 'info');
  ui.trainProgressText('Paused.');
}

async function trainStop() {
  if (!state.training) return;
  ui.status('Stopping after the current step…', 'busy');
  await trainer.call('stop');
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation

/** The data set whose test split is evaluated: the one chosen, or MNIST for the drawings. */
function evaluationSet() {
  return ui.dataset() === 'custom' && state.custom ? 'custom' : 'mnist';
}

async function evaluate() {
  await exclusive(async () => {
    const dataset = evaluationSet();
    if (dataset === 'mnist') await ensureMnist(['test']);
    ui.status('Evaluating on the test set…', 'busy');
    ui.evalProgress(0);
    let r;
    try {
      r = await trainer.call('evaluate', { dataset });
    } catch (e) {
      throw new Error(`Evaluation failed: ${e.message}`);
    } finally {
      ui.evalProgress(null);
    }
    state.evaluation = { ...r, dataset };
    evalView.show(r);
    const wrong = [];
    for (let i = 0; i < r.count; i++) if (r.predicted[i] !== r.labels[i]) wrong.push(i);
    wrong.sort((a, b) => r.confidence[b] - r.confidence[a]);
    await showImages(`Most confidently wrong (${Math.min(GALLERY_MAX, wrong.length)} of ${wrong.length} errors)`, wrong.slice(0, GALLERY_MAX));
    ui.status(`Test accuracy ${(100 * r.accuracy).toFixed(2)}% on ${r.count.toLocaleString('en-US')} ${dataset === 'mnist' ? 'MNIST' : ''} test images.`);
  });
}

async function showImages(title, indices) {
  const ev = state.evaluation;
  const images = indices.length
    ? await trainer.call('images', { dataset: ev.dataset, split: 'test', indices })
    : { pixels: new Uint8Array(0), height: 1, width: 1, channels: 1 };
  evalView.gallery(title, images, indices.map((index) => ({
    index, label: ev.labels[index], predicted: ev.predicted[index], confidence: ev.confidence[index],
  })));
}

async function showCell(trueClass, predicted) {
  const ev = state.evaluation;
  if (!ev) return;
  const idx = [];
  for (let i = 0; i < ev.count; i++) if (ev.labels[i] === trueClass && ev.predicted[i] === predicted) idx.push(i);
  idx.sort((a, b) => ev.confidence[b] - ev.confidence[a]);
  const shown = idx.slice(0, GALLERY_MAX);
  try {
    await showImages(`True ${trueClass}, predicted ${predicted}: ${idx.length} image${idx.length === 1 ? '' : 's'}` +
      `${idx.length > shown.length ? ` (the ${shown.length} most confident)` : ''}`, shown);
  } catch (e) {
    ui.status(e.message, 'error');
  }
}

// ---------------------------------------------------------------------------------------------------------
// The user's own drawings

async function sendSamples() {
  const n = state.samples.length;
  const images = new Uint8Array(n * 784), labels = new Uint8Array(n);
  state.samples.forEach((s, i) => {
    images.set(s.pixels, i * 784);
    labels[i] = s.label;
  });
  await trainer.call('setDrawings', { images, labels }, [images.buffer, labels.buffer]);
  ui.showSampleCount(n);
  ui.datasetOptions({ custom: state.custom, samples: n });
}

async function saveSample(label) {
  if (!state.lastInput) return;
  const pixels = Uint8Array.from(state.lastInput, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
  try {
    await storage.addSample(pixels, label);
    state.samples.push({ pixels, label });
    await sendSamples();
    ui.status(`Saved as ${label}. Choose "My drawings" or "MNIST + my drawings" as the data set and fine-tune the current model.`);
    clearDrawing();
  } catch (e) {
    ui.status(`The drawing could not be saved: ${e.message}`, 'error');
  }
}

async function clearSamples() {
  if (!ui.confirm(`Delete all ${state.samples.length} saved drawings?`)) return;
  try {
    await storage.clearSamples();
    state.samples = [];
    await sendSamples();
    ui.status('Saved drawings deleted.');
  } catch (e) {
    ui.status(`The drawings could not be deleted: ${e.message}`, 'error');
  }
}

// ---------------------------------------------------------------------------------------------------------

const handlers = {
  clear: clearDrawing,
  saveSample,
  clearSamples,
  download: downloadModel,
  loadModelFile,
  revert: revertToPretrained,
  dropFiles,
  datasetChanged: (v) => { datasetChanged(v); },
  loadMnist: () => exclusive(async () => {
    await ensureMnist(['train', 'test']);
    ui.status('MNIST is ready.');
  }),
  loadIdxFiles,
  presetChanged,
  trainStart,
  trainPause,
  trainStop,
  evaluate,
};

function argmax(a) {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

function duration(seconds) {
  if (!Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 3600) return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

window.cnnTest = {
  drawn() {
    pad.markInk();
    return new Promise((resolve) => waiters.push(resolve));
  },
  async predictInputs(x) {
    return (await predictor.call('predictInputs', { x })).probs;
  },
};

start();
