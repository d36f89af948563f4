/**
 * storage.mjs - what survives a reload, in IndexedDB: the current model (.safetensors bytes and a label) and
 * the user's own labelled drawings (28x28 uint8, as the model saw them).
 *
 * One origin has one database. Records belong to a scope (a name): the studio page uses 'studio', a tutorial
 * page its own, so widgets on different pages never overwrite each other's model. On one page every widget
 * goes through the page's one runtime (runtime.mjs), which is the only writer of its scope.
 *
 * Atomic writes: every change is one IndexedDB transaction, and a transaction is all or nothing. A model is
 * one record (bytes, label and time together), so a reload or a crash in the middle of saving leaves the
 * previous model, whole; adding, relabelling or deleting a drawing is one transaction, and so are adding many
 * (an import) and deleting all drawings of a scope.
 */

const DB_NAME = 'cnn-wasm';
// v1: models under the key 'current', drawings without a scope. v2: scoped (v1 records move to 'studio').
const DB_VERSION = 2;
const MODELS = 'models';     // key: scope -> {bytes: Uint8Array, label: string, savedAt: number}
// auto key -> {scope, pixels: Uint8Array(784), label: number, savedAt: number, heldOut?: boolean}; heldOut: kept
// aside for testing, never trained on (controllers/drawings.mjs decides it once; records of older pages lack it)
const SAMPLES = 'samples';
const BY_SCOPE = 'scope';    // index of SAMPLES on scope
const V1_SCOPE = 'studio';

let dbPromise = null;

function open() {
  dbPromise ??= new Promise((resolve, reject) => {
    if (typeof indexedDB === 'undefined') return reject(new Error('this browser has no IndexedDB'));
    const req = indexedDB.open(DB_NAME, DB_VERSION);
    req.onupgradeneeded = (e) => upgrade(req.result, req.transaction, e.oldVersion);
    req.onsuccess = () => {
      const db = req.result;
      db.onversionchange = () => { db.close(); dbPromise = null; }; // a newer page upgrades: let it
      resolve(db);
    };
    req.onerror = () => reject(new Error(`IndexedDB: ${req.error?.message ?? 'cannot open'}`));
    req.onblocked = () => reject(new Error('IndexedDB: blocked by another tab of this site (reload it)'));
  });
  dbPromise.catch(() => { dbPromise = null; });
  return dbPromise;
}

/** Creates the stores, or moves version 1 records into the 'studio' scope (in the upgrade transaction). */
function upgrade(db, tx, oldVersion) {
  if (!db.objectStoreNames.contains(MODELS)) db.createObjectStore(MODELS);
  const samples = db.objectStoreNames.contains(SAMPLES)
    ? tx.objectStore(SAMPLES) : db.createObjectStore(SAMPLES, { autoIncrement: true });
  if (!samples.indexNames.contains(BY_SCOPE)) samples.createIndex(BY_SCOPE, 'scope');
  if (oldVersion === 1) {
    const models = tx.objectStore(MODELS);
    const get = models.get('current');
    get.onsuccess = () => {
      if (get.result) models.put(get.result, V1_SCOPE);
      models.delete('current');
    };
    samples.openCursor().onsuccess = (e) => {
      const c = e.target.result;
      if (!c) return;
      if (c.value.scope === undefined) c.update({ ...c.value, scope: V1_SCOPE });
      c.continue();
    };
  }
}

/** Runs fn(stores) in one transaction; resolves with fn's result once the transaction has committed. */
async function run(names, mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(names, mode);
    const stores = [].concat(names).map((n) => tx.objectStore(n));
    let result;
    try {
      result = fn(...stores);
    } catch (e) {
      tx.abort();
      reject(e);
      return;
    }
    tx.oncomplete = () => resolve(typeof result === 'function' ? result() : result?.result);
    tx.onerror = () => reject(new Error(`IndexedDB: ${tx.error?.message ?? 'failed'}`));
    tx.onabort = () => reject(new Error(`IndexedDB: ${tx.error?.message ?? 'aborted (storage full?)'}`));
  });
}

/**
 * The stored things of one scope.
 * @param {string} scope e.g. 'studio'
 */
export class ScopedStorage {
  constructor(scope) {
    if (typeof scope !== 'string' || !scope) throw new Error('storage: a scope is a non-empty name');
    this.scope = scope;
  }

  /** @returns {Promise<{bytes: Uint8Array, label: string, savedAt: number}|undefined>} */
  loadModel() {
    return run(MODELS, 'readonly', (s) => s.get(this.scope));
  }

  /**
   * Replaces the stored model in one transaction (the previous one stays if it does not complete).
   * @param {Uint8Array} bytes @param {string} label where it came from, shown in the page
   */
  saveModel(bytes, label) {
    return run(MODELS, 'readwrite', (s) => s.put({ bytes, label, savedAt: Date.now() }, this.scope));
  }

  forgetModel() {
    return run(MODELS, 'readwrite', (s) => s.delete(this.scope));
  }

  /**
   * @returns {Promise<{key: number, pixels: Uint8Array, label: number, heldOut?: boolean}[]>} in the order they
   *   were saved (heldOut is missing on drawings kept by older versions of the page)
   */
  loadSamples() {
    return run(SAMPLES, 'readonly', (s) => {
      const out = [];
      s.index(BY_SCOPE).openCursor(IDBKeyRange.only(this.scope)).onsuccess = (e) => {
        const c = e.target.result;
        if (!c) return;
        const { pixels, label, heldOut } = c.value;
        out.push({ key: c.primaryKey, pixels, label, ...(heldOut === undefined ? {} : { heldOut }) });
        c.continue();
      };
      return () => out.sort((a, b) => a.key - b.key);
    });
  }

  /**
   * @param {Uint8Array} pixels (28, 28) @param {number} label @param {boolean} [heldOut=false] kept for testing
   * @returns {Promise<number>} the record's key
   */
  addSample(pixels, label, heldOut = false) {
    return run(SAMPLES, 'readwrite', (s) => s.add({ scope: this.scope, pixels, label, heldOut, savedAt: Date.now() }));
  }

  /**
   * Adds several drawings in one transaction (all or none).
   * @param {{pixels: Uint8Array, label: number, heldOut: boolean}[]} samples @returns {Promise<number[]>} their keys
   */
  addSamples(samples) {
    return run(SAMPLES, 'readwrite', (s) => {
      const savedAt = Date.now();
      const reqs = samples.map(({ pixels, label, heldOut }) => s.add({ scope: this.scope, pixels, label, heldOut, savedAt }));
      return () => reqs.map((r) => r.result);
    });
  }

  /**
   * Changes fields of drawings of this scope (label, heldOut), in one transaction (keys of other scopes, or of
   * no drawing, are left alone).
   * @param {{key: number, label?: number, heldOut?: boolean}[]} changes
   */
  updateSamples(changes) {
    return run(SAMPLES, 'readwrite', (s) => {
      for (const { key, ...fields } of changes) {
        const get = s.get(key);
        get.onsuccess = () => {
          if (get.result?.scope === this.scope) s.put({ ...get.result, ...fields }, key);
        };
      }
    });
  }

  /** Deletes one drawing of this scope. @param {number} key */
  deleteSample(key) {
    return run(SAMPLES, 'readwrite', (s) => {
      const get = s.get(key);
      get.onsuccess = () => {
        if (get.result?.scope === this.scope) s.delete(key);
      };
    });
  }

  /** Deletes every drawing of this scope, in one transaction. */
  clearSamples() {
    return run(SAMPLES, 'readwrite', (s) => {
      s.index(BY_SCOPE).openKeyCursor(IDBKeyRange.only(this.scope)).onsuccess = (e) => {
        const c = e.target.result;
        if (!c) return;
        s.delete(c.primaryKey);
        c.continue();
      };
    });
  }
}
