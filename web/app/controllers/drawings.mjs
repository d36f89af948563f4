/**
 * drawings.mjs - the drawings controller: the user's own labelled 28x28 drawings, kept in the page's storage
 * scope and sent to the training worker as the 'drawings' data set: the training part as its train split, the
 * held-out part as its test split (never trained on).
 *
 * Held out: every HOLD_OUT_EVERY-th drawing of a digit (the 5th, 10th, ... saved with that label) is kept aside
 * for testing. It is decided once, when the drawing is saved or imported, and stored with it, so it stays the
 * same across reloads, deletions and relabelling.
 *
 * Saving, relabelling, deleting and importing work at any time, also while a run trains on the drawings: the
 * change goes to storage and to the state at once, and the training worker swaps its data set when that run
 * ends (busy-policy.mjs).
 */
import { drawingsArchive, idxPairs, isTar, readTar } from '../drawings-file.mjs';

/** One drawing in this many of a digit is held out. */
export const HOLD_OUT_EVERY = 5;

/** Keeps the user's drawings in storage, the state and the training worker. */
export class DrawingsController {
  /** @param {import('../runtime.mjs').Runtime} rt */
  constructor(rt) {
    this.rt = rt;
  }

  /** At start: the drawings kept in storage (none when storage fails or is off). */
  async restore() {
    const samples = this.rt.storage ? await this.rt.storage.loadSamples().catch(() => []) : [];
    // drawings kept by an older page have no held-out mark: give them one, by the same rule, once
    const counts = new Array(256).fill(0);
    const marked = [];
    for (const s of samples) {
      if (s.heldOut === undefined) {
        s.heldOut = counts[s.label] % HOLD_OUT_EVERY === HOLD_OUT_EVERY - 1;
        marked.push({ key: s.key, heldOut: s.heldOut });
      }
      counts[s.label]++;
    }
    if (marked.length) await this.rt.storage.updateSamples(marked).catch(() => {});
    this.rt.state.samples = samples;
    await this._send();
  }

  /** Sends the drawings to the training worker again (a fresh instance). */
  resend() {
    return this._send();
  }

  /** @param {number} label @returns {boolean} whether the next drawing saved with this label is held out */
  nextHeldOut(label) {
    const n = this.rt.state.samples.filter((s) => s.label === label).length;
    return n % HOLD_OUT_EVERY === HOLD_OUT_EVERY - 1;
  }

  /**
   * Saves a drawing with its label.
   * @param {Float32Array} input (28, 28) the model input in [0, 1] @param {number} label
   * @returns {Promise<{count: number, deferred: boolean, heldOut: boolean}>} deferred: a run trains on the
   *   drawings and gets the new set when it ends; heldOut: this one is kept aside for testing
   */
  async save(input, label) {
    const pixels = Uint8Array.from(input, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
    const heldOut = this.nextHeldOut(label);
    const key = this.rt.storage ? await this.rt.storage.addSample(pixels, label, heldOut) : this._localKey();
    this.rt.state.samples.push({ key, pixels, label, heldOut });
    const { count, deferred } = await this._send();
    return { count, deferred, heldOut };
  }

  /** Gives one drawing another label (it stays held out or not). @param {number} key @param {number} label */
  async relabel(key, label) {
    const s = this._find(key);
    await this.rt.storage?.updateSamples([{ key, label }]);
    s.label = label;
    return this._send();
  }

  /** Deletes one drawing. @param {number} key */
  async remove(key) {
    this._find(key);
    await this.rt.storage?.deleteSample(key);
    this.rt.state.samples = this.rt.state.samples.filter((s) => s.key !== key);
    return this._send();
  }

  /**
   * Deletes every drawing (of this page's scope).
   * @returns {Promise<{count: number, held: number, deferred: boolean}>} held: how many are held out
   */
  async clear() {
    await this.rt.storage?.clearSamples();
    this.rt.state.samples = [];
    return this._send();
  }

  /**
   * @returns {Promise<{bytes: Uint8Array, name: string}>} every drawing as one .tar of gzip IDX files
   *   (docs/formats.md)
   */
  async exportArchive() {
    const { samples } = this.rt.state;
    if (!samples.length) throw new Error('there are no drawings to export');
    const stamp = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    return { bytes: await drawingsArchive(samples), name: `my-drawings-${stamp}.tar` };
  }

  /**
   * Adds the drawings of files (the .tar the page exports, or IDX image and label files, raw or .gz): it
   * never replaces a drawing; an image already here is not added twice. All are added in one transaction.
   * @param {File[]} files
   * @returns {Promise<{added: number, addedHeldOut: number, duplicates: number, relabelled: number, count: number,
   *   held: number, deferred: boolean}>} duplicates: images already here (skipped); relabelled: of those, the ones that
   *   are here with another label (the label here is kept)
   */
  async importFiles(files) {
    const { rt } = this;
    const entries = [];
    for (const f of files) {
      const bytes = new Uint8Array(await f.arrayBuffer());
      if (isTar(bytes)) entries.push(...readTar(bytes, f.name));
      else entries.push({ name: f.name, bytes });
    }
    const pairs = idxPairs(entries);
    const decoded = [];
    for (const { images, labels, heldOut } of pairs) {
      let d;
      try {
        d = await rt.workers.trainer.call('decodeIdx', { images: images.bytes, labels: labels.bytes });
      } catch (e) {
        throw new Error(`${images.name} + ${labels.name}: ${e.message}`);
      }
      if (d.height !== 28 || d.width !== 28 || d.channels !== 1) {
        throw new Error(`${images.name} holds ${d.height}×${d.width}×${d.channels} images; drawings are 28×28×1`);
      }
      if (d.labels.some((l) => l > 9)) throw new Error(`${labels.name} has labels above 9; drawings are digits 0 to 9`);
      decoded.push({ ...d, heldOut });
    }
    const here = new Map(rt.state.samples.map((s) => [pixelKey(s.pixels), s.label]));
    const counts = new Array(10).fill(0);
    for (const s of rt.state.samples) counts[s.label]++;
    const fresh = [];
    let duplicates = 0, relabelled = 0;
    for (const d of decoded) {
      for (let i = 0; i < d.count; i++) {
        const pixels = d.pixels.slice(i * 784, (i + 1) * 784);
        const label = d.labels[i];
        const id = pixelKey(pixels);
        if (here.has(id)) {
          duplicates++;
          if (here.get(id) !== label) relabelled++;
          continue;
        }
        here.set(id, label);
        const heldOut = d.heldOut ?? counts[label] % HOLD_OUT_EVERY === HOLD_OUT_EVERY - 1;
        counts[label]++;
        fresh.push({ pixels, label, heldOut });
      }
    }
    const keys = rt.storage ? await rt.storage.addSamples(fresh) : fresh.map(() => this._localKey());
    fresh.forEach((s, i) => rt.state.samples.push({ ...s, key: keys[i] }));
    const sent = await this._send();
    return { ...sent, added: fresh.length, addedHeldOut: fresh.filter((s) => s.heldOut).length, duplicates, relabelled };
  }

  _find(key) {
    const s = this.rt.state.samples.find((x) => x.key === key);
    if (!s) throw new Error(`there is no drawing ${key}`);
    return s;
  }

  /** Keys for drawings when the page keeps nothing (storage off). */
  _localKey() {
    this._nextKey = (this._nextKey ?? 0) - 1;
    return this._nextKey;
  }

  async _send() {
    const { samples } = this.rt.state;
    const n = samples.length;
    const images = new Uint8Array(n * 784), labels = new Uint8Array(n), heldOut = new Uint8Array(n);
    samples.forEach((s, i) => {
      images.set(s.pixels, i * 784);
      labels[i] = s.label;
      heldOut[i] = s.heldOut ? 1 : 0;
    });
    const held = heldOut.reduce((a, b) => a + b, 0);
    const r = await this.rt.workers.trainer.call('setDrawings', { images, labels, heldOut },
      [images.buffer, labels.buffer, heldOut.buffer]);
    const out = { count: n, held, deferred: !!r.deferred };
    this.rt.emit('samples', out);
    return out;
  }
}

/** @param {Uint8Array} pixels @returns {string} the image as a Map key (equal images, equal keys) */
function pixelKey(pixels) {
  return String.fromCharCode.apply(null, pixels);
}
