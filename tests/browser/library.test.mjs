// Browser tests of the model library: every training run is a new entry (the previous model stays one click
// away), entries are switched, renamed, downloaded, deleted (asked twice) and compared on one chart, a stopped
// fine-tune leaves the model it started from current, and all of it survives a reload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { loadCnn } from '../../web/cnn.mjs';
import { missingPrerequisite, launch, openPage, gotoReady, tid, waitIdle, setTrainForm, SCREENSHOTS } from './helpers.mjs';

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

/** The library as shown: [{id, name, current, facts, compare: enabled}] newest first. */
const entries = () => page.$$eval('#library-list > li', (lis) => lis.map((li) => ({
  id: li.dataset.id,
  name: li.querySelector('.entry-name')?.textContent,
  current: li.classList.contains('current'),
  facts: li.querySelector('.entry-facts').textContent,
  comparable: !li.querySelector('input[data-act="compare"]').disabled,
})));
const item = (id) => `#library-list > li[data-id="${id}"]`;
const status = () => page.textContent(tid('status'));
const waitStatus = (re, timeout = 30000) => page.waitForFunction(
  (src) => new RegExp(src).test(document.querySelector('[data-testid="status"]').textContent), re.source, { timeout });

async function trainSmall(seed) {
  await setTrainForm(page, { preset: 'small', from: 'new', epochs: 2, limit: 600, valSplit: 0.2, seed, batch: 32 });
  await page.click(tid('train-start'));
  await page.waitForFunction(() => document.querySelector('#train-progress-text').textContent === 'Done.', null, { timeout: 60000 });
  // the page evaluates the new model on the MNIST test set, and the library keeps the result with it
  await page.waitForFunction(() => /test \d+\.\d\d%/.test(document.querySelector('#library-list > li.current .entry-facts').textContent),
    null, { timeout: 60000 });
  await waitIdle(page, 60000);
}

test('each training run is a new entry; entries are compared, renamed, switched, downloaded and deleted', async () => {
  let list = await entries();
  assert.equal(list.length, 1);
  assert.deepEqual([list[0].id, list[0].current], ['pretrained', true]);

  await trainSmall(1);
  await trainSmall(2);
  list = await entries();
  assert.equal(list.length, 3, 'two runs, two new entries; the pretrained model is still there');
  const [second, first] = list;
  assert.ok(second.current && !first.current && !list[2].current);
  assert.match(second.facts, /2 epochs · validation \d+\.\d% · test \d+\.\d\d%/, 'its training record and test accuracy');
  assert.match(await page.textContent('#model-info'), /trained here: small/);
  assert.ok(first.comparable && second.comparable && !list[2].comparable, 'trained entries have curves, the pretrained one none');

  // compare the two runs on one chart
  await page.check(`${item(first.id)} input[data-act="compare"]`);
  await page.check(`${item(second.id)} input[data-act="compare"]`);
  await page.waitForFunction(() => Number(document.querySelector('#chart-compare').dataset.points) > 4);
  const legend = await page.$$eval('#compare-legend li', (lis) => lis.map((li) => li.textContent));
  assert.equal(legend.length, 2);
  await page.selectOption('#compare-metric', 'loss');
  await page.locator('section.card.library').screenshot({ path: await screenshotPath('library-compare') });

  // rename the first run: an empty name is refused, then a real one is kept
  await page.click(`${item(first.id)} button[data-act="rename"]`);
  await page.fill(`${item(first.id)} input[data-act="name-input"]`, '   ');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => !document.querySelector('#library-error').hidden);
  assert.match(await page.textContent('#library-error'), /needs a name/);
  await page.fill(`${item(first.id)} input[data-act="name-input"]`, 'my first run');
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => document.querySelector(`#library-list > li[data-id="${id}"] .entry-name`)?.textContent === 'my first run', first.id);

  // switch back to it: it predicts and is the one the model card shows
  await page.click(`${item(first.id)} button[data-act="use"]`);
  await waitStatus(/The current model is now my first run/);
  list = await entries();
  assert.ok(list.find((e) => e.id === first.id).current);
  assert.equal(list.filter((e) => e.current).length, 1);
  const predicted = await page.evaluate(() => window.cnnTest.runtime.state.model.id);
  assert.equal(String(predicted), first.id);

  // the current model cannot be deleted; another one is, after a second click
  assert.equal(await page.locator(`${item(first.id)} button[data-act="delete"]`).count(), 0);
  await page.click(`${item(second.id)} button[data-act="delete"]`);
  assert.equal((await entries()).length, 3, 'one click only asks');
  await page.click(`${item(second.id)} button[data-act="delete-no"]`);
  assert.equal((await entries()).length, 3);
  await page.click(`${item(second.id)} button[data-act="delete"]`);
  await page.click(`${item(second.id)} button[data-act="delete-yes"]`);
  await waitStatus(/Deleted .* from the library/);
  assert.deepEqual((await entries()).map((e) => e.id), [first.id, 'pretrained']);

  // download an entry: a file the core loads, the architecture it was trained with
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(`${item(first.id)} button[data-act="download"]`)]);
  assert.equal(download.suggestedFilename(), 'digits-my-first-run.safetensors');
  const cnn = await loadCnn();
  const m = cnn.loadModel(fs.readFileSync(await download.path()));
  assert.match(m.spec, /conv2d 8 5x5/);
  m.free();
  assert.deepEqual(errors, []);
});

test('after a reload the library, its names, curves and the current model are all there', async () => {
  const before = await entries();
  await gotoReady(page, env.server.url);
  await waitIdle(page);
  const after = await entries();
  assert.deepEqual(after, before);
  assert.equal(after.find((e) => e.current).name, 'my first run');
  assert.equal(String(await page.evaluate(() => window.cnnTest.runtime.state.model.id)), after[0].id);
  await page.check(`${item(after[0].id)} input[data-act="compare"]`);
  await page.waitForFunction(() => Number(document.querySelector('#chart-compare').dataset.points) > 2);
});

test('a stopped fine-tune is kept in the library and leaves the model it started from current', async () => {
  const before = await entries();
  const current = before.find((e) => e.current);
  await setTrainForm(page, { from: 'current', epochs: 1, limit: 60000, valSplit: 0, lr: 0.0005 });
  await page.click(tid('train-start'));
  await page.waitForFunction(() => Number(document.querySelector('#chart-loss').dataset.points) >= 3, null, { timeout: 30000 });
  await page.click(tid('train-stop'));
  await waitStatus(/Fine-tuning stopped: the model it started from stays current; the partly fine-tuned one is kept/);
  assert.equal(await page.textContent('#train-progress-text'), 'Stopped: the model it started from stays current.');
  await waitIdle(page);
  const after = await entries();
  assert.equal(after.length, before.length + 1);
  assert.equal(after.find((e) => e.current).id, current.id, 'the model it started from is still current');
  assert.match(after[0].name, /^fine-tuned on MNIST.*\(stopped\)/);
  assert.match(after[0].facts, /\(stopped\)/);
  assert.ok(!after[0].current);
  assert.equal(String(await page.evaluate(() => window.cnnTest.runtime.state.model.id)), current.id);
  // the training worker holds the current model again: a fine-tune starts from it, not from the stopped one
  const same = await page.evaluate(async () => {
    const { runtime } = window.cnnTest;
    const { bytes } = await runtime.workers.trainer.call('currentBytes');
    const kept = runtime.state.model.bytes;
    return bytes.length === kept.length && bytes.every((b, i) => b === kept[i]);
  });
  assert.ok(same, "the training worker's model is the current one, byte for byte");
  assert.ok(!/error/.test(await page.getAttribute(tid('status'), 'class')), await status());
  assert.deepEqual(errors, []);
});

async function screenshotPath(name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  return `${SCREENSHOTS}/${name}.png`;
}

test('a library keeps every named model and the newest unnamed ones; each change is one transaction', async () => {
  const kept = await page.evaluate(async () => {
    const { ScopedStorage } = await import('./app/storage.mjs');
    const lib = new ScopedStorage('test:keep');
    const bytes = new Uint8Array([1, 2, 3]);
    const a = await lib.addModel(bytes, { name: 'a' }, { keep: 2 });
    await lib.updateModel(a.id, { name: 'mine', named: true });
    const b = await lib.addModel(bytes, { name: 'b' }, { keep: 2 });
    const c = await lib.addModel(bytes, { name: 'c' }, { keep: 2, current: false });
    const d = await lib.addModel(bytes, { name: 'd' }, { keep: 2, current: false });
    const { entries, currentId } = await lib.listModels();
    const other = await new ScopedStorage('studio').listModels();
    return { names: entries.map((e) => e.name), current: entries.find((e) => e.id === currentId)?.name,
      removed: [b.removed, c.removed, d.removed], gone: await lib.modelBytes(c.id), otherScope: other.entries.length };
  });
  // b stays as the current model; c, the oldest unnamed one beyond two, made room for d
  assert.deepEqual(kept.names, ['mine', 'b', 'd']);
  assert.equal(kept.current, 'b');
  assert.deepEqual(kept.removed, [[], [], ['c']]);
  assert.equal(kept.gone, undefined, 'its bytes went with it');
  assert.ok(kept.otherScope >= 2, 'another scope is not touched');
});
