// Browser test of the transfer lab card: a short lab (small limit, 1 epoch per way) runs in the training
// worker, draws the three ways' curves on one chart, fills the table, and leaves the current model as it was.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { missingPrerequisite, launch, openPage, tid, waitIdle, SCREENSHOTS } from './helpers.mjs';

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

test('a short transfer lab draws three curves and its table, and changes no model', async (t) => {
  const modelBefore = await page.textContent('#model-info');
  const libraryBefore = await page.$$eval('#library-list > li', (lis) => lis.length);

  // a wrong field is said next to it and nothing runs
  await page.fill('#transfer-limit', '5');
  await page.click('#transfer-start');
  assert.match(await page.textContent('.card.transfer .field > .field-error'), /from 100 to 30,000/);

  await page.fill('#transfer-limit', '400');
  await page.fill('#transfer-epochs', '1');
  await page.fill('#transfer-pre-epochs', '1');
  await page.fill('#transfer-seed', '3');
  await page.click('#transfer-start');
  await page.waitForFunction(() => document.querySelector('[data-testid="train-start"]').disabled, null, { timeout: 10000 });
  assert.ok(await page.locator('#transfer-stop').isEnabled(), 'the lab can be stopped while it runs');
  await page.waitForFunction(() => !document.querySelector('#transfer-table').hidden, null, { timeout: 180000 });
  await waitIdle(page, 30000);

  // three curves, each from epoch 0 (before learning 5-9) to epoch 1
  assert.equal(await page.getAttribute('#chart-transfer', 'data-points'), '6');
  const rows = await page.$$eval('#transfer-table tbody tr', (trs) => trs.map((tr) => ({
    way: tr.dataset.way, cells: [...tr.cells].map((c) => c.textContent),
  })));
  assert.deepEqual(rows.map((r) => r.way), ['frozen', 'finetune', 'scratch']);
  for (const { way, cells } of rows) {
    const [, before, epoch1, time, speed] = cells;
    const acc = parseFloat(epoch1);
    assert.ok(acc > 50, `${way}: ${epoch1} on 5-9 after one epoch of 400 images (chance 20%)`);
    assert.ok(acc > parseFloat(before), `${way} learned: ${before} -> ${epoch1}`);
    assert.match(time, /^\d+\.\d s$/);
    assert.ok(Number(speed.replace(/,/g, '')) > 0, `${way}: ${speed} images/s`);
    t.diagnostic(`${way}: ${before} -> ${epoch1}, ${time}, ${speed} images/s`);
  }
  assert.match(await page.textContent('#transfer-progress-text'), /^Done: 1 epoch of 5–9 each way/);
  assert.match(await page.textContent(tid('status')), /Transfer lab done/);
  assert.equal(await page.textContent('#model-info'), modelBefore, 'the current model is not changed');
  assert.equal(await page.$$eval('#library-list > li', (lis) => lis.length), libraryBefore, 'nothing is added to the library');
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.locator('section.card.transfer').screenshot({ path: `${SCREENSHOTS}/transfer-lab.png` });
  assert.deepEqual(errors, []);
});

test('the lab stops when asked, and training can start again', async () => {
  await page.fill('#transfer-limit', '30000');
  await page.click('#transfer-start');
  await page.waitForFunction(() => /pre-training on 0–4, epoch 1/.test(document.querySelector('#transfer-progress-text').textContent),
    null, { timeout: 30000 });
  await page.click('#transfer-stop');
  await page.waitForFunction(() => document.querySelector('#transfer-progress-text').textContent === 'Stopped.', null, { timeout: 30000 });
  assert.match(await page.textContent(tid('status')), /Transfer lab stopped/);
  assert.ok(await page.locator('#transfer-table').isHidden(), 'no way ran to its end');
  await waitIdle(page);
  assert.ok(await page.locator('#transfer-start').isEnabled());
  assert.deepEqual(errors, []);
});
