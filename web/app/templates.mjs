/**
 * templates.mjs - the markup of the studio's cards. Every element a view uses has a data-part name (views find
 * it inside their widget's root); ids exist for labels and ARIA references only and carry a per-widget prefix,
 * so several widgets can share a page. With the prefix '' the ids are the app page's own (data-testid hooks
 * and ids as in DESIGN.md section 5).
 */

/** @param {string} p the id prefix @returns {(name: string) => string} the id and data-part attributes */
export const attrs = (p) => (name) => `id="${p}${name}" data-part="${name}"`;

/** The status line and the notice for the scalar build. @param {string} p */
export function studioHead(p) {
  const a = attrs(p);
  return `<div class="studio-head">
  <p class="status" ${a('status')} data-testid="status" role="status" aria-live="polite">Loading the model…</p>
  <p class="notice" ${a('build-notice')} hidden>This browser has no WebAssembly SIMD: the page uses the slower scalar
    build (training is about 3–5× slower; everything else works).</p>
</div>`;
}

/**
 * Draw a digit: the pad, the prediction, other ways in (an image, an MNIST test digit), saving the drawing with
 * its label. @param {string} p the id prefix @param {{save?: boolean, title?: string}} [o] save: the saving bar
 */
export function drawCard(p, { save = true, title = 'Draw a digit' } = {}) {
  const a = attrs(p);
  return `<section class="card draw" aria-labelledby="${p}draw-title">
  <h2 ${a('draw-title')}>${title}</h2>
  <p class="collect-prompt" ${a('collect-prompt')} aria-live="polite" hidden>Draw a <strong ${a('collect-digit')}></strong>
    <button type="button" class="link" ${a('collect-skip')}>skip</button>
    <button type="button" class="link" ${a('collect-stop')}>stop collecting</button></p>
  <div class="pad">
    <canvas ${a('draw-canvas')} data-testid="draw-canvas" width="400" height="400" role="img" tabindex="0"
      aria-label="Drawing surface: draw one digit with the mouse, a finger or a pen" aria-describedby="${p}pad-hint"></canvas>
    <p class="first-hint" ${a('first-hint')} hidden>Draw a digit here, 0 to 9, any size.</p>
  </div>
  <div class="pad-bar">
    <button type="button" ${a('clear-canvas')} data-testid="clear-canvas" aria-keyshortcuts="Escape Delete c" disabled>
      Clear <kbd>Esc</kbd></button>
    <button type="button" ${a('undo')} aria-keyshortcuts="Control+Z" disabled>Undo</button>
    <label class="button file extra" ${a('image-file-label')}>Image…
      <input type="file" ${a('image-file')} accept="image/*" aria-label="Use a picture of a digit" disabled></label>
    <button type="button" class="extra" ${a('test-digit')} disabled>MNIST digit</button>
  </div>
  <p class="pad-hint" ${a('pad-hint')}>One digit, any size. Or use a picture of one, or a digit from the MNIST test set.</p>
  <div class="readout">
    <div class="prediction">
      <span class="caption" ${a('prediction-label')}>Prediction</span>
      <output ${a('prediction')} data-testid="prediction" aria-labelledby="${p}prediction-label"></output>
      <span class="sure" ${a('confidence')}></span>
    </div>
    <figure class="model-input">
      <canvas ${a('model-input')} width="28" height="28" role="img" aria-label="The 28 by 28 image the model sees"></canvas>
      <figcaption>what the model sees</figcaption>
    </figure>
    <ol class="bars" ${a('probabilities')} data-testid="probabilities" aria-label="Probability of each class"></ol>
  </div>
  <p class="visually-hidden" ${a('announce')} aria-live="polite"></p>
  <p class="note" ${a('prediction-note')}></p>
  <p class="next-hint" ${a('next-hint')} hidden></p>
  <div class="sample-bar"${save ? '' : ' hidden'}>
    <label for="${p}sample-label">Save this drawing as</label>
    <select ${a('sample-label')}></select>
    <button type="button" ${a('sample-save')} disabled>Save</button>
    <span class="note" ${a('sample-count')}></span>
    <button type="button" class="link" ${a('samples-clear')} hidden>delete all</button>
  </div>
  <p class="field-error" ${a('draw-error')} role="alert" hidden></p>
</section>`;
}

/** The current model: facts, download, load from a file, revert. @param {string} p the id prefix */
export function modelCard(p) {
  const a = attrs(p);
  return `<section class="card model" aria-labelledby="${p}model-title">
  <h2 ${a('model-title')}>Model</h2>
  <dl class="facts" ${a('model-info')}></dl>
  <div class="buttons">
    <button type="button" ${a('model-download')} disabled>Download .safetensors</button>
    <label class="button file" ${a('model-file-label')}>Load from file…
      <input type="file" ${a('model-file')} accept=".safetensors,application/octet-stream" disabled></label>
    <button type="button" ${a('model-revert')} disabled>Revert to pretrained</button>
  </div>
  <p class="field-error" ${a('model-error')} role="alert" hidden></p>
  <div class="fix" ${a('model-fix')} hidden>
    <button type="button" ${a('model-load-into')}>Load the weights into the Train card's architecture</button>
  </div>
  <p class="note">Or drop a <code>.safetensors</code> file anywhere on the page. The current model is kept in this
    browser and restored after a reload.</p>
</section>`;
}

/** Data sets: MNIST and IDX files from disk. @param {string} p the id prefix */
export function dataCard(p) {
  const a = attrs(p);
  return `<section class="card data" aria-labelledby="${p}data-title">
  <h2 ${a('data-title')}>Data</h2>
  <div class="field" data-explain="dataset">
    <label for="${p}dataset">Data set</label>
    <select ${a('dataset')}>
      <option value="mnist">MNIST (60,000 training + 10,000 test images)</option>
      <option value="custom" disabled>IDX files from disk (none loaded)</option>
      <option value="drawings" disabled>My drawings (none saved)</option>
      <option value="mnist+drawings" disabled>MNIST + my drawings</option>
    </select>
  </div>
  <div class="buttons">
    <button type="button" ${a('mnist-load')}>Download MNIST</button>
    <label class="button file" ${a('idx-files-label')}>Load IDX files…
      <input type="file" ${a('idx-files')} multiple></label>
  </div>
  <div class="progress" ${a('data-progress-box')} hidden>
    <progress ${a('data-progress')} max="1" value="0" aria-label="Data download"></progress>
    <span ${a('data-progress-text')} class="note"></span>
  </div>
  <p class="field-error" ${a('data-error')} role="alert" hidden></p>
  <figure class="data-samples" ${a('data-samples')} hidden>
    <figcaption>Some of the training images, with their labels <button type="button" class="link" ${a('data-more')}>others</button></figcaption>
    <ul class="gallery small" ${a('data-gallery')}></ul>
  </figure>
  <p class="note" ${a('data-info')}>MNIST is downloaded once (11 MB) when you first train or evaluate. Your own data:
    pick the four IDX files (train-images, train-labels, t10k-images, t10k-labels; raw or .gz).</p>
</section>`;
}

/** Training: architecture, hyper-parameters, progress and charts. @param {string} p the id prefix */
export function trainCard(p) {
  const a = attrs(p);
  return `<section class="card train" aria-labelledby="${p}train-title">
  <h2 ${a('train-title')}>Train</h2>
  <form ${a('train-form')} novalidate>
    <fieldset class="arch">
      <legend>Architecture</legend>
      <div class="fields">
        <div class="field" data-explain="train-from">
          <label for="${p}train-from">Start from</label>
          <select ${a('train-from')}>
            <option value="new">a new model</option>
            <option value="current">the current model (fine-tune)</option>
          </select>
        </div>
        <div class="field" data-explain="preset">
          <label for="${p}preset">Preset</label>
          <select ${a('preset')}>
            <option value="keras">Keras MNIST CNN</option>
            <option value="pytorch">PyTorch MNIST example</option>
            <option value="mlp">MLP (one hidden layer)</option>
            <option value="resnet">Small ResNet (batch norm, residual blocks)</option>
            <option value="small">Small CNN (fast)</option>
            <option value="custom">Custom</option>
          </select>
        </div>
      </div>
      <fieldset class="freeze" ${a('freeze-box')} data-explain="freeze" hidden>
        <legend>Freeze layers <span class="note">(their weights stay as they are; the others train)</span></legend>
        <div class="freeze-list" ${a('freeze-layers')}></div>
      </fieldset>
      <a class="skip" href="#${p}hyper" ${a('skip-editor')}>Skip the layer editor</a>
      <div ${a('layer-editor')} class="layers" aria-label="Layers"></div>
      <details class="kinds" ${a('layer-kinds')}><summary>What the layer kinds do</summary></details>
      <details class="spec-text" ${a('spec-details')}>
        <summary>Spec text</summary>
        <label for="${p}spec-text" class="visually-hidden">Architecture spec text</label>
        <textarea ${a('spec-text')} rows="9" spellcheck="false" autocomplete="off"></textarea>
      </details>
      <p class="note" ${a('spec-check')} aria-live="polite"></p>
    </fieldset>

    <fieldset class="hyper" ${a('hyper')} tabindex="-1">
      <legend>Training</legend>
      <div class="fields">
        <div class="field" data-explain="optimizer:">
          <label for="${p}optimizer">Optimizer</label>
          <select ${a('optimizer')}><option value="adam">Adam</option><option value="sgd">SGD + momentum</option></select>
        </div>
        <div class="field" data-explain="lr">
          <label for="${p}lr">Learning rate</label>
          <input ${a('lr')} type="number" min="0.000001" max="10" step="any" value="0.002" inputmode="decimal">
        </div>
        <div class="field" data-explain="schedule:">
          <label for="${p}schedule">Schedule</label>
          <select ${a('schedule')}>
            <option value="cosine" selected>cosine (decays over the run)</option>
            <option value="constant">constant</option>
            <option value="step">step (×0.5 per epoch)</option>
            <option value="exponential">exponential</option>
          </select>
        </div>
        <div class="field" data-explain="batch">
          <label for="${p}batch">Batch size</label>
          <input ${a('batch')} type="number" min="1" max="512" step="1" value="64" inputmode="numeric">
        </div>
        <div class="field" data-explain="epochs">
          <label for="${p}epochs">Epochs</label>
          <input ${a('epochs')} type="number" min="1" max="100" step="1" value="3" inputmode="numeric">
        </div>
        <div class="field" data-explain="limit">
          <label for="${p}limit">Training images</label>
          <input ${a('limit')} type="number" min="1" step="1" value="60000" inputmode="numeric">
        </div>
        <div class="field" data-explain="val-split">
          <label for="${p}val-split">Validation split</label>
          <input ${a('val-split')} type="number" min="0" max="0.5" step="0.05" value="0.1" inputmode="decimal">
        </div>
        <div class="field" data-explain="seed">
          <label for="${p}seed">Seed</label>
          <input ${a('seed')} type="number" min="0" step="1" value="1" inputmode="numeric">
        </div>
        <div class="field" data-explain="workers">
          <label for="${p}workers">Workers</label>
          <input ${a('workers')} type="number" min="1" max="16" step="1" value="1" inputmode="numeric">
        </div>
        <div class="field check" data-explain="augment">
          <input ${a('augment')} type="checkbox">
          <label for="${p}augment">Augment (shift, rotate, scale)</label>
        </div>
      </div>
      <details class="advanced" ${a('advanced')}>
        <summary>Advanced</summary>
        <div class="fields">
          <div class="field" data-explain="momentum">
            <label for="${p}momentum">Momentum (SGD)</label>
            <input ${a('momentum')} type="number" min="0" max="0.999" step="0.01" value="0.9" inputmode="decimal">
          </div>
          <div class="field check" data-explain="nesterov">
            <input ${a('nesterov')} type="checkbox">
            <label for="${p}nesterov">Nesterov (SGD)</label>
          </div>
          <div class="field" data-explain="weight-decay">
            <label for="${p}weight-decay">Weight decay</label>
            <input ${a('weight-decay')} type="number" min="0" max="1" step="any" value="0" inputmode="decimal">
          </div>
          <div class="field check" data-explain="decoupled">
            <input ${a('decoupled')} type="checkbox">
            <label for="${p}decoupled">decoupled (AdamW)</label>
          </div>
          <div class="field" data-explain="warmup">
            <label for="${p}warmup">Warm-up steps</label>
            <input ${a('warmup')} type="number" min="0" max="1000000" step="1" value="0" inputmode="numeric">
          </div>
        </div>
      </details>
    </fieldset>

    <div class="buttons train-buttons">
      <button type="submit" class="primary" ${a('train-start')} data-testid="train-start" disabled>Train</button>
      <button type="button" ${a('train-pause')} disabled>Pause</button>
      <button type="button" ${a('train-stop')} data-testid="train-stop" disabled>Stop</button>
    </div>
    <p class="field-error" ${a('train-error')} role="alert" hidden></p>
    <div class="fix rescue" ${a('rescue')} hidden>
      <p ${a('rescue-text')}></p>
      <div class="buttons">
        <button type="button" ${a('rescue-use')}>Use these weights</button>
        <button type="button" ${a('rescue-download')}>Download them</button>
      </div>
    </div>
  </form>
  <div class="progress">
    <progress ${a('train-progress')} max="1" value="0" aria-label="Training progress"></progress>
    <span ${a('train-progress-text')} class="note" aria-live="off"></span>
  </div>
  <div class="charts">
    <figure class="chart">
      <figcaption>Loss <span class="note" ${a('loss-summary')}></span></figcaption>
      <canvas ${a('chart-loss')} role="img" aria-label="Loss per batch and per epoch"></canvas>
    </figure>
    <figure class="chart">
      <figcaption>Accuracy <span class="note" ${a('accuracy-summary')}></span></figcaption>
      <canvas ${a('chart-accuracy')} role="img" aria-label="Accuracy per batch and per epoch"></canvas>
    </figure>
  </div>
  <ul class="legend" aria-label="Chart legend">
    <li><span class="swatch s1"></span>training, per batch (smoothed)</li>
    <li><span class="swatch s2 dot"></span>training, per epoch</li>
    <li><span class="swatch s3 dot"></span>validation, per epoch</li>
    <li>horizontal axis: epochs</li>
  </ul>
  <details class="histograms" ${a('hist-box')}>
    <summary>Weights during training</summary>
    <p class="note">Each layer's weights (left) and their gradients at the last step (right), about once a
      second. Gradients near zero everywhere: the layer has stopped learning; a spread of weights that keeps
      growing may diverge.</p>
    <div class="hists" ${a('histograms')}><p class="note">Start training to see them.</p></div>
  </details>
  <div class="before-after" ${a('before-after')} aria-live="polite" hidden></div>
</section>`;
}

/** Evaluation: test accuracy, confusion matrix, per-class metrics, gallery. @param {string} p the id prefix */
export function evaluateCard(p) {
  const a = attrs(p);
  return `<section class="card evaluate" aria-labelledby="${p}eval-title">
  <h2 ${a('eval-title')}>Evaluate</h2>
  <div class="eval-head">
    <button type="button" ${a('evaluate')} disabled>Evaluate on the test set</button>
    <label class="eval-set"><span class="visually-hidden">Test set</span>
      <select ${a('eval-set')} aria-label="Test set">
        <option value="mnist">MNIST test set</option>
        <option value="custom" disabled>IDX test files (none loaded)</option>
        <option value="drawings" disabled>My drawings (held out)</option>
      </select></label>
    <p class="accuracy">Test accuracy <strong ${a('test-accuracy')} data-testid="test-accuracy">—</strong></p>
    <div class="eval-running" ${a('eval-running')} hidden>
      <progress ${a('eval-progress')} max="1" value="0" aria-label="Evaluation progress"></progress>
      <span class="note" ${a('eval-progress-text')}></span>
      <button type="button" ${a('eval-cancel')}>Cancel</button>
    </div>
    <p class="field-error" ${a('eval-error')} role="alert" hidden></p>
  </div>
  <div class="eval-body" ${a('eval-body')} hidden>
    <figure class="confusion-wrap">
      <figcaption>Confusion matrix <span class="note">rows: true class, columns: predicted.<br>Select a cell to
        see its images.</span></figcaption>
      <div class="scroll"><table class="confusion" ${a('confusion')}></table></div>
    </figure>
    <figure class="metrics-wrap">
      <figcaption>Per class</figcaption>
      <div class="scroll"><table class="metrics" ${a('metrics')}></table></div>
    </figure>
  </div>
  <h3 ${a('gallery-title')} hidden></h3>
  <ul class="gallery" ${a('gallery')}></ul>
</section>`;
}

/**
 * What the network sees: the input, saliency, output probabilities, first-layer filters, and the output of
 * every convolution, pooling and hidden dense layer for the current drawing. @param {string} p the id prefix
 */
export function insightCard(p) {
  const a = attrs(p);
  return `<section class="card insight" aria-labelledby="${p}insight-title">
  <h2 ${a('insight-title')}>What the network sees</h2>
  <p class="note" ${a('insight-note')}>Draw a digit: the output of every layer follows your pen.</p>
  <div class="insight-top">
    <figure class="big-input">
      <canvas ${a('insight-input')} width="28" height="28" role="img" aria-label="The 28 by 28 input the network reads"></canvas>
      <figcaption>the 28×28 input</figcaption>
    </figure>
    <figure class="saliency">
      <canvas ${a('saliency')} width="28" height="28" role="img" aria-label="Saliency map"></canvas>
      <figcaption><label for="${p}saliency-class">pixels that push towards</label>
        <select ${a('saliency-class')}><option value="">the prediction</option></select>
        <span class="note" ${a('saliency-note')}></span></figcaption>
    </figure>
    <figure class="outputs">
      <ol class="bars" ${a('insight-probs')} aria-label="Output probabilities"></ol>
      <figcaption>output: a probability per digit</figcaption>
    </figure>
  </div>
  <figure class="filters" ${a('filters-box')} hidden>
    <figcaption ${a('filters-title')}></figcaption>
    <div class="maps" ${a('filters')}></div>
  </figure>
  <div class="layers-out" ${a('insight-layers')}></div>
</section>`;
}
