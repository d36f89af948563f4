// Browser tests of the embeddable widgets: each element's attributes and events, two pads and a trainer on
// one host page sharing one data set and one set of workers, the iframe embed's options and postMessage
// events across origins, and the insight view against the core's own layer outputs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { loadCnn } from '../../web/cnn.mjs';
import {
  missingPrerequisite, launch, openHtml, otherOrigin, watchErrors, recordEvents, readMnistTest, drawDigit, screenshot, WEB,
} from './helpers.mjs';

let env, cnn;

before(async () => {
  const missing = missingPrerequisite();
  if (missing) throw new Error(`cannot run the browser tests: ${missing}`); // a failure, never a skip
  env = await launch();
  cnn = await loadCnn();
});

after(async () => {
  await env?.close();
});

const EVENTS = ['ready', 'prediction', 'progress', 'epoch', 'done', 'error'];
const events = (page, type, target) => page.evaluate(([type, target]) =>
  window.events.filter((e) => e.type === type && (!target || e.target === target)), [type, target]);
const waitEvent = (page, type, target, timeout = 60000) => page.waitForFunction(([type, target]) =>
  window.events.some((e) => e.type === type && (!target || e.target === target)), [type, target], { timeout });
const canvasOf = (id) => `#${id} [data-testid="draw-canvas"]`;

test('each element: attributes and events', async (t) => {
  const { page, context, errors } = await openHtml(env, 'elements.html', `<!doctype html><meta charset="utf-8"><title>elements</title>
<digit-pad id="pad" save></digit-pad>
<digit-pad id="small" compact hide-controls theme="dark"></digit-pad>
<digit-pad id="missing" model="models/none.safetensors"></digit-pad>
<digit-trainer id="trainer" preset="small" epochs="1" limit="3000" validation="0.2" batch="20" hide-controls></digit-trainer>
<digit-insight id="insight" for="pad"></digit-insight>
<digit-studio id="explore" panel="explore"></digit-studio>
<script type="module" src="elements.mjs"></script>`, { setup: (p) => recordEvents(p, EVENTS, { early: true }) });
  await page.waitForFunction(() => document.querySelectorAll('[ready]').length === 5, null, { timeout: 30000 });
  const ready = await events(page, 'ready');
  t.diagnostic(`ready after: ${ready.map((e) => `${e.target} ${e.detail.ms} ms`).join(', ')}`);
  assert.deepEqual(ready.map((e) => e.target).sort(), ['explore', 'insight', 'pad', 'small', 'trainer']);

  // a model URL that is not there: an error event, the pad says why
  await waitEvent(page, 'error', 'missing'); // (the fetch may end after the other widgets are ready)
  const [missing] = await events(page, 'error', 'missing');
  assert.match(missing.detail.message, /none\.safetensors could not be fetched \(HTTP 404\)/);
  assert.match(await page.textContent('#missing [data-part="prediction-note"]'), /HTTP 404/);

  // attributes: save shows the saving bar; compact, hide-controls and theme change the small pad
  assert.ok(await page.locator('#pad .sample-bar').isVisible());
  assert.ok(await page.locator('#small .sample-bar').isHidden());
  assert.ok(await page.locator('#small [data-part="test-digit"]').isHidden(), 'hide-controls');
  assert.ok(await page.locator('#pad [data-part="test-digit"]').isVisible());
  assert.equal(await page.locator('#small .studio').getAttribute('data-theme'), 'dark');
  assert.match(await page.locator('#small .studio').getAttribute('class'), /compact/);
  assert.ok(await page.locator('#trainer fieldset.hyper').isHidden(), 'hide-controls: no form');
  assert.ok(await page.locator('#trainer [data-testid="train-start"]').isVisible());
  assert.equal(await page.locator('#explore section.insight').count(), 1);
  assert.equal(await page.locator('#explore section.train').count(), 0);

  // the pad: prediction events, the last one final; the other pads stay empty
  await drawDigit(page, readMnistTest(0, 1).images[0], { canvas: canvasOf('pad') });
  await page.waitForFunction(() => window.events.some((e) => e.type === 'prediction' && e.target === 'pad' && e.detail.final && e.detail.digit !== null));
  const finals = (await events(page, 'prediction', 'pad')).filter((e) => e.detail.final && e.detail.digit !== null);
  const last = finals.at(-1).detail;
  assert.equal(last.digit, 7);
  assert.equal(last.probabilities.length, 10);
  assert.ok(last.sure && last.confidence > 0.6 && last.alternatives[0] === 7, JSON.stringify(last));
  assert.equal(await page.textContent('#small [data-testid="prediction"]'), '');
  assert.equal((await events(page, 'prediction', 'small')).filter((e) => e.detail.digit !== null).length, 0);
  // the insight follows the pad it names
  await page.waitForFunction(() => document.querySelector('#insight').studio.views.insight.shown.layers.length > 0);
  assert.equal(await page.locator('#insight .layer-out').count(), 5); // conv1, pool1, conv2, pool2, fc1

  // the trainer: progress, epoch and done with the test accuracy; the pads then predict with the new model
  await page.evaluate(() => document.querySelector('#trainer').train());
  await waitEvent(page, 'done', 'trainer', 120000);
  const progress = await events(page, 'progress', 'trainer');
  assert.ok(progress.length >= 1);
  assert.ok(progress.every((p, i) => i === 0 || p.detail.fraction >= progress[i - 1].detail.fraction), 'progress only grows');
  assert.equal(progress.at(-1).detail.epochs, 1);
  const [epoch] = await events(page, 'epoch', 'trainer');
  assert.equal(epoch.detail.epoch, 1);
  assert.ok(epoch.detail.valAccuracy > 0.5, JSON.stringify(epoch.detail));
  const [done] = await events(page, 'done', 'trainer');
  t.diagnostic(`trainer done: ${done.detail.label}; test accuracy ${done.detail.testAccuracy}`);
  assert.equal(done.detail.stopped, false);
  assert.ok(done.detail.testAccuracy > 0.5, `${done.detail.testAccuracy}`);
  await page.waitForFunction(() => /trained here/.test(document.querySelector('#pad').shadowRoot.querySelector('[data-part="prediction-note"]').textContent));
  assert.deepEqual(errors, []);
  await context.close();
});

test('two pads and a trainer on one page share one data set, one set of workers and one storage scope', async (t) => {
  const html = `<!doctype html><meta charset="utf-8"><title>two pads</title>
<div style="display:flex;gap:12px"><digit-pad id="a" style="flex:1"></digit-pad><digit-pad id="b" style="flex:1"></digit-pad></div>
<digit-trainer id="trainer" preset="small" epochs="1" limit="1500"></digit-trainer>
<script type="module" src="elements.mjs"></script>`;
  const workers = [], data = [];
  const { page, context, errors, base } = await openHtml(env, 'two-pads.html', html, {
    setup: async (p) => {
      p.on('worker', (w) => workers.push(w.url()));
      p.on('request', (r) => { if (/\/data\/.*\.gz$/.test(r.url())) data.push(r.url()); });
    },
  });
  await recordEvents(page, EVENTS);
  await page.waitForFunction(() => document.querySelectorAll('[ready]').length === 3, null, { timeout: 30000 });
  const same = await page.evaluate(() => {
    const [a, b, tr] = ['a', 'b', 'trainer'].map((id) => document.getElementById(id).studio.runtime);
    return a === b && b === tr;
  });
  assert.ok(same, 'one runtime for the page');

  await drawDigit(page, readMnistTest(1, 1).images[0], { canvas: canvasOf('a') }); // a 2
  await page.waitForFunction(() => document.querySelector('#a').shadowRoot.querySelector('[data-testid="prediction"]').textContent === '2');
  await drawDigit(page, readMnistTest(2, 1).images[0], { canvas: canvasOf('b') }); // a 1
  await page.waitForFunction(() => document.querySelector('#b').shadowRoot.querySelector('[data-testid="prediction"]').textContent === '1');
  assert.equal(await page.textContent('#a [data-testid="prediction"]'), '2', 'each pad reads its own drawing');

  await page.click('#trainer [data-testid="train-start"]');
  await waitEvent(page, 'done', 'trainer', 120000);
  // both pads now predict with the trained model; their drawings are read again by it
  for (const id of ['a', 'b']) {
    await page.waitForFunction((id) => /trained here: small/.test(document.querySelector(`#${id}`).shadowRoot
      .querySelector('[data-part="prediction-note"]').textContent), id);
  }
  await screenshot(page, 'widgets-two-pads', { fullPage: true });
  t.diagnostic(`workers started: ${workers.map((u) => u.replace(/.*\//, '')).join(', ')}; data files fetched: ${data.length}`);
  // one training worker and one prediction worker for the page; the training worker's replicas (one per core
  // beyond the first, as many as the trainer's Workers field says) train beside it
  const cores = Number(await page.evaluate(() => document.querySelector('#trainer').shadowRoot.querySelector('[data-part="workers"]').value));
  assert.deepEqual(workers.map((u) => u.replace(/.*\//, '')).sort(),
    ['replica-worker.mjs', 'worker-predict.mjs', 'worker-train.mjs'].flatMap((w) => (w === 'replica-worker.mjs' ? Array(cores - 1).fill(w) : [w])));
  assert.equal(data.length, 4, 'MNIST (train and test, images and labels) fetched once');

  // the page's one writer kept the trained model (current) in the page's scope; after a reload both pads use it
  const keys = await page.evaluate(() => new Promise((resolve) => {
    indexedDB.open('cnn-wasm').onsuccess = (e) => {
      const req = e.target.result.transaction('current').objectStore('current').getAllKeys();
      req.onsuccess = () => resolve(req.result);
    };
  }));
  assert.deepEqual(keys, ['page:/two-pads.html']);
  await page.goto(`${base}two-pads.html`);
  await page.waitForFunction(() => document.querySelectorAll('[ready]').length === 3, null, { timeout: 30000 });
  await drawDigit(page, readMnistTest(1, 1).images[0], { canvas: canvasOf('b') });
  await page.waitForFunction(() => /trained here: small/.test(document.querySelector('#b').shadowRoot
    .querySelector('[data-part="prediction-note"]').textContent));
  assert.deepEqual(errors, []);
  await context.close();
});

test('the iframe embed: options, events to the host origin only, commands from it only', async (t) => {
  // the host page on one origin (its own server), the embed on another (the site's server)
  const embed = env.server.url;
  const hostServer = await otherOrigin();
  const host = hostServer.url.replace(/\/$/, '');
  const html = `<!doctype html><meta charset="utf-8"><title>host</title>
<h1>A lesson</h1>
<iframe id="draw" src="${embed}embed.html?panel=draw" width="480" height="640"></iframe>
<iframe id="train" src="${embed}embed.html?panel=train&preset=small&epochs=1&limit=1200&controls=0&origin=${encodeURIComponent(host)}" width="480" height="640"></iframe>
<iframe id="elsewhere" src="${embed}embed.html?panel=draw&origin=https%3A%2F%2Fother.example" width="320" height="400"></iframe>
<script type="module">
  window.messages = [];
  const frames = { draw: 'draw', train: 'train', elsewhere: 'elsewhere' };
  addEventListener('message', (e) => {
    // the host's check: the embed's origin, one of our frames, and the embed's own message format
    if (e.origin !== ${JSON.stringify(embed.replace(/\/$/, ''))} || e.data?.source !== 'digits-embed') return;
    const frame = [...document.querySelectorAll('iframe')].find((f) => f.contentWindow === e.source);
    if (!frame) return;
    window.messages.push({ frame: frame.id, type: e.data.type, detail: { ...e.data.detail, input: undefined } });
  });
</script>`;
  hostServer.pages.set('lesson.html', html);
  const context = await env.browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${host}/lesson.html`);
  const got = (frame, type) => page.evaluate(([f, t]) => window.messages.filter((m) => m.frame === f && m.type === t), [frame, type]);
  await page.waitForFunction(() => ['draw', 'train'].every((f) => window.messages.some((m) => m.frame === f && m.type === 'ready')), null, { timeout: 30000 });

  // drawing in the framed pad: prediction messages reach the host (origin from the referrer)
  await drawDigit(page, readMnistTest(0, 1).images[0], { canvas: '#draw >> internal:control=enter-frame >> [data-testid="draw-canvas"]' });
  await page.waitForFunction(() => window.messages.some((m) => m.frame === 'draw' && m.type === 'prediction' && m.detail.final && m.detail.digit === 7));
  const sizes = await got('draw', 'size');
  assert.ok(sizes.length >= 1 && sizes.at(-1).detail.height > 300, JSON.stringify(sizes.at(-1)));
  await screenshot(page, 'iframe-480x640', { clip: await page.locator('#draw').boundingBox() });

  // the host tells the trainer to train (controls=0: no form in the frame); progress, epoch and done come back
  const trainFrame = page.frameLocator('#train');
  assert.ok(await trainFrame.locator('fieldset.hyper').isHidden());
  await page.evaluate((embedOrigin) => document.querySelector('#train').contentWindow.postMessage({ source: 'digits-host', type: 'train' }, embedOrigin), embed.replace(/\/$/, ''));
  await page.waitForFunction(() => window.messages.some((m) => m.frame === 'train' && m.type === 'done'), null, { timeout: 120000 });
  assert.ok((await got('train', 'progress')).length >= 1);
  assert.equal((await got('train', 'epoch'))[0].detail.epoch, 1);
  t.diagnostic(`framed trainer done: test accuracy ${(await got('train', 'done'))[0].detail.testAccuracy}`);

  // a frame told to talk to another origin sends this host nothing, and ignores its commands
  const elsewhere = page.frameLocator('#elsewhere');
  await drawDigit(page, readMnistTest(0, 1).images[0], { canvas: '#elsewhere >> internal:control=enter-frame >> [data-testid="draw-canvas"]' });
  await elsewhere.locator('[data-testid="prediction"]:text("7")').waitFor();
  await page.evaluate((o) => document.querySelector('#elsewhere').contentWindow.postMessage({ source: 'digits-host', type: 'clear' }, o), embed.replace(/\/$/, ''));
  await page.waitForTimeout(300);
  assert.equal(await elsewhere.locator('[data-testid="prediction"]').textContent(), '7', 'a command from an origin it does not serve is ignored');
  assert.equal((await page.evaluate(() => window.messages.filter((m) => m.frame === 'elsewhere'))).length, 0);
  // the draw frame (origin from the referrer) takes the same command from its host
  await page.evaluate((o) => document.querySelector('#draw').contentWindow.postMessage({ source: 'digits-host', type: 'clear' }, o), embed.replace(/\/$/, ''));
  const drawFrame = page.frames().find((f) => /panel=draw$/.test(f.url()));
  await drawFrame.waitForFunction(() => document.querySelector('[data-testid="prediction"]').textContent === '');
  assert.deepEqual(errors, []);
  await context.close();
  await hostServer.close();
});

test('the insight view shows exactly the core\'s layer outputs for the drawing', async () => {
  const { page, context, errors } = await openHtml(env, 'insight.html', `<!doctype html><meta charset="utf-8"><title>insight</title>
<digit-insight id="insight"></digit-insight><script type="module" src="elements.mjs"></script>`);
  await page.waitForSelector('#insight[ready]', { timeout: 30000 });
  await drawDigit(page, readMnistTest(3, 1).images[0], { canvas: canvasOf('insight') }); // a 0
  await page.waitForFunction(() => {
    const v = document.querySelector('#insight').studio.views;
    return !v.draw.pad.drawing && !v.draw._inFlight && v.insight.shown.layers.length === 5;
  });
  // the saliency map of the drawing shown (that of an earlier stroke may still be on screen for a moment)
  await page.waitForFunction(() => {
    const { shown } = document.querySelector('#insight').studio.views.insight;
    return shown.saliency && shown.saliency.input === shown.input;
  });
  const shown = await page.evaluate(() => {
    const s = document.querySelector('#insight').studio.views.insight.shown;
    return {
      input: Array.from(s.input), layers: s.layers.map((l) => ({ index: l.index, name: l.name, shape: l.shape, values: Array.from(l.values) })),
      saliency: { digit: s.saliency.digit, gradients: Array.from(s.saliency.gradients) },
    };
  });
  await screenshot(page, 'insight', { fullPage: true });
  // the same model in Node, the same input: every map shown equals layerOutput
  const model = cnn.loadModel(fs.readFileSync(`${WEB}/build/pretrained.safetensors`));
  const probs = model.predict(Float32Array.from(shown.input));
  assert.equal(probs.indexOf(Math.max(...probs)), 0);
  for (const l of shown.layers) {
    const ref = model.layerOutput(l.index);
    assert.equal(ref.length, l.values.length, l.name);
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ref[i] - l.values[i]));
    assert.ok(worst <= 1e-5, `${l.name}: largest difference ${worst}`);
  }
  assert.deepEqual(shown.layers.map((l) => l.name), ['conv1', 'pool1', 'conv2', 'pool2', 'fc1']);
  // the saliency map shown is the core's input gradient of each class's score for that input
  const x = Float32Array.from(shown.input);
  for (const k of [0, 6]) {
    const ref = model.inputGradient(x, k), got = shown.saliency.gradients.slice(k * 784, (k + 1) * 784);
    const worst = Math.max(...ref.map((r, i) => Math.abs(r - got[i])));
    assert.ok(worst <= 1e-5 * Math.max(1, ...ref.map(Math.abs)), `class ${k}: largest difference ${worst}`);
  }
  assert.equal(shown.saliency.digit, 0);
  const sal = await page.evaluate(() => {
    const c = document.querySelector('#insight').shadowRoot.querySelector('[data-part="saliency"]');
    return Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data);
  });
  const g0 = shown.saliency.gradients.slice(0, 784), strongest = g0.indexOf(Math.max(...g0));
  if (g0[strongest] > 0) assert.equal(sal[4 * strongest], 255, 'the strongest push towards 0 is full orange');
  // and the canvases show them: conv1's first map, brightest value white, zero black
  const pixels = await page.evaluate(() => {
    const c = document.querySelector('#insight').shadowRoot.querySelector('.layer-out[data-layer="conv1"] canvas');
    return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 === 0));
  });
  const map = shown.layers[0].values.filter((_, i) => i % 32 === 0);
  const top = map.indexOf(Math.max(...map)), zero = map.indexOf(0);
  assert.equal(pixels.length, 26 * 26);
  if (Math.max(...map) > 0) assert.equal(pixels[top], 255);
  if (zero >= 0) assert.equal(pixels[zero], 0);
  model.free();
  assert.deepEqual(errors, []);
  await context.close();
});
