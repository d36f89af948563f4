// The DOM-free parts of the widgets: the page's modules import in Node without touching the DOM (nothing
// happens at import time), the iframe's URL options and origin rule, and an explanation for every control.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { embedOptions, hostOrigin } from '../web/app/embed-options.mjs';
import { EXPLANATIONS } from '../web/app/explanations.mjs';
import { ROW_KINDS } from '../web/app/spec.mjs';
import { trainCard, dataCard } from '../web/app/templates.mjs';

test('importing the page\'s modules does nothing: no DOM, no workers (they load in Node)', async () => {
  for (const m of ['studio.mjs', 'runtime.mjs', 'elements.mjs', 'controllers/train.mjs', 'views/insight-view.mjs']) {
    await import(`../web/app/${m}`); // would throw on document, window, Worker or customElements
  }
  assert.equal(typeof globalThis.document, 'undefined');
});

test('iframe options: panels, training values, flags, theme, storage', () => {
  const o = embedOptions(new URLSearchParams('panel=train&preset=small&epochs=3&limit=500&lr=0.01&compact=1&controls=0&theme=dark&store=lesson-1'));
  assert.equal(o.panel, 'train');
  assert.deepEqual(o.studio.panels, ['train', 'evaluate']);
  assert.deepEqual({ preset: o.studio.train.preset, epochs: o.studio.train.epochs, limit: o.studio.train.limit, lr: o.studio.train.lr },
    { preset: 'small', epochs: 3, limit: 500, lr: 0.01 });
  assert.equal(o.studio.compact, true);
  assert.equal(o.studio.controls, false);
  assert.equal(o.studio.theme, 'dark');
  assert.equal(o.storage, 'embed:lesson-1');
  const d = embedOptions(new URLSearchParams('panel=nonsense&epochs=abc&store=../../x&theme=pink'));
  assert.equal(d.panel, 'draw');
  assert.equal(d.studio.train.epochs, undefined, 'not a number: ignored');
  assert.equal(d.storage, false, 'a store name must be a plain name');
  assert.equal(d.studio.theme, 'auto');
  const f = embedOptions(new URLSearchParams('panel=finetune'));
  assert.equal(f.studio.train.from, 'current');
  assert.equal(f.studio.dataset, 'mnist+drawings');
});

test('iframe events go to one origin: the one named, else the referrer\'s, never a wildcard', () => {
  assert.equal(hostOrigin(new URLSearchParams('origin=https://school.example'), 'https://evil.example/page'), 'https://school.example');
  assert.equal(hostOrigin(new URLSearchParams(''), 'https://school.example/lesson/3.html'), 'https://school.example');
  assert.equal(hostOrigin(new URLSearchParams(''), ''), null);
  for (const bad of ['*', 'https://school.example/lesson', 'javascript:alert(1)', 'not a url', 'null']) {
    assert.equal(hostOrigin(new URLSearchParams({ origin: bad }), 'https://school.example/'), null, bad);
  }
});

test('every layer kind, optimizer, schedule and explained field has a note', () => {
  for (const kind of ROW_KINDS) assert.ok(EXPLANATIONS[`layer:${kind}`], `layer kind ${kind}`);
  const html = trainCard('') + dataCard('');
  const keys = [...html.matchAll(/data-explain="([\w:-]+)"/g)].map((m) => m[1]);
  assert.ok(keys.length >= 15, keys.join());
  for (const key of keys) {
    if (!key.endsWith(':')) {
      assert.ok(EXPLANATIONS[key], key);
      continue;
    }
    const name = key.slice(0, -1);
    const select = new RegExp(`data-part="${name}"[^>]*>([\\s\\S]*?)</select>`).exec(html);
    const values = [...select[1].matchAll(/value="([\w-]+)"/g)].map((m) => m[1]);
    assert.ok(values.length >= 2, name);
    for (const v of values) assert.ok(EXPLANATIONS[`${name}:${v}`], `${name}: ${v}`);
  }
});
