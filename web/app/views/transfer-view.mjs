/**
 * transfer-view.mjs - the transfer lab card of one widget: its settings, run and stop, progress, the three
 * ways' test accuracy on 5-9 per epoch on one chart, and the final table (accuracy, training time, images/s).
 */
import { LineChart } from '../charts.mjs';
import { TRANSFER_WAYS } from '../../shared/transfer.mjs';
import { parts, setEnabled, setText, ErrorSlot, fieldError } from './dom.mjs';

const WAY_COLORS = { frozen: '--series-2', finetune: '--series-3', scratch: '--series-4' };
const PHASE = { pretrain: 'pre-training on 0–4', frozen: 'convolutions frozen', finetune: 'fine-tuning all', scratch: 'from scratch' };
const FIELDS = {
  epochs: ['transfer-epochs', 1, 20], preEpochs: ['transfer-pre-epochs', 1, 20], limit: ['transfer-limit', 100, 30000],
  seed: ['transfer-seed', 0, 0xffffffff],
};

/** The transfer lab card of one widget. */
export class TransferView {
  /** @param {HTMLElement} root the card @param {import('../runtime.mjs').Runtime} rt @param {{owner?: *}} [o] */
  constructor(root, rt, { owner = null } = {}) {
    this.rt = rt;
    this.owner = owner;
    this.$ = parts(root);
    this.error = new ErrorSlot(this.$('transfer-error'), rt, 'transfer', owner);
    this.chart = new LineChart(this.$('chart-transfer'), { yMin: 0, yMax: 1, xWhole: true, format: (v) => `${Math.round(v * 100)}%` });
    this.ways = Object.keys(TRANSFER_WAYS);
    this.chart.setSeries(this.ways.map((w) => ({ name: TRANSFER_WAYS[w].title, color: WAY_COLORS[w], dots: true, width: 2 })));
    this.$('transfer-start').addEventListener('click', () => this.start());
    this.$('transfer-stop').addEventListener('click', () => this.rt.transfer.stop());
    this.$('transfer-form').addEventListener('submit', (e) => { e.preventDefault(); this.start(); });
    this._mine = false; // the lab running was started here
    this._off = [
      rt.on('activity', () => this.updateControls()),
      rt.on('trainerReady', () => this.updateControls()),
      rt.on('transfer:start', ({ epochs }) => this._mine && this.chart.clear(epochs)),
      rt.on('transfer:progress', (p) => this._mine && this._progress(p)),
      rt.on('transfer:pretrained', (p) => this._mine && this._text(`Pre-trained on ${p.images.toLocaleString('en-US')} images of 0–4: ` +
        `${pct(p.accuracy04)} on 0–4, ${pct(p.accuracy59)} on 5–9 before learning them (chance: 20%).`)),
      rt.on('transfer:epoch', (e) => this._mine && this.chart.add(this.ways.indexOf(e.way), e.epoch, e.accuracy)),
    ];
    this.updateControls();
  }

  destroy() {
    for (const off of this._off) off();
  }

  updateControls() {
    const { rt, $ } = this;
    setEnabled($('transfer-start'), rt.state.trainerReady && rt.allows('transferLab'));
    setEnabled($('transfer-stop'), this._mine && rt.transfer.running);
  }

  /** @returns {{epochs: number, preEpochs: number, limit: number, seed: number}|null} null: a field is wrong (said so) */
  readForm() {
    const out = {};
    for (const [key, [part, min, max]] of Object.entries(FIELDS)) {
      const input = this.$(part);
      const v = Number(input.value);
      if (!Number.isInteger(v) || v < min || v > max) {
        const label = input.closest('.field').querySelector('label').textContent;
        fieldError(input, `${label}: a whole number from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}.`);
        input.focus();
        return null;
      }
      out[key] = v;
    }
    return out;
  }

  async start() {
    const { rt } = this;
    this.error.clear();
    if (!rt.allows('transferLab')) {
      this.error.show(rt.refusal('transferLab'));
      return;
    }
    const form = this.readForm();
    if (!form) return;
    this._mine = true;
    this.$('transfer-table').hidden = true;
    this.$('transfer-progress').value = 0;
    this._text('Starting (MNIST is downloaded first if needed)…');
    this.updateControls();
    try {
      const result = await rt.transfer.run(form, this.owner);
      this._table(result);
      this.$('transfer-progress').value = result.stopped ? this.$('transfer-progress').value : 1;
      this._text(result.stopped ? 'Stopped.' : `Done: ${form.epochs} epoch${form.epochs === 1 ? '' : 's'} of 5–9 each way.`);
    } catch (e) {
      this.error.show(`The transfer lab did not complete: ${e.message}`, { status: false });
      this._text('');
    } finally {
      this._mine = false;
      this.updateControls();
    }
  }

  _progress(p) {
    this.$('transfer-progress').value = p.fraction;
    this._text(`${PHASE[p.phase]}, epoch ${p.epoch} of ${p.epochs} · ${Math.round(100 * p.fraction)}% of the lab`);
  }

  _text(t) {
    setText(this.$('transfer-progress-text'), t);
  }

  /** The final table: one row per way that ran to its end. */
  _table(result) {
    const table = this.$('transfer-table');
    const rows = Object.entries(result.ways);
    table.hidden = rows.length === 0;
    if (!rows.length) return;
    const epochs = result.epochs;
    const head = ['way', 'before', ...Array.from({ length: epochs }, (_, i) => `epoch ${i + 1}`), 'training time', 'images/s'];
    const tr = (cells, tag = 'td') => `<tr>${cells.map((c, i) => (i === 0 ? `<th scope="row">${c}</th>` : `<${tag}>${c}</${tag}>`)).join('')}</tr>`;
    const { pretrain } = result;
    table.innerHTML = `<caption>Test accuracy on the digits 5–9 (${pretrain.images.toLocaleString('en-US')} training images of each
  half; pre-trained for ${pretrain.epochs} epoch${pretrain.epochs === 1 ? '' : 's'}: ${pct(pretrain.accuracy_0_4)} on 0–4)</caption>
<thead><tr>${head.map((h) => `<th scope="col">${h}</th>`).join('')}</tr></thead>
<tbody>${rows.map(([name, w]) => tr([TRANSFER_WAYS[name].title, pct(w.before), ...w.accuracy.map(pct), `${w.seconds.toFixed(1)} s`,
    w.images_per_second.toLocaleString('en-US')])).join('')}</tbody>`;
    for (const [i, [name]] of rows.entries()) table.tBodies[0].rows[i].dataset.way = name;
  }
}

const pct = (a) => `${(100 * a).toFixed(1)}%`;
