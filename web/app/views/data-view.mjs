/**
 * data-view.mjs - the data card of one widget: the data set choice, downloading MNIST, IDX files from disk,
 * download progress.
 */
import { parts, setEnabled, onFiles, ErrorSlot } from './dom.mjs';
import { renderImage } from '../draw.mjs';

const SAMPLES = 24; // training images shown once MNIST is loaded

/** The data card of one widget. */
export class DataView {
  /**
   * @param {HTMLElement} root the card @param {import('../runtime.mjs').Runtime} rt
   * @param {{owner?: *, onChoice?: (choice: string) => void}} [o] onChoice: the data set choice changed
   */
  constructor(root, rt, { owner = null, onChoice = () => {} } = {}) {
    this.rt = rt;
    this.owner = owner;
    this.onChoice = onChoice;
    this.$ = parts(root);
    const $ = this.$;
    this.error = new ErrorSlot($('data-error'), rt, 'data', owner);
    $('dataset').addEventListener('change', (e) => this.onChoice(e.target.value));
    $('mnist-load').addEventListener('click', () => this.loadMnist());
    onFiles($('idx-files'), (files) => this.loadIdxFiles(files));
    $('data-more').addEventListener('click', () => this.showSamples());
    this._off = [
      rt.on('activity', () => this.updateControls()),
      rt.on('ready', () => this.updateControls()),
      rt.on('samples', () => this.options()),
      rt.on('data', ({ mnist }) => this.showMnist(mnist)),
      rt.on('dataProgress', (p) => this.progress(p)),
    ];
    this.options();
    this.updateControls();
  }

  destroy() {
    for (const off of this._off) off();
  }

  /** @returns {string} the chosen data set */
  get value() {
    return this.$('dataset').value;
  }

  set value(choice) {
    this.$('dataset').value = choice;
  }

  updateControls() {
    const { rt, $ } = this;
    const idle = rt.state.ready && !rt.state.activity;
    setEnabled($('dataset'), idle);
    setEnabled($('mnist-load'), idle);
    setEnabled($('idx-files'), rt.allows('loadIdxFiles'));
  }

  async loadMnist() {
    const { rt } = this;
    this.error.clear();
    try {
      await rt.data.ensureMnist(['train', 'test']);
      rt.status('MNIST is ready.', 'info', 'data');
    } catch (e) {
      this.error.show(`MNIST could not be loaded: ${e.message}`);
    }
  }

  /** Loads four IDX files (picked or dropped) and chooses them. @param {File[]} files */
  async loadIdxFiles(files) {
    const { rt } = this;
    let custom;
    this.error.clear();
    try {
      custom = await rt.data.loadIdxFiles(files, this.owner);
    } catch (e) {
      this.error.show(e.name === 'BusyError' ? e.message : `The IDX files could not be loaded: ${e.message}`);
      return;
    }
    const { train, test } = custom;
    this.value = 'custom';
    this.onChoice('custom');
    this.info(`Loaded from disk: ${train.count.toLocaleString('en-US')} training and ${test.count.toLocaleString('en-US')} test ` +
      `images of ${train.height}×${train.width}×${train.channels}, ${Math.max(train.classes, test.classes)} classes.`);
    rt.status('IDX data set loaded. Train a new model for it (the architecture was adapted to its shape).', 'info', 'data');
  }

  /** Updates the data set choices. */
  options() {
    const { custom, samples } = this.rt.state;
    const sel = this.$('dataset');
    const opts = Object.fromEntries([...sel.options].map((o) => [o.value, o]));
    opts.custom.disabled = !custom;
    opts.custom.textContent = custom
      ? `IDX files from disk (${custom.train.count.toLocaleString('en-US')} training images, ${custom.train.height}×${custom.train.width}×${custom.train.channels}, ${custom.train.classes} classes)`
      : 'IDX files from disk (none loaded)';
    const n = samples.filter((s) => !s.heldOut).length, held = samples.length - n;
    opts.drawings.disabled = n === 0;
    opts.drawings.textContent = samples.length
      ? `My drawings (${n} for training${held ? `, ${held} held out` : ''})` : 'My drawings (none saved)';
    opts['mnist+drawings'].disabled = n === 0;
    if (sel.selectedOptions[0]?.disabled) sel.value = 'mnist';
  }

  showMnist(mnist) {
    this.options();
    const t = mnist.train, e = mnist.test;
    if (!t && !e) return;
    if (t && this.$('data-samples').hidden) this.showSamples();
    this.info(`MNIST loaded: ${[t && `${t.count.toLocaleString('en-US')} training`, e && `${e.count.toLocaleString('en-US')} test`]
      .filter(Boolean).join(' and ')} images.`);
  }

  /** A few random MNIST training images with their labels. */
  async showSamples() {
    const { rt } = this;
    const n = rt.state.mnist.train?.count;
    if (!n) return;
    const indices = Array.from({ length: SAMPLES }, () => Math.floor(Math.random() * n));
    let images;
    try {
      images = await rt.evaluation.images('mnist', indices, 'train');
    } catch (e) {
      this.error.show(e.message);
      return;
    }
    const size = images.height * images.width * images.channels;
    this.$('data-gallery').replaceChildren(...indices.map((index, i) => {
      const li = document.createElement('li');
      const c = document.createElement('canvas');
      renderImage(c, images.pixels.subarray(i * size, (i + 1) * size), images.height, images.width, images.channels);
      c.setAttribute('role', 'img');
      c.setAttribute('aria-label', `training image ${index}, labelled ${images.labels[i]}`);
      const cap = document.createElement('span');
      cap.textContent = String(images.labels[i]);
      li.append(c, cap);
      return li;
    }));
    this.$('data-samples').hidden = false;
  }

  /** @param {{loaded: number, total: number, unpacking?: boolean}|null} p null hides the bar */
  progress(p) {
    const { $ } = this;
    $('data-progress-box').hidden = p === null;
    if (!p) {
      $('data-progress-text').textContent = '';
      return;
    }
    const mb = (n) => (n / 1e6).toFixed(1);
    $('data-progress').value = p.unpacking ? 1 : p.total ? p.loaded / p.total : 0;
    $('data-progress-text').textContent = p.unpacking ? 'Unpacking…'
      : p.total ? `Downloading MNIST: ${mb(p.loaded)} of ${mb(p.total)} MB` : 'Downloading MNIST…';
  }

  /** @param {string} text @param {boolean} [error] */
  info(text, error = false) {
    const el = this.$('data-info');
    el.textContent = text;
    el.classList.toggle('error', error);
  }
}
