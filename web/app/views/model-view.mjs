/**
 * model-view.mjs - the model card of one widget: what the current model is, download, load from a file,
 * revert to the pretrained model.
 */
import { parts, setEnabled, onFiles, download, ErrorSlot } from './dom.mjs';

/** The model card of one widget. */
export class ModelView {
  /**
   * @param {HTMLElement} root the card @param {import('../runtime.mjs').Runtime} rt
   * @param {{owner?: *, spec?: () => (string|null)}} [o] spec: the architecture to load bare weights into
   *   (the Train card's), null when there is none
   */
  constructor(root, rt, { owner = null, spec = () => null } = {}) {
    this.rt = rt;
    this.owner = owner;
    this.spec = spec;
    this.$ = parts(root);
    const $ = this.$;
    this.error = new ErrorSlot($('model-error'), rt, 'model', owner);
    this._bareWeights = null; // a file with weights but no architecture, waiting for "load into"
    $('model-download').addEventListener('click', () => this.download());
    onFiles($('model-file'), (files) => this.loadFile(files[0]));
    $('model-revert').addEventListener('click', () => this.revert());
    $('model-load-into').addEventListener('click', () => this.loadInto());
    this._off = [
      rt.on('model', ({ model }) => this.show(model)),
      rt.on('activity', () => this.updateControls()),
      rt.on('ready', () => this.updateControls()),
    ];
    if (rt.state.model) this.show(rt.state.model);
    this.updateControls();
  }

  destroy() {
    for (const off of this._off) off();
  }

  updateControls() {
    const { rt, $ } = this;
    setEnabled($('model-download'), rt.state.ready);
    setEnabled($('model-file'), rt.allows('setModel'));
    setEnabled($('model-revert'), rt.allows('setModel'));
  }

  /** Loads a model file (picked or dropped). @param {File} file */
  async loadFile(file) {
    await this._act(() => this.rt.models.loadFile(file, this.owner), (e) => {
      if (e.kind === 'no-architecture' && this.spec() !== null) {
        this._bareWeights = file;
        this.$('model-fix').hidden = false;
      }
    });
  }

  /** Loads the waiting file's weights into the Train card's architecture. */
  async loadInto() {
    const file = this._bareWeights;
    if (file) await this._act(() => this.rt.models.loadWeightsInto(file, this.spec(), this.owner));
  }

  revert() {
    return this._act(() => this.rt.models.revert(this.owner));
  }

  /** Runs an action of this card: its error is shown here (and in the status line) until the next one. */
  async _act(fn, onError = () => {}) {
    this.error.clear();
    this.$('model-fix').hidden = true;
    this._bareWeights = null;
    try {
      await fn();
    } catch (e) {
      this.error.show(e.message);
      onError(e);
    }
  }

  download() {
    if (!this.rt.state.model) return;
    const { bytes, name } = this.rt.models.downloadable();
    download(bytes, name);
    this.rt.status('Model downloaded (.safetensors: PyTorch names and layouts, architecture in the metadata).', 'info', 'model');
  }

  /** @param {{label: string, info: object}} model */
  show({ label, info }) {
    const dl = this.$('model-info');
    const layers = info.layers.filter((l) => ['conv2d', 'dense', 'maxpool', 'avgpool', 'dropout'].includes(l.kind))
      .map((l) => (l.kind === 'conv2d' ? `conv ${l.outputShape[2]}` : l.kind === 'dense' ? `dense ${l.outputShape[2]}` : l.kind))
      .join(' → ');
    const rows = [
      ['Current', label],
      ['Layers', layers],
      ['Parameters', info.paramCount.toLocaleString('en-US')],
      ['Input', `${info.inputShape.join('×')} → ${info.classes} classes`],
      ['Engine', this.rt.state.build === 'simd' ? 'WebAssembly SIMD' : 'WebAssembly (scalar)'],
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
  }
}
