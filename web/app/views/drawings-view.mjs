/**
 * drawings-view.mjs - the "My drawings" card of one widget: the saved drawings grouped by label (held-out ones
 * marked), one drawing viewed, relabelled or deleted, export and import, and the button of collect mode
 * (collect-view.mjs).
 */
import { renderImage } from '../draw.mjs';
import { parts, setEnabled, onFiles, ErrorSlot, download } from './dom.mjs';
import { CollectMode } from './collect-view.mjs';

/** Drawings shown per digit at most (an import can bring thousands); the rest are counted. */
const GROUP_MAX = 60;

/** The "My drawings" card of one widget. */
export class DrawingsView {
  /**
   * @param {HTMLElement} root the card @param {import('../runtime.mjs').Runtime} rt
   * @param {{owner?: *, draw?: import('./draw-view.mjs').DrawView|null}} [o] draw: the pad collect mode uses
   *   (without one there is no collect mode)
   */
  constructor(root, rt, { owner = null, draw = null } = {}) {
    this.rt = rt;
    this.owner = owner;
    this.$ = parts(root);
    this.selected = null; // the key of the drawing shown in detail
    const $ = this.$;
    this.error = new ErrorSlot($('drawings-error'), rt, 'drawings', owner);
    for (let i = 0; i < 10; i++) $('drawing-label').append(new Option(String(i), String(i)));
    this.collect = draw ? new CollectMode($('collect-start'), draw, rt) : null;
    $('collect-start').hidden = !draw;
    $('drawings-export').addEventListener('click', () => this.exportAll());
    onFiles($('drawings-import'), (files) => this.importFiles(files));
    $('drawing-label').addEventListener('change', (e) => this.relabel(Number(e.target.value)));
    $('drawing-delete').addEventListener('click', () => this.remove());
    $('drawing-close').addEventListener('click', () => this.showDetail(null));
    this._off = [
      rt.on('samples', () => this.render()),
      rt.on('trainerReady', () => this.updateControls()),
    ];
    this.render();
  }

  destroy() {
    for (const off of this._off) off();
    this.collect?.stop();
  }

  updateControls() {
    const { rt, $ } = this;
    setEnabled($('drawings-export'), rt.state.samples.length > 0);
    setEnabled($('drawings-import'), rt.state.trainerReady);
  }

  /** Draws the groups (one per label) and the summary; the drawing in detail stays open if it is still there. */
  render() {
    const { $ } = this;
    const samples = this.rt.state.samples;
    const held = samples.filter((s) => s.heldOut).length;
    $('drawings-summary').textContent = samples.length
      ? `${samples.length} drawing${samples.length === 1 ? '' : 's'}: ${samples.length - held} for training, ${held} held out. ` +
        'Select one to view, relabel or delete it.'
      : 'None saved yet. Draw a digit and save it with its label, or collect a set digit by digit.';
    const groups = [];
    for (let label = 0; label < 10; label++) {
      const mine = samples.filter((s) => s.label === label);
      if (!mine.length) continue;
      const g = document.createElement('section');
      g.className = 'drawing-group';
      g.dataset.label = String(label);
      const h = document.createElement('h3');
      const n = mine.filter((s) => s.heldOut).length;
      h.innerHTML = '<span class="digit"></span> <span class="note"></span>';
      h.querySelector('.digit').textContent = String(label);
      h.querySelector('.note').textContent = `${mine.length} drawing${mine.length === 1 ? '' : 's'}${n ? `, ${n} held out` : ''}`;
      const list = document.createElement('ul');
      list.className = 'gallery small';
      list.append(...mine.slice(0, GROUP_MAX).map((s, i) => this._thumb(s, i + 1)));
      if (mine.length > GROUP_MAX) {
        const more = document.createElement('li');
        more.className = 'more note';
        more.textContent = `+${(mine.length - GROUP_MAX).toLocaleString('en-US')} more`;
        list.append(more);
      }
      g.append(h, list);
      groups.push(g);
    }
    $('drawing-groups').replaceChildren(...groups);
    if (this.selected !== null) this.showDetail(this.selected);
    this.updateControls();
  }

  _thumb(s, n) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = `shot${s.heldOut ? ' held' : ''}`;
    b.dataset.key = String(s.key);
    b.setAttribute('aria-label', `Drawing ${n} labelled ${s.label}${s.heldOut ? ', held out' : ''}`);
    b.setAttribute('aria-pressed', String(s.key === this.selected));
    const c = document.createElement('canvas');
    renderImage(c, s.pixels, 28, 28, 1);
    b.append(c);
    b.addEventListener('click', () => {
      this.showDetail(s.key);
      this.$('drawing-detail').scrollIntoView?.({ block: 'nearest' });
    });
    li.append(b);
    return li;
  }

  /** Shows one drawing large with its label and what it is used for (null closes it). @param {number|null} key */
  showDetail(key) {
    const { $ } = this;
    const s = key === null ? null : this.rt.state.samples.find((x) => x.key === key);
    this.selected = s ? key : null;
    $('drawing-detail').hidden = !s;
    for (const b of $('drawing-groups').querySelectorAll('button.shot')) b.setAttribute('aria-pressed', String(Number(b.dataset.key) === this.selected));
    if (!s) return;
    const mine = this.rt.state.samples.filter((x) => x.label === s.label);
    renderImage($('drawing-big'), s.pixels, 28, 28, 1);
    $('drawing-big').setAttribute('aria-label', `Drawing labelled ${s.label}`);
    $('drawing-detail-title').textContent = `A ${s.label}, drawing ${mine.indexOf(s) + 1} of ${mine.length}`;
    $('drawing-detail-note').textContent = s.heldOut
      ? 'Held out: never trained on; it measures how well a model reads your handwriting.'
      : 'Used for training when you fine-tune on your drawings.';
    $('drawing-label').value = String(s.label);
  }

  async relabel(label) {
    const key = this.selected;
    if (key === null) return;
    this.error.clear();
    try {
      const { deferred } = await this.rt.drawings.relabel(key, label);
      this.rt.status(`Relabelled as ${label}.${deferred ? ' The run in progress keeps the label it started with.' : ''}`, 'info', 'drawings');
    } catch (e) {
      this.error.show(`The drawing could not be relabelled: ${e.message}`);
      this.render();
    }
  }

  async remove() {
    const key = this.selected;
    if (key === null) return;
    this.error.clear();
    const s = this.rt.state.samples.find((x) => x.key === key);
    try {
      this.showDetail(null);
      const { deferred } = await this.rt.drawings.remove(key);
      this.rt.status(`Deleted a drawing of a ${s.label}.${deferred ? ' The run in progress keeps training on the ones it started with.' : ''}`,
        'info', 'drawings');
    } catch (e) {
      this.error.show(`The drawing could not be deleted: ${e.message}`);
    }
  }

  async exportAll() {
    this.error.clear();
    try {
      const { bytes, name } = await this.rt.drawings.exportArchive();
      download(bytes, name);
      this.rt.status(`Exported ${this.rt.state.samples.length} drawings as ${name}.`, 'info', 'drawings');
    } catch (e) {
      this.error.show(`The drawings could not be exported: ${e.message}`);
    }
  }

  /** @param {File[]} files */
  async importFiles(files) {
    this.error.clear();
    const names = files.map((f) => f.name).join(', ');
    try {
      const r = await this.rt.drawings.importFiles(files);
      const dup = r.duplicates
        ? ` ${r.duplicates} ${r.duplicates === 1 ? 'was' : 'were'} already here and ${r.duplicates === 1 ? 'was' : 'were'} not added again` +
          (r.relabelled ? ` (${r.relabelled} of them with another label here: the label here is kept)` : '') + '.'
        : '';
      this.rt.status(`Imported ${r.added} drawing${r.added === 1 ? '' : 's'} from ${names}` +
        `${r.added ? ` (${r.addedHeldOut} held out)` : ''}.${dup} You have ${r.count} now.` +
        `${r.deferred && r.added ? ' The run in progress keeps training on the ones it started with.' : ''}`, 'info', 'drawings');
    } catch (e) {
      this.error.show(`Nothing was imported from ${names}: ${e.message}`);
    }
  }
}
