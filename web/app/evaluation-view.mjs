/**
 * evaluation-view.mjs - the DOM of the evaluation results: test accuracy, confusion matrix (cells are buttons
 * that show their images), per-class precision/recall/F1, and an image gallery.
 */
import { renderImage } from './draw.mjs';

const pct = (v) => `${(100 * v).toFixed(2)}%`;

export class EvaluationView {
  /**
   * @param {{accuracy: HTMLElement, body: HTMLElement, confusion: HTMLTableElement, metrics: HTMLTableElement,
   *   galleryTitle: HTMLElement, gallery: HTMLElement}} els
   * @param {(trueClass: number, predicted: number) => void} onCell a confusion matrix cell was chosen
   * @param {(image: {index: number, label: number, pixels: Uint8Array, height: number, width: number,
   *   channels: number}) => void} [onPick] a gallery image was chosen (e.g. to look at it in the pad)
   */
  constructor(els, onCell, onPick = null) {
    this.els = els;
    this.onCell = onCell;
    this.onPick = onPick;
  }

  /** Forgets the results (the model changed). */
  reset() {
    this.els.accuracy.textContent = '—';
    this.els.body.hidden = true;
    this.els.galleryTitle.hidden = true;
    this.els.gallery.replaceChildren();
  }

  /**
   * @param {{accuracy: number, count: number, confusion: number[][], precision: number[], recall: number[],
   *   f1: number[], macroPrecision: number, macroRecall: number, macroF1: number}} r
   */
  show(r) {
    this.els.accuracy.textContent = pct(r.accuracy);
    this.els.accuracy.title = `${Math.round(r.accuracy * r.count)} of ${r.count} test images`;
    this._confusion(r.confusion);
    this._metrics(r);
    this.els.body.hidden = false;
  }

  _confusion(confusion) {
    const k = confusion.length;
    const table = this.els.confusion;
    table.replaceChildren();
    const head = table.createTHead().insertRow();
    head.append(th('', 'col'));
    for (let j = 0; j < k; j++) head.append(th(String(j), 'col'));
    const body = table.createTBody();
    const rowTotals = confusion.map((row) => row.reduce((a, b) => a + b, 0));
    for (let i = 0; i < k; i++) {
      const tr = body.insertRow();
      tr.append(th(String(i), 'row'));
      for (let j = 0; j < k; j++) {
        const n = confusion[i][j];
        const td = tr.insertCell();
        if (i === j) td.className = 'diag';
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = n ? String(n) : '';
        b.disabled = n === 0;
        b.setAttribute('aria-pressed', 'false');
        b.setAttribute('aria-label', `true ${i}, predicted ${j}: ${n} images`);
        const share = rowTotals[i] ? n / rowTotals[i] : 0;
        // diagonal: accent by share; off-diagonal: red by share (errors stand out even when rare)
        const alpha = i === j ? 0.12 + 0.5 * share : n ? Math.min(0.85, 0.12 + 4 * share) : 0;
        b.style.background = i === j ? `rgba(42, 98, 168, ${alpha})` : `rgba(200, 50, 40, ${alpha})`;
        if (alpha > 0.5) b.style.color = '#fff';
        b.addEventListener('click', () => {
          for (const other of table.querySelectorAll('button[aria-pressed=true]')) other.setAttribute('aria-pressed', 'false');
          b.setAttribute('aria-pressed', 'true');
          this.onCell(i, j);
        });
        td.append(b);
      }
    }
  }

  _metrics(r) {
    const table = this.els.metrics;
    table.replaceChildren();
    const head = table.createTHead().insertRow();
    for (const t of ['class', 'precision', 'recall', 'F1', 'images']) head.append(th(t, 'col'));
    const body = table.createTBody();
    r.precision.forEach((p, i) => {
      const tr = body.insertRow();
      tr.append(th(String(i), 'row'));
      const support = r.confusion[i].reduce((a, b) => a + b, 0);
      for (const v of [p, r.recall[i], r.f1[i]]) tr.insertCell().textContent = v.toFixed(3);
      tr.insertCell().textContent = String(support);
    });
    const foot = table.createTFoot().insertRow();
    foot.append(th('macro', 'row'));
    for (const v of [r.macroPrecision, r.macroRecall, r.macroF1]) foot.insertCell().textContent = v.toFixed(3);
    foot.insertCell().textContent = String(r.count);
  }

  /**
   * Shows images with their labels.
   * @param {string} title
   * @param {{pixels: Uint8Array, height: number, width: number, channels: number}} images (n, H, W, C)
   * @param {{index: number, label: number, predicted: number, confidence: number}[]} items one per image
   */
  gallery(title, images, items) {
    this.els.galleryTitle.textContent = title;
    this.els.galleryTitle.hidden = false;
    const size = images.height * images.width * images.channels;
    this.els.gallery.replaceChildren(...items.map((it, n) => {
      const li = document.createElement('li');
      // a button: focusable, its details in words (not only on hover), and choosing it can show it in the pad
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'shot';
      const c = document.createElement('canvas');
      const pixels = images.pixels.subarray(n * size, (n + 1) * size);
      renderImage(c, pixels, images.height, images.width, images.channels);
      const wrong = it.predicted !== it.label;
      const cap = document.createElement('span');
      cap.append(`${it.label} → `);
      const p = document.createElement('span');
      if (wrong) p.className = 'wrong';
      p.textContent = String(it.predicted);
      cap.append(p, ` · ${Math.round(100 * it.confidence)}%`);
      const id = document.createElement('span');
      id.className = 'id';
      id.textContent = `#${it.index}`;
      b.append(c, cap, id);
      const details = `Test image ${it.index}: labelled ${it.label}, predicted ${it.predicted} with ${pct(it.confidence)} confidence` +
        (wrong ? ' (wrong)' : '');
      b.setAttribute('aria-label', this.onPick ? `${details}. Show it in the drawing pad.` : details);
      b.title = details;
      if (this.onPick) {
        b.addEventListener('click', () => this.onPick({
          index: it.index, label: it.label, pixels: pixels.slice(), height: images.height, width: images.width, channels: images.channels,
        }));
      } else {
        b.disabled = true;
      }
      li.append(b);
      return li;
    }));
  }
}

function th(text, scope) {
  const el = document.createElement('th');
  el.scope = scope;
  el.textContent = text;
  return el;
}
