/**
 * studio.mjs - createStudio(root, options): the studio's cards (draw, model, insight, data, train, evaluate) inside
 * root, each a view wired to the page's runtime. Several studios (or other widgets) can share a page: views
 * only look inside their own root, ids carry a per-studio prefix, and all of them share one runtime (workers,
 * data sets, storage). Nothing is created until createStudio is called.
 */
import { sharedRuntime } from './runtime.mjs';
import { studioHead, drawCard, modelCard, dataCard, trainCard, evaluateCard, insightCard } from './templates.mjs';
import { isTextEntry, onDrop } from './views/dom.mjs';
import { StatusView } from './views/status-view.mjs';
import { DrawView } from './views/draw-view.mjs';
import { ModelView } from './views/model-view.mjs';
import { DataView } from './views/data-view.mjs';
import { TrainView } from './views/train-view.mjs';
import { EvaluateView } from './views/evaluate-view.mjs';
import { InsightView } from './views/insight-view.mjs';

/** The studio's panels, in the order of the layout: draw and model in the left column, the rest on the right. */
export const PANELS = ['draw', 'model', 'insight', 'data', 'train', 'evaluate'];
const LEFT = new Set(['draw', 'model']);
const CARDS = { draw: drawCard, model: modelCard, data: dataCard, train: trainCard, evaluate: evaluateCard, insight: insightCard };

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
 * @param {boolean} [o.pageKeys=false] keyboard shortcuts (clear the drawing) anywhere on the page, not only
 *   when the focus is inside the studio
 * @param {EventTarget} [o.dropTarget=root] where dropped files (a model, IDX files) are taken
 * @returns {{root: HTMLElement, runtime: object, views: object, ready: Promise<void>, destroy(): void}}
 *   ready: resolves when the studio can predict
 */
export function createStudio(root, { runtime, panels = PANELS, idPrefix, pageKeys = false, dropTarget = root } = {}) {
  const rt = runtime ?? sharedRuntime();
  const p = idPrefix ?? `studio${++instances}-`;
  const shown = PANELS.filter((name) => panels.includes(name));
  const column = (names) => (names.length ? `<div class="col">${names.map((n) => CARDS[n](p)).join('\n')}</div>` : '');
  const left = shown.filter((n) => LEFT.has(n)), right = shown.filter((n) => !LEFT.has(n));
  root.classList.add('studio');
  root.innerHTML = `${studioHead(p)}
<div class="layout${left.length && right.length ? '' : ' single'}">${column(left)}${column(right)}</div>`;

  const studio = { root, runtime: rt, views: {}, ready: null, destroy: null };
  const owner = studio;
  const card = (name) => root.querySelector(`section.card.${name}`);
  const v = studio.views;
  v.status = new StatusView(root.querySelector('.studio-head'), rt);
  if (shown.includes('draw')) v.draw = new DrawView(card('draw'), rt, { owner });
  if (shown.includes('insight') && v.draw) v.insight = new InsightView(card('insight'), rt, v.draw, { owner });
  if (shown.includes('model')) v.model = new ModelView(card('model'), rt, { owner, spec: () => v.train?.editor.text ?? null });
  if (shown.includes('data')) v.data = new DataView(card('data'), rt, { owner, onChoice: (c) => v.train?.datasetChanged(c) });
  const dataset = () => v.data?.value ?? 'mnist';
  if (shown.includes('evaluate')) v.evaluate = new EvaluateView(card('evaluate'), rt, { owner, dataset });
  if (shown.includes('train')) {
    v.train = new TrainView(card('train'), rt, {
      owner, dataset,
      afterTraining: async () => {
        if (v.evaluate && (v.evaluate.evaluationSet() === 'custom' || rt.state.mnist.test)) await v.evaluate.run().catch(() => {});
      },
    });
  }

  const keys = (e) => {
    if (!v.draw || isTextEntry(e.target)) return;
    if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key === 'z' || e.key === 'Z')) {
      e.preventDefault();
      v.draw.undo();
      return;
    }
    if (!CLEAR_KEYS.has(e.key) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'Escape' && document.activeElement?.closest('select, details')) return;
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
    for (const view of Object.values(v)) view.destroy();
  };
  studio.ready = rt.start();
  return studio;
}
