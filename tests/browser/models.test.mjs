// Browser tests of models and data from disk: download and load (file picker, drag and drop), corrupt files,
// an IDX data set with its own image size and classes, the model kept across reloads (IndexedDB), the scalar
// fallback notice, and a phone-sized screen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { gzipSync } from 'node:zlib';
import { loadCnn } from '../../web/cnn.mjs';
import {
  missingPrerequisite, launch, openPage, gotoReady, tid, readMnistTest, drawDigit, settledPrediction, screenshot,
  setTrainForm, waitIdle, fillSpec, WEB,
} from './helpers.mjs';

let env, page, errors, cnn, mlpBytes;

before(async () => {
  const missing = missingPrerequisite();
  if (missing) throw new Error(`cannot run the browser tests: ${missing}`); // a failure, never a skip
  env = await launch();
  ({ page, errors } = await openPage(env));
  cnn = await loadCnn();
  const mlp = cnn.createModel('mlp', { seed: 7 });
  mlpBytes = Buffer.from(mlp.save());
  mlp.free();
  await waitIdle(page);
});

after(async () => {
  await env?.close();
});

const status = () => page.textContent(tid('status'));
const statusIsError = async () => /\berror\b/.test(await page.getAttribute(tid('status'), 'class'));
const modelInfo = () => page.textContent('#model-info');
const waitStatus = (re, timeout = 20000) => page.waitForFunction(
  (src) => new RegExp(src).test(document.querySelector('[data-testid="status"]').textContent), re.source, { timeout });

/** Draws a real 7 and checks that some digit is predicted (the page still works). */
async function stillPredicts() {
  await page.keyboard.press('Escape');
  await drawDigit(page, readMnistTest(0, 1).images[0]);
  const read = await settledPrediction(page);
  assert.match(read, /^\d$/);
  await page.keyboard.press('Escape');
  return read;
}

test('download the model as .safetensors and load models from a file and by drag and drop', async () => {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#model-download')]);
  assert.match(download.suggestedFilename(), /\.safetensors$/);
  const bytes = fs.readFileSync(await download.path());
  assert.deepEqual(bytes, fs.readFileSync(`${WEB}/build/pretrained.safetensors`), 'the download is the current (pretrained) model');
  const again = cnn.loadModel(bytes);
  assert.equal(again.classes, 10);
  again.free();

  await page.setInputFiles('#model-file', { name: 'mlp.safetensors', mimeType: 'application/octet-stream', buffer: mlpBytes });
  await waitStatus(/Loaded mlp\.safetensors/);
  assert.match(await modelInfo(), /file mlp\.safetensors/);
  assert.match(await modelInfo(), /101,770/);
  await stillPredicts();

  // drop the downloaded model onto the page
  const dt = await page.evaluateHandle((b64) => {
    const t = new DataTransfer();
    t.items.add(new File([Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0))], 'dropped.safetensors'));
    return t;
  }, bytes.toString('base64'));
  await page.dispatchEvent('body', 'drop', { dataTransfer: dt });
  await waitStatus(/Loaded dropped\.safetensors/);
  assert.match(await modelInfo(), /225,034/);
  assert.equal(await stillPredicts(), '7');
});

test('a corrupt model file gives an error in the status line and the page keeps working', async () => {
  const before = await modelInfo();
  const real = fs.readFileSync(`${WEB}/build/pretrained.safetensors`);
  for (const [name, buffer] of [
    ['truncated.safetensors', real.subarray(0, 5000)],
    ['noise.safetensors', Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) % 251))],
  ]) {
    await page.setInputFiles('#model-file', { name, mimeType: 'application/octet-stream', buffer });
    await waitStatus(new RegExp(`${name.replace('.', '\\.')} is not a`));
    assert.ok(await statusIsError());
    assert.equal(await modelInfo(), before, 'the current model is unchanged');
    assert.equal(await stillPredicts(), '7');
  }
  assert.ok(await page.locator(tid('train-start')).isEnabled());
});

/** An IDX file: magic 0x0000 0x08 ndims, big-endian dims, u8 data. */
function idx(dims, data) {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt8(0x08, 2);
  head.writeUInt8(dims.length, 3);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(data)]);
}

/** MNIST test digits 0, 1, 2 shrunk to 14x14 (2x2 averages): a data set with its own size and class count. */
function smallDigits(first, count) {
  const { images, labels } = readMnistTest(first, count * 4);
  const out = [], lab = [];
  images.forEach((img, n) => {
    if (labels[n] > 2 || lab.length === count) return;
    const small = new Uint8Array(196);
    for (let r = 0; r < 14; r++) for (let c = 0; c < 14; c++) {
      const at = (rr, cc) => img[(2 * r + rr) * 28 + 2 * c + cc];
      small[r * 14 + c] = (at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) >> 2;
    }
    out.push(small);
    lab.push(labels[n]);
  });
  return { images: Buffer.concat(out), labels: Buffer.from(lab), count: lab.length };
}

test('IDX files from disk: corrupt ones are refused; a 14x14, 3-class set trains a new model of its own', async (t) => {
  const train = smallDigits(0, 600), test = smallDigits(5000, 150);
  const files = [
    { name: 'train-images-idx3-ubyte.gz', buffer: gzipSync(idx([train.count, 14, 14], train.images)) },
    { name: 'train-labels-idx1-ubyte', buffer: idx([train.count], train.labels) },
    { name: 't10k-images-idx3-ubyte', buffer: idx([test.count, 14, 14], test.images) },
    { name: 't10k-labels-idx1-ubyte.gz', buffer: gzipSync(idx([test.count], test.labels)) },
  ].map((f) => ({ ...f, mimeType: 'application/octet-stream' }));

  // corrupt: truncated images, a broken gzip stream, and a missing file
  const truncated = files.map((f, i) => (i === 2 ? { ...f, buffer: f.buffer.subarray(0, 1000) } : f));
  await page.setInputFiles('#idx-files', truncated);
  await waitStatus(/could not be loaded: .*t10k-images-idx3-ubyte/);
  assert.ok(await statusIsError());
  const badGzip = files.map((f, i) => (i === 0 ? { ...f, buffer: Buffer.concat([f.buffer.subarray(0, 200), Buffer.alloc(300, 7)]) } : f));
  await page.setInputFiles('#idx-files', badGzip);
  await waitStatus(/could not be loaded: .*train-images-idx3-ubyte\.gz/);
  await page.setInputFiles('#idx-files', files.slice(0, 3));
  await waitStatus(/could not be loaded: .*missing: test labels/);
  assert.equal(await page.inputValue('#dataset'), 'mnist');
  assert.equal(await stillPredicts(), '7');
  t.diagnostic(`last IDX error: ${await status()}`);

  // valid: the data set is chosen and the architecture adapted to its shape and classes
  await page.setInputFiles('#idx-files', files);
  await waitStatus(/IDX data set loaded/);
  assert.equal(await page.inputValue('#dataset'), 'custom');
  const spec = await page.inputValue('#spec-text');
  assert.match(spec, /^input 14x14x1\n/);
  assert.match(spec, /dense 3$/);

  // the pretrained model cannot be fine-tuned on it: a clear error, on "Start from"
  await page.selectOption('#train-from', 'current');
  await page.click(tid('train-start'));
  await waitStatus(/The current model takes 28×28×1 images, but the data set has 14×14×1 images/);
  assert.ok(await statusIsError());
  assert.equal(await page.getAttribute('#train-from', 'aria-invalid'), 'true');
  await page.selectOption('#train-from', 'new');

  await setTrainForm(page, { spec: 'input 14x14x1\nconv2d 8 3x3 relu\nmaxpool 2\ndense 3', epochs: 3, limit: 600, batch: 32, valSplit: 0.1 });
  await page.click(tid('train-start'));
  await page.waitForFunction(() => /%/.test(document.querySelector('[data-testid="test-accuracy"]').textContent), null, { timeout: 60000 });
  const accuracy = parseFloat(await page.textContent(tid('test-accuracy')));
  t.diagnostic(`14x14 three-class model: test accuracy ${accuracy}%`);
  assert.ok(accuracy > 80, `${accuracy}%`);
  assert.equal(await page.locator('#confusion tbody tr').count(), 3);
  assert.equal(await page.locator(`${tid('probabilities')} > *`).count(), 3);
  assert.match(await modelInfo(), /14×14×1 → 3 classes/);
  // drawings are 28x28: the page says this model cannot read them, and keeps working
  await drawDigit(page, readMnistTest(0, 1).images[0]);
  await settledPrediction(page);
  assert.match(await page.textContent('#prediction-note'), /takes 14×14×1 images/);
  await page.keyboard.press('Escape');

  await page.selectOption('#dataset', 'mnist');
  await page.click('#model-revert');
  await waitStatus(/Back to the pretrained model/);
  assert.equal(await page.locator(`${tid('probabilities')} > *`).count(), 10);
  assert.equal(await stillPredicts(), '7');
});

test('the current model is kept in IndexedDB and restored after a reload', async () => {
  await page.setInputFiles('#model-file', { name: 'mlp.safetensors', mimeType: 'application/octet-stream', buffer: mlpBytes });
  await waitStatus(/Loaded mlp\.safetensors/);
  await gotoReady(page, env.server.url);
  assert.match(await modelInfo(), /file mlp\.safetensors/);
  assert.match(await modelInfo(), /101,770/);
  await stillPredicts();
  await waitIdle(page);
  await page.click('#model-revert');
  await waitStatus(/Back to the pretrained model/);
  await gotoReady(page, env.server.url);
  assert.match(await modelInfo(), /pretrained/);
  assert.deepEqual(errors, []);
});

test('without SIMD (?build=scalar) the page shows a notice and still predicts', async (t) => {
  const scalar = await openPage(env, { query: '?build=scalar' });
  page = scalar.page;
  t.diagnostic(`scalar build: navigation -> ready ${scalar.readyMs} ms`);
  assert.ok(await page.locator('#build-notice').isVisible());
  assert.match(await modelInfo(), /scalar/);
  assert.equal(await stillPredicts(), '7');
  await scalar.context.close();
});

test('a phone-sized screen: no sideways scrolling, the drawing surface fits and works', async () => {
  const phone = await openPage(env, { viewport: { width: 390, height: 844 } });
  page = phone.page;
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${overflow} px wider than the screen`);
  const box = await page.locator(tid('draw-canvas')).boundingBox();
  assert.ok(box.width > 300 && box.x >= 0 && box.x + box.width <= 390, JSON.stringify(box));
  assert.equal(await stillPredicts(), '7');
  await drawDigit(page, readMnistTest(1, 1).images[0]);
  await settledPrediction(page);
  await screenshot(page, 'phone', { fullPage: true });
  await phone.context.close();
});

test('drawings saved with a label persist across reloads and fine-tune the current model', async (t) => {
  const ctx = await openPage(env);
  page = ctx.page;
  await waitIdle(page);
  const { images, labels } = readMnistTest(10, 3);
  for (let i = 0; i < images.length; i++) {
    await page.keyboard.press('Escape');
    await drawDigit(page, images[i]);
    await settledPrediction(page);
    await page.selectOption('#sample-label', String(labels[i]));
    await page.click('#sample-save');
    await waitStatus(new RegExp(`Saved as ${labels[i]}`));
    assert.equal(await settledPrediction(page), '', 'saving clears the drawing');
  }
  assert.match(await page.textContent('#sample-count'), /3 saved drawings/);
  await gotoReady(page, env.server.url);
  await waitIdle(page);
  assert.match(await page.textContent('#sample-count'), /3 saved drawings/);

  await page.selectOption('#dataset', 'mnist+drawings');
  await setTrainForm(page, { from: 'current', epochs: 1, limit: 500, batch: 32, valSplit: 0.2, lr: 0.0003 });
  await page.click(tid('train-start'));
  await page.waitForFunction(() => document.querySelector('#train-progress-text').textContent === 'Done.', null, { timeout: 60000 });
  assert.match(await modelInfo(), /fine-tuned on MNIST \+ my drawings, 1 epoch, from pretrained/);
  await page.waitForFunction(() => /%/.test(document.querySelector('[data-testid="test-accuracy"]').textContent), null, { timeout: 60000 });
  t.diagnostic(`fine-tuned on 3 drawings + 500 MNIST images: test accuracy ${await page.textContent(tid('test-accuracy'))}`);
  assert.ok(parseFloat(await page.textContent(tid('test-accuracy'))) > 95);

  page.once('dialog', (d) => d.accept());
  await page.click('#samples-clear');
  await waitStatus(/Saved drawings deleted/);
  assert.equal(await page.inputValue('#dataset'), 'mnist');
  await ctx.context.close();
});
