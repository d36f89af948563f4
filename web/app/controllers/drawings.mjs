/**
 * drawings.mjs - the drawings controller: the user's own labelled 28x28 drawings, kept in the page's storage
 * scope and sent to the training worker as the 'drawings' data set.
 *
 * Saving or deleting works at any time, also while a run trains on the drawings: the change goes to storage
 * and to the state at once, and the training worker swaps its data set when that run ends (busy-policy.mjs).
 */

/** Keeps the user's drawings in storage, the state and the training worker. */
export class DrawingsController {
  /** @param {import('../runtime.mjs').Runtime} rt */
  constructor(rt) {
    this.rt = rt;
  }

  /** At start: the drawings kept in storage (none when storage fails or is off). */
  async restore() {
    this.rt.state.samples = this.rt.storage ? await this.rt.storage.loadSamples().catch(() => []) : [];
    await this._send();
  }

  /** Sends the drawings to the training worker again (a fresh instance). */
  resend() {
    return this._send();
  }

  /**
   * Saves a drawing with its label.
   * @param {Float32Array} input (28, 28) the model input in [0, 1] @param {number} label
   * @returns {Promise<{count: number, deferred: boolean}>} deferred: a run trains on the drawings and gets
   *   the new set when it ends
   */
  async save(input, label) {
    const pixels = Uint8Array.from(input, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
    await this.rt.storage?.addSample(pixels, label);
    this.rt.state.samples.push({ pixels, label });
    return this._send();
  }

  /** Deletes every drawing (of this page's scope). @returns {Promise<{count: number, deferred: boolean}>} */
  async clear() {
    await this.rt.storage?.clearSamples();
    this.rt.state.samples = [];
    return this._send();
  }

  async _send() {
    const { samples } = this.rt.state;
    const n = samples.length;
    const images = new Uint8Array(n * 784), labels = new Uint8Array(n);
    samples.forEach((s, i) => {
      images.set(s.pixels, i * 784);
      labels[i] = s.label;
    });
    const r = await this.rt.workers.trainer.call('setDrawings', { images, labels }, [images.buffer, labels.buffer]);
    const out = { count: n, deferred: !!r.deferred };
    this.rt.emit('samples', out);
    return out;
  }
}
