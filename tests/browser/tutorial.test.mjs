// The tutorial page from top to bottom, as a learner goes through it: each step's widget works on its own,
// and they share one network (what step 3 trains is what step 4 looks inside and step 5 fine-tunes).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  missingPrerequisite, launch, watchErrors, recordEvents, readMnistTest, drawDigit, screenshot,
} from './helpers.mjs';

let env;

before(async () => {
  const missing = missingPrerequisite();
  if (missing) throw new Error(`cannot run the browser tests: ${missing}`); // a failure, never a skip
  env = await launch();
});

after(async () => {
  await env?.close();
});

const done = (page, id) => page.waitForFunction((id) => window.events.some((e) => e.type === 'done' && e.target === id), id, { timeout: 120000 });
const detail = (page, type, id) => page.evaluate(([type, id]) => window.events.filter((e) => e.type === type && e.target === id).at(-1)?.detail, [type, id]);

test('the tutorial, step by step', async (t) => {
  const context = await env.browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${env.server.url}tutorial.html`);
  await page.waitForFunction(() => document.querySelectorAll('[ready]').length === 5, null, { timeout: 30000 });
  const ready = await page.evaluate(() => [...document.querySelectorAll('[ready]')].map((e) => `${e.id} ${e.readyMs} ms`));
  t.diagnostic(`widgets ready after: ${ready.join(', ')}`);
  await recordEvents(page, ['progress', 'epoch', 'done', 'error', 'prediction']);

  // 1. the data: download MNIST, look at some training images and their labels
  await page.click('#w-data [data-part="mnist-load"]');
  await page.waitForFunction(() => document.querySelector('#w-data').shadowRoot.querySelectorAll('[data-part="data-gallery"] li').length === 24, null, { timeout: 60000 });
  assert.match(await page.textContent('#w-data [data-part="data-info"]'), /60,000 training and 10,000 test/);

  // 2. a first network: the MLP, one pass over 10,000 images
  await page.locator('#w-first [data-testid="train-start"]').scrollIntoViewIfNeeded();
  await page.click('#w-first [data-testid="train-start"]');
  await done(page, 'w-first');
  const first = await detail(page, 'done', 'w-first');
  t.diagnostic(`step 2 (mlp): ${first.label}, test accuracy ${first.testAccuracy}`);
  assert.ok(first.testAccuracy > 0.85, `${first.testAccuracy}`);

  // 3. a convolutional network, two epochs with validation: the curves fill in
  await page.click('#w-curves [data-testid="train-start"]');
  await done(page, 'w-curves');
  const curves = await detail(page, 'done', 'w-curves');
  t.diagnostic(`step 3 (small CNN): ${curves.label}, test accuracy ${curves.testAccuracy}`);
  assert.equal(curves.epochs.length, 2);
  assert.ok(curves.epochs.every((e) => e.valAccuracy > 0), 'validation points');
  assert.ok(curves.testAccuracy > 0.9, `${curves.testAccuracy}`);
  assert.ok(Number(await page.getAttribute('#w-curves [data-part="chart-loss"]', 'data-points')) > 4);

  // 4. what the network sees: the network of step 3, layer by layer, for a drawing
  await drawDigit(page, readMnistTest(0, 1).images[0], { canvas: '#w-sees [data-testid="draw-canvas"]' });
  await page.waitForFunction(() => document.querySelector('#w-sees').studio.views.insight.shown.layers.length === 4);
  const layers = await page.evaluate(() => document.querySelector('#w-sees').studio.views.insight.shown.layers.map((l) => `${l.name} ${l.shape.join('x')}`));
  assert.deepEqual(layers, ['conv1 24x24x8', 'pool1 12x12x8', 'conv2 8x8x16', 'pool2 4x4x16']);
  assert.equal(await page.locator('#w-sees .filters canvas').count(), 8);
  t.diagnostic(`step 4: read ${await page.textContent('#w-sees [data-testid="prediction"]')} for a 7, layers ${layers.join(', ')}`);

  // 5. your own handwriting: three drawings saved with their labels, then fine-tuning on them with some MNIST
  const { images, labels } = readMnistTest(30, 3);
  for (let i = 0; i < 3; i++) {
    await page.click('#w-yours [data-testid="clear-canvas"]');
    await drawDigit(page, images[i], { canvas: '#w-yours [data-testid="draw-canvas"]', synthetic: true });
    await page.waitForFunction(() => !document.querySelector('#w-yours').studio.views.draw.pad.drawing &&
      document.querySelector('#w-yours').studio.views.draw.lastInput);
    await page.selectOption('#w-yours [data-part="sample-label"]', String(labels[i]));
    await page.click('#w-yours [data-part="sample-save"]');
    await page.waitForFunction((n) => document.querySelector('#w-yours').shadowRoot.querySelector('[data-part="sample-count"]').textContent === `${n} saved drawing${n === 1 ? '' : 's'}`, i + 1);
  }
  await page.click('#w-yours [data-testid="train-start"]');
  await done(page, 'w-yours');
  const yours = await detail(page, 'done', 'w-yours');
  t.diagnostic(`step 5: ${yours.label}`);
  assert.match(yours.label, /^fine-tuned on MNIST \+ my drawings, 1 epoch, from trained here: small/);
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, 'tutorial', { fullPage: true });
  assert.deepEqual(await page.evaluate(() => window.events.filter((e) => e.type === 'error')), []);
  assert.deepEqual(errors, []);
  await context.close();
});
