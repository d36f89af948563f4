// Browser tests of the page under careless and hostile use: drawings saved and deleted while training on them,
// errors shown next to what caused them (also on a phone), files that are not models, a cancelled evaluation,
// a diverged run, and a worker whose heap grew past what it holds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { loadCnn } from '../../web/cnn.mjs';
import {
  missingPrerequisite, launch, openPage, gotoReady, tid, readMnistTest, drawDigit, settledPrediction, screenshot,
  setTrainForm, waitIdle, fillSpec, paintDigit, downloadModel, WEB, SCREENSHOTS,
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

const waitStatus = (page, re, timeout = 20000) => page.waitForFunction(
  (src) => new RegExp(src).test(document.querySelector('[data-testid="status"]').textContent), re.source, { timeout });
const chartPoints = async (page) => Number(await page.getAttribute('#chart-loss', 'data-points'));

/** Saves the painted digit with a label through the Save button. */
async function saveDrawing(page, pixels, label) {
  await paintDigit(page, pixels);
  await page.selectOption('#sample-label', String(label));
  await page.click('#sample-save');
  await waitStatus(page, new RegExp(`Saved as ${label}`));
}

/** Pauses the next run at its first progress event (so a test acts while the run is surely on). */
function pauseAtFirstProgress(page) {
  return page.evaluate(() => {
    const rt = window.cnnTest.runtime;
    const off = rt.on('train:progress', () => {
      off();
      rt.train.setPaused(true);
    });
  });
}

const DRAWINGS_RUN = { preset: 'keras', epochs: 50, batch: 1, valSplit: 0, lr: 0.0005, seed: 5 };

test('saving and deleting drawings while training on them: nothing is lost and the run reads no other data', async (t) => {
  const { page, context, errors } = await openPage(env);
  await waitIdle(page);
  const { images, labels } = readMnistTest(20, 7);
  for (let i = 0; i < 6; i++) await saveDrawing(page, images[i], labels[i]);
  await page.selectOption('#dataset', 'drawings');
  await setTrainForm(page, DRAWINGS_RUN);

  // run A: undisturbed
  await page.click(tid('train-start'));
  await page.waitForFunction(() => document.querySelector('#train-progress-text').textContent === 'Done.', null, { timeout: 120000 });
  const a = await downloadModel(page);
  await waitIdle(page);

  // run B: the same run; while it trains on the drawings, a seventh one is saved (Save stays enabled)
  await page.selectOption('#dataset', 'drawings');
  await setTrainForm(page, DRAWINGS_RUN);
  await pauseAtFirstProgress(page);
  await page.click(tid('train-start'));
  await page.waitForFunction(() => document.querySelector('#train-progress-text').textContent === 'Paused.', null, { timeout: 30000 });
  await saveDrawing(page, images[6], labels[6]);
  assert.match(await page.textContent(tid('status')), /joins the next run/);
  assert.match(await page.textContent('#sample-count'), /7 saved drawings/);
  await page.click('#train-pause'); // Resume
  await page.waitForFunction(() => document.querySelector('#train-progress-text').textContent === 'Done.', null, { timeout: 120000 });
  const b = await downloadModel(page);
  assert.ok(a.equals(b), 'the run that saw a drawing saved in its middle trained exactly as the undisturbed one');

  // run C: the training worker now has all seven; deleting them all mid-run is deferred too
  await waitIdle(page);
  await page.selectOption('#dataset', 'drawings');
  await setTrainForm(page, { ...DRAWINGS_RUN, epochs: 30 });
  await pauseAtFirstProgress(page);
  await page.click(tid('train-start'));
  await page.waitForFunction(() => document.querySelector('#train-progress-text').textContent === 'Paused.', null, { timeout: 30000 });
  const progress = await page.evaluate(() => window.cnnTest.runtime.train.run.stepsPerEpoch);
  assert.equal(progress, 7, 'the run trains on the seven drawings');
  page.once('dialog', (d) => d.accept());
  assert.ok(await page.locator('#samples-clear').isEnabled());
  await page.click('#samples-clear');
  await waitStatus(page, /keeps training on the ones it started with/);
  await page.click('#train-pause');
  await page.waitForFunction(() => document.querySelector('#train-progress-text').textContent === 'Done.', null, { timeout: 120000 });
  assert.doesNotMatch(await page.getAttribute(tid('status'), 'class'), /error/, await page.textContent(tid('status')));
  assert.equal(await page.textContent('#sample-count'), '');
  assert.ok(await page.locator('#dataset option[value="drawings"]').isDisabled());
  await gotoReady(page, env.server.url);
  await waitIdle(page);
  assert.equal(await page.textContent('#sample-count'), '', 'deleted for good');
  t.diagnostic('two identical 300-step runs on 6 drawings, one with a 7th saved mid-run; a third run with all deleted mid-run');
  assert.deepEqual(errors, []);
  await context.close();
});

test('errors appear next to what caused them, on a phone too, and go away when fixed', async () => {
  const { page, context, errors } = await openPage(env, { viewport: { width: 390, height: 844 } });
  await waitIdle(page);
  const inView = async (selector) => {
    const box = await page.locator(selector).boundingBox();
    return box && box.y >= 0 && box.y + box.height <= 844;
  };

  // a file that is not a model, picked in the Models card
  await page.locator('#model-file-label').scrollIntoViewIfNeeded();
  await page.setInputFiles('#model-file', { name: 'holiday.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('\xff\xd8\xff\xe0 not a model at all, just some bytes') });
  await page.waitForSelector('#model-error:not([hidden])');
  assert.match(await page.textContent('#model-error'), /holiday\.jpg is not a \.safetensors file/);
  assert.equal(await page.getAttribute('#model-error', 'role'), 'alert');
  assert.ok(await inView('#model-error'), 'the error is on screen where the file was picked');
  assert.match(await page.textContent(tid('status')), /not a \.safetensors file/);
  await screenshot(page, 'error-model-phone');

  // a short run, so the charts have something to lose
  await setTrainForm(page, { preset: 'small', epochs: 1, limit: 600, batch: 32, valSplit: 0.1 });
  await page.click(tid('train-start'));
  await page.waitForFunction(() => document.querySelector('#train-progress-text').textContent === 'Done.', null, { timeout: 60000 });
  await waitIdle(page, 60000);
  const points = await chartPoints(page);
  assert.ok(points > 2);

  // batch size 0: the field says so, it has the focus and is on screen; the charts stay
  await page.fill('#batch', '0');
  await page.locator(tid('train-start')).scrollIntoViewIfNeeded();
  await page.click(tid('train-start'));
  await page.waitForSelector('#batch-error');
  assert.match(await page.textContent('#batch-error'), /Batch size: '0' is not an integer in 1\.\.512/);
  assert.equal(await page.getAttribute('#batch', 'aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'batch');
  assert.ok(await inView('#batch-error'));
  await screenshot(page, 'error-batch-phone');
  assert.equal(await chartPoints(page), points, 'a refused start keeps the previous charts');
  await page.fill('#batch', '32');
  assert.equal(await page.locator('#batch-error').count(), 0, 'fixed: the message is gone');
  assert.doesNotMatch(await page.textContent(tid('status')), /Batch size/);

  // every layer frozen: the core's refusal goes next to the Train button
  await page.selectOption('#train-from', 'current');
  for (const box of await page.locator('#freeze-layers input').all()) await box.check();
  await page.click(tid('train-start'));
  await page.waitForSelector('#train-error:not([hidden])');
  assert.match(await page.textContent('#train-error'), /every layer is frozen/);
  assert.ok(await inView('#train-error'));
  assert.equal(await chartPoints(page), points);
  await page.locator('#freeze-layers input').first().uncheck();
  assert.ok(await page.locator('#train-error').isHidden(), 'changing the form clears it');
  await page.selectOption('#train-from', 'new');

  // a spec error leaves the status line when the spec is fixed
  await fillSpec(page, 'dense 64 relu\nmaxpool 2\ndense 10');
  await waitStatus(page, /pooling cannot follow/);
  await fillSpec(page, 'dense 64 relu\ndense 10');
  await page.waitForFunction(() => /^Valid/.test(document.querySelector('#spec-check').textContent));
  assert.doesNotMatch(await page.textContent(tid('status')), /pooling/);
  assert.deepEqual(errors, []);
  await context.close();
});

/** The pretrained model's file without __metadata__, as safetensors' save_file writes it from PyTorch. */
function withoutMetadata(bytes) {
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  delete header.__metadata__;
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, bytes.subarray(8 + n)]);
}

test('a weights file without an architecture is explained, and loads into the Train card\'s architecture', async () => {
  const { page, context, errors } = await openPage(env);
  await waitIdle(page);
  const bare = withoutMetadata(fs.readFileSync(`${WEB}/build/pretrained.safetensors`));
  assert.throws(() => cnn.loadModel(bare), /spec/); // the core refuses it alone
  await page.setInputFiles('#model-file', { name: 'from-pytorch.safetensors', mimeType: 'application/octet-stream', buffer: bare });
  await page.waitForSelector('#model-error:not([hidden])');
  assert.match(await page.textContent('#model-error'), /holds weights but does not say its architecture.*Train card/);
  assert.ok(await page.locator('#model-load-into').isVisible());
  // the Train card shows the keras preset, the architecture these weights were trained with
  await page.click('#model-load-into');
  await waitStatus(page, /Loaded the weights of from-pytorch\.safetensors/);
  assert.ok(await page.locator('#model-error').isHidden());
  assert.match(await page.textContent('#model-info'), /weights of from-pytorch\.safetensors/);
  assert.match(await page.textContent('#model-info'), /225,034/);
  await drawDigit(page, readMnistTest(0, 1).images[0]);
  assert.equal(await settledPrediction(page), '7');
  // the page keeps it as a file that says its architecture
  const kept = await downloadModel(page);
  const again = cnn.loadModel(kept);
  assert.equal(again.paramCount, 225034);
  again.free();
  assert.deepEqual(errors, []);
  await context.close();
});

test('a slow evaluation shows its progress and can be cancelled', async (t) => {
  const { page, context, errors } = await openPage(env);
  await waitIdle(page);
  const heavy = cnn.createModel('conv2d 16 15x15 same relu\nconv2d 16 15x15 same relu\ndense 10', { seed: 1, maxBatch: 8 });
  const bytes = Buffer.from(heavy.save());
  heavy.free();
  await page.setInputFiles('#model-file', { name: 'heavy.safetensors', mimeType: 'application/octet-stream', buffer: bytes });
  await waitStatus(page, /Loaded heavy\.safetensors/);
  await page.click('#evaluate');
  await page.waitForFunction(() => /of 10,000 test images/.test(document.querySelector('#eval-progress-text').textContent), null, { timeout: 60000 });
  const shown = await page.textContent('#eval-progress-text');
  assert.ok(await page.locator(tid('train-start')).isDisabled(), 'nothing that needs the model starts meanwhile');
  await page.click('#eval-cancel');
  await waitStatus(page, /Evaluation cancelled after [\d,]+ of 10,000 images/, 30000);
  t.diagnostic(`${shown} when cancelled; ${await page.textContent(tid('status'))}`);
  await waitIdle(page);
  assert.ok(await page.locator('#eval-running').isHidden());
  assert.ok(await page.locator('#evaluate').isEnabled());
  assert.equal(await page.textContent(tid('test-accuracy')), '—');
  assert.deepEqual(errors, []);
  await context.close();
});

test('a diverged run keeps its last good weights, says so, and leaves the previous model current', async () => {
  const { page, context, errors } = await openPage(env);
  await waitIdle(page);
  const before = await page.textContent('#model-info');
  await page.selectOption('#optimizer', 'sgd');
  await setTrainForm(page, { spec: 'dense 512\ndense 512\ndense 10', epochs: 1, limit: 2000, batch: 32, valSplit: 0, lr: 10, schedule: 'constant' });
  await page.click(tid('train-start'));
  await page.waitForSelector('#rescue:not([hidden])', { timeout: 60000 });
  assert.match(await page.textContent('#train-error'), /Training diverged: .*non-finite.*The weights after the \d+ good steps? before it are kept/);
  assert.match(await page.getAttribute(tid('status'), 'class'), /error/);
  assert.equal(await page.textContent('#model-info'), before, 'the previous model is still current');
  assert.equal(await page.textContent('#train-progress-text'), 'Diverged.');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#rescue-download')]);
  const kept = cnn.loadModel(fs.readFileSync(await download.path())); // the core refuses non-finite weights
  assert.equal(kept.paramCount, 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10);
  kept.free();
  await page.click('#rescue-use');
  await waitStatus(page, /last good weights of the diverged run are now the current model/);
  assert.match(await page.textContent('#model-info'), /diverged: the last good weights/);
  assert.ok(await page.locator('#rescue').isHidden());
  assert.deepEqual(errors, []);
  await context.close();
});

test('a worker whose heap grew far past what it holds is replaced by a fresh one', async (t) => {
  const { page, context, errors } = await openPage(env);
  await waitIdle(page);
  const mb = (n) => Math.round(n / 2 ** 20);
  const memory = () => page.evaluate(() => window.cnnTest.runtime.memory());
  const start = await memory();
  // a 165 KB file whose model needs 1.4 GB of activations for a batch of 128 in the training worker
  const wide = cnn.createModel('input 256x256x1\nconv2d 16 3x3 same relu\nmaxpool 2\nmaxpool 2\nmaxpool 2\nmaxpool 2\ndense 10', { maxBatch: 1 });
  const bytes = Buffer.from(wide.save());
  wide.free();
  await page.setInputFiles('#model-file', { name: 'wide.safetensors', mimeType: 'application/octet-stream', buffer: bytes });
  await waitStatus(page, /Loaded wide\.safetensors/, 60000);
  const loaded = await memory();
  await page.click('#model-revert');
  await waitStatus(page, /Back to the pretrained model/, 30000);
  const reverted = await memory();
  assert.ok(reverted.trainer.heap > 2 * reverted.trainer.need, 'wasm memory does not shrink by itself');
  // once idle, the page replaces both workers with fresh instances holding the pretrained model
  let fresh;
  for (let i = 0; i < 60; i++) {
    fresh = await memory();
    if (fresh.trainer.heap < 2 * fresh.trainer.need && fresh.predictor.heap < 2 * fresh.predictor.need) break;
    await page.waitForTimeout(500);
  }
  assert.ok(fresh.trainer.heap < 2 * fresh.trainer.need, `training worker heap ${mb(fresh.trainer.heap)} MB for ${mb(fresh.trainer.need)} MB held`);
  assert.ok(fresh.predictor.heap < 2 * fresh.predictor.need, `prediction worker heap ${mb(fresh.predictor.heap)} MB`);
  t.diagnostic(`heap MB (training worker / prediction worker): start ${mb(start.trainer.heap)} / ${mb(start.predictor.heap)}, ` +
    `wide model loaded ${mb(loaded.trainer.heap)} / ${mb(loaded.predictor.heap)}, reverted ${mb(reverted.trainer.heap)} / ` +
    `${mb(reverted.predictor.heap)}, after the fresh instances ${mb(fresh.trainer.heap)} / ${mb(fresh.predictor.heap)}`);
  await waitIdle(page);
  await drawDigit(page, readMnistTest(0, 1).images[0]);
  assert.equal(await settledPrediction(page), '7', 'the fresh prediction worker has the model');
  const held = await page.evaluate(async () => Array.from((await window.cnnTest.runtime.workers.trainer.call('currentBytes')).bytes));
  assert.ok(Buffer.from(held).equals(fs.readFileSync(`${WEB}/build/pretrained.safetensors`)), 'the fresh training worker has the model');
  assert.deepEqual(errors, []);
  await context.close();
});
