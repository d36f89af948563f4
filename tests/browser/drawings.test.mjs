// Browser tests of fine-tuning and the user's own drawings: the Seed field of a fine-tune, the train card when
// fine-tuning, the save label following the prediction, collect mode, the gallery (view, relabel, delete,
// held-out drawings) across a reload, export and import on another machine, the before/after table of a
// fine-tune on drawings, evaluating on the held-out drawings, and MNIST mixed in without a copy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import {
  missingPrerequisite, launch, openPage, gotoReady, tid, readMnistTest, drawDigit, settledPrediction, setTrainForm,
  waitIdle, screenshot,
  paintDigit, downloadModel,
} from './helpers.mjs';
import { drawingsArchive } from '../../web/app/drawings-file.mjs';
import { loadCnn } from '../../web/cnn.mjs';

let env;

before(async () => {
  const missing = missingPrerequisite();
  if (missing) throw new Error(`cannot run the browser tests: ${missing}`); // a failure, never a skip
  env = await launch();
});

after(async () => {
  await env?.close();
});

const waitStatus = (page, re, timeout = 30000) => page.waitForFunction(
  (src) => new RegExp(src).test(document.querySelector('[data-testid="status"]').textContent), re.source, { timeout });
const waitDone = (page, timeout = 120000) => page.waitForFunction(
  () => document.querySelector('#train-progress-text').textContent === 'Done.', null, { timeout });

/** {label: [heldOut, ...]} of the gallery, in the order shown. */
function gallery(page) {
  return page.evaluate(() => Object.fromEntries([...document.querySelectorAll('.drawing-group')].map((g) =>
    [g.dataset.label, [...g.querySelectorAll('button.shot')].map((b) => b.classList.contains('held'))])));
}

test('fine-tuning the current model follows the Seed field: the same seed, the same weights', async (t) => {
  const { page, context, errors } = await openPage(env);
  await waitIdle(page);
  const run = async (seed) => {
    await setTrainForm(page, { from: 'current', epochs: 1, limit: 192, batch: 32, valSplit: 0, lr: 0.001, seed });
    await page.click(tid('train-start'));
    await waitDone(page);
    const bytes = await downloadModel(page);
    await waitIdle(page);
    await page.click('#model-revert');
    await waitStatus(page, /Back to the pretrained model/);
    await waitIdle(page);
    return bytes;
  };
  const a = await run(3), b = await run(3), c = await run(4);
  assert.ok(a.equals(b), 'two fine-tunes with seed 3 give the same weights');
  assert.ok(!a.equals(c), 'seeds 3 and 4 give different fine-tunes (shuffle order, dropout)');
  t.diagnostic('three fine-tunes of the pretrained model on 192 MNIST images: seeds 3, 3, 4');
  assert.deepEqual(errors, []);
  await context.close();
});

/** Four IDX files of 8x8 images (a data set the 28x28 model cannot take). */
function idx8x8() {
  const n = 40;
  const images = (count) => Buffer.concat([Buffer.from([0, 0, 8, 3, 0, 0, 0, count, 0, 0, 0, 8, 0, 0, 0, 8]),
    Buffer.from(Array.from({ length: count * 64 }, (_, i) => (i * 37) % 256))]);
  const labels = (count) => Buffer.concat([Buffer.from([0, 0, 8, 1, 0, 0, 0, count]), Buffer.from(Array.from({ length: count }, (_, i) => i % 3))]);
  return [
    { name: 'train-images-idx3-ubyte', mimeType: 'application/octet-stream', buffer: images(n) },
    { name: 'train-labels-idx1-ubyte', mimeType: 'application/octet-stream', buffer: labels(n) },
    { name: 't10k-images-idx3-ubyte', mimeType: 'application/octet-stream', buffer: images(10) },
    { name: 't10k-labels-idx1-ubyte', mimeType: 'application/octet-stream', buffer: labels(10) },
  ];
}

test('fine-tuning shows the current model\'s layers; a data set it cannot take is flagged on "Start from"', async () => {
  const { page, context, errors } = await openPage(env);
  await waitIdle(page);
  // the current model: not the preset in the form (Keras), but a small MLP loaded from a file
  const cnn = await loadCnn();
  const mlp = cnn.createModel('dense 32 relu\ndense 10', { seed: 1 });
  const bytes = Buffer.from(mlp.save());
  mlp.free();
  await page.setInputFiles('#model-file', { name: 'mlp.safetensors', mimeType: 'application/octet-stream', buffer: bytes });
  await waitStatus(page, /Loaded mlp\.safetensors/);
  await waitIdle(page);
  await page.selectOption('#train-from', 'current');
  if (!(await page.locator('#spec-text').isVisible())) await page.locator('.spec-text summary').click();
  const spec = await page.inputValue('#spec-text');
  assert.match(spec, /^input 28x28x1\n(flatten\n)?dense 32\s+relu\s+dense 10/, 'the editor shows the current model\'s layers');
  assert.doesNotMatch(spec, /conv2d/);
  assert.ok(await page.locator('#spec-text').isDisabled());
  assert.match(await page.textContent('#spec-check'), /^The current model's layers \(25,450 parameters\): fine-tuning keeps them/);

  await page.setInputFiles('#idx-files', idx8x8());
  await waitStatus(page, /IDX data set loaded/);
  await waitIdle(page);
  assert.equal(await page.inputValue('#dataset'), 'custom');
  assert.equal(await page.inputValue('#spec-text'), spec, 'still the current model while fine-tuning');
  await page.click(tid('train-start'));
  await page.waitForFunction(() => document.querySelector('#train-from').getAttribute('aria-invalid') === 'true');
  const message = await page.textContent('#train-from-error');
  assert.match(message, /^The current model takes 28×28×1 images, but the data set has 8×8×1 images: choose "a new model" here/);
  assert.match(await page.textContent(tid('status')), /The current model takes 28×28×1 images/);
  assert.ok(await page.locator('#train-error').isHidden(), 'the error is on Start from, not under the Train button');

  // back to a new model: the architecture kept aside (the Keras preset) was adapted to the data set, is
  // checked by the core and can be edited
  await page.selectOption('#train-from', 'new');
  await page.waitForFunction(() => !/^(Checking…|The current model's)|^$/.test(document.querySelector('#spec-check').textContent),
    null, { timeout: 10000 });
  assert.ok(await page.locator('#spec-text').isEnabled());
  assert.match(await page.inputValue('#spec-text'), /^input 8x8x1\nconv2d 32 3x3/);
  assert.match(await page.inputValue('#spec-text'), /dense 3\s*$/, 'three classes');
  assert.equal(await page.getAttribute('#train-from', 'aria-invalid'), null, 'the error went with the change');
  assert.deepEqual(errors, []);
  await context.close();
});

test('"Save this drawing as" follows the prediction until the user picks a label for this drawing', async () => {
  const { page, context, errors } = await openPage(env);
  await waitIdle(page);
  const { images, labels } = readMnistTest(0, 2); // a 7 and a 2
  await drawDigit(page, images[0], { synthetic: true });
  assert.equal(await settledPrediction(page), String(labels[0]));
  assert.equal(await page.inputValue('#sample-label'), String(labels[0]));
  await page.selectOption('#sample-label', '4');
  await drawDigit(page, images[0], { size: 0.5, synthetic: true }); // more ink: a new prediction, the label picked stays
  await settledPrediction(page);
  assert.equal(await page.inputValue('#sample-label'), '4');
  await page.click(tid('clear-canvas'));
  await drawDigit(page, images[1], { synthetic: true });
  assert.equal(await settledPrediction(page), String(labels[1]));
  assert.equal(await page.inputValue('#sample-label'), String(labels[1]), 'a new drawing follows its prediction again');
  assert.deepEqual(errors, []);
  await context.close();
});

test('collect mode, the gallery, relabel and delete, held-out drawings; all still there after a reload', async (t) => {
  const { page, context, errors } = await openPage(env);
  await waitIdle(page);
  const { images, labels } = readMnistTest(0, 200);
  const six = labels.indexOf(6);
  // collect mode asks for 0, 1, ..., 9 and labels each drawing with the digit asked for
  await page.click('#collect-start');
  assert.equal(await page.getAttribute('#collect-start', 'aria-pressed'), 'true');
  for (let d = 0; d < 10; d++) {
    assert.equal(await page.textContent('#collect-digit'), String(d));
    // for 0 a 6 is drawn: the label is the digit asked for, not the prediction
    const idx = d === 0 ? six : labels.indexOf(d);
    assert.equal(await paintDigit(page, images[idx]), d === 0 ? 6 : d);
    assert.equal(await page.inputValue('#sample-label'), String(d));
    await page.click('#sample-save');
    await page.waitForFunction((n) => document.querySelector('#collect-digit').textContent === String(n), (d + 1) % 10);
    assert.match(await page.textContent(tid('status')), new RegExp(`^Saved as ${d}\\. Now draw a ${(d + 1) % 10}\\.`));
  }
  await page.click('#collect-stop');
  assert.ok(await page.locator('#collect-prompt').isHidden());
  // four more 3s through the save bar (the label follows the prediction): the 5th 3 is held out
  const threes = labels.map((l, i) => (l === 3 ? i : -1)).filter((i) => i >= 0).slice(1, 5);
  for (const i of threes) {
    assert.equal(await paintDigit(page, images[i]), 3);
    await page.click('#sample-save');
    await waitStatus(page, /^Saved as 3/);
  }
  assert.match(await page.textContent(tid('status')), /held out for testing/);
  let g = await gallery(page);
  assert.deepEqual(g['3'], [false, false, false, false, true]);
  assert.equal(Object.values(g).flat().length, 14);
  assert.match(await page.textContent('#drawings-summary'), /^14 drawings: 13 for training, 1 held out/);
  assert.match(await page.textContent('#dataset option[value="drawings"]'), /13 for training, 1 held out/);

  // the 0 that is a 6: view it, relabel it as 6
  await page.click('.drawing-group[data-label="0"] button.shot');
  assert.match(await page.textContent('#drawing-detail-title'), /^A 0, drawing 1 of 1/);
  await page.selectOption('#drawing-label', '6');
  await waitStatus(page, /^Relabelled as 6/);
  g = await gallery(page);
  assert.equal(g['0'], undefined);
  assert.equal(g['6'].length, 2);
  // delete the second 3 (a training one): the held-out one stays held out
  await page.click('.drawing-group[data-label="3"] li:nth-child(2) button.shot');
  await page.click('#drawing-delete');
  await waitStatus(page, /^Deleted a drawing of a 3/);
  g = await gallery(page);
  assert.deepEqual(g['3'], [false, false, false, true]);
  assert.ok(await page.locator('#drawing-detail').isHidden());
  await page.click('.drawing-group[data-label="3"] li:nth-child(4) button.shot');
  assert.match(await page.textContent('#drawing-detail-note'), /^Held out: never trained on/);
  await screenshot(page, 'drawings-gallery', { fullPage: true });

  await gotoReady(page, env.server.url);
  await waitIdle(page);
  assert.deepEqual(await gallery(page), g, 'the same drawings, labels and held-out marks after a reload');
  const stored = await page.evaluate(() => new Promise((resolve) => {
    indexedDB.open('cnn-wasm').onsuccess = (e) => {
      const req = e.target.result.transaction('samples').objectStore('samples').getAll();
      req.onsuccess = () => resolve(req.result.map((r) => [r.scope, r.label, r.heldOut]));
    };
  }));
  assert.equal(stored.length, 13);
  assert.deepEqual(stored.filter((r) => r[2]), [['studio', 3, true]]);
  t.diagnostic('collected 0-9, saved four more 3s, relabelled one, deleted one, reloaded');
  assert.deepEqual(errors, []);
  await context.close();
});

test('export and import on another machine: adds, never replaces, duplicates noted; tar unpacks the export', async (t) => {
  const { images, labels } = readMnistTest(300, 40);
  const samples = images.map((pixels, i) => ({ pixels, label: labels[i], heldOut: i % 5 === 4 }));
  const archive = Buffer.from(await drawingsArchive(samples.slice(0, 30)));

  // machine A: imports 30 drawings, has 2 of its own (one also in the archive), exports all
  const a = await openPage(env);
  await waitIdle(a.page);
  await paintDigit(a.page, images[0]); // the same image as the archive's first drawing
  await a.page.click('#sample-save');
  await waitStatus(a.page, /^Saved as/);
  await paintDigit(a.page, images[35]);
  await a.page.click('#sample-save');
  await waitStatus(a.page, /^Saved as/);
  const own = await a.page.evaluate(() => window.cnnTest.runtime.state.samples.map((s) => Array.from(s.pixels)));
  await a.page.setInputFiles('#drawings-import', { name: 'drawings.tar', mimeType: 'application/x-tar', buffer: archive });
  await waitStatus(a.page, /^Imported/);
  const status = await a.page.textContent(tid('status'));
  // a drawing made in the page went through the pad's preprocessing: it equals an archive image only if the
  // pixels are the same, which the message reports either way
  const dup = own.some((px) => samples.slice(0, 30).some((s) => s.pixels.every((v, i) => v === px[i]))) ? 1 : 0;
  assert.match(status, new RegExp(`^Imported ${30 - dup} drawings from drawings\\.tar \\(6 held out\\)\\.`));
  const count = 32 - dup;
  assert.match(status, new RegExp(`You have ${count} now\\.$`));
  const [download] = await Promise.all([a.page.waitForEvent('download'), a.page.click('#drawings-export')]);
  assert.match(download.suggestedFilename(), /^my-drawings-\d{8}\.tar$/);
  const exported = fs.readFileSync(await download.path());
  const listed = execFileSync('tar', ['-tf', await download.path()], { encoding: 'utf8' });
  assert.match(listed, /my-drawings\/t10k-images-idx3-ubyte\.gz/);
  const galleryA = await gallery(a.page);
  assert.deepEqual(a.errors, []);
  await a.context.close();

  // machine B (a fresh browser profile): the export brings everything, held-out marks included
  const b = await openPage(env);
  await waitIdle(b.page);
  await b.page.setInputFiles('#drawings-import', { name: 'mine.tar', mimeType: 'application/x-tar', buffer: exported });
  await waitStatus(b.page, new RegExp(`^Imported ${count} drawings from mine\\.tar`));
  assert.deepEqual(await gallery(b.page), galleryA);
  // again: nothing replaced, nothing doubled, and the message says so
  await b.page.setInputFiles('#drawings-import', { name: 'mine.tar', mimeType: 'application/x-tar', buffer: exported });
  await waitStatus(b.page, new RegExp(`^Imported 0 drawings from mine\\.tar\\. ${count} were already here and were not added again\\.`));
  assert.deepEqual(await gallery(b.page), galleryA);
  // a file that is not an archive of drawings: a clear error, nothing lost
  await b.page.setInputFiles('#drawings-import', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
  await b.page.waitForFunction(() => !document.querySelector('#drawings-error').hidden);
  assert.match(await b.page.textContent('#drawings-error'), /^Nothing was imported from notes\.txt: not recognised as IDX images or labels/);
  assert.deepEqual(await gallery(b.page), galleryA);
  await gotoReady(b.page, env.server.url);
  await waitIdle(b.page);
  assert.deepEqual(await gallery(b.page), galleryA, 'the imported drawings survive a reload');
  t.diagnostic(`exported ${count} drawings (${exported.length} bytes of tar) and imported them in a fresh profile`);
  assert.deepEqual(b.errors, []);
  await b.context.close();
});

test('a fine-tune on drawings reports before/after on the held-out drawings and MNIST; evaluate on the drawings', async (t) => {
  const { page, context, errors } = await openPage(env);
  await waitIdle(page);
  const { images, labels } = readMnistTest(500, 60);
  const archive = Buffer.from(await drawingsArchive(images.map((pixels, i) => ({ pixels, label: labels[i], heldOut: i % 5 === 4 }))));
  await page.setInputFiles('#drawings-import', { name: 'drawings.tar', mimeType: 'application/x-tar', buffer: archive });
  await waitStatus(page, /^Imported 60 drawings/);

  // the evaluate card on the 12 held-out drawings
  assert.match(await page.textContent('#eval-set option[value="drawings"]'), /My drawings \(12 held out\)/);
  await page.selectOption('#eval-set', 'drawings');
  await page.click('#evaluate');
  await waitStatus(page, /^Test accuracy [\d.]+% on 12 held-out drawings\./);
  const beforeDrawings = await page.textContent(tid('test-accuracy'));

  await page.selectOption('#dataset', 'drawings');
  await setTrainForm(page, { from: 'current', epochs: 2, batch: 8, valSplit: 0, lr: 0.0005, seed: 2 });
  // Stop while the model is measured before the run: the run ends before it trains, the model unchanged
  await page.click(tid('train-start'));
  await page.waitForFunction(() => /Measuring the model before/.test(document.querySelector('#before-after').textContent));
  await page.click(tid('train-stop'));
  await page.waitForFunction(() => !document.querySelector('#train-error').hidden, null, { timeout: 30000 });
  assert.match(await page.textContent('#train-error'), /stopped before training began; the model is unchanged/);
  assert.match(await page.textContent('#before-after'), /The run did not complete: stopped before training began/);
  assert.match(await page.textContent('#model-info'), /pretrained/);
  await waitIdle(page);

  await page.click(tid('train-start'));
  await waitDone(page);
  await waitIdle(page); // the evaluate card's own evaluation after the run (on the test set chosen there)
  const table = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll('#before-after tbody')].map((b) =>
    [b.dataset.set, Object.fromEntries([...b.querySelectorAll('tr[data-row]')].map((r) =>
      [r.dataset.row, [...r.querySelectorAll('td')].map((td) => td.textContent)]))])));
  assert.match(await page.textContent('#before-after'), /before and after fine-tuning on my drawings/);
  for (const set of ['drawings', 'mnist']) {
    for (const row of ['before', 'after', 'change']) assert.equal(table[set][row].length, 11, `${set} ${row}: all and 10 digits`);
  }
  // the figures agree with the evaluate card's: on the drawings before and after, on MNIST after
  assert.equal(`${table.drawings.before[0]}%`, beforeDrawings);
  assert.equal(await page.inputValue('#eval-set'), 'drawings', 'the choice of test set stays');
  assert.equal(`${table.drawings.after[0]}%`, await page.textContent(tid('test-accuracy')));
  await page.selectOption('#eval-set', 'mnist');
  await page.click('#evaluate');
  await waitStatus(page, /on 10,000 MNIST test images/);
  assert.equal(`${table.mnist.after[0]}%`, await page.textContent(tid('test-accuracy')));
  // every change is after minus before of the figures shown
  for (const set of ['drawings', 'mnist']) {
    table[set].change.forEach((c, i) => {
      const [b, a] = [table[set].before[i], table[set].after[i]].map(Number);
      if (Number.isNaN(a) || Number.isNaN(b)) return assert.equal(c, '—');
      assert.equal(Number(c.replace('−', '-').replace('±', '')), Number((a - b).toFixed(i ? 1 : 2)), `${set} column ${i}`);
    });
  }
  const mnistBefore = Number(table.mnist.before[0]), mnistAfter = Number(table.mnist.after[0]);
  t.diagnostic(`held-out drawings ${table.drawings.before[0]}% -> ${table.drawings.after[0]}%, MNIST ${mnistBefore}% -> ${mnistAfter}%`);
  assert.ok(mnistBefore > 98 && mnistAfter > 90, 'the pretrained model before, a working one after');
  await page.locator('#before-after').scrollIntoViewIfNeeded();
  await screenshot(page, 'drawings-before-after', { fullPage: true });
  // the table stays: the evaluation above did not remove it
  assert.ok(await page.locator('#before-after table').isVisible());
  assert.deepEqual(errors, []);
  await context.close();
});

test('MNIST mixed into a fine-tune is not copied; a drawing saved during that run waits for the next one', async (t) => {
  const { page, context, errors } = await openPage(env);
  await waitIdle(page);
  const { images, labels } = readMnistTest(700, 8);
  for (let i = 0; i < 6; i++) {
    await paintDigit(page, images[i]);
    await page.selectOption('#sample-label', String(labels[i]));
    await page.click('#sample-save');
    await waitStatus(page, new RegExp(`^Saved as ${labels[i]}`));
  }
  await page.evaluate(() => window.cnnTest.runtime.data.ensureMnist(['train', 'test']));
  const heap = async () => (await page.evaluate(() => window.cnnTest.runtime.memory())).trainer.heap;
  const before = await heap();
  await page.selectOption('#dataset', 'mnist+drawings');
  await setTrainForm(page, { from: 'current', epochs: 1, limit: 60000, batch: 32, valSplit: 0, lr: 0.0003 });
  await page.evaluate(() => {
    const rt = window.cnnTest.runtime;
    const off = rt.on('train:progress', () => {
      off();
      rt.train.setPaused(true);
    });
  });
  await page.click(tid('train-start'));
  await page.waitForFunction(() => document.querySelector('#train-progress-text').textContent === 'Paused.', null, { timeout: 60000 });
  const during = await heap();
  const steps = await page.evaluate(() => window.cnnTest.runtime.train.run.stepsPerEpoch);
  assert.equal(steps, Math.ceil((6 + 60000) / 32), 'each epoch: the 6 drawings and 60,000 MNIST images');
  t.diagnostic(`training worker heap ${(before / 1e6).toFixed(1)} MB before, ${(during / 1e6).toFixed(1)} MB during the run`);
  assert.ok(during - before < 16e6, `the heap grew by ${((during - before) / 1e6).toFixed(1)} MB (a copy of MNIST is 47 MB)`);
  await paintDigit(page, images[6]);
  await page.click('#sample-save');
  await waitStatus(page, /joins the next run/);
  await page.click('#train-stop');
  await page.waitForFunction(() => /Stopped/.test(document.querySelector('#train-progress-text').textContent), null, { timeout: 60000 });
  await waitIdle(page, 60000);
  assert.match(await page.textContent('#before-after'), /Stopped early/);
  assert.match(await page.textContent('#dataset option[value="drawings"]'), /7 for training/);
  assert.deepEqual(errors, []);
  await context.close();
});
