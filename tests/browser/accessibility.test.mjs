// Browser tests of what the page offers beyond a mouse and eyes: the prediction spoken once per stroke, ways
// in without a pointer (a picture, an MNIST digit), gallery images reachable by keyboard with their details
// in words, a skip link past the layer editor, explanations by keyboard, first-visit hints, and a
// prediction that says when it is not sure.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadCnn } from '../../web/cnn.mjs';
import {
  missingPrerequisite, launch, openPage, gotoReady, tid, readMnistTest, drawDigit, settledPrediction, waitIdle,
} from './helpers.mjs';

let env, page, errors;

before(async () => {
  const missing = missingPrerequisite();
  if (missing) throw new Error(`cannot run the browser tests: ${missing}`); // a failure, never a skip
  env = await launch();
  ({ page, errors } = await openPage(env));
  await waitIdle(page);
});

after(async () => {
  await env?.close();
});

const announced = () => page.textContent('[data-part="announce"]');

test('the prediction is spoken once per stroke, not on every prediction while drawing', async (t) => {
  await page.keyboard.press('Escape');
  await page.evaluate(() => {
    window.spoken = [];
    window.shown = 0;
    new MutationObserver(() => window.spoken.push(document.querySelector('[data-part="announce"]').textContent))
      .observe(document.querySelector('[data-part="announce"]'), { childList: true, characterData: true, subtree: true });
    new MutationObserver(() => window.shown++).observe(document.querySelector('[data-testid="prediction"]'), { childList: true, characterData: true, subtree: true });
  });
  const { images, labels } = readMnistTest(4, 1); // a 4: drawn in more than one stroke
  const strokes = await drawDigit(page, images[0]);
  assert.equal(await settledPrediction(page), String(labels[0]));
  const { spoken, shown } = await page.evaluate(() => ({ spoken: window.spoken, shown: window.shown }));
  t.diagnostic(`${strokes} strokes: ${spoken.length} announcements (${spoken.join(' | ')}); the visible prediction changed ${shown} times`);
  assert.ok(strokes >= 2);
  assert.ok(spoken.length >= 1 && spoken.length <= strokes, `${spoken.length} announcements for ${strokes} strokes`);
  assert.ok(shown > spoken.length, 'the screen follows the pen; the announcements wait for the stroke\'s end');
  assert.match(spoken.at(-1), new RegExp(`^Prediction: ${labels[0]}, \\d+ percent\\.$`));
  assert.equal(await page.getAttribute(tid('prediction'), 'aria-live'), null, 'the big digit itself is not a live region');
});

test('without a pointer: a picture of a digit, or a digit from the MNIST test set', async () => {
  // a dark 3 on light paper, as a phone photo of a page would be (the brighter side is taken as the paper)
  const [three] = readMnistTest(18, 1).images;
  const png = await page.evaluate(async (px) => {
    const c = new OffscreenCanvas(120, 90);
    const ctx = c.getContext('2d');
    ctx.fillStyle = '#f4f1ea';
    ctx.fillRect(0, 0, 120, 90);
    const img = new ImageData(28, 28);
    px.forEach((v, i) => img.data.set([255 - v, 255 - v, 255 - v, 255], 4 * i));
    const small = new OffscreenCanvas(28, 28);
    small.getContext('2d').putImageData(img, 0, 0);
    ctx.drawImage(small, 30, 10, 70, 70);
    const bytes = new Uint8Array(await (await c.convertToBlob({ type: 'image/png' })).arrayBuffer());
    return btoa(String.fromCharCode(...bytes));
  }, Array.from(three));
  await page.setInputFiles('[data-part="image-file"]', { name: 'three.png', mimeType: 'image/png', buffer: Buffer.from(png, 'base64') });
  await page.waitForFunction(() => /picture three\.png/.test(document.querySelector('[data-part="announce"]').textContent));
  assert.equal(await settledPrediction(page), '3');
  assert.match(await announced(), /^picture three\.png\. Prediction: 3/);

  await page.focus('[data-part="test-digit"]');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /MNIST test digit #\d+, labelled \d/.test(document.querySelector('[data-part="announce"]').textContent), null, { timeout: 30000 });
  const text = await announced();
  const label = /labelled (\d)/.exec(text)[1];
  assert.match(await settledPrediction(page), /^\d$/);
  assert.match(text, new RegExp(`labelled ${label}\\. (Prediction: \\d|Not sure)`));
  await page.keyboard.press('Escape');
});

test('gallery images: reached by keyboard, their details in words, shown in the pad when chosen', async () => {
  await page.click('#evaluate');
  await page.waitForFunction(() => /%/.test(document.querySelector('[data-testid="test-accuracy"]').textContent), null, { timeout: 60000 });
  const first = page.locator('#gallery button.shot').first();
  const label = await first.getAttribute('aria-label');
  assert.match(label, /^Test image \d+: labelled \d, predicted \d with [\d.]+% confidence \(wrong\)\. Show it in the drawing pad\.$/);
  assert.match(await first.textContent(), /\d → \d · \d+%#\d+/, 'the details are on the screen, not only in a tooltip');
  await page.focus('#gallery button.shot >> nth=0');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'shot', 'the next image takes the focus');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Enter');
  const [, index, truth] = /^Test image (\d+): labelled (\d)/.exec(label);
  await page.waitForFunction((i) => document.querySelector('[data-part="announce"]').textContent.startsWith(`test image ${i}, labelled`), index);
  assert.match(await announced(), new RegExp(`^test image ${index}, labelled ${truth}\\.`));
  assert.match(await settledPrediction(page), /^\d$/);
  await page.keyboard.press('Escape');
});

test('a skip link jumps past the layer editor; explanations open from the keyboard', async () => {
  await page.focus('#preset');
  await page.keyboard.press('Tab'); // the next stop after the preset, before the editor's many controls
  assert.equal(await page.evaluate(() => document.activeElement.dataset.part), 'skip-editor');
  assert.ok(await page.locator('[data-part="skip-editor"]').isVisible(), 'visible once focused');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.part), 'hyper', 'past the editor, at the training settings');

  const info = page.locator('[data-explain="lr"] button.info');
  await info.focus();
  assert.equal(await info.getAttribute('aria-expanded'), 'false');
  await page.keyboard.press('Enter');
  assert.equal(await info.getAttribute('aria-expanded'), 'true');
  const note = page.locator(`#${await info.getAttribute('aria-controls')}`);
  assert.match(await note.textContent(), /How big a step the optimizer takes.*Typical: 0\.002 for Adam/);
  // a select's note follows its value
  const opt = page.locator('[data-explain="optimizer:"] button.info');
  await opt.click();
  await page.selectOption('#optimizer', 'sgd');
  assert.match(await page.locator(`#${await opt.getAttribute('aria-controls')}`).textContent(), /^Stochastic gradient descent/);
  await page.selectOption('#optimizer', 'adam');
});

test('first visit: a hint on the pad, then what to do next; a later visit goes without', async () => {
  const fresh = await openPage(env);
  const p = fresh.page;
  assert.ok(await p.locator('[data-part="first-hint"]').isVisible());
  await drawDigit(p, readMnistTest(0, 1).images[0]);
  await settledPrediction(p);
  assert.ok(await p.locator('[data-part="first-hint"]').isHidden());
  assert.match(await p.textContent('[data-part="next-hint"]'), /Save a drawing with its label/);
  await gotoReady(p, env.server.url);
  assert.ok(await p.locator('[data-part="first-hint"]').isHidden(), 'seen once per browser');
  await fresh.context.close();
});

test('a prediction the network is not sure about says so', async () => {
  const cnn = await loadCnn();
  const untrained = cnn.createModel('mlp', { seed: 7 });
  const bytes = Buffer.from(untrained.save());
  untrained.free();
  await page.setInputFiles('#model-file', { name: 'untrained.safetensors', mimeType: 'application/octet-stream', buffer: bytes });
  await page.waitForFunction(() => /Loaded untrained/.test(document.querySelector('[data-testid="status"]').textContent));
  await drawDigit(page, readMnistTest(0, 1).images[0]);
  const digit = await settledPrediction(page);
  const sure = await page.textContent('[data-part="confidence"]');
  assert.match(sure, new RegExp(`^not sure: ${digit} or \\d\\?$`));
  assert.match(await announced(), /^Not sure: \d or \d\.$/);
  assert.match(await page.getAttribute(tid('prediction'), 'class'), /unsure/);
  await page.click('#model-revert');
  await page.waitForFunction(() => /Back to the pretrained/.test(document.querySelector('[data-testid="status"]').textContent));
  await page.keyboard.press('Escape');
  assert.deepEqual(errors, []);
});
