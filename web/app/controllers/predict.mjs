/**
 * predict.mjs - the prediction controller: which model answers predictions in the prediction worker, and
 * predictions of drawings (with what each layer computed, for the insight views) and of ready-made inputs.
 *
 * Models sit in slots: 'current' follows the page's current model (and the model in training, as snapshots);
 * a widget with a model URL of its own predicts with a slot named after that URL (useModelUrl).
 */

/** Feeds the prediction worker its models and asks it for predictions, layer outputs, filters, saliency. */
export class PredictController {
  /** @param {import('../runtime.mjs').Runtime} rt */
  constructor(rt) {
    this.rt = rt;
    /** @type {Map<string, {info: object, note: string, drawable: boolean, error: boolean}>} slots other than 'current' */
    this.slots = new Map();
    this._loading = new Map(); // url -> promise of its slot
  }

  get _worker() {
    return this.rt.workers.predictor;
  }

  /** @param {string} [slot='current'] @returns {{info: object|null, note: string, drawable: boolean, error: boolean}} */
  slot(slot = 'current') {
    return slot === 'current' ? this.rt.state.predict : this.slots.get(slot) ?? { info: null, note: '', drawable: true, error: false };
  }

  /**
   * Gives the prediction worker a model; every widget using the slot predicts again ('predictModel').
   * @param {Uint8Array} bytes .safetensors (transferred) @param {string} note which model answers, for people
   * @param {string} [slot='current']
   * @returns {Promise<object>} the model's info
   */
  async setModel(bytes, note, slot = 'current') {
    const info = await this._worker.call('setModel', { bytes, slot }, [bytes.buffer]);
    const [h, w, c] = info.inputShape;
    const entry = { info, note, drawable: h === 28 && w === 28 && c === 1, error: false };
    if (slot === 'current') this.rt.state.predict = entry;
    else this.slots.set(slot, entry);
    this.rt.emit('predictModel', { ...entry, slot });
    return info;
  }

  /**
   * A model of its own for a widget (fetched once per URL, also when several widgets name it).
   * @param {string|URL} url a .safetensors file @returns {Promise<string>} the slot to predict with
   */
  useModelUrl(url) {
    const slot = new URL(url, document.baseURI).href;
    if (!this._loading.has(slot)) {
      this._loading.set(slot, (async () => {
        await this.rt.start();
        let res;
        try {
          res = await fetch(slot);
        } catch (e) {
          throw new Error(`The model ${slot} could not be fetched (${e.message})`);
        }
        if (!res.ok) throw new Error(`The model ${slot} could not be fetched (HTTP ${res.status})`);
        const name = slot.slice(slot.lastIndexOf('/') + 1);
        await this.setModel(new Uint8Array(await res.arrayBuffer()), `Predicting with ${name}.`, slot);
        return slot;
      })());
      this._loading.get(slot).catch(() => this._loading.delete(slot));
    }
    return this._loading.get(slot);
  }

  /** Says that the model in training could not be used (the previous one still answers). @param {string} text */
  noteError(text) {
    this.rt.state.predict = { ...this.rt.state.predict, note: text, error: true };
    this.rt.emit('predictModel', { ...this.rt.state.predict, slot: 'current' });
  }

  /** The note for the current model. @returns {string} */
  currentNote() {
    return `Predicting with the current model: ${this.rt.state.model.label}.`;
  }

  /**
   * Predicts a drawing (MNIST preprocessing in the worker).
   * @param {Uint8Array} gray (height, width) white ink on black (transferred) @param {number} width @param {number} height
   * @param {{slot?: string, layers?: boolean}} [o] layers: also the output of each conv, pool and hidden dense layer
   * @returns {Promise<{probs: Float32Array, input: Float32Array, layers?: object[]}|null>} null for a drawing
   *   without ink
   */
  async drawing(gray, width, height, { slot = 'current', layers = false } = {}) {
    const r = await this._worker.call('predictDrawing', { gray, width, height, slot, layers }, [gray.buffer]);
    return r.empty ? null : r;
  }

  /** @param {Float32Array} x (n, H, W, C) in [0, 1] @param {{slot?: string}} [o] @returns {Promise<Float32Array>} (n, classes) */
  async inputs(x, { slot = 'current' } = {}) {
    return (await this._worker.call('predictInputs', { x, slot })).probs;
  }

  /**
   * The first convolution's filters of a slot's model.
   * @returns {Promise<{name: string, count: number, size: number, channels: number, weights: Float32Array}|null>}
   *   weights (count, channels, size, size); null when the first parameter layer is not a convolution
   */
  async filters(slot = 'current') {
    const r = await this._worker.call('filters', { slot });
    return r.none ? null : r;
  }

  /**
   * Saliency: the gradient of each class's score with respect to the input pixels.
   * @param {Float32Array} input (28, 28) @returns {Promise<{gradients: Float32Array, classes: number}>}
   *   gradients (classes, 28, 28)
   */
  saliency(input, slot = 'current') {
    return this._worker.call('saliency', { input, slot });
  }
}
