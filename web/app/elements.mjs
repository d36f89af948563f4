/**
 * elements.mjs - custom elements built on createStudio: <digit-pad>, <digit-trainer>, <digit-insight> and
 * <digit-studio>. Each renders into its own shadow root with the site's style sheet, is sized by its container,
 * and uses the page's one runtime (one set of workers, one MNIST download, one storage scope for all of them).
 * Defining them does nothing else; the first element connected starts the workers.
 *
 * Attributes and events: docs/embed.md. Every element dispatches 'ready' {ms} and 'error' {message, source};
 * the pad 'prediction'; the trainer 'progress', 'epoch' and 'done' (events bubble and cross the shadow root).
 */
import { createStudio, PANEL_SETS, PANELS } from './studio.mjs';
import { sharedRuntime } from './runtime.mjs';

const STYLE_URL = new URL('../style.css', import.meta.url);

let runtimeOptions = null;

/**
 * Options of the page's runtime, before the first element is connected.
 * @param {{storage?: string|false, variant?: 'auto'|'simd'|'scalar'}} options storage: the IndexedDB scope the
 *   page's widgets keep their model and drawings in (default 'page:' + the page's path), false to keep nothing
 */
export function configure(options) {
  if (started) throw new Error('configure: call it before the first digit element is on the page');
  runtimeOptions = { ...options };
}

let started = false;
function pageRuntime() {
  started = true;
  return sharedRuntime({ storage: `page:${location.pathname}`, ...runtimeOptions });
}

/**
 * The element classes (made when defined: HTMLElement exists only in a browser, and importing this module
 * must do nothing). @returns {Record<string, CustomElementConstructor>} by tag name
 */
function elementClasses() {
  /** Base of the elements: a studio in a shadow root, rebuilt when an attribute changes. */
  class DigitsElement extends HTMLElement {
    connectedCallback() {
      // attributes of parser-made elements are all there by the next microtask
      queueMicrotask(() => this._build());
    }

    disconnectedCallback() {
      this._teardown();
    }

    attributeChangedCallback() {
      if (this._studio) {
        this._teardown();
        this._build();
      }
    }

    /** @returns {import('./studio.mjs').Studio|null} the studio inside (views, runtime) */
    get studio() {
      return this._studio ?? null;
    }

    async _build() {
      if (!this.isConnected || this._studio || this._building) return;
      this._building = true;
      try {
        const t0 = performance.now();
        let options;
        try {
          options = await this.studioOptions();
        } catch (e) {
          this.dispatchEvent(new CustomEvent('error', { detail: { message: e.message, source: 'attributes' }, bubbles: true, composed: true }));
          return;
        }
        if (!this.isConnected) return;
        const shadow = this.shadowRoot ?? this.attachShadow({ mode: 'open' });
        shadow.innerHTML = `<link rel="stylesheet" href="${STYLE_URL.href}"><div></div>`;
        this.removeAttribute('ready');
        this._studio = createStudio(shadow.lastElementChild, {
          runtime: pageRuntime(), theme: this.getAttribute('theme') ?? 'auto', compact: this.flag('compact'),
          controls: !this.flag('hide-controls'), ...options,
          dispatch: (type, detail) => {
            if (type === 'ready') {
              this.readyMs = Math.round(performance.now() - t0);
              this.setAttribute('ready', '');
              detail = { ...detail, ms: this.readyMs };
            }
            this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
          },
        });
      } finally {
        this._building = false;
      }
    }

    _teardown() {
      this._studio?.destroy();
      this._studio = null;
    }

    /** @returns {boolean} a boolean attribute: present and not "false" */
    flag(name) {
      return this.hasAttribute(name) && this.getAttribute(name) !== 'false';
    }

    /** @returns {number|undefined} a number attribute */
    number(name) {
      const v = this.getAttribute(name);
      return v === null || v.trim() === '' ? undefined : Number(v);
    }

    /** The training form's values from attributes (a trainer or a studio). */
    trainDefaults() {
      return {
        preset: this.getAttribute('preset') ?? undefined, spec: this.getAttribute('spec') ?? undefined,
        epochs: this.number('epochs'), limit: this.number('limit'), batch: this.number('batch'),
        validationSplit: this.number('validation'), lr: this.number('lr'), seed: this.number('seed'),
        workers: this.number('workers'), optimizer: this.getAttribute('optimizer') ?? undefined, from: this.getAttribute('from') ?? undefined,
      };
    }
  }

  const TRAIN_ATTRIBUTES = ['preset', 'spec', 'epochs', 'limit', 'batch', 'validation', 'lr', 'seed', 'workers', 'optimizer', 'from', 'dataset', 'evaluate'];
  const COMMON = ['compact', 'hide-controls', 'theme'];

  /** <digit-pad>: draw a digit, see the prediction live. */
  class DigitPad extends DigitsElement {
    static observedAttributes = [...COMMON, 'model', 'save', 'no-hints'];

    studioOptions() {
      return { panels: ['draw'], head: false, model: this.getAttribute('model'), save: this.flag('save'), hints: !this.flag('no-hints') };
    }

    /** Clears the drawing. */
    clear() {
      this._studio?.views.draw.clear();
    }

    /** Removes the last stroke. */
    undo() {
      this._studio?.views.draw.undo();
    }
  }

  /** <digit-trainer>: train a preset or a spec with live charts; the result becomes the page's current model. */
  class DigitTrainer extends DigitsElement {
    static observedAttributes = [...COMMON, ...TRAIN_ATTRIBUTES];

    studioOptions() {
      return {
        panels: ['train'], head: false, train: this.trainDefaults(), dataset: this.getAttribute('dataset') ?? 'mnist',
        evaluate: this.getAttribute('evaluate') !== 'false',
      };
    }

    /** Starts training with the form's values. @returns {Promise<void>} */
    train() {
      return this._studio?.views.train.train();
    }

    /** Stops the run after its current step. */
    stop() {
      return this._studio?.runtime.train.stop();
    }
  }

  /** <digit-insight>: what the network sees, for its own pad or for the <digit-pad> named by `for`. */
  class DigitInsight extends DigitsElement {
    static observedAttributes = [...COMMON, 'for', 'model'];

    async studioOptions() {
      const id = this.getAttribute('for');
      if (!id) return { panels: ['draw', 'insight'], head: false, model: this.getAttribute('model'), save: false };
      const pad = await padElement(this.getRootNode(), id);
      return { panels: ['insight'], head: false, pad: pad.studio.views.draw };
    }
  }

  /** <digit-studio>: the whole studio, or one of its named views (panel="draw|train|finetune|explore|all"). */
  class DigitStudio extends DigitsElement {
    static observedAttributes = [...COMMON, ...TRAIN_ATTRIBUTES, 'panel', 'panels', 'model'];

    studioOptions() {
      const set = PANEL_SETS[this.getAttribute('panel') ?? 'all'] ?? PANEL_SETS.all;
      const listed = this.getAttribute('panels')?.split(/[\s,]+/).filter((n) => PANELS.includes(n));
      const train = { ...set.train };
      for (const [k, v] of Object.entries(this.trainDefaults())) if (v !== undefined) train[k] = v;
      return {
        ...set, panels: listed?.length ? listed : set.panels, train, model: this.getAttribute('model'),
        dataset: this.getAttribute('dataset') ?? set.dataset ?? 'mnist', evaluate: this.getAttribute('evaluate') !== 'false',
      };
    }
  }

  return { 'digit-pad': DigitPad, 'digit-trainer': DigitTrainer, 'digit-insight': DigitInsight, 'digit-studio': DigitStudio };
}

/** The <digit-pad> with an id, once its studio exists. */
async function padElement(root, id) {
  await customElements.whenDefined('digit-pad');
  for (let waited = 0; waited < 10000; waited += 20) {
    const el = root.getElementById?.(id) ?? document.getElementById(id);
    if (el && el.localName !== 'digit-pad') throw new Error(`digit-insight: #${id} is not a <digit-pad>`);
    if (el?.studio) return el;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`digit-insight: there is no <digit-pad id="${id}"> on this page`);
}

/**
 * Defines the elements (once; a name already defined is left alone).
 * @param {CustomElementRegistry} [registry=customElements]
 */
export function defineElements(registry = customElements) {
  for (const [name, cls] of Object.entries(elementClasses())) if (!registry.get(name)) registry.define(name, cls);
}
