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
      done: `${report.stopped ? 'Stopped early. ' : ''}Accuracy in % before and after fine-tuning on ${report.label}; ` +
        'the change in percentage points.',
      stopped: 'Stopped early: the model it started from stays current (the partly fine-tuned one is kept in the ' +
        'model library), so there is no "after" to show.',
      diverged: `The run diverged: the current model was not changed. ${report.message ?? ''}`,
      failed: `The run did not complete: ${report.message ?? ''}`,
      unmeasured: `The fine-tuned model is current, but it could not be measured: ${report.message ?? ''}`,
    }[report.phase];
    const parts = [title, note];
    if (report.before) {
      const scroll = document.createElement('div');
      scroll.className = 'scroll';
      scroll.append(this._table(report));
      parts.push(scroll);
    }
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
      // the overall figure with two decimals, each digit's with one; the change is that of the figures shown
      const places = (i) => (i < 0 ? 2 : 1);
      const shown = (m, i) => {
        const v = m ? (i < 0 ? m.accuracy : m.perDigit[i]) : null;
        return v === null ? null : Number((100 * v).toFixed(places(i)));
      };
      const pct = (v, i) => (v === null ? '—' : v.toFixed(places(i)));
      row('before', (i) => [pct(shown(b, i), i)]);
      row('after', (i) => [pct(shown(a, i), i)]);
      row('change', (i) => {
        const x = shown(a, i), y = shown(b, i);
        if (x === null || y === null) return ['—'];
        const d = Number((x - y).toFixed(places(i)));
        return [`${d > 0 ? '+' : d < 0 ? '−' : '±'}${Math.abs(d).toFixed(places(i))}`, d > 0 ? 'up' : d < 0 ? 'down' : ''];
      }, 'change');
    }
    return table;
  }
}
