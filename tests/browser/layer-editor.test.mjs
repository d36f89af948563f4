// Browser test of the layer editor's newer layers: a residual block added with the mouse, its branch edited, a
// stride that needs a projection (the core's message is shown), the projection added with one click, the
// shapes the core computes shown per row, batch norm, leaky ReLU with its slope, and the resnet preset.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { missingPrerequisite, launch, openPage, screenshot, waitIdle, fillSpec } from './helpers.mjs';

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

const specText = () => page.inputValue('#spec-text');
const check = () => page.textContent('#spec-check');
const valid = () => page.waitForFunction(() => /^Valid/.test(document.querySelector('#spec-check').textContent), null, { timeout: 10000 });
const block = '#layer-editor > .layer.block';

test('residual blocks: add, edit the branch, a projection for a strided branch, shapes from the core', async () => {
  await fillSpec(page, 'conv2d 16 3x3 same relu\nmaxpool 2\ndense 10');
  await valid();
  await page.selectOption('#layer-editor > .add select', 'residual');
  await page.click('#layer-editor > .add button');
  await valid();
  assert.match(await specText(), /^input 28x28x1\nconv2d 16 3x3 same relu\nmaxpool 2\nresidual\n {2}conv2d 16 3x3 same\n {2}batchnorm\n {2}relu\n {2}conv2d 16 3x3 same\n {2}batchnorm\nend relu\ndense 10$/);
  assert.equal(await page.locator(`${block} > .head .shape`).textContent(), '14×14×16 · 4,704 params');
  assert.equal(await page.locator(`${block} > .rows[data-part="branch"] > .layer`).count(), 5);

  // a stride of 2 in the branch: the skip needs a projection, and the core says so, naming the block
  await page.selectOption(`${block} [data-path="2.branch.0"] select[aria-label$="stride"]`, '2');
  await page.waitForFunction(() => /add a projection on the skip/.test(document.querySelector('#spec-check').textContent));
  assert.match(await check(), /layer 10 \('end relu'\): the residual block opened at layer 4 gives 7x7x16 but its input is 14x14x16.*'conv2d 16 1x1 stride 2'/);
  await page.click(`${block} > .rows[data-part="skip"] button[aria-label^="Give"]`);
  await valid();
  assert.match(await specText(), /\nskip\n {2}conv2d 16 1x1 stride 2\n {2}batchnorm\nend relu\n/);
  assert.equal(await page.locator(`${block} > .head .shape`).textContent(), '7×7×16 · 5,008 params');
  assert.equal(await page.locator(`${block} [data-path="2.skip.0"] > .head .shape`).textContent(), '7×7×16 · 272 params');

  // a leaky ReLU with its own slope in the branch, then back to the identity skip
  await page.selectOption(`${block} > .rows[data-part="branch"] > .add select`, 'activation');
  await page.click(`${block} > .rows[data-part="branch"] > .add button`);
  await page.selectOption(`${block} [data-path="2.branch.5"] select`, 'leakyrelu');
  await page.fill(`${block} [data-path="2.branch.5"] input[aria-label$="slope"]`, '0.2');
  await page.dispatchEvent(`${block} [data-path="2.branch.5"] input[aria-label$="slope"]`, 'change');
  await valid();
  assert.match(await specText(), /\n {2}leakyrelu 0\.2\nskip\n/);
  await screenshot(page, 'layer-editor-residual', { fullPage: true });
  await page.click(`${block} > .rows[data-part="skip"] button[aria-label^="Make"]`);
  await page.waitForFunction(() => /add a projection on the skip/.test(document.querySelector('#spec-check').textContent));

  // removing the block leaves the rest as it was
  await page.click(`${block} > .tools button[aria-label^="Remove"]`);
  await valid();
  assert.equal(await specText(), 'input 28x28x1\nconv2d 16 3x3 same relu\nmaxpool 2\ndense 10');
  assert.deepEqual(errors, []);
});

test('the resnet preset in the editor: three blocks, one with a projection, global pooling', async () => {
  await page.selectOption('#preset', 'resnet');
  await valid();
  assert.equal(await page.locator(block).count(), 3);
  assert.equal(await page.locator(`${block} > .rows[data-part="skip"] > .layer`).count(), 2);
  assert.match(await check(), /^Valid: 151,690 parameters/);
  const kinds = await page.locator('#layer-editor > .layer[data-row] > .head .kind').allTextContents();
  assert.deepEqual(kinds, ['Conv2D', 'BatchNorm', 'Activation', 'MaxPool 2×2', 'Residual block', 'Residual block',
    'Residual block', 'Global avg pool', 'Dense']);
  assert.equal(await page.locator('#layer-editor > .layer[data-row="7"] > .head .shape').textContent(), '64');
  // typed text the rows cannot show (a nested block) goes to the core as it is, which explains
  await fillSpec(page, 'residual\nresidual\nconv2d 4 3x3 same\nend\nend\ndense 10');
  await page.waitForFunction(() => /cannot be nested/.test(document.querySelector('#spec-check').textContent));
  assert.match(await page.textContent('#layer-editor'), /cannot show; edit it as text below/);
  await page.selectOption('#preset', 'keras');
  await valid();
  assert.deepEqual(errors, []);
});
