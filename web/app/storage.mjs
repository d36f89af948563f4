/**
 * storage.mjs - what survives a reload, in IndexedDB: the current model (.safetensors bytes and a label) and
 * the user's own labelled drawings (28x28 uint8, as the model saw them).
 */

const DB_NAME = 'cnn-wasm';
const DB_VERSION = 1;
const MODELS = 'models';     // key 'current' -> {bytes: Uint8Array, label: string, savedAt: number}
const SAMPLES = 'samples';   // auto key -> {pixels: Uint8Array(784), label: number, savedAt: number}

let dbPromise = null;

function open() {
  dbPromise ??= new Promise((resolve, reject) => {
    if (typeof indexedDB === 'undefined') return reject(new Error('this browser has no IndexedDB'));
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(MODELS)) db.createObjectStore(MODELS);
      if (!db.objectStoreNames.contains(SAMPLES)) db.createObjectStore(SAMPLES, { autoIncrement: true });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new Error(`IndexedDB: ${req.error?.message ?? 'cannot open'}`));
    req.onblocked = () => reject(new Error('IndexedDB: blocked by another tab'));
  });
  dbPromise.catch(() => { dbPromise = null; });
  return dbPromise;
}

/** Runs fn(store) in a transaction; resolves with the last request's result when the transaction completes. */
async function run(storeName, mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(storeName, mode);
    const req = fn(tx.objectStore(storeName));
    tx.oncomplete = () => resolve(req?.result);
    tx.onerror = () => reject(new Error(`IndexedDB: ${tx.error?.message ?? 'failed'}`));
    tx.onabort = () => reject(new Error(`IndexedDB: ${tx.error?.message ?? 'aborted (storage full?)'}`));
  });
}

/** @returns {Promise<{bytes: Uint8Array, label: string, savedAt: number}|undefined>} */
export function loadCurrentModel() {
  return run(MODELS, 'readonly', (s) => s.get('current'));
}

/** @param {Uint8Array} bytes @param {string} label where it came from, shown in the page */
export function saveCurrentModel(bytes, label) {
  return run(MODELS, 'readwrite', (s) => s.put({ bytes, label, savedAt: Date.now() }, 'current'));
}

export function forgetCurrentModel() {
  return run(MODELS, 'readwrite', (s) => s.delete('current'));
}

/** @returns {Promise<{key: number, pixels: Uint8Array, label: number}[]>} */
export function loadSamples() {
  return run(SAMPLES, 'readonly', (s) => {
    const out = [];
    const req = s.openCursor();
    req.onsuccess = () => {
      const c = req.result;
      if (!c) return;
      out.push({ key: c.key, ...c.value });
      c.continue();
    };
    return { get result() { return out; } };
  });
}

/** @param {Uint8Array} pixels (28, 28) @param {number} label */
export function addSample(pixels, label) {
  return run(SAMPLES, 'readwrite', (s) => s.add({ pixels, label, savedAt: Date.now() }));
}

export function clearSamples() {
  return run(SAMPLES, 'readwrite', (s) => s.clear());
}
