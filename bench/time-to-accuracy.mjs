#!/usr/bin/env node
// time-to-accuracy.mjs - the wall time from clicking Train in the page (headless Chromium, the page's default
// training settings and worker count unless options say otherwise) to the test accuracy shown after training,
// as a user sees it: MNIST fetched from the page's origin and unpacked, training, and the evaluation.
// One JSON line per run: {bench: 'time-to-accuracy', settings, workers, trainSeconds, totalSeconds, testAccuracy,
// reached} where reached says whether the test accuracy is at least --target (default 99.0 %).
//
//   npm run bench:tta                              the page's defaults
//   node bench/time-to-accuracy.mjs --workers 1 --epochs 1 --preset small
import { parseArgs } from 'node:util';

import { launch, openPage, tid, setTrainForm, waitIdle, missingPrerequisite } from '../tests/browser/helpers.mjs';

const { values: opts } = parseArgs({
  options: {
    target: { type: 'string', default: '99.0' }, preset: { type: 'string' }, epochs: { type: 'string' },
    batch: { type: 'string' }, lr: { type: 'string' }, workers: { type: 'string' }, limit: { type: 'string' },
    augment: { type: 'boolean' },
  },
});
const missing = missingPrerequisite();
if (missing) {
  console.error(`time-to-accuracy: ${missing}`);
  process.exit(1);
}

const env = await launch();
try {
  const { page } = await openPage(env);
  await waitIdle(page);
  const form = {};
  for (const k of ['preset', 'epochs', 'batch', 'lr', 'workers', 'limit']) if (opts[k] !== undefined) form[k] = opts[k];
  await setTrainForm(page, form);
  if (opts.augment) await page.check('#augment');
  const settings = await page.evaluate(() => Object.fromEntries(['preset', 'optimizer', 'lr', 'schedule', 'batch',
    'epochs', 'limit', 'val-split', 'seed', 'workers'].map((id) => [id, document.getElementById(id).value])
    .concat([['augment', document.getElementById('augment').checked]])));
  const t0 = Date.now();
  await page.click(tid('train-start'));
  await page.waitForFunction(() => document.querySelector('#train-progress-text').textContent === 'Done.', null, { timeout: 3600000, polling: 100 });
  const trainSeconds = (Date.now() - t0) / 1000;
  await page.waitForFunction(() => /%/.test(document.querySelector('[data-testid="test-accuracy"]').textContent), null, { timeout: 600000, polling: 100 });
  const totalSeconds = (Date.now() - t0) / 1000;
  const testAccuracy = parseFloat(await page.textContent(tid('test-accuracy')));
  const rate = await page.textContent('#accuracy-summary');
  process.stdout.write(`${JSON.stringify({
    bench: 'time-to-accuracy', settings, workers: Number(settings.workers), trainSeconds: Math.round(trainSeconds * 10) / 10,
    totalSeconds: Math.round(totalSeconds * 10) / 10, testAccuracy, target: Number(opts.target),
    reached: testAccuracy >= Number(opts.target), lastEpoch: rate.trim(),
  })}\n`);
} finally {
  await env.close();
}
