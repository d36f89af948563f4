// Measures one full MNIST epoch of the keras preset trained in the page (60,000 images), for comparison with
// `node tools/train.mjs --model keras --epochs 1 --batch N`. Not run by `node --test` (a plain script):
//
//   node tests/browser/measure-epoch.mjs [--batch 128] [--scalar]
//
// Prints one JSON line: {batch, build, seconds, imagesPerSecond, testAccuracy}.
import { parseArgs } from 'node:util';
import { launch, openPage, tid, waitIdle, setTrainForm, missingPrerequisite } from './helpers.mjs';

const { values } = parseArgs({ options: { batch: { type: 'string', default: '128' }, scalar: { type: 'boolean' } } });
const why = missingPrerequisite();
if (why) {
  console.error(`measure-epoch: ${why}`);
  process.exit(1);
}
const env = await launch();
try {
  const { page } = await openPage(env, values.scalar ? { query: '?build=scalar' } : {});
  await waitIdle(page);
  await page.click('#mnist-load'); // download first: the timing is training only
  await page.waitForFunction(() => /MNIST is ready/.test(document.querySelector('[data-testid="status"]').textContent), null, { timeout: 60000 });
  await setTrainForm(page, { preset: 'keras', epochs: 1, limit: 60000, batch: Number(values.batch), valSplit: 0, lr: 0.001 });
  let lastRate = '';
  const t0 = Date.now();
  await page.click(tid('train-start'));
  for (;;) {
    const text = await page.textContent('#train-progress-text');
    if (text === 'Done.') break;
    const m = /([\d,]+) images\/s/.exec(text);
    if (m) lastRate = m[1];
    if (/did not complete/.test(await page.textContent(tid('status')))) throw new Error(await page.textContent(tid('status')));
    await page.waitForTimeout(250);
  }
  const seconds = (Date.now() - t0) / 1000;
  await page.waitForFunction(() => /%/.test(document.querySelector('[data-testid="test-accuracy"]').textContent), null, { timeout: 120000 });
  const build = /scalar/.test(await page.textContent('#model-info')) ? 'scalar' : 'simd';
  console.log(JSON.stringify({
    batch: Number(values.batch), build, seconds: +seconds.toFixed(1), imagesPerSecond: Math.round(60000 / seconds),
    pageReportedImagesPerSecond: Number(lastRate.replace(/,/g, '')), testAccuracy: await page.textContent(tid('test-accuracy')),
  }));
} finally {
  await env.close();
}
