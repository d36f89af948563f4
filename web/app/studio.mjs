/**
 * studio.mjs - createStudio(root, options): the studio's cards (draw, model, library, drawings, insight, data,
 * train, evaluate, transfer) inside root, each a view wired to the page's runtime. Several studios (and the custom
 * elements and the iframe embed, which are studios with some cards) can share a page: views only look inside
 * their own root, ids carry a per-studio prefix, and all of them share one runtime (workers, data sets,
 * storage). Nothing is created until createStudio is called.
 *
 * DOM events (on root, or through options.dispatch): 'ready', 'prediction', 'progress', 'epoch', 'done',
 * 'error'; payloads in docs/embed.md.
 */
import { sharedRuntime } from './runtime.mjs';
import { studioHead, drawCard, modelCard, dataCard, trainCard, evaluateCard, insightCard } from './templates.mjs';
import { drawingsCard } from './drawings-card.mjs';
import { libraryCard, transferCard } from './lab-templates.mjs';
import { applyTheme } from './theme.mjs';
import { isTextEntry, onDrop } from './views/dom.mjs';
import { addExplanations } from './views/explain.mjs';
import { StatusView } from './views/status-view.mjs';
import { DrawView } from './views/draw-view.mjs';
import { ModelView } from './views/model-view.mjs';
import { DataView } from './views/data-view.mjs';
import { TrainView } from './views/train-view.mjs';
import { EvaluateView } from './views/evaluate-view.mjs';
import { InsightView } from './views/insight-view.mjs';
import { DrawingsView } from './views/drawings-view.mjs';
import { BeforeAfterView } from './views/before-after-view.mjs';
import { LibraryView } from './views/library-view.mjs';
import { TransferView } from './views/transfer-view.mjs';

/**
 * The studio's panels, in the order of the layout: draw, model, library and drawings in the left column, the
 * rest on the right.
 */
export const PANELS = ['draw', 'model', 'library', 'drawings', 'insight', 'data', 'train', 'evaluate', 'transfer'];
const LEFT = new Set(['draw', 'model', 'library', 'drawings']);
const CARDS = {
  draw: drawCard, model: modelCard, library: libraryCard, drawings: drawingsCard, data: dataCard, train: trainCard,
  evaluate: evaluateCard, insight: insightCard, transfer: transferCard,
};

/**
 * The named views a widget or the iframe can show (attribute / URL option `panel`), as createStudio options.
 * draw: a pad; train: a trainer with its test accuracy; finetune: a pad that saves drawings and a trainer that
 * fine-tunes the current model on them (with some MNIST); explore: a pad and what the network sees; all: everything.
 */
export const PANEL_SETS = {
  draw: { panels: ['draw'], save: false },
  train: { panels: ['train', 'evaluate'] },
  finetune: {
    panels: ['draw', 'train'], save: true, dataset: 'mnist+drawings',
    train: { from: 'current', epochs: 1, limit: 2000, lr: 0.0003, validationSplit: 0 },
  },
  explore: { panels: ['draw', 'insight'], save: false },
  all: { panels: PANELS },
};

/** Keys that clear the drawing when no text field has the focus. */
const CLEAR_KEYS = new Set(['Escape', 'Delete', 'Backspace', 'c', 'C']);

let instances = 0;

/**
 * Builds a studio inside root.
 * @param {HTMLElement} root emptied and filled with the studio
 * @param {object} [o]
 * @param {import('./runtime.mjs').Runtime} [o.runtime] default: the page's shared runtime
 * @param {string[]} [o.panels=PANELS] which cards to show
 * @param {string} [o.idPrefix] prefix of the ids inside (default: unique per studio; '' on the app page)
 * @param {boolean} [o.head] the status line (default: when there are more than two cards)
 * @param {boolean} [o.compact=false] a smaller layout without the longer notes
 * @param {boolean} [o.controls=true] false: no training form (only Train, Stop and the charts), no extra pad buttons
 * @param {'auto'|'light'|'dark'} [o.theme='auto'] auto follows the system
 * @param {string} [o.model] URL of a .safetensors model the pad predicts with (default: the page's current one)
 * @param {boolean} [o.save=true] the pad's "save this drawing" bar
 * @param {boolean} [o.hints=true] first-visit hints on the pad
 * @param {import('./views/train-view.mjs').TrainDefaults} [o.train] the training form's starting values
 * @param {string} [o.dataset='mnist'] the data set trained on when there is no data card
 * @param {boolean} [o.evaluate=true] evaluate after training (shown in the evaluate card, or the progress line)
 * @param {import('./views/draw-view.mjs').DrawView} [o.pad] another widget's pad for the insight card
 * @param {boolean} [o.pageKeys=false] keyboard shortcuts (clear, undo) anywhere on the page, not only when
 *   the focus is inside the studio
 * @param {EventTarget} [o.dropTarget=root] where dropped files (a model, IDX files) are taken
 * @param {(type: string, detail: object) => void} [o.dispatch] receives the events (default: a CustomEvent on root)
 * @returns {Studio}
 *
 * @typedef {object} Studio
 * @property {HTMLElement} root @property {import('./runtime.mjs').Runtime} runtime
 * @property {{draw?: DrawView, model?: ModelView, library?: LibraryView, drawings?: DrawingsView, data?: DataView,
 *   train?: TrainView, evaluate?: EvaluateView, insight?: InsightView, transfer?: TransferView, status?: StatusView}} views
 * @property {Promise<void>} ready resolves when the studio can act (predict, or train for a trainer alone)
 * @property {() => void} destroy removes its listeners (the runtime stays for the page's other widgets)
 */
export function createStudio(root, o = {}) {
  const {
    runtime, panels = PANELS, idPrefix, head = panels.length > 2, compact = false, controls = true, theme = 'auto', model = null,
    save = true, hints = true, train = {}, dataset: fixedDataset = 'mnist', evaluate = true, pad = null,
    pageKeys = false, dropTarget = root,
  } = o;
  const rt = runtime ?? sharedRuntime();
  const p = idPrefix ?? `studio${++instances}-`;
  const shown = PANELS.filter((name) => panels.includes(name));
  const card = (n) => (n === 'draw' ? drawCard(p, { save }) : CARDS[n](p));
  const column = (names) => (names.length ? `<div class="col">${names.map(card).join('\n')}</div>` : '');
  const left = shown.filter((n) => LEFT.has(n)), right = shown.filter((n) => !LEFT.has(n));
  root.classList.add('studio');
  root.classList.toggle('compact', compact);
  root.classList.toggle('no-controls', !controls);
  const stopTheme = applyTheme(root, theme);
  root.innerHTML = `${head ? studioHead(p) : ''}
<div class="layout${left.length && right.length ? '' : ' single'}${shown.join() === 'draw,insight' ? ' explore' : ''}">${column(left)}${column(right)}</div>`;

  addExplanations(root, p);

  const studio = {
    root, runtime: rt, views: {}, ready: null, destroy: null,
    dispatch: o.dispatch ?? ((type, detail) => root.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }))),
  };
  const owner = studio;
  const section = (name) => root.querySelector(`section.card.${name}`);
  const v = studio.views;
  if (head) v.status = new StatusView(root.querySelector('.studio-head'), rt);
  if (shown.includes('draw')) v.draw = new DrawView(section('draw'), rt, { owner, model, hints });
  const insightPad = v.draw ?? pad;
  if (shown.includes('insight') && insightPad) v.insight = new InsightView(section('insight'), rt, insightPad, { owner });
  if (shown.includes('drawings')) v.drawings = new DrawingsView(section('drawings'), rt, { owner, draw: v.draw ?? null });
  if (shown.includes('model')) v.model = new ModelView(section('model'), rt, { owner, spec: () => v.train?.architectureText ?? null });
  if (shown.includes('library')) v.library = new LibraryView(section('library'), rt, { owner });
  if (shown.includes('transfer')) v.transfer = new TransferView(section('transfer'), rt, { owner });
  if (shown.includes('data')) {
    v.data = new DataView(section('data'), rt, { owner, onChoice: (c) => { v.train?.datasetChanged(c); v.evaluate?.datasetChanged(c); } });
  }
  const dataset = () => v.data?.value ?? fixedDataset;
  // a gallery image goes into the pad, where the prediction and the insight views show it
  const onPick = v.draw ? (img) => {
    if (img.channels !== 1) return;
    v.draw.showImage(img.pixels, img.width, img.height, `test image ${img.index}, labelled ${img.label}`);
    v.draw.root.scrollIntoView?.({ block: 'nearest' });
    v.draw.pad.canvas.focus({ preventScroll: true });
  } : null;
  if (shown.includes('evaluate')) v.evaluate = new EvaluateView(section('evaluate'), rt, { owner, dataset, onPick });
  if (shown.includes('train')) {
    v.train = new TrainView(section('train'), rt, { owner, dataset, defaults: train, afterTraining: () => afterTraining() });
    v.beforeAfter = new BeforeAfterView(section('train').querySelector('[data-part="before-after"]'), rt);
  }

  /**
   * After a run: evaluate the new model on the test set when that is cheap enough to be expected. A fine-tune
   * on drawings has evaluated it on MNIST already (before-after.mjs): that evaluation is used.
   */
  async function afterTraining() {
    if (!evaluate) return null;
    const set = v.evaluate?.evaluationSet() ?? (dataset() === 'custom' && rt.state.custom ? 'custom' : 'mnist');
    const done = rt.state.evaluation?.dataset === set ? rt.state.evaluation : null; // reset when the model changes
    if (v.evaluate) {
      if (done) return done;
      if (set === 'mnist' && !rt.state.mnist.test) return null;
      return v.evaluate.run().catch(() => null);
    }
    if (!done && set === 'mnist' && !rt.state.mnist.test) return null;
    const r = done ?? await rt.evaluation.run(set, owner).catch(() => null);
    if (r) v.train?.progressText(`Done. Test accuracy ${(100 * r.accuracy).toFixed(2)}% on ${r.count.toLocaleString('en-US')} test images.`);
    return r;
  }

  const keys = (e) => {
    if (!v.draw || isTextEntry(e.target)) return;
    if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key === 'z' || e.key === 'Z')) {
      e.preventDefault();
      v.draw.undo();
      return;
    }
    if (!CLEAR_KEYS.has(e.key) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'Escape' && (e.composedPath()[0] ?? document.activeElement)?.closest?.('select, details')) return;
    e.preventDefault();
    v.draw.clear();
  };
  const keyTarget = pageKeys ? document : root;
  keyTarget.addEventListener('keydown', keys);
  const offDrop = onDrop(dropTarget, dropTarget === document ? document.body : root, (files) => {
    if (files.length === 1 && !/idx\d|ubyte/i.test(files[0].name)) v.model?.loadFile(files[0]);
    else v.data?.loadIdxFiles(files);
  });

  studio.destroy = () => {
    keyTarget.removeEventListener('keydown', keys);
    offDrop();
    stopTheme();
    for (const view of Object.values(v)) view.destroy();
  };
  studio.ready = (async () => {
    await rt.start();
    if (v.draw) await v.draw.modelReady;
    if (v.train) await v.train.initialized;
    if (v.insight) await v.insight.filtersReady;
    studio.dispatch('ready', {});
  })();
  studio.ready.catch((e) => studio.dispatch('error', { message: e.message, source: 'start' }));
  return studio;
}
