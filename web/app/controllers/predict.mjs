/**
 * predict.mjs - the prediction controller: which model answers predictions (the current one, or the model in
 * training as snapshots), and predictions of drawings and of ready-made inputs, in the prediction worker.
 */

export class PredictController {
  /** @param {import('../runtime.mjs').Runtime} rt */
  constructor(rt) {
    this.rt = rt;
  }

  get _worker() {
    return this.rt.workers.predictor;
  }

  /**
   * Gives the prediction worker a model; every widget predicts again with it ('predictModel').
   * @param {Uint8Array} bytes .safetensors (transferred) @param {string} note which model answers, for people
   * @returns {Promise<object>} the model's info
   */
  async setModel(bytes, note) {
    const info = await this._worker.call('setModel', { bytes }, [bytes.buffer]);
    const [h, w, c] = info.inputShape;
    this.rt.state.predict = { info, note, drawable: h === 28 && w === 28 && c === 1, error: false };
    this.rt.emit('predictModel', this.rt.state.predict);
    return info;
  }

  /** Says that the model in training could not be used (the previous one still answers). @param {string} text */
  noteError(text) {
    this.rt.state.predict = { ...this.rt.state.predict, note: text, error: true };
    this.rt.emit('predictModel', this.rt.state.predict);
  }

  /** The note for the current model. @returns {string} */
  currentNote() {
    return `Predicting with the current model: ${this.rt.state.model.label}.`;
  }

  /**
   * Predicts a drawing (MNIST preprocessing in the worker).
   * @param {Uint8Array} gray (height, width) white ink on black (transferred) @param {number} width @param {number} height
   * @returns {Promise<{probs: Float32Array, input: Float32Array}|null>} null for a drawing without ink
   */
  async drawing(gray, width, height) {
    const r = await this._worker.call('predictDrawing', { gray, width, height }, [gray.buffer]);
    return r.empty ? null : r;
  }

  /** @param {Float32Array} x (n, H, W, C) in [0, 1] @returns {Promise<Float32Array>} (n, classes) */
  async inputs(x) {
    return (await this._worker.call('predictInputs', { x })).probs;
  }
}
