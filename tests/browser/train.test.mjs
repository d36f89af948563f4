// Browser tests of training in the page: a short run with live charts while a drawing is predicted (and the main
// thread's longest task meanwhile), pause/resume/stop leaving a consistent model, evaluation, the
// architecture editor with the core's validation errors, and fine-tuning with frozen layers and advanced options.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  missingPrerequisite, launch, openPage, tid, readMnistTest, drawDigit, settledPrediction, screenshot, setTrainForm, waitIdle, fillSpec,
  WEB, SCREENSHOTS,
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

const chartPoints = async (id) => Number(await page.getAttribute(id, 'data-points'));
const isTraining = () => page.locator(tid('train-stop')).isEnabled();

/**
 * Starts recording the main thread's long tasks (> 50 ms, PerformanceObserver 'longtask') in the page, and the
 * longest gap between two animation frames (which also sees shorter stalls).
 */
async function watchLongTasks() {
  await page.evaluate(() => {
    window.longTasks = [];
    window.longTaskObserver?.disconnect();
    window.longTaskObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.longTasks.push([e.startTime, e.duration]);
    });
    window.longTaskObserver.observe({ type: 'longtask' });
    window.frameGaps = [];
    let last = performance.now();
    const tick = (t) => {
      if (t - last > 20) window.frameGaps.push([last, t - last]);
      last = t;
      if (!window.stopFrames) requestAnimationFrame(tick);
    };
    window.stopFrames = false;
    requestAnimationFrame(tick);
  });
}

test('a short run: charts and accuracy update while a drawing is predicted; the main thread stays free', async (t) => {
  const [digit] = readMnistTest(0, 1).images; // a 7
  // one worker: the long-task figures below measure the page's own main-thread work. With a worker per core the
  // operating system shares the cores between them and the main thread, and the figures measure the machine's
  // load (tests/browser/parallel.test.mjs trains on two workers)
  await setTrainForm(page, { preset: 'keras', epochs: 1, limit: 5000, batch: 32, valSplit: 0.1, lr: 0.001, workers: 1 });
  await watchLongTasks();
  await page.evaluate(() => performance.clearMeasures());
  await page.locator('[data-part="hist-box"] summary').click(); // the weight histograms, drawn while training
  const t0 = Date.now();
  await page.click(tid('train-start'));

  // live: the per-batch curves grow, the progress line shows the rate and time left
  await page.waitForFunction(() => Number(document.querySelector('#chart-loss').dataset.points) >= 3, null, { timeout: 30000 });
  assert.ok(await isTraining(), 'still training');
  assert.match(await page.textContent('#train-progress-text'), /images\/s .* left/);
  const pointsBefore = await chartPoints('#chart-loss');

  // drawing and prediction keep working during training
  await drawDigit(page, digit);
  const during = await settledPrediction(page);
  const latency = await page.evaluate(() => performance.getEntriesByName('pointerup-to-prediction').map((m) => Math.round(m.duration)));
  const stillTraining = await isTraining();
  // a screenshot stalls the page's rendering: leave its time out of the long-task figures
  const shotFrom = await page.evaluate(() => performance.now());
  if (stillTraining) await screenshot(page, 'train', { fullPage: true });
  const shotTo = await page.evaluate(() => performance.now());
  t.diagnostic(`during training: read ${during} for a 7 (still training: ${stillTraining}); pointerup -> prediction ${latency.join(', ')} ms`);
  assert.equal(during, '7');

  await page.waitForFunction(() => document.querySelector('[data-testid="train-stop"]').disabled, null, { timeout: 60000 });
  const trainSeconds = (Date.now() - t0) / 1000;
  const outsideShot = ([start, duration]) => start + duration < shotFrom || start > shotTo;
  const [longTraining, frameGap] = await page.evaluate(() => {
    window.stopFrames = true;
    return [window.longTasks.slice(), window.frameGaps.slice()];
  }).then(([tasks, gaps]) => [
    tasks.filter(outsideShot).map(([, d]) => Math.round(d)),
    Math.round(Math.max(0, ...gaps.filter(outsideShot).map(([, d]) => d))),
  ]);
  assert.equal(await page.textContent('#train-progress-text'), 'Done.');
  assert.ok(await chartPoints('#chart-loss') > pointsBefore, 'the loss chart grew');
  assert.ok(await chartPoints('#chart-accuracy') >= pointsBefore + 2, 'epoch points for training and validation');
  assert.match(await page.textContent('#accuracy-summary'), /epoch 1: .*validation/);
  assert.match(await page.textContent('#model-info'), /trained here/);
  // a histogram of weights and one of gradients per layer, each counting every weight of the layer
  const hists = await page.evaluate(() => [...document.querySelectorAll('.hist')].map((f) =>
    [f.dataset.layer, ...[...f.querySelectorAll('canvas')].map((c) => Number(c.dataset.total))]));
  assert.deepEqual(hists, [['conv1', 288, 288], ['conv2', 18432, 18432], ['fc1', 204800, 204800], ['fc2', 1280, 1280]]);
  assert.match(await page.textContent('.hist[data-layer="fc1"] .range'), /^weights -?[\d.e-]+ … -?[\d.e-]+; gradients /);

  // the finished model is evaluated on the test set
  await page.waitForFunction(() => /%/.test(document.querySelector('[data-testid="test-accuracy"]').textContent), null, { timeout: 60000 });
  const accuracy = parseFloat(await page.textContent(tid('test-accuracy')));
  const longAll = (await page.evaluate(() => window.longTasks.slice())).filter(outsideShot).map(([, d]) => Math.round(d));
  t.diagnostic(`trained 4500 images (1 epoch) in ${trainSeconds.toFixed(1)} s; test accuracy ${accuracy}%`);
  t.diagnostic(`main-thread long tasks during training: ${longTraining.length ? longTraining.join(', ') + ' ms' : 'none over 50 ms'}; ` +
    `longest gap between animation frames ${frameGap} ms; long tasks including the evaluation rendering: ` +
    `${longAll.length ? `longest ${Math.max(...longAll)} ms` : 'none'}`);
  assert.ok(accuracy > 85, `test accuracy ${accuracy}%`);
  assert.ok(Math.max(0, ...longTraining) < 200, `longest main-thread task during training ${Math.max(...longTraining)} ms`);

  // evaluation: confusion matrix, per-class metrics, gallery of confident mistakes; a cell shows its images
  assert.equal(await page.locator('#confusion tbody tr').count(), 10);
  assert.equal(await page.locator('#metrics tbody tr').count(), 10);
  assert.ok(await page.locator('#gallery li').count() > 0);
  assert.match(await page.textContent('#gallery-title'), /Most confidently wrong/);
  await page.locator('#confusion tbody tr').nth(3).locator('td').nth(3).locator('button').click();
  await page.waitForFunction(() => /^True 3, predicted 3/.test(document.querySelector('#gallery-title').textContent));
  assert.equal(await page.locator('#gallery li').count(), 48);
  await screenshot(page, 'evaluate', { fullPage: true });
  assert.deepEqual(errors, []);
});

test('pause, resume and stop mid-run: the model trained so far becomes current and predicts', async (t) => {
  await setTrainForm(page, { preset: 'keras', epochs: 1, limit: 60000, batch: 32, valSplit: 0 });
  await page.click(tid('train-start'));
  await page.waitForFunction(() => Number(document.querySelector('#chart-loss').dataset.points) >= 4, null, { timeout: 30000 });

  await page.click('#train-pause');
  await page.waitForFunction(() => /Paused/.test(document.querySelector('#train-progress-text').textContent));
  const pausedAt = await chartPoints('#chart-loss'); // 'Paused.' is shown once the worker waits
  await page.waitForTimeout(700);
  assert.equal(await chartPoints('#chart-loss'), pausedAt, 'no progress while paused');
  await page.click('#train-pause');
  await page.waitForFunction((n) => Number(document.querySelector('#chart-loss').dataset.points) > n + 2, pausedAt, { timeout: 20000 });

  await page.click(tid('train-stop'));
  await page.waitForFunction(() => document.querySelector('#train-progress-text').textContent === 'Stopped.', null, { timeout: 20000 });
  const progress = await page.getAttribute('#train-progress', 'value');
  t.diagnostic(`stopped at ${(100 * Number(progress)).toFixed(0)}% of the epoch`);
  assert.ok(Number(progress) < 0.9, 'stopped mid-run');
  assert.match(await page.textContent('#model-info'), /trained here/);

  const { images, labels } = readMnistTest(2, 2);
  await page.keyboard.press('Escape');
  await drawDigit(page, images[0]);
  const read = await settledPrediction(page);
  assert.match(read, /^\d$/);
  t.diagnostic(`the stopped model reads ${read} for a ${labels[0]}`);
  await page.waitForFunction(() => /%/.test(document.querySelector('[data-testid="test-accuracy"]').textContent), null, { timeout: 60000 });
  const accuracy = parseFloat(await page.textContent(tid('test-accuracy')));
  t.diagnostic(`test accuracy of the stopped model: ${accuracy}%`);
  assert.ok(accuracy > 50, `a partly trained model is still a model (${accuracy}%)`);
  await page.keyboard.press('Escape');
});

test('architecture editor: add, move and remove layers; the core\'s error for a bad spec is shown', async () => {
  await waitIdle(page);
  await setTrainForm(page, { preset: 'mlp' });
  const rows = () => page.locator('#layer-editor .layer[data-row]').count();
  assert.equal(await rows(), 3); // flatten, dense 128 relu, dense 10
  await page.selectOption('#layer-editor .add select', 'conv2d');
  await page.click('#layer-editor .add button');
  assert.equal(await rows(), 4);
  assert.equal(await page.inputValue('#preset'), 'custom');
  // the conv layer went before the output layer: after flatten it is invalid, the core says which layer and why
  await page.waitForFunction(() => /convolution cannot follow/.test(document.querySelector('[data-testid="status"]').textContent));
  assert.match(await page.textContent('#spec-check'), /layer \d+ \('conv2d 16 3x3 relu'\)/);
  // move it to the top: valid again
  const firstKind = async () => page.locator('#layer-editor .layer[data-row="0"] .kind').textContent();
  while ((await firstKind()) !== 'Conv2D') {
    const idx = await page.evaluate(() => [...document.querySelectorAll('#layer-editor .layer[data-row]')]
      .findIndex((r) => r.querySelector('.kind').textContent === 'Conv2D'));
    await page.locator(`#layer-editor .layer[data-row="${idx}"] button[data-move="-1"]`).click();
  }
  await page.waitForFunction(() => /^Valid/.test(document.querySelector('#spec-check').textContent));
  assert.match(await page.inputValue('#spec-text'), /^input 28x28x1\nconv2d 16 3x3 relu\nflatten/);
  // per-layer activation
  await page.selectOption('#layer-editor .layer[data-row="0"] select[aria-label$="activation"]', 'tanh');
  assert.match(await page.inputValue('#spec-text'), /conv2d 16 3x3 tanh/);
  // remove it
  await page.click('#layer-editor .layer[data-row="0"] button[aria-label^="Remove"]');
  assert.equal(await rows(), 3);

  // typed text goes through the core too; training refuses an invalid spec and the page keeps working
  await fillSpec(page, 'dense 64 relu\nmaxpool 2\ndense 10');
  await page.waitForFunction(() => /pooling cannot follow/.test(document.querySelector('[data-testid="status"]').textContent));
  assert.match(await page.getAttribute(tid('status'), 'class'), /error/);
  await page.click(tid('train-start'));
  await page.waitForFunction(() => /Training did not complete: Architecture/.test(document.querySelector('[data-testid="status"]').textContent));
  assert.ok(await page.locator(tid('train-start')).isEnabled());
  await drawDigit(page, readMnistTest(3, 1).images[0]);
  assert.match(await settledPrediction(page), /^\d$/);
  await page.selectOption('#preset', 'keras');
  await page.waitForFunction(() => /^Valid/.test(document.querySelector('#spec-check').textContent));
});

/** The tensors of a .safetensors file: name -> its bytes (8-byte LE header length, JSON header, data). */
function tensors(bytes) {
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  const data = bytes.subarray(8 + n);
  const out = {};
  for (const [name, t] of Object.entries(header)) if (name !== '__metadata__') out[name] = data.subarray(...t.data_offsets);
  return out;
}

test('fine-tuning with frozen layers and the advanced options: frozen weights stay bit-identical', async () => {
  await waitIdle(page);
  await page.click('#model-revert');
  await page.waitForFunction(() => /Back to the pretrained model/.test(document.querySelector('[data-testid="status"]').textContent));
  // the freeze checkboxes are there for fine-tuning only, one per parameter layer of the current model
  assert.ok(await page.locator('#freeze-box').isHidden());
  await setTrainForm(page, { from: 'current', epochs: 1, limit: 300, batch: 32, valSplit: 0, lr: 0.01, optimizer: 'sgd' });
  assert.ok(await page.locator('#freeze-box').isVisible());
  const freeze = (name) => page.getByRole('checkbox', { name: new RegExp(`^freeze ${name}\\b`) });
  assert.deepEqual(await page.locator('#freeze-layers input').evaluateAll((bs) => bs.map((b) => b.value)), ['conv1', 'conv2', 'fc1', 'fc2']);
  // advanced: momentum and Nesterov apply to SGD only
  await page.locator('#advanced summary').click();
  assert.equal(await page.inputValue('#momentum'), '0.9');
  assert.ok(await page.locator('#decoupled').isDisabled(), 'no weight decay: nothing to decouple');
  await page.fill('#weight-decay', '0.0005');
  await page.check('#decoupled');
  await page.check('#nesterov');
  await page.fill('#warmup', '3');
  await freeze('conv1').check();
  await freeze('conv2').check();
  await page.locator('section.train').screenshot({ path: `${SCREENSHOTS}/train-finetune.png` });
  await page.selectOption('#optimizer', 'adam');
  assert.ok(await page.locator('#momentum').isDisabled());
  assert.ok(await page.locator('#nesterov').isDisabled());
  await page.selectOption('#optimizer', 'sgd');
  assert.ok(await page.locator('#momentum').isEnabled());

  await page.click(tid('train-start'));
  await page.waitForFunction(() => document.querySelector('#train-progress-text').textContent === 'Done.', null, { timeout: 20000 });
  assert.match(await page.textContent('#model-info'), /fine-tuned on MNIST, 1 epoch, conv1 \+ conv2 frozen, from pretrained/);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#model-download')]);
  const tuned = tensors(fs.readFileSync(await download.path()));
  const pretrained = tensors(fs.readFileSync(`${WEB}/build/pretrained.safetensors`));
  for (const name of ['conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias']) {
    assert.ok(tuned[name].equals(pretrained[name]), `${name} is frozen: bit-identical`);
  }
  assert.equal(tuned['fc1.weight'].length, pretrained['fc1.weight'].length);
  assert.ok(!tuned['fc1.weight'].equals(pretrained['fc1.weight']), 'fc1.weight trained');
  await waitIdle(page); // the evaluation after training

  // every layer frozen: the core's error is shown and the page keeps working
  for (const name of ['fc1', 'fc2']) await freeze(name).check();
  await page.click(tid('train-start'));
  await page.waitForFunction(() => /every layer is frozen/.test(document.querySelector('[data-testid="status"]').textContent));
  assert.match(await page.getAttribute(tid('status'), 'class'), /error/);
  assert.ok(await page.locator(tid('train-start')).isEnabled());
  assert.match(await page.textContent('#model-info'), /conv1 \+ conv2 frozen/, 'the current model is unchanged');
  for (const name of ['conv1', 'conv2', 'fc1', 'fc2']) await freeze(name).uncheck();
  await page.keyboard.press('Escape');
  await drawDigit(page, readMnistTest(0, 1).images[0]);
  assert.equal(await settledPrediction(page), '7');
  await page.keyboard.press('Escape');
  await page.selectOption('#train-from', 'new');
  assert.ok(await page.locator('#freeze-box').isHidden());
  assert.deepEqual(errors, []);
});
