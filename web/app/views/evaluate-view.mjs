/**
 * evaluate-view.mjs - the evaluation card of one widget: the button, progress, and the results (drawn by
 * evaluation-view.mjs: accuracy, confusion matrix whose cells show their images, per-class metrics, gallery).
 */
import { EvaluationView } from '../evaluation-view.mjs';
import { GALLERY_MAX } from '../controllers/evaluation.mjs';
import { parts, setEnabled, ErrorSlot } from './dom.mjs';

/** The evaluation card of one widget. */
export class EvaluateView {
  /**
   * @param {HTMLElement} root the card @param {import('../runtime.mjs').Runtime} rt
   * @param {{owner?: *, dataset?: () => string, onPick?: Function}} [o] dataset: the data set choice (its test
   *   split is used; MNIST for the drawings); onPick: a gallery image was chosen (EvaluationView)
   */
  constructor(root, rt, { owner = null, dataset = () => 'mnist', onPick = null } = {}) {
    this.rt = rt;
    this.owner = owner;
    this.dataset = dataset;
    this.$ = parts(root);
    const $ = this.$;
    this.results = new EvaluationView({
      accuracy: $('test-accuracy'), body: $('eval-body'), confusion: $('confusion'), metrics: $('metrics'),
      galleryTitle: $('gallery-title'), gallery: $('gallery'),
    }, (i, j) => this.showCell(i, j), onPick);
    this.error = new ErrorSlot($('eval-error'), rt, 'evaluate', owner);
    $('evaluate').addEventListener('click', () => this.run().catch(() => {}));
    $('eval-set').addEventListener('change', () => this.error.clear());
    $('eval-cancel').addEventListener('click', () => rt.evaluation.cancel());
    this._off = [
      rt.on('activity', () => this.updateControls()),
      rt.on('ready', () => this.updateControls()),
      rt.on('samples', () => this.options()),
      rt.on('data', () => {
        this.options();
        this.datasetChanged(this.dataset());
      }),
      rt.on('eval:reset', () => this.results.reset()),
      rt.on('eval:start', () => {
        this.error.clear();
        this.progress(0, 'Evaluating…');
      }),
      rt.on('eval:progress', ({ done, total }) => this.progress(done / total,
        `${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} test images`)),
      rt.on('eval:done', ({ result }) => this.show(result)),
      rt.on('eval:cancelled', () => this.progress(null)),
      rt.on('eval:failed', ({ error }) => {
        this.progress(null);
        this.error.show(error.message, { status: false });
      }),
    ];
    this.options();
    this.updateControls();
  }

  destroy() {
    for (const off of this._off) off();
  }

  /** @returns {'mnist'|'custom'|'drawings'} the test set chosen (drawings: the held-out ones) */
  evaluationSet() {
    const sel = this.$('eval-set');
    return sel.selectedOptions[0]?.disabled ? 'mnist' : sel.value;
  }

  /** The data card's choice changed: IDX files from disk are tested on their own test files. @param {string} choice */
  datasetChanged(choice) {
    const sel = this.$('eval-set');
    if (choice === 'custom' && this.rt.state.custom) sel.value = 'custom';
    else if (sel.value === 'custom') sel.value = 'mnist';
  }

  /** Which test sets there are. */
  options() {
    const { custom, samples } = this.rt.state;
    const opts = Object.fromEntries([...this.$('eval-set').options].map((o) => [o.value, o]));
    const held = samples.filter((s) => s.heldOut).length;
    opts.custom.disabled = !custom;
    opts.custom.textContent = custom ? `IDX test files (${custom.test.count.toLocaleString('en-US')} images)` : 'IDX test files (none loaded)';
    opts.drawings.disabled = held === 0;
    opts.drawings.textContent = `My drawings (${held || 'none'} held out)`;
    if (this.$('eval-set').selectedOptions[0]?.disabled) this.$('eval-set').value = 'mnist';
  }

  /** Evaluates the current model. @returns {Promise<object|null>} the result, null when cancelled; throws when it failed */
  async run() {
    try {
      return await this.rt.evaluation.run(this.evaluationSet(), this.owner);
    } catch (e) {
      if (e.name === 'BusyError') this.error.show(e.message);
      throw e;
    }
  }

  updateControls() {
    setEnabled(this.$('evaluate'), this.rt.allows('evaluate'));
    setEnabled(this.$('eval-set'), this.rt.allows('evaluate'));
  }

  show(r) {
    this.progress(null);
    this.results.show(r);
    this.results.gallery(`Most confidently wrong (${r.wrong.indices.length} of ${r.wrongCount} errors)`, r.wrong.images,
      this._items(r.wrong.indices));
  }

  async showCell(trueClass, predicted) {
    const ev = this.rt.state.evaluation;
    if (!ev) return;
    const idx = this.rt.evaluation.cell(trueClass, predicted);
    const shown = idx.slice(0, GALLERY_MAX);
    try {
      const images = await this.rt.evaluation.images(ev.dataset, shown);
      this.results.gallery(`True ${trueClass}, predicted ${predicted}: ${idx.length} image${idx.length === 1 ? '' : 's'}` +
        `${idx.length > shown.length ? ` (the ${shown.length} most confident)` : ''}`, images, this._items(shown));
    } catch (e) {
      this.rt.status(e.message, 'error', 'evaluate');
    }
  }

  _items(indices) {
    const ev = this.rt.state.evaluation;
    return indices.map((index) => ({
      index, label: ev.labels[index], predicted: ev.predicted[index], confidence: ev.confidence[index],
    }));
  }

  /** @param {number|null} fraction null hides the bar and the Cancel button @param {string} [text] */
  progress(fraction, text = '') {
    this.$('eval-running').hidden = fraction === null;
    if (fraction !== null) this.$('eval-progress').value = fraction;
    this.$('eval-progress-text').textContent = text;
  }
}
