/**
 * draw-view.mjs - the drawing card of one widget: the pad, live prediction (one request in flight; when it
 * returns and the drawing changed, ask again), the bars, the 28x28 input, and saving the drawing with a label.
 */
import { DrawingPad, renderInput } from '../draw.mjs';
import { parts, setText, setEnabled, ErrorSlot } from './dom.mjs';

const STROKE_PREDICT_MS = 50; // prediction rate limit while a stroke is drawn

export class DrawView {
  /**
   * @param {HTMLElement} root the card @param {import('../runtime.mjs').Runtime} rt
   * @param {{owner?: *}} [o] owner: the widget, for the runtime's activity
   */
  constructor(root, rt, { owner = null } = {}) {
    this.root = root;
    this.rt = rt;
    this.owner = owner;
    this.$ = parts(root);
    this.lastInput = null;
    this.lastProbs = null;
    this._version = 0;     // bumped on every change of the drawing (or of the model answering)
    this._shown = 0;       // the version whose prediction is on screen
    this._inFlight = false;
    this._strokeEndAt = 0; // performance.now() of the last pointerup, until its prediction is shown
    this._waiters = [];    // drawn() callers
    this._lastPredictAt = 0;
    this._wakeUp = null;   // ends the wait between two predictions during a stroke

    const $ = this.$;
    this.error = new ErrorSlot($('draw-error'), rt, 'drawings');
    this.pad = new DrawingPad($('draw-canvas'), {
      onChange: () => this.changed(),
      onStrokeEnd: () => {
        this._strokeEndAt = performance.now();
        this._wakeUp?.();
        if (!this._inFlight && this._shown >= this._version) this._predict();
      },
    });
    $('clear-canvas').addEventListener('click', () => this.clear());
    $('undo').addEventListener('click', () => this.undo());
    const labelSel = $('sample-label');
    for (let i = 0; i < 10; i++) labelSel.append(new Option(String(i), String(i)));
    $('sample-save').addEventListener('click', () => this.saveSample(Number(labelSel.value)));
    $('samples-clear').addEventListener('click', () => this.clearSamples());

    this._off = [
      rt.on('predictModel', (p) => {
        this.setClasses(p.info.classes);
        this.changed();
      }),
      rt.on('ready', () => this.changed()),
      rt.on('activity', () => this.updateControls()),
      rt.on('samples', ({ count }) => this.showSampleCount(count)),
    ];
    this.setClasses(rt.state.predict.info?.classes ?? 10);
    this.showPrediction(null, null);
    this.showSampleCount(rt.state.samples.length);
    this.updateControls();
    if (rt.state.ready) this.changed();
  }

  /** Stops following the runtime (the widget is gone). */
  destroy() {
    for (const off of this._off) off();
  }

  /** The drawing changed (or the model answering it): predict again. */
  changed() {
    this._version++;
    this.setPredictionStale(true);
    this._predict();
  }

  clear() {
    this.pad.clear();
    this.changed();
  }

  /** Removes the last stroke. */
  undo() {
    this.pad.undo(); // calls changed() through onChange
  }

  /** @returns {Promise<{digit: number|null, probs: Float32Array|null}>} the prediction of what is drawn now */
  drawn() {
    this.pad.markInk();
    return new Promise((resolve) => this._waiters.push(resolve));
  }

  async _predict() {
    const { rt, pad } = this;
    if (this._inFlight || !rt.state.ready) return;
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
        const { drawable } = rt.state.predict;
        let probs = null, input = null, error = '';
        if (pad.hasInk && drawable) {
          const { gray, width, height } = pad.modelPixels();
          try {
            const r = await rt.predict.drawing(gray, width, height);
            if (r) ({ probs, input } = r);
          } catch (e) {
            error = e.message;
          }
        }
        this.lastProbs = probs;
        this.lastInput = input;
        this.showPrediction(probs, input);
        const p = rt.state.predict;
        this.predictionNote(error || (p.drawable ? p.note : this.drawableNote()), !!error || !p.drawable || p.error);
        this._shown = version;
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

  drawableNote() {
    const [h, w, c] = this.rt.state.predict.info?.inputShape ?? [28, 28, 1];
    return `This model takes ${h}×${w}×${c} images; drawings are 28×28×1, so it cannot read them.`;
  }

  // ---- saving drawings ----

  /** Saves the drawing with a label: at any time, also while training (busy-policy.mjs). */
  async saveSample(label) {
    if (!this.lastInput) return;
    this.error.clear();
    try {
      const { deferred } = await this.rt.drawings.save(this.lastInput, label);
      this.rt.status(deferred
        ? `Saved as ${label}. The run in progress trains on the drawings it started with; this one joins the next run.`
        : `Saved as ${label}. Choose "My drawings" or "MNIST + my drawings" as the data set and fine-tune the current model.`,
      'info', 'drawings');
      this.clear();
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
    const { ready } = this.rt.state;
    setEnabled(this.$('clear-canvas'), ready);
    setEnabled(this.$('undo'), ready && this.pad.strokes.length > 0);
    setEnabled(this.$('sample-save'), ready && !!this.lastInput && this.rt.state.predict.drawable);
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
    const best = probs ? argmax(probs) : -1;
    [...list.children].forEach((li, i) => {
      const p = probs ? probs[i] : 0;
      li.querySelector('.fill').style.transform = `scaleX(${p.toFixed(3)})`;
      setText(li.querySelector('.pct'), probs ? `${(100 * p).toFixed(p < 0.1 ? 1 : 0)}%` : '');
      if (li.classList.contains('best') !== (i === best)) li.classList.toggle('best', i === best);
    });
    list.setAttribute('aria-label', probs ? `Probability of each class; highest: ${best}` : 'Probability of each class');
    setText(this.$('prediction'), probs ? String(best) : '');
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

/** @param {ArrayLike<number>} a @returns {number} the index of the largest value */
export function argmax(a) {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}
