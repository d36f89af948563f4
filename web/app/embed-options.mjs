/**
 * embed-options.mjs - the URL options of embed.html, read into createStudio options, and the origin the
 * embed may talk to. No DOM: also read by the tests in Node.
 *
 *   panel=draw|train|finetune|explore|all   which view (default draw)
 *   preset=keras|pytorch|mlp|small  epochs=N  limit=N  batch=N  lr=X  workers=N  from=new|current  dataset=...
 *   model=URL        a model for the pad (same origin as the embed, or CORS)
 *   compact=1        smaller layout          controls=0   no training form and no extra pad buttons
 *   theme=light|dark (default: the system's)                 store=NAME   keep the model and drawings (IndexedDB
 *                                                                          scope NAME; default: nothing kept)
 *   origin=https://host.example   the host page's origin: events are posted to it (default: the referrer's)
 */
import { PANEL_SETS } from './studio.mjs';

const NUMBERS = { epochs: 'epochs', limit: 'limit', batch: 'batch', lr: 'lr', seed: 'seed', workers: 'workers', validation: 'validationSplit' };

/**
 * @param {URLSearchParams} params
 * @returns {{studio: object, storage: string|false, variant: string, panel: string}} studio: createStudio options
 */
export function embedOptions(params) {
  const panel = PANEL_SETS[params.get('panel')] ? params.get('panel') : 'draw';
  const set = PANEL_SETS[panel];
  const train = { ...set.train };
  for (const [key, name] of Object.entries(NUMBERS)) {
    const v = Number(params.get(key));
    if (params.has(key) && params.get(key) !== '' && Number.isFinite(v)) train[name] = v;
  }
  for (const key of ['preset', 'from', 'optimizer']) if (params.get(key)) train[key] = params.get(key);
  const yes = (key) => ['1', 'true', 'yes', ''].includes(params.get(key) ?? 'no');
  const theme = ['light', 'dark'].includes(params.get('theme')) ? params.get('theme') : 'auto';
  const store = params.get('store');
  const variant = ['simd', 'scalar'].includes(params.get('build')) ? params.get('build') : 'auto';
  return {
    panel,
    storage: store && /^[\w.-]{1,64}$/.test(store) ? `embed:${store}` : false,
    variant,
    studio: {
      ...set, train, theme, compact: yes('compact'), controls: params.get('controls') !== '0' && params.get('controls') !== 'false',
      model: params.get('model') || null, dataset: params.get('dataset') || set.dataset || 'mnist',
      head: panel === 'all',
    },
  };
}

/**
 * The origin the embed posts its events to: the `origin` option when it is a plain origin, otherwise the
 * referrer's origin (the page that framed it), otherwise none.
 * @param {URLSearchParams} params @param {string} referrer document.referrer
 * @returns {string|null}
 */
export function hostOrigin(params, referrer) {
  const given = params.get('origin');
  if (given) {
    try {
      const u = new URL(given);
      return u.origin !== 'null' && u.origin === given.replace(/\/$/, '') ? u.origin : null;
    } catch {
      return null;
    }
  }
  if (!referrer) return null;
  try {
    return new URL(referrer).origin;
  } catch {
    return null;
  }
}
