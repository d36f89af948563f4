/**
 * draw-view.mjs - the drawing card of one widget: the pad, live prediction (one request in flight; when it
 * returns and the drawing changed, ask again), the bars, the 28x28 input, other ways in (a picture, an MNIST
 * test digit), and saving the drawing with a label.
 *
 * Other views follow its predictions (subscribe): the insight view asks for every layer's output with them.
 */
import { DrawingPad, renderInput } from '../draw.mjs';
import { parts, setText, setEnabled, onFiles, ErrorSlot } from './dom.mjs';

const STROKE_PREDICT_MS = 50; // prediction rate limit while a stroke is drawn
/** Below this probability the prediction says it is not sure, naming the two likeliest digits. */
export const SURE = 0.6;
const HINT_KEY = 'digits:first-visit-done'; // localStorage: the first-visit hints were seen

/**
 * @typedef {object} Prediction what a pad shows, also the payload of the 'prediction' event
 * @property {number|null} digit the likeliest class, null when nothing is drawn
 * @property {number[]} probabilities one per class ([] when nothing is drawn)
 * @property {number} confidence the likeliest class's probability (0 when nothing is drawn)
 * @property {boolean} sure confidence >= SURE
 * @property {number[]} alternatives the two likeliest classes
 * @property {Float32Array|null} input the 28x28 model input in [0, 1]
 * @property {boolean} final the prediction after a stroke ended, a picture or a test digit (not one mid-stroke)
 * @property {object[]} [layers] each conv, pool and hidden dense layer's output (when a subscriber asked)
 */

/** The drawing card of one widget: pad, live prediction, other inputs, saving drawings. */
export class DrawView {
  /**
   * @param {HTMLElement} root the card @param {import('../runtime.mjs').Runtime} rt
   * @param {object} [o]
   * @param {*} [o.owner] the widget (owner.dispatch(type, detail) sends its DOM events)
   * @param {string} [o.model] URL of a model of its own (default: the page's current model)
   * @param {boolean} [o.hints=true] first-visit hints
   */
  constructor(root, rt, { owner = null, model = null, hints = true } = {}) {
    this.root = root;
    this.rt = rt;
    this.owner = owner;
    this.$ = parts(root);
    this.slot = 'current';
    this.lastInput = null;
    this.lastProbs = null;
    this.lastLayers = null;
    this._subscribers = new Set();
    this._layerWanted = 0;     // subscribers that want the layers' outputs
    this._version = 0;         // bumped on every change of the drawing (or of the model answering)
    this._shown = 0;           // the version whose prediction is on screen
    this._inFlight = false;
    this._strokeEndAt = 0;     // performance.now() of the last pointerup, until its prediction is shown
    this._final = false;       // the next shown prediction ends a stroke (announced once)
    this._finalNote = '';      // what the announcement adds (e.g. the test digit's label)
    this._waiters = [];        // drawn() callers
    this._lastPredictAt = 0;
    this._wakeUp = null;       // ends the wait between two predictions during a stroke
    this._hints = hints && !seenHints();
    this._labelPicked = false; // the user chose the label of this drawing (else it follows the prediction)
    /** collect mode's digit (views/collect-view.mjs): every new drawing is labelled with it; null: the prediction */
    this.promptLabel = null;
    /** called after a drawing was saved, with its label */
    this.onSaved = null;

    const $ = this.$;
    this.error = new ErrorSlot($('draw-error'), rt, 'drawings', owner);
    this.pad = new DrawingPad($('draw-canvas'), {
      onChange: () => this.changed(),
      onStrokeEnd: () => {
        // the prediction of the finished stroke is the one announced and sent as final
        this._strokeEndAt = performance.now();
        this._final = true;
        this._wakeUp?.();
        this.changed();
      },
    });
    $('clear-canvas').addEventListener('click', () => this.clear());
    $('undo').addEventListener('click', () => this.undo());
    onFiles($('image-file'), (files) => this.usePicture(files[0]));
    $('test-digit').addEventListener('click', () => this.useTestDigit());
    const labelSel = $('sample-label');
    for (let i = 0; i < 10; i++) labelSel.append(new Option(String(i), String(i)));
    labelSel.addEventListener('change', () => { this._labelPicked = true; });
    $('sample-save').addEventListener('click', () => this.saveSample(Number(labelSel.value)));
    $('samples-clear').addEventListener('click', () => this.clearSamples());
    $('first-hint').hidden = !this._hints;

    this._off = [
      rt.on('predictModel', (p) => {
        if (p.slot !== this.slot) return;
        this.setClasses(p.info.classes);
        this.changed();
      }),
      rt.on('ready', () => this.changed()),
      rt.on('activity', () => this.updateControls()),
      rt.on('samples', ({ count }) => this.showSampleCount(count)),
    ];
    this.setClasses(rt.predict.slot().info?.classes ?? 10);
    this.showPrediction(null, null);
    this.showSampleCount(rt.state.samples.length);
    this.updateControls();
    /** resolves when the pad's model answers predictions */
    this.modelReady = model ? this._useModel(model) : rt.start();
    if (!model && rt.state.ready) this.changed();
  }

  /** Stops following the runtime (the widget is gone). */
  destroy() {
    for (const off of this._off) off();
  }

  async _useModel(url) {
    try {
      this.slot = await this.rt.predict.useModelUrl(url);
    } catch (e) {
      this.predictionNote(e.message, true);
      throw e;
    }
    this.setClasses(this.rt.predict.slot(this.slot).info.classes);
    this.updateControls();
    this.changed();
  }

  /** @returns {boolean} whether the model this pad uses is loaded */
  get ready() {
    return this.slot === 'current' ? this.rt.state.ready : !!this.rt.predict.slots.get(this.slot);
  }

  /**
   * Follows this pad's predictions.
   * @param {(p: Prediction) => void} fn @param {{layers?: boolean}} [o] layers: with every layer's output
   * @returns {() => void} unsubscribes
   */
  subscribe(fn, { layers = false } = {}) {
    const entry = { fn, layers };
    this._subscribers.add(entry);
    if (layers) this._layerWanted++;
    if (this.lastProbs && layers && !this.lastLayers) this.changed(); // fetch the layers for what is shown
    return () => {
      if (this._subscribers.delete(entry) && layers) this._layerWanted--;
    };
  }

  /** The drawing changed (or the model answering it): predict again. */
  changed() {
    if (this.pad.hasInk) this.$('first-hint').hidden = true;
    this._version++;
    this.setPredictionStale(true);
    this._predict();
  }

  clear() {
    this.pad.clear();
    this.newDrawing();
    this._final = true;
    this.changed();
  }

  /** Removes the last stroke. */
  undo() {
    this._final = true;
    this.pad.undo(); // calls changed() through onChange
  }

  /** @returns {Promise<{digit: number|null, probs: Float32Array|null}>} the prediction of what is drawn now */
  drawn() {
    this.pad.markInk();
    return new Promise((resolve) => this._waiters.push(resolve));
  }

  /**
   * Puts an image into the pad (white ink on black, or dark ink on light paper: the brighter side is the paper)
   * and predicts it.
   * @param {CanvasImageSource} image @param {number} width @param {number} height @param {string} [note]
   */
  paint(image, width, height, note = '') {
    const canvas = this.pad.canvas, ctx = this.pad.ctx;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const scale = Math.min(canvas.width / width, canvas.height / height);
    const w = width * scale, h = height * scale;
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(image, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
    const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const d = img.data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum += (d[i] + d[i + 1] + d[i + 2]) / 3;
    const invert = sum / (d.length / 4) > 127; // mostly bright: dark ink on paper
    for (let i = 0; i < d.length; i += 4) {
      const v = (d[i] + d[i + 1] + d[i + 2]) / 3;
      d[i] = d[i + 1] = d[i + 2] = invert ? 255 - v : v;
    }
    ctx.putImageData(img, 0, 0);
    this.newDrawing();
    this._final = true;
    this._finalNote = note;
    this.pad.markInk();
  }

  /** A picture of a digit (any format the browser decodes). @param {File} file */
  async usePicture(file) {
    this.error.clear();
    try {
      const bitmap = await createImageBitmap(file);
      this.paint(bitmap, bitmap.width, bitmap.height, `picture ${file.name}`);
      bitmap.close();
    } catch (e) {
      this.error.show(`${file.name} could not be read as a picture (${e.message || 'unknown format'}).`);
    }
  }

  /** A random digit from the MNIST test set (downloaded once, 1.6 MB). */
  async useTestDigit() {
    const { rt } = this;
    this.error.clear();
    try {
      await rt.data.ensureMnist(['test']);
      const index = Math.floor(Math.random() * rt.state.mnist.test.count);
      const { pixels, labels } = await rt.evaluation.images('mnist', [index]);
      this.showImage(pixels, 28, 28, `MNIST test digit #${index}, labelled ${labels[0]}`);
    } catch (e) {
      this.error.show(`No MNIST digit: ${e.message}`);
    }
  }

  /** Puts a grayscale image (white ink on black) into the pad. @param {Uint8Array} pixels (h, w) */
  showImage(pixels, width, height, note = '') {
    const c = document.createElement('canvas');
    c.width = width;
    c.height = height;
    const ctx = c.getContext('2d');
    const img = ctx.createImageData(width, height);
    for (let i = 0; i < width * height; i++) img.data.set([pixels[i], pixels[i], pixels[i], 255], 4 * i);
    ctx.putImageData(img, 0, 0);
    // a small margin, as a digit on a sheet
    const big = document.createElement('canvas');
    big.width = big.height = Math.max(width, height) + 8;
    const bctx = big.getContext('2d');
    bctx.fillStyle = '#000';
    bctx.fillRect(0, 0, big.width, big.height);
    bctx.drawImage(c, (big.width - width) / 2, (big.height - height) / 2);
    this.paint(big, big.width, big.height, note);
  }

  async _predict() {
    const { rt, pad } = this;
    if (this._inFlight || !this.ready) return;
    this._inFlight = true;
    try {
      while (this._shown < this._version) {
        // while a stroke goes on, predict at most every STROKE_PREDICT_MS (each one reads the canvas back and
        // updates the page, which costs frames); the stroke's end cuts the wait short
        const wait = this._lastPredictAt + STROKE_PREDICT_MS - performance.now();
        if (pad.drawing && wait > 0) await new Promise((resolve) => { this._wakeUp = resolve; setTimeout(resolve, wait); });
        this._wakeUp = null;
        this._lastPredictAt = performance.now();
        const version = this._version;
        const slot = rt.predict.slot(this.slot);
        let probs = null, input = null, layers = null, error = '';
        if (pad.hasInk && slot.drawable) {
          const { gray, width, height } = pad.modelPixels();
          try {
            const r = await rt.predict.drawing(gray, width, height, { slot: this.slot, layers: this._layerWanted > 0 });
            if (r) ({ probs, input, layers = null } = r);
          } catch (e) {
            error = e.message;
          }
        }
        this.lastProbs = probs;
        this.lastInput = input;
        this.lastLayers = layers;
        this.showPrediction(probs, input);
        const now = rt.predict.slot(this.slot);
        this.predictionNote(error || (now.drawable ? now.note : this.drawableNote()), !!error || !now.drawable || now.error);
        this._shown = version;
        const final = this._final && this._shown >= this._version && !pad.drawing;
        if (final) this._final = false;
        this._publish(final);
      }
    } finally {
      this._inFlight = false;
    }
    this.setPredictionStale(false);
    if (this._strokeEndAt) {
      performance.measure('pointerup-to-prediction', { start: this._strokeEndAt, end: performance.now() });
      this._strokeEndAt = 0;
    }
    const digit = this.lastProbs ? argmax(this.lastProbs) : null;
    for (const w of this._waiters) w({ digit, probs: this.lastProbs });
    this._waiters = [];
    this.updateControls();
  }

  /** A new drawing starts: its label is collect mode's digit, or follows the prediction until the user picks one. */
  newDrawing() {
    this._labelPicked = false;
    if (this.promptLabel !== null) this.$('sample-label').value = String(this.promptLabel);
  }

  /** Tells the subscribers and the host page what is shown; announces it once a stroke has ended. */
  _publish(final) {
    const p = describe(this.lastProbs);
    const labelSel = this.$('sample-label');
    if (!this._labelPicked && this.promptLabel === null && p.digit !== null && p.digit < labelSel.options.length) {
      labelSel.value = String(p.digit);
    }
    const prediction = { ...p, input: this.lastInput, final, layers: this.lastLayers ?? undefined };
    for (const { fn } of this._subscribers) fn(prediction);
    this.owner?.dispatch?.('prediction', { ...prediction, layers: undefined });
    if (!final) return;
    const said = p.digit === null ? 'Nothing drawn.' : p.sure ? `Prediction: ${p.digit}, ${Math.round(100 * p.confidence)} percent.`
      : `Not sure: ${p.alternatives[0]} or ${p.alternatives[1]}.`;
    setText(this.$('announce'), this._finalNote ? `${this._finalNote}. ${said}` : said);
    this._finalNote = '';
    if (p.digit !== null && this._hints) this._nextHint();
  }

  /** After the first prediction: what to do next (once per browser). */
  _nextHint() {
    this._hints = false;
    markHintsSeen();
    this.$('first-hint').hidden = true;
    const el = this.$('next-hint');
    el.textContent = 'Right? Wrong? The bars show how sure the network is for each digit. Save a drawing with its ' +
      'label to teach the network your handwriting, or train a network of your own.';
    el.hidden = false;
  }

  drawableNote() {
    const [h, w, c] = this.rt.predict.slot(this.slot).info?.inputShape ?? [28, 28, 1];
    return `This model takes ${h}×${w}×${c} images; drawings are 28×28×1, so it cannot read them.`;
  }

  // ---- saving drawings ----

  /** Saves the drawing with a label: at any time, also while training (busy-policy.mjs). */
  async saveSample(label) {
    if (!this.lastInput) return;
    this.error.clear();
    try {
      const saved = await this.rt.drawings.save(this.lastInput, label);
      this.rt.status(saved.heldOut
        ? `Saved as ${label}, held out for testing (every 5th drawing of a digit is; it is never trained on).`
        : saved.deferred
          ? `Saved as ${label}. The run in progress trains on the drawings it started with; this one joins the next run.`
          : `Saved as ${label}. Choose "My drawings" or "MNIST + my drawings" as the data set and fine-tune the current model.`,
      'info', 'drawings');
      this.clear();
      this.onSaved?.(label, saved);
    } catch (e) {
      this.error.show(`The drawing could not be saved: ${e.message}`);
    }
  }

  async clearSamples() {
    if (!window.confirm(`Delete all ${this.rt.state.samples.length} saved drawings?`)) return;
    this.error.clear();
    try {
      const { deferred } = await this.rt.drawings.clear();
      this.rt.status(deferred ? 'Saved drawings deleted. The run in progress keeps training on the ones it started with.'
        : 'Saved drawings deleted.', 'info', 'drawings');
    } catch (e) {
      this.error.show(`The drawings could not be deleted: ${e.message}`);
    }
  }

  // ---- rendering ----

  updateControls() {
    const ready = this.ready;
    setEnabled(this.$('clear-canvas'), ready);
    setEnabled(this.$('undo'), ready && this.pad.strokes.length > 0);
    setEnabled(this.$('image-file'), ready);
    setEnabled(this.$('test-digit'), ready && this.rt.state.trainerReady);
    setEnabled(this.$('sample-save'), ready && !!this.lastInput && this.rt.predict.slot(this.slot).drawable);
  }

  /** Builds one bar per class (when the class count changes). @param {number} classes */
  setClasses(classes) {
    const list = this.$('probabilities');
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
  showPrediction(probs, input) {
    const list = this.$('probabilities');
    const p = describe(probs);
    [...list.children].forEach((li, i) => {
      const v = probs ? probs[i] : 0;
      li.querySelector('.fill').style.transform = `scaleX(${v.toFixed(3)})`;
      setText(li.querySelector('.pct'), probs ? `${(100 * v).toFixed(v < 0.1 ? 1 : 0)}%` : '');
      if (li.classList.contains('best') !== (i === p.digit)) li.classList.toggle('best', i === p.digit);
    });
    list.setAttribute('aria-label', probs ? `Probability of each class; highest: ${p.digit}` : 'Probability of each class');
    const out = this.$('prediction');
    setText(out, probs ? String(p.digit) : '');
    out.classList.toggle('unsure', !!probs && !p.sure);
    setText(this.$('confidence'), !probs ? '' : p.sure ? `${Math.round(100 * p.confidence)}% sure`
      : `not sure: ${p.alternatives[0]} or ${p.alternatives[1]}?`);
    renderInput(this.$('model-input'), input);
  }

  /** Marks the shown prediction as older than the drawing (a newer one is on its way). @param {boolean} stale */
  setPredictionStale(stale) {
    const el = this.$('prediction');
    if (('pending' in el.dataset) === stale) return;
    el.classList.toggle('stale', stale);
    if (stale) el.dataset.pending = 'true';
    else delete el.dataset.pending;
  }

  /** @param {string} text @param {boolean} [error] */
  predictionNote(text, error = false) {
    const el = this.$('prediction-note');
    setText(el, text);
    if (el.classList.contains('error') !== error) el.classList.toggle('error', error);
  }

  /** @param {number} count saved drawings */
  showSampleCount(count) {
    this.$('sample-count').textContent = count ? `${count} saved drawing${count === 1 ? '' : 's'}` : '';
    this.$('samples-clear').hidden = count === 0;
  }
}

/** @param {Float32Array|null} probs @returns {Omit<Prediction, 'input'|'final'|'layers'>} */
export function describe(probs) {
  if (!probs) return { digit: null, probabilities: [], confidence: 0, sure: false, alternatives: [] };
  const order = [...probs.keys()].sort((a, b) => probs[b] - probs[a]);
  const confidence = probs[order[0]];
  return { digit: order[0], probabilities: Array.from(probs), confidence, sure: confidence >= SURE, alternatives: order.slice(0, 2) };
}

/** @param {ArrayLike<number>} a @returns {number} the index of the largest value */
export function argmax(a) {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

function seenHints() {
  try {
    return localStorage.getItem(HINT_KEY) === '1';
  } catch {
    return true; // no storage: no hints rather than hints on every visit
  }
}

function markHintsSeen() {
  try {
    localStorage.setItem(HINT_KEY, '1');
  } catch { /* nothing to keep it in */ }
}
