// Browser tests of what the page keeps in IndexedDB: records of the previous version move to the studio's
// scope, and pages with another scope do not see or overwrite them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
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
  const stored = await page.evaluate(() => new Promise((resolve) => {
    indexedDB.open('cnn-wasm').onsuccess = (e) => {
      const db = e.target.result;
      const tx = db.transaction(['models', 'samples']);
      const keys = tx.objectStore('models').getAllKeys();
      const samples = tx.objectStore('samples').getAll();
      tx.oncomplete = () => resolve({ version: db.version, keys: keys.result, scopes: samples.result.map((s) => s.scope) });
    };
  }));
  assert.deepEqual(stored, { version: 2, keys: ['studio'], scopes: ['studio', 'studio', 'studio'] });
  await context.close();
});
