// Browser tests of data-parallel training in the page: the Workers field starts at the number of cores
// (capped), a run on two workers starts a replica worker, says so, trains a model that reads digits, and the
// same seed and worker count give bit-identical weights.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  missingPrerequisite, launch, openPage, tid, readMnistTest, drawDigit, settledPrediction, setTrainForm, waitIdle,
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

const SPEC = 'input 28x28x1\nconv2d 8 5x5 relu\nmaxpool 2\nconv2d 16 5x5 relu\nmaxpool 2\nflatten\ndense 10';

/** Trains with the form's settings and downloads the resulting model. @returns {Promise<{bytes: Buffer, accuracy: number}>} */
async function trainAndDownload(workers, sawProgress) {
  await setTrainForm(page, { workers });
  await page.click(tid('train-start'));
  await page.waitForFunction(() => /images\/s/.test(document.querySelector('#train-progress-text').textContent), null, { timeout: 60000 });
  sawProgress.push(await page.textContent('#train-progress-text'));
  await page.waitForFunction(() => document.querySelector('#train-progress-text').textContent === 'Done.', null, { timeout: 120000 });
  // the accuracy chart's caption: 'epoch 1: 93.1%' (the epoch's training accuracy)
  const caption = await page.textContent('#accuracy-summary');
  await waitIdle(page, 60000);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#model-download')]);
  const accuracy = Number(/epoch 1: ([\d.]+)%/.exec(caption)?.[1]);
  return { bytes: fs.readFileSync(await download.path()), accuracy };
}

test('the Workers field starts at the number of cores, at most 4', async () => {
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  assert.equal(Number(await page.inputValue('#workers')), Math.max(1, Math.min(4, cores)));
});

test('two workers: a replica worker trains beside the training worker; same seed, same weights', async (t) => {
  await setTrainForm(page, { spec: SPEC, epochs: 1, limit: 4000, batch: 32, valSplit: 0, lr: 0.005, seed: 11 });
  const workersBefore = page.workers().length;
  const progress = [];
  const first = await trainAndDownload(2, progress);
  const replicaWorkers = page.workers().filter((w) => /replica-worker\.mjs/.test(w.url()));
  t.diagnostic(`workers before: ${workersBefore}, replica workers now: ${replicaWorkers.length}; progress: ${progress[0]}`);
  assert.equal(replicaWorkers.length, 1, 'one replica worker besides the training worker');
  assert.match(progress[0], /images\/s on 2 workers/);
  await drawDigit(page, readMnistTest(0, 1).images[0]);
  assert.equal(await settledPrediction(page), '7', 'the model trained on two workers reads a 7');
  await page.keyboard.press('Escape');

  const second = await trainAndDownload(2, progress);
  assert.ok(first.bytes.equals(second.bytes), 'same seed and worker count: bit-identical model files');
  const single = await trainAndDownload(1, progress);
  t.diagnostic(`training accuracy: 2 workers ${first.accuracy}%, 1 worker ${single.accuracy}%`);
  assert.doesNotMatch(progress[2], /on \d+ workers/);
  assert.ok(first.accuracy > 75 && single.accuracy > 75, 'both learned');
  assert.ok(Math.abs(first.accuracy - single.accuracy) < 5, 'two workers learn as well as one');
  assert.deepEqual(errors, []);
});
