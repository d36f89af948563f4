/**
 * before-after.mjs - what a fine-tune on the user's drawings did: the model's accuracy on the held-out drawings
 * and on the MNIST test set, overall and per digit, before the run and after it. The training controller calls
 * before() and after() inside the run (train.mjs), so nothing else can change the model in between.
 *
 * Cost: the MNIST test set (10,000 images) is evaluated once per run, after it; the "before" figures of a model
 * come from its last evaluation when there is one (the previous run's "after", or the evaluate card's).
 *
 * Events: 'report' {report} whenever the report changes; report (also state.beforeAfter):
 *   {label, phase: 'before'|'after'|'done'|'diverged'|'failed'|'unmeasured'|'stopped', message?, stopped?,
 *    before: {drawings, mnist}, after: {drawings, mnist} | null}
 *   each {count, accuracy, perDigit: (number|null)[10]} or null (no held-out drawings)
 */

/** Measures fine-tunes on drawings and keeps the last report. */
export class BeforeAfterController {
  /** @param {import('../runtime.mjs').Runtime} rt */
  constructor(rt) {
    this.rt = rt;
    this._known = null; // {model, mnist}: the MNIST figures of a model object (state.model) measured before
  }

  /** @param {{dataset: string, from: string}} run @returns {boolean} whether the run is measured */
  static applies({ dataset, from }) {
    return from === 'current' && (dataset === 'drawings' || dataset === 'mnist+drawings');
  }

  /** Measures the current model before the run. @param {string} label the data set it fine-tunes on */
  async before(label) {
    const { rt } = this;
    this._set({ label, phase: 'before', before: null, after: null });
    const drawings = await this._measure('drawings');
    const mnist = this._known?.model === rt.state.model ? this._known.mnist
      : rt.state.evaluation?.dataset === 'mnist' ? figures(rt.state.evaluation) // of the current model (reset on change)
        : await this._measure('mnist');
    this._known = { model: rt.state.model, mnist };
    this._set({ ...rt.state.beforeAfter, before: { drawings, mnist } });
  }

  /** Measures the new current model after the run; its MNIST evaluation becomes the evaluate card's. @param {*} owner */
  async after(owner, stopped = false) {
    const { rt } = this;
    const report = rt.state.beforeAfter;
    if (!report?.before) return;
    this._set({ ...report, phase: 'after' });
    try {
      const drawings = await this._measure('drawings');
      const r = await rt.workers.trainer.call('evaluate', { dataset: 'mnist', quiet: true });
      const mnist = figures(r);
      await rt.evaluation.adopt(r, 'mnist', owner);
      this._known = { model: rt.state.model, mnist };
      this._set({ ...report, phase: 'done', stopped, after: { drawings, mnist } });
    } catch (e) {
      // the run itself succeeded (its model is current): only the table misses its "after" figures
      this._set({ ...report, phase: 'unmeasured', message: e.message });
    }
  }

  /**
   * The run ended without a new current model. @param {'diverged'|'failed'|'stopped'} phase stopped: a stopped
   * fine-tune, kept in the library while the model it started from stays current @param {string} message
   */
  ended(phase, message) {
    const report = this.rt.state.beforeAfter;
    if (report && report.phase !== 'done') this._set({ ...report, phase, message });
  }

  async _measure(dataset) {
    if (dataset === 'drawings' && !this.rt.state.samples.some((s) => s.heldOut)) return null;
    return figures(await this.rt.workers.trainer.call('evaluate', { dataset, quiet: true }));
  }

  _set(report) {
    this.rt.state.beforeAfter = report;
    this.rt.emit('report', { report });
  }
}

/** @param {{count: number, accuracy: number, confusion: number[][]}} r @returns {{count, accuracy, perDigit}} */
function figures(r) {
  const perDigit = r.confusion.slice(0, 10).map((row, i) => {
    const n = row.reduce((a, b) => a + b, 0);
    return n ? row[i] / n : null;
  });
  return { count: r.count, accuracy: r.accuracy, perDigit };
}
