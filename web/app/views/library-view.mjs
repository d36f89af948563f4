/**
 * library-view.mjs - the model library card of one widget: the kept models (the current one marked), use,
 * rename, download and delete (asked twice), and two runs' curves compared on one chart.
 */
import { LineChart } from '../charts.mjs';
import { PRETRAINED_ID } from '../controllers/library.mjs';
import { parts, setEnabled, download, ErrorSlot } from './dom.mjs';

/** Runs compared at once, and their colours. */
const COMPARE_COLORS = ['--series-2', '--series-3'];

/** The model library card of one widget. */
export class LibraryView {
  /** @param {HTMLElement} root the card @param {import('../runtime.mjs').Runtime} rt @param {{owner?: *}} [o] */
  constructor(root, rt, { owner = null } = {}) {
    this.rt = rt;
    this.owner = owner;
    this.$ = parts(root);
    this.error = new ErrorSlot(this.$('library-error'), rt, 'library', owner);
    this.compared = [];        // ids ticked for comparison, oldest first
    this.editing = null;       // id whose name is being edited
    this.confirming = null;    // id whose deletion waits for a second click
    this.chart = new LineChart(this.$('chart-compare'), { yMin: 0, format: (v) => v.toFixed(2) });
    this.$('compare-metric').addEventListener('change', () => this.drawCompare());
    this.$('library-list').addEventListener('click', (e) => this._click(e));
    this.$('library-list').addEventListener('change', (e) => {
      if (e.target.dataset.act === 'compare') this._compare(e.target.closest('li').dataset.id, e.target.checked);
    });
    this.$('library-list').addEventListener('keydown', (e) => {
      if (e.target.dataset.act !== 'name-input') return;
      if (e.key === 'Enter') { e.preventDefault(); this._saveName(); }
      if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); this.editing = null; this.render(); }
    });
    this._off = [
      rt.on('library', () => this.render()),
      rt.on('activity', () => this.updateControls()),
      rt.on('ready', () => this.updateControls()),
    ];
    this.render();
  }

  destroy() {
    for (const off of this._off) off();
  }

  /** An entry's id from its list item (numbers for stored entries). */
  _id(li) {
    return li.dataset.id === PRETRAINED_ID ? PRETRAINED_ID : Number(li.dataset.id);
  }

  async _click(e) {
    const button = e.target.closest('button[data-act]');
    if (!button) return;
    const id = this._id(button.closest('li'));
    const act = button.dataset.act;
    if (act === 'rename') { this.editing = id; this.confirming = null; this.render(); this.$('library-list').querySelector('input[data-act="name-input"]')?.focus(); return; }
    if (act === 'name-save') return this._saveName();
    if (act === 'name-cancel') { this.editing = null; this.render(); return; }
    if (act === 'delete') { this.confirming = id; this.editing = null; this.render(); this.$('library-list').querySelector('button[data-act="delete-yes"]')?.focus(); return; }
    if (act === 'delete-no') { this.confirming = null; this.render(); return; }
    await this._act(async () => {
      if (act === 'use') await this.rt.library.use(id, this.owner);
      if (act === 'download') {
        const { bytes, name } = await this.rt.library.downloadable(id);
        download(bytes, name);
        this.rt.status(`Downloaded ${name}.`, 'info', 'library');
      }
      if (act === 'delete-yes') {
        const name = this.rt.library.entry(id)?.name;
        this.confirming = null;
        this.compared = this.compared.filter((c) => c !== id);
        await this.rt.library.remove(id);
        this.rt.status(`Deleted ${name} from the library.`, 'info', 'library');
      }
    });
  }

  async _saveName() {
    const input = this.$('library-list').querySelector('input[data-act="name-input"]');
    if (!input) return;
    const id = this.editing;
    await this._act(async () => {
      await this.rt.library.rename(id, input.value);
      this.editing = null;
      this.render();
    });
  }

  /** Runs an action of this card: its error is shown here (and in the status line) until the next one. */
  async _act(fn) {
    this.error.clear();
    try {
      await fn();
    } catch (e) {
      this.error.show(e.message);
    }
  }

  _compare(rawId, on) {
    const id = rawId === PRETRAINED_ID ? rawId : Number(rawId);
    this.compared = this.compared.filter((c) => c !== id);
    if (on) this.compared.push(id);
    if (this.compared.length > COMPARE_COLORS.length) this.compared.shift();
    this.render();
  }

  updateControls() {
    const may = this.rt.allows('setModel');
    for (const b of this.$('library-list').querySelectorAll('button[data-act="use"]')) setEnabled(b, may);
  }

  render() {
    const lib = this.rt.state.library;
    if (!lib) return;
    const ids = new Set(lib.entries.map((e) => e.id));
    this.compared = this.compared.filter((id) => ids.has(id) && lib.entries.find((e) => e.id === id)?.curve);
    const list = this.$('library-list');
    list.replaceChildren(...[...lib.entries].reverse().map((entry) => this._item(entry, entry.id === lib.currentId)));
    list.dataset.count = String(lib.entries.length);
    if (!lib.kept) this.$('library-note').textContent = 'This page keeps no models: a new one replaces the current one until the page is closed.';
    this.updateControls();
    this.drawCompare();
  }

  _item(entry, current) {
    const li = document.createElement('li');
    li.dataset.id = String(entry.id);
    li.classList.toggle('current', current);
    const head = document.createElement('div');
    head.className = 'entry-head';
    const tick = el('input', { type: 'checkbox', 'data-act': 'compare', 'aria-label': `Compare ${entry.name}` });
    tick.checked = this.compared.includes(entry.id);
    tick.disabled = !entry.curve;
    tick.title = entry.curve ? 'Compare its training curve' : 'No training curve (not trained in this page)';
    head.append(tick);
    if (this.editing === entry.id) {
      const input = el('input', { type: 'text', 'data-act': 'name-input', maxlength: '80', 'aria-label': 'New name' });
      input.value = entry.name;
      head.append(input, button('name-save', 'Save'), button('name-cancel', 'Cancel'));
    } else {
      head.append(el('strong', { class: 'entry-name' }, entry.name));
      if (current) head.append(el('span', { class: 'badge' }, 'current'));
    }
    const compareIndex = this.compared.indexOf(entry.id);
    if (compareIndex >= 0) head.append(el('span', { class: `swatch s${compareIndex + 2} dot`, 'aria-hidden': 'true' }));
    li.append(head, el('p', { class: 'entry-facts note' }, facts(entry)));
    const buttons = el('div', { class: 'entry-buttons' });
    if (this.confirming === entry.id) {
      buttons.append(el('span', { class: 'note' }, 'Delete it for good?'), button('delete-yes', 'Delete'), button('delete-no', 'Keep it'));
    } else {
      if (!current) buttons.append(button('use', 'Use', `Make ${entry.name} the current model`));
      buttons.append(button('download', 'Download', `Download ${entry.name} as .safetensors`));
      if (entry.id !== PRETRAINED_ID) {
        buttons.append(button('rename', 'Rename', `Rename ${entry.name}`));
        if (!current) buttons.append(button('delete', 'Delete', `Delete ${entry.name}`));
      }
    }
    li.append(buttons);
    return li;
  }

  /** The curves of the ticked runs on one chart (accuracy or loss). */
  drawCompare() {
    const lib = this.rt.state.library;
    const runs = this.compared.map((id) => lib.entries.find((e) => e.id === id)).filter(Boolean);
    const box = this.$('compare-box');
    box.hidden = runs.length === 0;
    if (box.hidden) return;
    const accuracy = this.$('compare-metric').value === 'accuracy';
    this.chart.o.yMax = accuracy ? 1 : undefined;
    this.chart.o.format = accuracy ? (v) => `${Math.round(v * 100)}%` : (v) => v.toFixed(2);
    const series = runs.flatMap((run, i) => {
      const color = COMPARE_COLORS[i];
      const line = run.curve.map(([x, loss, acc]) => [x, accuracy ? acc : loss]);
      const val = (run.history?.epochs ?? []).map((e) => [e.epoch, accuracy ? e.valAccuracy : e.valLoss])
        .filter(([, y]) => Number.isFinite(y));
      return [{ name: run.name, color, width: 2, points: line }, { name: `${run.name} (validation)`, color, dots: true, line: false, points: val }];
    });
    this.chart.setSeries(series);
    this.chart.xMax = Math.max(1, ...runs.map((r) => r.curve.at(-1)?.[0] ?? 1), ...runs.map((r) => r.history?.epochs.length ?? 1));
    this.chart.redraw();
    this.$('compare-legend').replaceChildren(...runs.map((run, i) => {
      const li = el('li', {}, run.name);
      li.prepend(el('span', { class: `swatch s${i + 2} dot` }));
      return li;
    }), ...(runs.length === 1 ? [el('li', {}, 'tick another to compare')] : []));
  }
}

/** One line of facts about an entry. */
function facts(entry) {
  const out = [];
  if (entry.createdAt) out.push(new Date(entry.createdAt).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' }));
  else if (entry.source === 'site') out.push('comes with the site');
  if (entry.paramCount) out.push(`${entry.paramCount.toLocaleString('en-US')} parameters`);
  const epochs = entry.history?.epochs ?? [];
  if (epochs.length) {
    const last = epochs.at(-1);
    out.push(`${epochs.length} epoch${epochs.length === 1 ? '' : 's'}${entry.history.stopped ? ' (stopped)' : ''}`);
    if (Number.isFinite(last.valAccuracy)) out.push(`validation ${(100 * last.valAccuracy).toFixed(1)}%`);
  }
  out.push(Number.isFinite(entry.testAccuracy) ? `test ${(100 * entry.testAccuracy).toFixed(2)}%` : 'test accuracy not measured');
  if (entry.named && entry.label !== entry.name) out.push(entry.label); // where a renamed model came from
  return out.join(' · ');
}

function el(tag, attributes = {}, text = '') {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

function button(act, text, label) {
  const b = el('button', { type: 'button', 'data-act': act, ...(label ? { 'aria-label': label } : {}) }, text);
  return b;
}
