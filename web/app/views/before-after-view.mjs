/**
 * before-after-view.mjs - the before/after table of the last fine-tune on the user's drawings (in the train
 * card): accuracy on the held-out drawings and on the MNIST test set, overall and per digit, before, after,
 * and the change in points. It stays until the next such fine-tune.
 */

/** The before/after table of one widget's train card. */
export class BeforeAfterView {
  /** @param {HTMLElement} el the container (data-part="before-after") @param {import('../runtime.mjs').Runtime} rt */
  constructor(el, rt) {
    this.el = el;
    this.rt = rt;
    this._off = [rt.on('report', ({ report }) => this.show(report))];
    if (rt.state.beforeAfter) this.show(rt.state.beforeAfter);
  }

  destroy() {
    for (const off of this._off) off();
  }

  /** @param {object} report see controllers/before-after.mjs */
  show(report) {
    const { el } = this;
    el.hidden = !report;
    if (!report) return;
    const title = document.createElement('h3');
    title.textContent = 'Before / after this fine-tune';
    const note = document.createElement('p');
    note.className = 'note';
    note.textContent = {
      before: 'Measuring the model before fine-tuning…',
      after: 'Measuring the fine-tuned model…',
      done: `${report.stopped ? 'Stopped early. ' : ''}Accuracy of the model before and after: ${report.label}. ` +
        'Change in percentage points.',
      diverged: `The run diverged: the current model was not changed. ${report.message ?? ''}`,
      failed: `The run did not complete: ${report.message ?? ''}`,
    }[report.phase];
    const parts = [title, note];
    if (report.before) parts.push(this._table(report));
    el.replaceChildren(...parts);
  }

  _table({ before, after }) {
    const table = document.createElement('table');
    table.setAttribute('aria-label', 'Accuracy before and after the fine-tune, overall and per digit');
    const head = table.createTHead().insertRow();
    for (const t of ['', 'all', ...Array.from({ length: 10 }, (_, i) => String(i))]) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = t;
      head.append(th);
    }
    const sets = [
      ['drawings', (n) => `My drawings, held out (${n})`, 'no held-out drawings yet: every 5th drawing of a digit is'],
      ['mnist', (n) => `MNIST test set (${n.toLocaleString('en-US')})`, ''],
    ];
    for (const [key, name, none] of sets) {
      const body = table.createTBody();
      body.dataset.set = key;
      const b = before[key], a = after?.[key] ?? null;
      const caption = body.insertRow();
      const th = document.createElement('th');
      th.colSpan = 12;
      th.scope = 'rowgroup';
      th.textContent = b ? name(b.count) : `My drawings: ${none}`;
      caption.append(th);
      if (!b) continue;
      const row = (what, f, cls = '') => {
        const tr = body.insertRow();
        tr.className = cls;
        tr.dataset.row = what;
        const h = document.createElement('th');
        h.scope = 'row';
        h.textContent = what;
        tr.append(h);
        for (let i = -1; i < 10; i++) {
          const td = tr.insertCell();
          const [text, dir] = f(i);
          td.textContent = text;
          if (dir) td.className = dir;
        }
      };
      const value = (m, i) => (i < 0 ? m.accuracy : m.perDigit[i]);
      const pct = (v) => (v === null || v === undefined ? '—' : `${(100 * v).toFixed(1)}%`);
      row('before', (i) => [pct(value(b, i))]);
      row('after', (i) => [a ? pct(value(a, i)) : '—']);
      row('change', (i) => {
        const x = a ? value(a, i) : null, y = value(b, i);
        if (x === null || y === null) return ['—'];
        const d = Math.round(1000 * (x - y)) / 10; // points, one decimal
        return [`${d > 0 ? '+' : d < 0 ? '−' : '±'}${Math.abs(d).toFixed(1)}`, d > 0 ? 'up' : d < 0 ? 'down' : ''];
      }, 'change');
    }
    return table;
  }
}
