// Browser tests of what the page keeps in IndexedDB: records of the previous versions move into the model
// library of their scope, and a write that does not complete (aborted, or cut by a reload) leaves the previous
// model, whole.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { loadCnn } from '../../web/cnn.mjs';
import { missingPrerequisite, launch, gotoReady, waitIdle, WEB } from './helpers.mjs';

let env;

before(async () => {
  const missing = missingPrerequisite();
  if (missing) throw new Error(`cannot run the browser tests: ${missing}`); // a failure, never a skip
  env = await launch();
});

after(async () => {
  await env?.close();
});

/** Writes a version-1 database (models: key 'current'; samples without a scope) in the page's origin. */
async function writeVersion1(page, model, samples) {
  await page.evaluate(async ({ model, samples }) => {
    await new Promise((resolve, reject) => {
      const req = indexedDB.open('cnn-wasm', 1);
      req.onupgradeneeded = () => {
        req.result.createObjectStore('models');
        req.result.createObjectStore('samples', { autoIncrement: true });
      };
      req.onsuccess = () => {
        const db = req.result;
        const tx = db.transaction(['models', 'samples'], 'readwrite');
        tx.objectStore('models').put({ bytes: new Uint8Array(model), label: 'kept from version 1', savedAt: 1 }, 'current');
        for (const s of samples) tx.objectStore('samples').add({ pixels: new Uint8Array(784).fill(s * 20), label: s, savedAt: 1 });
        tx.oncomplete = () => { db.close(); resolve(); };
        tx.onerror = () => reject(tx.error);
      };
      req.onerror = () => reject(req.error);
    });
  }, { model: Array.from(model), samples });
}

test('a model and drawings kept by the previous version of the page are still there', async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${env.server.url}style.css`); // same origin, without the app opening the database first
  const mlp = fs.readFileSync(`${WEB}/build/pretrained.safetensors`);
  await writeVersion1(page, mlp, [3, 1, 4]);
  await gotoReady(page, env.server.url);
  await waitIdle(page);
  assert.match(await page.textContent('#model-info'), /kept from version 1/);
  assert.match(await page.textContent('#sample-count'), /3 saved drawings/);
  assert.deepEqual(await stores(page), {
    version: 3, names: ['current', 'library', 'samples', 'weights'],
    library: [{ scope: 'studio', name: 'kept from version 1', bytes: mlp.length }], current: { studio: 1 },
    scopes: ['studio', 'studio', 'studio'],
  });
  await context.close();
});

/** What the database holds: its version and stores, the library (bytes: their length), current, drawings' scopes. */
function stores(page) {
  return page.evaluate(() => new Promise((resolve) => {
    indexedDB.open('cnn-wasm').onsuccess = (e) => {
      const db = e.target.result;
      const names = [...db.objectStoreNames].sort();
      const tx = db.transaction(['library', 'weights', 'current', 'samples']);
      const library = tx.objectStore('library').getAll();
      const weights = tx.objectStore('weights').getAll();
      const currentKeys = tx.objectStore('current').getAllKeys();
      const current = tx.objectStore('current').getAll();
      const samples = tx.objectStore('samples').getAll();
      tx.oncomplete = () => {
        db.close();
        resolve({
          version: db.version, names,
          library: library.result.map((m, i) => ({ scope: m.scope, name: m.name, bytes: weights.result[i].length })),
          current: Object.fromEntries(currentKeys.result.map((k, i) => [k, current.result[i]])),
          scopes: samples.result.map((x) => x.scope),
        });
      };
    };
  }));
}

test('the one model per scope of version 2 becomes the first entry of each scope\'s library', async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(`${env.server.url}style.css`);
  const pretrained = fs.readFileSync(`${WEB}/build/pretrained.safetensors`);
  const cnn = await loadCnn();
  const mlp = cnn.createModel('mlp', { seed: 5 });
  const mlpBytes = Array.from(mlp.save());
  mlp.free();
  await page.evaluate(async ({ a, b }) => {
    await new Promise((resolve, reject) => {
      const req = indexedDB.open('cnn-wasm', 2);
      req.onupgradeneeded = () => {
        req.result.createObjectStore('models');
        req.result.createObjectStore('samples', { autoIncrement: true }).createIndex('scope', 'scope');
      };
      req.onsuccess = () => {
        const db = req.result;
        const tx = db.transaction(['models', 'samples'], 'readwrite');
        tx.objectStore('models').put({ bytes: new Uint8Array(a), label: 'file studio.safetensors', savedAt: 2 }, 'studio');
        tx.objectStore('models').put({ bytes: new Uint8Array(b), label: 'a tutorial model', savedAt: 3 }, 'page:/tutorial.html');
        tx.objectStore('samples').add({ scope: 'studio', pixels: new Uint8Array(784), label: 7, savedAt: 2 });
        tx.oncomplete = () => { db.close(); resolve(); };
        tx.onerror = () => reject(tx.error);
      };
      req.onerror = () => reject(req.error);
    });
  }, { a: Array.from(pretrained), b: mlpBytes });
  await gotoReady(page, env.server.url);
  await waitIdle(page);
  assert.match(await page.textContent('#model-info'), /file studio\.safetensors/);
  const names = await page.$$eval('#library-list .entry-name', (els) => els.map((e) => e.textContent));
  assert.deepEqual(names, ['file studio.safetensors', 'pretrained (Keras MNIST CNN)']);
  const kept = await stores(page);
  assert.equal(kept.version, 3);
  assert.deepEqual(kept.library.map((m) => m.scope).sort(), ['page:/tutorial.html', 'studio']);
  assert.deepEqual(kept.library.map((m) => m.bytes).sort(), [mlpBytes.length, pretrained.length].sort());
  assert.deepEqual(Object.keys(kept.current).sort(), ['page:/tutorial.html', 'studio']);
  assert.ok(!kept.names.includes('models'), 'the version 2 store is gone once its records moved');
  assert.deepEqual(kept.scopes, ['studio']);
  await context.close();
});

const waitStatus = (page, re, timeout = 30000) => page.waitForFunction(
  (src) => new RegExp(src).test(document.querySelector('[data-testid="status"]').textContent), re.source, { timeout });

test('a model write that does not complete leaves the previous model, whole', async (t) => {
  const cnn = await loadCnn();
  const mlp = cnn.createModel('mlp', { seed: 3 });
  const mlpBytes = Buffer.from(mlp.save());
  mlp.free();
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await gotoReady(page, env.server.url);
  await waitIdle(page);
  await page.setInputFiles('#model-file', { name: 'mlp.safetensors', mimeType: 'application/octet-stream', buffer: mlpBytes });
  await waitStatus(page, /Loaded mlp\.safetensors/);

  // a write of the same record that aborts before it commits (as a crash would)
  const aborted = await page.evaluate(() => new Promise((resolve) => {
    indexedDB.open('cnn-wasm').onsuccess = (e) => {
      const db = e.target.result;
      const tx = db.transaction(['library', 'weights', 'current'], 'readwrite');
      tx.objectStore('library').add({ scope: 'studio', name: 'half-written', label: 'half-written' }).onsuccess = (ev) => {
        tx.objectStore('weights').put(new Uint8Array(1000), ev.target.result);
        tx.objectStore('current').put(ev.target.result, 'studio').onsuccess = () => tx.abort();
      };
      tx.onabort = () => { db.close(); resolve(true); };
      tx.oncomplete = () => { db.close(); resolve(false); };
    };
  }));
  assert.ok(aborted);
  await gotoReady(page, env.server.url);
  assert.match(await page.textContent('#model-info'), /file mlp\.safetensors/);
  assert.match(await page.textContent('#model-info'), /101,770/);
  await waitIdle(page);

  // the page reloads the moment it asks IndexedDB to keep a large new model: after the reload the model is
  // the previous one or the new one, and its label and its weights belong together
  const wide = cnn.createModel('dense 4096\ndense 10', { seed: 1 });
  const wideBytes = Buffer.from(wide.save());
  wide.free();
  await page.evaluate(() => {
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function (...args) {
      const req = put.apply(this, args);
      if (this.name === 'weights') location.reload();
      return req;
    };
  });
  await page.setInputFiles('#model-file', { name: 'wide.safetensors', mimeType: 'application/octet-stream', buffer: wideBytes });
  await page.waitForEvent('load', { timeout: 30000 });
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 30000 });
  const info = await page.textContent('#model-info');
  const kept = /wide\.safetensors/.test(info) ? { label: 'wide', params: '3,256,330' } : { label: 'mlp', params: '101,770' };
  assert.match(info, new RegExp(`file ${kept.label}\\.safetensors`));
  assert.match(info, new RegExp(kept.params), `the weights kept are those of ${kept.label}`);
  t.diagnostic(`reloaded while the page wrote the new model: the ${kept.label === 'mlp' ? 'previous' : 'new'} model was kept, whole`);
  await context.close();
});
