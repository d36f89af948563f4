/**
 * storage.mjs - what survives a reload, in IndexedDB: a library of models (.safetensors bytes, a name, where
 * each came from, its training record and curves, its test accuracy), which of them is current, and the user's
 * own labelled drawings (28x28 uint8, as the model saw them).
 *
 * One origin has one database. Records belong to a scope (a name): the studio page uses 'studio', a tutorial
 * page its own, so widgets on different pages never overwrite each other's models. On one page every widget
 * goes through the page's one runtime (runtime.mjs), which is the only writer of its scope.
 *
 * Atomic writes: every change is one IndexedDB transaction, and a transaction is all or nothing. Adding a model
 * writes its entry, its bytes and (when it becomes current) the scope's current pointer together, so a reload
 * or a crash in the middle of saving leaves the previous library and current model, whole; adding, relabelling
 * or deleting a drawing is one transaction, and so are adding many (an import) and deleting all drawings of a
 * scope.
 */

const DB_NAME = 'cnn-wasm';
// v1: models under the key 'current', drawings without a scope. v2: one model per scope (v1 records move to
// 'studio'). v3: a library of models per scope (each scope's v2 model becomes its first entry, and current).
const DB_VERSION = 3;
const LIBRARY = 'library';   // key path 'id' (auto) -> {id, scope, name, label, createdAt, ...} (listModels)
const WEIGHTS = 'weights';   // key: library id -> Uint8Array (.safetensors), apart so a listing reads no weights
const CURRENT = 'current';   // key: scope -> library id of the current model (none: the site's pretrained model)
// auto key -> {scope, pixels: Uint8Array(784), label: number, savedAt: number, heldOut?: boolean}; heldOut: kept
// aside for testing, never trained on (controllers/drawings.mjs decides it once; records of older pages lack it)
const SAMPLES = 'samples';
const BY_SCOPE = 'scope';    // index of LIBRARY and SAMPLES on scope
const V2_MODELS = 'models';  // v2: key scope -> {bytes, label, savedAt}; moved into the library, then deleted
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

/** Creates the stores, and moves the records of older versions into them (in the upgrade transaction). */
function upgrade(db, tx, oldVersion) {
  const samples = db.objectStoreNames.contains(SAMPLES)
    ? tx.objectStore(SAMPLES) : db.createObjectStore(SAMPLES, { autoIncrement: true });
  if (!samples.indexNames.contains(BY_SCOPE)) samples.createIndex(BY_SCOPE, 'scope');
  if (!db.objectStoreNames.contains(LIBRARY)) {
    db.createObjectStore(LIBRARY, { keyPath: 'id', autoIncrement: true }).createIndex(BY_SCOPE, 'scope');
    db.createObjectStore(WEIGHTS);
    db.createObjectStore(CURRENT);
  }
  if (oldVersion === 1) {
    samples.openCursor().onsuccess = (e) => {
      const c = e.target.result;
      if (!c) return;
      if (c.value.scope === undefined) c.update({ ...c.value, scope: V1_SCOPE });
      c.continue();
    };
  }
  if (oldVersion === 1 || oldVersion === 2) {
    // each scope's one model becomes the first entry of its library, and its current model
    const models = tx.objectStore(V2_MODELS);
    models.openCursor().onsuccess = (e) => {
      const c = e.target.result;
      if (!c) {
        db.deleteObjectStore(V2_MODELS);
        return;
      }
      const scope = oldVersion === 1 && c.key === 'current' ? V1_SCOPE : c.key;
      const { bytes, label = 'kept model', savedAt = Date.now() } = c.value ?? {};
      if (typeof scope === 'string' && bytes instanceof Uint8Array) {
        putEntry(tx, scope, bytes, { name: label, label, createdAt: savedAt, source: 'kept' }, true);
      }
      c.continue();
    };
  }
}

/** Adds a library entry with its bytes (and makes it current), in the transaction tx; the request adding it. */
function putEntry(tx, scope, bytes, meta, current) {
  const add = tx.objectStore(LIBRARY).add({ ...meta, scope });
  add.onsuccess = () => {
    tx.objectStore(WEIGHTS).put(bytes, add.result);
    if (current) tx.objectStore(CURRENT).put(add.result, scope);
  };
  return add;
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

  /**
   * The current model with its bytes.
   * @returns {Promise<(LibraryEntry & {bytes: Uint8Array})|undefined>} undefined: none kept (the pretrained one)
   */
  loadModel() {
    return run([CURRENT, LIBRARY, WEIGHTS], 'readonly', (current, library, weights) => {
      let entry, bytes;
      current.get(this.scope).onsuccess = (e) => {
        const id = e.target.result;
        if (id === undefined) return;
        library.get(id).onsuccess = (ev) => { entry = ev.target.result; };
        weights.get(id).onsuccess = (ev) => { bytes = ev.target.result; };
      };
      return () => (entry && bytes ? { ...entry, bytes } : undefined);
    });
  }

  /**
   * The models of this scope, oldest first, without their bytes.
   * @returns {Promise<{entries: LibraryEntry[], currentId: number|null}>}
   *
   * @typedef {object} LibraryEntry
   * @property {number} id @property {string} name its name @property {boolean} [named] the user chose the name
   *   (such entries are never removed to make room) @property {string} label where it
   *   came from @property {number} createdAt ms since 1970 @property {string} source 'trained' | 'fine-tuned' |
   *   'file' | 'rescued' | 'kept' @property {string} [spec] @property {number} [paramCount]
   *   @property {number} [classes] @property {object} [history] fit's {epochs: [...], stopped}
   *   @property {number[][]} [curve] [[epoch, loss, accuracy]] per batch, smoothed
   *   @property {number} [testAccuracy] on the MNIST test set, when evaluated
   */
  listModels() {
    return run([LIBRARY, CURRENT], 'readonly', (library, current) => {
      const entries = library.index(BY_SCOPE).getAll(IDBKeyRange.only(this.scope));
      const id = current.get(this.scope);
      return () => ({ entries: entries.result.sort((a, b) => a.id - b.id), currentId: id.result ?? null });
    });
  }

  /** @param {number} id @returns {Promise<Uint8Array|undefined>} the bytes of an entry of this scope */
  modelBytes(id) {
    return run([LIBRARY, WEIGHTS], 'readonly', (library, weights) => {
      let entry;
      library.get(id).onsuccess = (e) => { entry = e.target.result; };
      const bytes = weights.get(id);
      return () => (entry?.scope === this.scope ? bytes.result : undefined);
    });
  }

  /**
   * Adds a model to the library, in one transaction with its bytes and, when current, the current pointer.
   * With `keep`, the same transaction then deletes the oldest entries that the user has not named (never the
   * current one) while there are more than `keep` unnamed entries.
   * @param {Uint8Array} bytes @param {Omit<LibraryEntry, 'id'>} meta @param {{current?: boolean, keep?: number}} [o]
   * @returns {Promise<{id: number, removed: string[]}>} the new entry's id, and the names of those deleted
   */
  addModel(bytes, meta, { current = true, keep = Infinity } = {}) {
    return run([LIBRARY, WEIGHTS, CURRENT], 'readwrite', (library, weights, pointer) => {
      const add = putEntry(library.transaction, this.scope, bytes, { createdAt: Date.now(), ...meta }, current);
      const removed = [];
      add.addEventListener('success', () => {
        if (!Number.isFinite(keep)) return;
        pointer.get(this.scope).onsuccess = (e) => {
          const currentId = current ? add.result : e.target.result;
          library.index(BY_SCOPE).getAll(IDBKeyRange.only(this.scope)).onsuccess = (ev) => {
            const unnamed = ev.target.result.filter((m) => !m.named);
            const removable = unnamed.filter((m) => m.id !== currentId).sort((a, b) => a.id - b.id);
            for (const m of removable.slice(0, Math.max(0, unnamed.length - keep))) {
              library.delete(m.id);
              weights.delete(m.id);
              removed.push(m.name);
            }
          };
        };
      });
      return () => ({ id: add.result, removed });
    });
  }

  /** Makes an entry current (null: the site's pretrained model). @param {number|null} id */
  setCurrent(id) {
    return run([CURRENT, LIBRARY], 'readwrite', (current, library) => {
      if (id === null) return current.delete(this.scope);
      library.get(id).onsuccess = (e) => {
        if (e.target.result?.scope !== this.scope) throw new Error(`storage: no model ${id} in this library`);
        current.put(id, this.scope);
      };
      return undefined;
    });
  }

  /**
   * Changes fields of an entry (its name, its test accuracy; never its bytes).
   * @param {number} id @param {Partial<LibraryEntry>} fields
   */
  updateModel(id, fields) {
    return run(LIBRARY, 'readwrite', (library) => {
      library.get(id).onsuccess = (e) => {
        const entry = e.target.result;
        if (entry?.scope === this.scope) library.put({ ...entry, ...fields, id, scope: this.scope });
      };
    });
  }

  /** Deletes an entry and its bytes (not the current one: make another current first). @param {number} id */
  deleteModel(id) {
    return run([LIBRARY, WEIGHTS, CURRENT], 'readwrite', (library, weights, current) => {
      current.get(this.scope).onsuccess = (e) => {
        if (e.target.result === id) return;
        library.get(id).onsuccess = (ev) => {
          if (ev.target.result?.scope !== this.scope) return;
          library.delete(id);
          weights.delete(id);
        };
      };
    });
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
