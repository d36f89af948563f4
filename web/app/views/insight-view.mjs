/**
 * insight-view.mjs - what the network sees, for one pad's drawing, live while drawing: the 28x28 input, the
 * first layer's filters, the feature maps of every convolution and pooling layer, the hidden dense layers'
 * activations, the output probabilities, and a saliency map (which pixels push the prediction towards a class:
 * the gradient of that class's score with respect to the input).
 */
import { renderInput } from '../draw.mjs';
import { renderChannel, renderDiverging, range } from '../insight-render.mjs';
import { parts, setText } from './dom.mjs';

const KIND_NOTE = {
  conv2d: 'each map lights up where its filter finds its pattern',
  maxpool: 'each map at half size, keeping the strongest response of every 2×2 block',
  avgpool: 'each map at half size, averaging every 2×2 block',
  dense: 'one square per unit, brighter for a stronger response',
};

/** What the network sees for one pad's drawing. */
export class InsightView {
  /**
   * @param {HTMLElement} root the card @param {import('../runtime.mjs').Runtime} rt
   * @param {import('./draw-view.mjs').DrawView} pad the pad whose drawing is shown
   * @param {{owner?: *}} [o]
   */
  constructor(root, rt, pad, { owner = null } = {}) {
    this.rt = rt;
    this.pad = pad;
    this.owner = owner;
    this.$ = parts(root);
    /** what is shown now: {input, layers: [{index, name, kind, shape, values}], filters, saliency} (tests read it) */
    this.shown = { input: null, layers: [], filters: null, saliency: null };
    this._layerKey = '';
    this._saliencySeq = 0;
    const sel = this.$('saliency-class');
    for (let i = 0; i < 10; i++) sel.append(new Option(String(i), String(i)));
    sel.addEventListener('change', () => this._renderSaliency());
    this._off = [
      pad.subscribe((p) => this.show(p), { layers: true }),
      rt.on('predictModel', (m) => { if (m.slot === pad.slot) this.loadFilters(); }),
    ];
    /** resolves when the filters of the pad's model are shown */
    this.filtersReady = pad.modelReady.then(() => this.loadFilters());
  }

  destroy() {
    for (const off of this._off) off();
  }

  /** @param {import('./draw-view.mjs').Prediction} p */
  show(p) {
    this.shown.input = p.input;
    renderInput(this.$('insight-input'), p.input);
    this._probabilities(p.probabilities);
    this._layers(p.layers ?? []);
    if (!p.input) {
      this.shown.saliency = null;
      renderDiverging(this.$('saliency'), new Float32Array(784), 28, 28, 1);
    } else if (p.final) {
      this._saliency(p.input, p.digit);
    }
    setText(this.$('insight-note'), p.input ? 'The output of every layer for this drawing; draw again and they follow your pen.'
      : 'Draw a digit: the output of every layer follows your pen.');
  }

  /** The first convolution's filters (one small square per filter, its first input channel). */
  async loadFilters() {
    let f;
    try {
      f = await this.rt.predict.filters(this.pad.slot);
    } catch {
      f = null;
    }
    this.shown.filters = f;
    this.$('filters-box').hidden = !f;
    if (!f) return;
    setText(this.$('filters-title'), `${f.name}: its ${f.count} filters, ${f.size}×${f.size} weights each ` +
      '(orange: the pixel adds to the response, blue: it subtracts)');
    const [lo, hi] = range(f.weights);
    const scale = Math.max(Math.abs(lo), Math.abs(hi));
    const per = f.size * f.size * f.channels; // (count, channels, size, size): channel 0 of each filter first
    const box = this.$('filters');
    box.replaceChildren(...Array.from({ length: f.count }, (_, k) => {
      const c = document.createElement('canvas');
      renderDiverging(c, f.weights.subarray(k * per, k * per + f.size * f.size), f.size, f.size, scale);
      c.setAttribute('role', 'img');
      c.setAttribute('aria-label', `filter ${k + 1}`);
      return c;
    }));
  }

  _probabilities(probs) {
    const list = this.$('insight-probs');
    if (list.children.length !== Math.max(10, probs.length)) {
      list.replaceChildren(...Array.from({ length: Math.max(10, probs.length) }, (_, i) => {
        const li = document.createElement('li');
        li.innerHTML = '<span class="name"></span><span class="track"><span class="fill"></span></span><span class="pct"></span>';
        li.querySelector('.name').textContent = String(i);
        return li;
      }));
    }
    const best = probs.length ? probs.indexOf(Math.max(...probs)) : -1;
    [...list.children].forEach((li, i) => {
      const v = probs[i] ?? 0;
      li.querySelector('.fill').style.transform = `scaleX(${v.toFixed(3)})`;
      setText(li.querySelector('.pct'), probs.length ? `${Math.round(100 * v)}%` : '');
      li.classList.toggle('best', i === best);
    });
  }

  /** One figure per layer; the canvases are kept while the layers stay the same (a redraw per prediction). */
  _layers(layers) {
    this.shown.layers = layers;
    const box = this.$('insight-layers');
    const key = layers.map((l) => `${l.name}:${l.shape.join('x')}`).join(',');
    if (key !== this._layerKey) {
      this._layerKey = key;
      box.replaceChildren(...layers.map((l) => {
        const fig = document.createElement('figure');
        fig.className = `layer-out ${l.kind}`;
        fig.dataset.layer = l.name;
        const cap = document.createElement('figcaption');
        const [h, w, c] = l.shape;
        cap.textContent = l.kind === 'dense' ? `${l.name}: ${c} units — ${KIND_NOTE.dense}`
          : `${l.name}: ${c} feature maps, ${h}×${w} — ${KIND_NOTE[l.kind]}`;
        const maps = document.createElement('div');
        maps.className = 'maps';
        const n = l.kind === 'dense' ? 1 : c;
        for (let k = 0; k < n; k++) {
          const cv = document.createElement('canvas');
          cv.setAttribute('role', 'img');
          cv.setAttribute('aria-label', l.kind === 'dense' ? `${l.name} activations` : `${l.name} map ${k + 1}`);
          maps.append(cv);
        }
        fig.append(cap, maps);
        return fig;
      }));
    }
    layers.forEach((l, i) => {
      const canvases = box.children[i].querySelectorAll('canvas');
      const [lo, hi] = range(l.values);
      const low = Math.min(0, lo);
      if (l.kind === 'dense') {
        const c = l.shape[2], cols = Math.min(c, 16);
        const grid = new Float32Array(Math.ceil(c / cols) * cols).fill(low);
        grid.set(l.values);
        renderChannel(canvases[0], grid, [Math.ceil(c / cols), cols, 1], 0, low, hi);
      } else {
        // each map on its own scale, but not brighter than a quarter of the layer's strongest response:
        // a map that barely responds stays dark
        const [h, w, c] = l.shape;
        canvases.forEach((cv, k) => {
          let top = -Infinity;
          for (let i = k; i < h * w * c; i += c) if (l.values[i] > top) top = l.values[i];
          renderChannel(cv, l.values, l.shape, k, low, Math.max(top, low + 0.25 * (hi - low)));
        });
      }
    });
  }

  async _saliency(input, digit) {
    const seq = ++this._saliencySeq;
    let s = null;
    try {
      s = await this.rt.predict.saliency(input, this.pad.slot);
    } catch (e) {
      setText(this.$('saliency-note'), e.message);
      return;
    }
    if (seq !== this._saliencySeq) return;
    this.shown.saliency = { ...s, digit, input }; // input: the drawing it is of (a newer stroke may be shown)
    this._renderSaliency();
  }

  _renderSaliency() {
    const s = this.shown.saliency;
    if (!s) return;
    const chosen = this.$('saliency-class').value;
    const k = chosen === '' ? s.digit : Number(chosen);
    const g = s.gradients.subarray(k * 784, (k + 1) * 784);
    const [lo, hi] = range(g);
    renderDiverging(this.$('saliency'), g, 28, 28, Math.max(Math.abs(lo), Math.abs(hi)), 1, 0, this.shown.input);
    setText(this.$('saliency-note'), `(${k}: orange pixels raise its score, blue ones lower it)`);
  }
}
