/**
 * page.mjs - the app page (index.html): one studio filling the page, its model and drawings kept in the
 * 'studio' storage scope.
 *
 * URL options: ?build=scalar (or simd) forces a build of the core; default picks SIMD where supported.
 *
 * Test hook (used by tests/browser, harmless otherwise): window.cnnTest
 *   .drawn() -> Promise<{digit, probs}>  predicts whatever is on the drawing canvas now (e.g. an image a test
 *                                         painted into it) through the same path as drawing with the pointer
 *   .predictInputs(x) -> Promise<Float32Array>  class probabilities for (n, 28, 28) model inputs in [0, 1]
 *   .runtime                              the page's runtime (app/runtime.mjs): its state, events, memory()
 * Timing: performance.mark 'ready' when the page can predict (body[data-ready]), 'workers' when both workers
 * have loaded the core, and a performance.measure 'pointerup-to-prediction' after each stroke.
 */
import { sharedRuntime } from './runtime.mjs';
import { createStudio } from './studio.mjs';
import { applyTheme } from './theme.mjs';

const requested = new URLSearchParams(location.search).get('build');
const runtime = sharedRuntime({ variant: ['simd', 'scalar'].includes(requested) ? requested : 'auto', storage: 'studio' });
const studio = createStudio(document.querySelector('[data-studio]'), {
  runtime, idPrefix: '', pageKeys: true, dropTarget: document,
});
applyTheme(document.documentElement);
// the page can predict: the hook tests and embedders wait for (DESIGN.md section 5)
runtime.start().then(() => { document.body.dataset.ready = 'true'; }, () => {});

window.cnnTest = {
  drawn: () => studio.views.draw.drawn(),
  predictInputs: (x) => runtime.predict.inputs(x),
  runtime,
  studio,
};
