/**
 * lab-templates.mjs - the markup of the model library card and the transfer lab card (as templates.mjs: every
 * element a view uses has a data-part name; ids carry the widget's prefix).
 */

import { KEEP_UNNAMED } from './controllers/library.mjs';
import { attrs } from './templates.mjs';

/** The model library: every kept model, the current one marked; use, rename, download, delete, compare. */
export function libraryCard(p) {
  const a = attrs(p);
  return `<section class="card library" aria-labelledby="${p}library-title">
  <h2 ${a('library-title')}>Model library</h2>
  <p class="note" ${a('library-note')}>Every model you train, fine-tune or load is kept here as a new entry; the
    current one answers the pad and is the one fine-tuned. Tick two to compare their training curves. The
    ${KEEP_UNNAMED} newest are kept, and every one you rename.</p>
  <ul class="library-list" ${a('library-list')} aria-label="Kept models"></ul>
  <p class="field-error" ${a('library-error')} role="alert" hidden></p>
  <figure class="chart compare" ${a('compare-box')} hidden>
    <figcaption><label for="${p}compare-metric">Compare</label>
      <select ${a('compare-metric')}>
        <option value="accuracy">accuracy</option>
        <option value="loss">loss</option>
      </select>
      <span class="note">lines: training, per batch (smoothed); dots: validation, per epoch</span></figcaption>
    <canvas ${a('chart-compare')} role="img" aria-label="Training curves of the models compared"></canvas>
    <ul class="legend" ${a('compare-legend')} aria-label="Chart legend"></ul>
  </figure>
</section>`;
}

/** The transfer lab: pre-train on 0-4, learn 5-9 three ways, one chart of the three curves and a table. */
export function transferCard(p) {
  const a = attrs(p);
  return `<section class="card transfer" aria-labelledby="${p}transfer-title">
  <h2 ${a('transfer-title')}>Transfer lab</h2>
  <p class="note">How much does a network learned on some digits help with others? The lab pre-trains a Keras
    MNIST CNN (5 classes) on the digits 0–4, then learns 5–9 three ways: with its convolutions <b>frozen</b>
    (only the dense layers train), <b>fine-tuning</b> every layer from the pre-trained weights, and <b>from
    scratch</b> (new weights). It uses MNIST and the training worker; the current model is not changed.</p>
  <form class="fields" ${a('transfer-form')} novalidate>
    <div class="field">
      <label for="${p}transfer-epochs">Epochs on 5–9</label>
      <input ${a('transfer-epochs')} type="number" min="1" max="20" step="1" value="2" inputmode="numeric">
    </div>
    <div class="field">
      <label for="${p}transfer-pre-epochs">Epochs on 0–4</label>
      <input ${a('transfer-pre-epochs')} type="number" min="1" max="20" step="1" value="1" inputmode="numeric">
    </div>
    <div class="field">
      <label for="${p}transfer-limit">Training images per half</label>
      <input ${a('transfer-limit')} type="number" min="100" max="30000" step="100" value="5000" inputmode="numeric">
    </div>
    <div class="field">
      <label for="${p}transfer-seed">Seed</label>
      <input ${a('transfer-seed')} type="number" min="0" step="1" value="1" inputmode="numeric">
    </div>
  </form>
  <div class="buttons">
    <button type="button" class="primary" ${a('transfer-start')} disabled>Run the lab</button>
    <button type="button" ${a('transfer-stop')} disabled>Stop</button>
  </div>
  <p class="field-error" ${a('transfer-error')} role="alert" hidden></p>
  <div class="progress">
    <progress ${a('transfer-progress')} max="1" value="0" aria-label="Transfer lab progress"></progress>
    <span ${a('transfer-progress-text')} class="note" aria-live="polite"></span>
  </div>
  <figure class="chart">
    <figcaption>Test accuracy on 5–9 after each epoch <span class="note">(epoch 0: before learning 5–9)</span></figcaption>
    <canvas ${a('chart-transfer')} role="img" aria-label="Test accuracy on the digits 5 to 9 of each way, per epoch"></canvas>
  </figure>
  <ul class="legend" aria-label="Chart legend">
    <li><span class="swatch s2 dot"></span>convolutions frozen</li>
    <li><span class="swatch s3 dot"></span>fine-tune all</li>
    <li><span class="swatch s4 dot"></span>from scratch</li>
  </ul>
  <div class="scroll"><table class="metrics transfer-table" ${a('transfer-table')} hidden></table></div>
</section>`;
}
