/**
 * embed.mjs - the iframe embed (embed.html): one studio view chosen by URL options (embed-options.mjs),
 * filling the frame, telling the host page its events by postMessage and taking a few commands from it.
 *
 * To the host (targetOrigin: the host's origin, never '*'):  {source: 'digits-embed', type, detail}
 *   type: 'ready', 'prediction', 'progress', 'epoch', 'done', 'error' (payloads as the elements'), and
 *   'size' {height} whenever the content's height changes.
 * From the host, accepted only from that origin and from the parent window: {source: 'digits-host', type}
 *   type: 'clear' (the pad), 'train', 'stop'.
 */
import { sharedRuntime } from './runtime.mjs';
import { createStudio } from './studio.mjs';
import { applyTheme } from './theme.mjs';
import { embedOptions, hostOrigin } from './embed-options.mjs';

const params = new URLSearchParams(location.search);
const { studio: options, storage, variant } = embedOptions(params);
const origin = window.parent !== window ? hostOrigin(params, document.referrer) : null;
const post = (type, detail) => origin && window.parent.postMessage({ source: 'digits-embed', type, detail }, origin);

applyTheme(document.documentElement, options.theme);
const runtime = sharedRuntime({ variant, storage });
const root = document.querySelector('[data-studio]');
const studio = createStudio(root, {
  ...options, runtime, pageKeys: true,
  dispatch: post,
});
studio.ready.then(() => { document.body.dataset.ready = 'true'; }, () => {});

new ResizeObserver(() => post('size', { height: Math.ceil(document.documentElement.scrollHeight) })).observe(document.body);

window.addEventListener('message', (e) => {
  if (!origin || e.origin !== origin || e.source !== window.parent || e.data?.source !== 'digits-host') return;
  const v = studio.views;
  if (e.data.type === 'clear') v.draw?.clear();
  else if (e.data.type === 'train') v.train?.train();
  else if (e.data.type === 'stop') runtime.train.stop();
});

window.cnnTest = { runtime, studio };
