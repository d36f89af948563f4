/**
 * drawings-card.mjs - the markup of the "My drawings" card: collect mode, the gallery by label, one drawing
 * viewed, relabelled or deleted, export and import. As in templates.mjs, views find elements by data-part and
 * ids carry the widget's prefix.
 */

/** @param {string} p the id prefix */
export function drawingsCard(p) {
  const a = (name) => `id="${p}${name}" data-part="${name}"`;
  return `<section class="card drawings" aria-labelledby="${p}drawings-title">
  <h2 ${a('drawings-title')}>My drawings</h2>
  <p class="note" ${a('drawings-summary')}>None saved yet.</p>
  <div class="buttons">
    <button type="button" ${a('collect-start')} aria-pressed="false">Collect: prompt me digit by digit</button>
    <button type="button" ${a('drawings-export')} disabled>Export (.tar)</button>
    <label class="button file" ${a('drawings-import-label')}>Import…
      <input type="file" ${a('drawings-import')} multiple accept=".tar,.gz,.idx,.ubyte,application/x-tar,application/gzip"
        aria-label="Import drawings: the .tar this page exports, or IDX image and label files"></label>
  </div>
  <p class="field-error" ${a('drawings-error')} role="alert" hidden></p>
  <div class="drawing-detail" ${a('drawing-detail')} role="group" aria-labelledby="${p}drawing-detail-title" hidden>
    <canvas ${a('drawing-big')} width="28" height="28" role="img"></canvas>
    <div class="detail-body">
      <h3 ${a('drawing-detail-title')}></h3>
      <p class="note" ${a('drawing-detail-note')}></p>
      <div class="buttons">
        <label for="${p}drawing-label">Label</label>
        <select ${a('drawing-label')}></select>
        <button type="button" ${a('drawing-delete')}>Delete</button>
        <button type="button" class="link" ${a('drawing-close')}>close</button>
      </div>
    </div>
  </div>
  <div class="drawing-groups" ${a('drawing-groups')}></div>
  <p class="note">Every 5th drawing of a digit is <strong>held out</strong> (dashed frame): it is never trained on,
    so it tells how well a model reads your handwriting (Evaluate: "My drawings (held out)"). Export writes one
    <code>.tar</code> of gzip IDX files (the held-out ones as the t10k pair); import adds drawings and never
    replaces any.</p>
</section>`;
}
