/**
 * cnn.mjs - the JavaScript API of the CNN core, and the only code that touches the WebAssembly heap.
 *
 * Works the same in a page, a Web Worker and Node:
 *
 *   import { loadCnn } from './cnn.mjs';
 *   const cnn = await loadCnn();                       // SIMD module where supported, else scalar
 *   const train = cnn.datasetFromIdx(imagesIdx, labelsIdx);
 *   const model = cnn.createModel('keras', { seed: 1 });
 *   await model.fit(train, { epochs: 1, onProgress: (p) => console.log(p.loss) });
 *   const { accuracy } = model.evaluate(test);
 *   const bytes = model.save();                        // .safetensors
 *
 * Every failure of the C core becomes a thrown CnnError carrying the core's message. Buffers are copied in and
 * out; no view of the wasm heap escapes this module (the heap may grow and detach views).
 */

const TRAIN_PARAM_FIELDS = [
  ['optimizer', 'i32'], ['lr', 'f32'], ['momentum', 'f32'], ['nesterov', 'i32'], ['beta1', 'f32'],
  ['beta2', 'f32'], ['eps', 'f32'], ['weightDecay', 'f32'], ['decoupledWeightDecay', 'i32'], ['schedule', 'i32'],
  ['warmupSteps', 'i32'], ['stepSize', 'i32'], ['gamma', 'f32'], ['totalSteps', 'i32'], ['minLr', 'f32'],
  ['batchSize', 'i32'], ['augment', 'i32'], ['augShift', 'f32'], ['augRotate', 'f32'], ['augScale', 'f32'],
];
const STEP_STAT_FIELDS = [
  ['steps', 'i32'], ['images', 'i32'], ['loss', 'f32'], ['accuracy', 'f32'], ['lr', 'f32'], ['epoch', 'i32'],
  ['stepInEpoch', 'i32'],
];
const OPTIMIZERS = { sgd: 0, adam: 1 };
const SCHEDULES = { constant: 0, step: 1, exponential: 2, cosine: 3 };

/** An error reported by the C core (or a bad argument caught before calling it). */
export class CnnError extends Error {
  /**
   * @param {string} message what went wrong, for people; a leading "function: " of a core message is moved to
   *   `where`, so that pages and tools can show the message as it is
   * @param {number} status the core's status code (1 invalid, 2 format, 3 memory, 4 diverged, 5 empty)
   * @param {string} [where] the core function or API method that failed (for developers)
   */
  constructor(message, status, where) {
    const m = where === undefined ? /^([A-Za-z][A-Za-z0-9_.]*): (.*)$/s.exec(message) : null;
    super(m ? m[2] : message);
    this.name = 'CnnError';
    this.status = status;
    this.where = m ? m[1] : where ?? '';
  }
}

/** @returns {boolean} whether this JavaScript engine runs WebAssembly SIMD128. */
export function simdSupported() {
  // A module whose one function returns a v128 constant: it only validates where SIMD is supported.
  const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0,
    253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11]);
  try {
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

const isNode = typeof process === 'object' && !!process.versions?.node && typeof window === 'undefined';

/**
 * Loads the module.
 * @param {object} [options]
 * @param {'auto'|'relaxed'|'simd'|'scalar'} [options.variant='auto'] which kernels to load: 'relaxed' the SIMD
 *   build with the fused multiply-add GEMM (relaxed SIMD), 'simd' the SIMD build, 'scalar' the scalar build;
 *   'auto' the first of these that this engine validates
 * @param {string|URL} [options.baseUrl] where the build/ files are (default: ./build/ next to this file)
 * @param {boolean} [options.debug=false] Node only: the SIMD build with assertions and SAFE_HEAP, which stops at
 *   the first out-of-bounds or misaligned heap access (build/debug/ of the repository; slow, for tests)
 * @returns {Promise<Cnn>}
 */
export async function loadCnn({ variant = 'auto', baseUrl, debug = false } = {}) {
  if (!['auto', 'relaxed', 'simd', 'scalar'].includes(variant)) {
    throw new CnnError(`loadCnn: variant '${variant}' (expected auto, relaxed, simd or scalar)`, 1);
  }
  if (debug) return loadDebugBuild();
  const simd = variant === 'simd' || variant === 'relaxed' || (variant === 'auto' && simdSupported());
  if (simd && variant !== 'auto' && !simdSupported()) {
    throw new CnnError('loadCnn: this engine does not support WebAssembly SIMD', 1);
  }
  const name = simd ? 'cnn-simd' : 'cnn-scalar';
  const base = new URL(baseUrl ?? './build/', import.meta.url);
  const glueUrl = new URL(`${name}.mjs`, base);
  const wasmUrl = new URL(`${name}.wasm`, base);
  const { default: factory } = await import(glueUrl.href);
  const moduleOptions = {};
  // The relaxed-SIMD kernel module is fetched alongside the core (it is small) and added once the core runs.
  const relaxedBytes = simd && variant !== 'simd'
    ? readBuildFile(new URL('cnn-wasmrelaxed.wasm', base)).then((bytes) => ({ bytes }), (error) => ({ error })) : null;
  if (isNode) {
    moduleOptions.wasmBinary = await readBuildFile(wasmUrl);
  } else {
    moduleOptions.locateFile = (file) => new URL(file, base).href;
  }
  const m = await factory(moduleOptions);
  const cnn = new Cnn(m, simd ? 'simd' : 'scalar');
  if (relaxedBytes) {
    const why = await addRelaxedKernels(m, relaxedBytes);
    if (!why) cnn.selectKernels('wasmrelaxed');
    else if (variant === 'relaxed') throw new CnnError(`loadCnn: ${why}`, 1);
  }
  return cnn;
}

/** The bytes of a file of the build: read from disk in Node (its fetch cannot read file: URLs), else fetched. */
async function readBuildFile(url) {
  if (isNode) {
    const { readFile } = await import('node:fs/promises');
    return readFile(url);
  }
  const r = await fetch(url, { credentials: 'same-origin' });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/**
 * Adds the wasmrelaxed kernels to a loaded SIMD core (read: {bytes} of cnn-wasmrelaxed.wasm or {error}): the relaxed-SIMD micro-kernel module is instantiated with
 * the core's memory and its function put into the core's function table, so the core calls it wasm to wasm.
 * @returns {Promise<string|null>} null when added, else why not (the engine does not validate relaxed SIMD, ...)
 */
async function addRelaxedKernels(m, read) {
  const { bytes, error } = await read;
  if (error) return `the relaxed-SIMD kernels could not be read (${error.message})`;
  if (!WebAssembly.validate(bytes) && isNode) {
    // Node 20 validates relaxed SIMD only behind a V8 flag, which can be set before a module is compiled.
    try {
      (await import('node:v8')).default.setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch { /* not settable here: the check below says no */ }
  }
  if (!WebAssembly.validate(bytes)) return 'this engine does not validate relaxed SIMD (fused multiply-add)';
  const exports = Object.values(m.asm);
  const memory = exports.find((e) => e instanceof WebAssembly.Memory);
  const table = exports.find((e) => e instanceof WebAssembly.Table);
  const { instance } = await WebAssembly.instantiate(bytes, { env: { memory } });
  const slot = table.grow(1);
  table.set(slot, instance.exports.cnn_gemm_ukernel__wasmrelaxed);
  if (m._cnn_kernels_add_wasmrelaxed(slot) !== 0) return m.UTF8ToString(m._cnn_last_error());
  return null;
}

/** The debug build for Node: a CommonJS module (its glue rejects Node as an ES module when assertions are on). */
async function loadDebugBuild() {
  if (!isNode) throw new CnnError('loadCnn: the debug build runs in Node only', 1);
  const { createRequire } = await import('node:module');
  const { readFile } = await import('node:fs/promises');
  const dir = new URL('../build/debug/', import.meta.url);
  const factory = createRequire(dir)('./cnn-simd.cjs');
  const m = await factory({ wasmBinary: await readFile(new URL('cnn-simd.wasm', dir)) });
  return new Cnn(m, 'simd');
}

/** Lets queued messages and timers run (used between training steps so a worker can be told to stop). */
function yieldToEventLoop() {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => { ch.port1.close(); resolve(); };
      ch.port2.postMessage(0);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function now() {
  return typeof performance === 'object' ? performance.now() : Date.now();
}

/** The loaded module: creates models and data sets. Obtain one with loadCnn(). */
export class Cnn {
  /** @param {object} m the Emscripten module @param {'simd'|'scalar'} build */
  constructor(m, build) {
    this._m = m;
    /** 'simd' or 'scalar': which build is loaded */
    this.build = build;
    if (m._cnn_train_params_size() !== TRAIN_PARAM_FIELDS.length * 4 ||
        m._cnn_step_stats_size() !== STEP_STAT_FIELDS.length * 4) {
      throw new CnnError('loadCnn: the module does not match this cnn.mjs (struct sizes differ); rebuild', 1);
    }
    /**
     * The limits the core enforces on untrusted input (camelCase names of cnn_limit in cnn.h): side,
     * channels, classes, images, batch, layers, params, specChars, drawingSide, headerBytes, fileBytes.
     * Tools check file sizes against fileBytes before reading them.
     * @type {Record<string, number>}
     */
    this.limits = {};
    for (let i = 0; m._cnn_limit_name(i); i++) {
      const p = m._cnn_limit_name(i);
      this.limits[m.UTF8ToString(p).replace(/_([a-z])/g, (_, c) => c.toUpperCase())] = m._cnn_limit(p);
    }
    Object.freeze(this.limits);
  }

  /** @returns {number} bytes of WebAssembly memory this instance holds (it grows and never shrinks) */
  get memoryBytes() {
    return this._m.HEAPU8.buffer.byteLength;
  }

  /** @returns {string} the kernel variant in use ('wasmrelaxed', 'wasmsimd' or 'scalar'). */
  get kernels() {
    return this._m.UTF8ToString(this._m._cnn_kernels_selected());
  }

  /** @returns {string[]} the kernel variants this instance can select (see selectKernels) */
  get kernelVariants() {
    const names = [];
    for (let i = 0, p; (p = this._m._cnn_kernels_name(i)); i++) names.push(this._m.UTF8ToString(p));
    return names;
  }

  /** @returns {'relaxed'|'simd'|'scalar'} the loadCnn variant that gives this instance's build and kernels */
  get variant() {
    if (this.build === 'scalar') return 'scalar';
    return this.kernels === 'wasmrelaxed' ? 'relaxed' : 'simd';
  }

  /**
   * Selects a kernel variant of this instance: 'scalar' (the reference), 'wasmsimd' (SIMD build), 'wasmrelaxed'
   * (SIMD build where the engine validates relaxed SIMD). Global to the instance. @param {string} name
   */
  selectKernels(name) {
    this._withString(name, 'selectKernels', (p) => this._check(this._m._cnn_kernels_select(p)));
  }

  /** @param {string} name 'keras', 'pytorch', 'mlp' or 'resnet' @returns {string|null} the preset's spec text */
  presetSpec(name) {
    return this._withString(name, 'presetSpec', (p) => {
      const s = this._m._cnn_preset_spec(p);
      return s ? this._m.UTF8ToString(s) : null;
    });
  }

  /** @returns {string[]} the names of the presets, as the core lists them */
  presets() {
    const m = this._m;
    return Array.from({ length: m._cnn_preset_count() }, (_, i) => m.UTF8ToString(m._cnn_preset_name(i)));
  }

  /**
   * The layer kinds of the core, for editors: their spec keywords and roles.
   * @returns {{name: string, role: 'layer'|'activation'|'internal'}[]} internal kinds are added by the parser
   *   (add ends a residual block; softmax)
   */
  layerKinds() {
    const m = this._m, roles = ['layer', 'activation', 'internal'];
    return Array.from({ length: m._cnn_layer_kind_count() }, (_, i) => ({
      name: m.UTF8ToString(m._cnn_layer_kind_name(i)), role: roles[m._cnn_layer_kind_role(i)],
    }));
  }

  /**
   * Checks a spec without building the model (no memory for weights or activations is reserved, so any text
   * can be checked cheaply, e.g. while it is typed).
   * @param {string} spec spec text or a preset name
   * @returns {{spec: string, inputShape: number[], classes: number, paramCount: number, flopsPerImage: number,
   *   layers: {name: string, kind: string, outputShape: number[], params: number, flops: number,
   *   inputs: number[]}[]}} spec is the canonical text; inputs are layer indices (-1: the model's input)
   * @throws {CnnError} with the core's message naming the bad layer
   */
  checkSpec(spec) {
    const ptr = this._withString(spec, 'checkSpec', (p, n) => this._out((out) => this._m._cnn_spec_check(out, p, n)), { sized: true });
    try {
      return describeModel(this._m, ptr);
    } finally {
      this._m._cnn_model_free(ptr);
    }
  }

  /**
   * Creates a model from a preset name or a spec text.
   * @param {string} spec e.g. 'keras' or 'conv2d 8 3x3 relu; maxpool 2; dense 10'
   * @param {object} [options]
   * @param {number} [options.seed=1] seed of the model's generator (init, shuffling, dropout, augmentation)
   * @param {number} [options.maxBatch=128] the largest training batch; predictions of more images are chunked
   * @returns {Model}
   */
  createModel(spec, { seed = 1, maxBatch = 128 } = {}) {
    checkInt('createModel: seed', seed, 0, 0xffffffff);
    checkInt('createModel: maxBatch', maxBatch, 1, this.limits.batch);
    const ptr = this._withString(spec, 'createModel: spec', (p, n) =>
      this._out((out) => this._m._cnn_model_create_n(out, p, n, seed >>> 0, maxBatch)), { sized: true });
    return new Model(this, ptr);
  }

  /**
   * Creates a model from a .safetensors file written by Model.save() (architecture from its metadata).
   * @param {Uint8Array|ArrayBuffer} bytes @param {{maxBatch?: number}} [options] @returns {Model}
   */
  loadModel(bytes, { maxBatch = 128 } = {}) {
    checkInt('loadModel: maxBatch', maxBatch, 1, this.limits.batch);
    const ptr = this._withBytes(this._fileBytes(bytes, 'loadModel'), 'loadModel',
      (p, n) => this._out((out) => this._m._cnn_model_load(out, p, n, maxBatch)));
    return new Model(this, ptr);
  }

  /**
   * Builds a data set from two uncompressed IDX files (images (N,H,W) or (N,H,W,C) and labels (N)).
   * Use gunzipIfNeeded() from data.mjs first for .gz files.
   * @param {Uint8Array} images @param {Uint8Array} labels @returns {Dataset}
   */
  datasetFromIdx(images, labels) {
    const im = this._fileBytes(images, 'datasetFromIdx: images');
    const lb = this._fileBytes(labels, 'datasetFromIdx: labels');
    const ptr = this._withBytes(im, 'datasetFromIdx', (pi, ni) => this._withBytes(lb, 'datasetFromIdx', (pl, nl) =>
      this._out((out) => this._m._cnn_dataset_from_idx(out, pi, ni, pl, nl))));
    return new Dataset(this, ptr);
  }

  /**
   * Builds a data set from arrays: images (n, height, width, channels) uint8, labels (n) < classes.
   * @param {Uint8Array} images @param {Uint8Array} labels
   * @param {{height: number, width: number, channels?: number, classes: number}} shape
   * @returns {Dataset}
   */
  datasetFromArrays(images, labels, { height, width, channels = 1, classes } = {}) {
    const L = this.limits;
    checkBytes('datasetFromArrays: images', images);
    checkBytes('datasetFromArrays: labels', labels);
    checkInt('datasetFromArrays: height', height, 1, L.side);
    checkInt('datasetFromArrays: width', width, 1, L.side);
    checkInt('datasetFromArrays: channels', channels, 1, L.channels);
    checkInt('datasetFromArrays: classes', classes, 2, L.classes);
    const n = labels.length;
    checkInt('datasetFromArrays: image count (labels.length)', n, 1, L.images);
    if (images.length !== n * height * width * channels) {
      throw new CnnError(`datasetFromArrays: ${images.length} pixels for ${n} images of ${height}x${width}x${channels} ` +
        `(expected ${n * height * width * channels})`, 1);
    }
    const ptr = this._withBytes(images, 'datasetFromArrays', (pi) => this._withBytes(labels, 'datasetFromArrays', (pl) =>
      this._out((out) => this._m._cnn_dataset_from_arrays(out, pi, pl, n, height, width, channels, classes))));
    return new Dataset(this, ptr);
  }

  /**
   * The MNIST recipe for a drawing: ink bounding box, scale to 20 px, centre of mass at (14, 14).
   * @param {Uint8Array} gray (height, width) intensities @param {number} width @param {number} height
   * @param {{invert?: boolean}} [options] invert: dark ink on a light background
   * @returns {Float32Array} (28, 28) in [0, 1]; throws CnnError (status 5) for an empty drawing
   */
  preprocessDigit(gray, width, height, { invert = false } = {}) {
    checkBytes('preprocessDigit: gray', gray);
    checkInt('preprocessDigit: width', width, 1, this.limits.drawingSide);
    checkInt('preprocessDigit: height', height, 1, this.limits.drawingSide);
    if (gray.length !== width * height) {
      throw new CnnError(`preprocessDigit: ${gray.length} pixels for a ${width}x${height} image`, 1);
    }
    return this._withBytes(gray, 'preprocessDigit', (p) => this._withBuffer(28 * 28 * 4, 'preprocessDigit', (out) => {
      this._check(this._m._cnn_preprocess_digit(out, p, width, height, invert ? 1 : 0));
      return this._m.HEAPF32.slice(out >> 2, (out >> 2) + 28 * 28);
    }));
  }

  /**
   * Per-class precision, recall and F1 from a confusion matrix.
   * @param {number[][]} confusion (k, k) counts, rows = true class, columns = predicted class
   * @returns {{precision: number[], recall: number[], f1: number[], macroPrecision: number, macroRecall: number, macroF1: number}}
   */
  metricsFromConfusion(confusion) {
    const what = 'metricsFromConfusion';
    if (!Array.isArray(confusion)) throw new CnnError(`${what}: expected an array of rows`, 1);
    const k = confusion.length;
    checkInt(`${what}: class count`, k, 1, this.limits.classes);
    const flat = new Int32Array(k * k);
    confusion.forEach((row, i) => {
      if (!(Array.isArray(row) || ArrayBuffer.isView(row)) || row.length !== k) {
        throw new CnnError(`${what}: row ${i} has ${plural(row?.length ?? 0, 'entry', 'entries')} (expected ${k}: the matrix must be square)`, 1);
      }
      for (let j = 0; j < k; j++) {
        checkInt(`${what}: count [${i}][${j}]`, row[j], 0, 0x7fffffff);
        flat[i * k + j] = row[j];
      }
    });
    const m = this._m;
    return this._withBuffer(k * k * 4, what, (conf) => this._withBuffer(3 * k * 4 + 12, what, (out) => {
      m.HEAP32.set(flat, conf >> 2);
      this._check(m._cnn_metrics_from_confusion(out, out + 4 * k, out + 8 * k, conf, k, out + 12 * k,
        out + 12 * k + 4, out + 12 * k + 8));
      const f = m.HEAPF32.slice(out >> 2, (out >> 2) + 3 * k + 3);
      return {
        precision: Array.from(f.subarray(0, k)), recall: Array.from(f.subarray(k, 2 * k)),
        f1: Array.from(f.subarray(2 * k, 3 * k)), macroPrecision: f[3 * k], macroRecall: f[3 * k + 1], macroF1: f[3 * k + 2],
      };
    }));
  }

  // ---- internals: the heap boundary ----

  /** Throws the core's last error when status is non-zero. */
  _check(status) {
    if (status !== 0) throw new CnnError(this._m.UTF8ToString(this._m._cnn_last_error()), status);
  }

  /** Allocates bytes on the wasm heap or throws (a full heap returns 0, which must never be written to). */
  _alloc(bytes, what) {
    const p = bytes <= 0x7fffffff ? this._m._malloc(Math.max(1, bytes)) : 0;
    if (!p) throw new CnnError(`${what}: out of memory for ${bytes.toLocaleString('en-US')} bytes`, 3);
    return p;
  }

  /** Calls fn(ptr) with a scratch heap buffer of `bytes` bytes, freed afterwards. */
  _withBuffer(bytes, what, fn) {
    const p = this._alloc(bytes, what);
    try {
      return fn(p);
    } finally {
      this._m._free(p);
    }
  }

  /** Calls fn(outPtr) for a C function returning a handle through an out-pointer; returns the handle. */
  _out(fn) {
    return this._withBuffer(4, 'out-pointer', (out) => {
      this._check(fn(out));
      return this._m.HEAP32[out >> 2];
    });
  }

  /**
   * Copies a string into the heap (UTF-8, NUL-terminated) for the duration of fn(ptr, byteLength). A C function
   * that reads a NUL-terminated string would see it end at a NUL, so a string containing one is refused, unless
   * sized (the C function takes byteLength and judges the text itself). Over-long strings are refused before
   * anything is allocated.
   */
  _withString(s, what, fn, { sized = false } = {}) {
    if (typeof s !== 'string') throw new CnnError(`${what}: expected a string, got ${describe(s)}`, 1);
    const nul = sized ? -1 : s.indexOf('\0');
    if (nul >= 0) throw new CnnError(`${what}: the text contains a NUL character (\\0) at position ${nul}`, 1);
    if (s.length > this.limits.specChars) {
      throw new CnnError(`${what}: ${s.length.toLocaleString('en-US')} characters (expected at most ${this.limits.specChars})`, 1);
    }
    const n = this._m.lengthBytesUTF8(s) + 1;
    return this._withBuffer(n, what, (p) => {
      this._m.stringToUTF8(s, p, n);
      return fn(p, n - 1);
    });
  }

  /** Copies bytes into the heap for the duration of fn(ptr, length). */
  _withBytes(bytes, what, fn) {
    return this._withBuffer(bytes.length, what, (p) => {
      this._m.HEAPU8.set(bytes, p);
      return fn(p, bytes.length);
    });
  }

  /** The bytes of a file as a Uint8Array, refused when larger than the core's file limit. */
  _fileBytes(b, what) {
    const bytes = toBytes(b, what);
    if (bytes.length > this.limits.fileBytes) {
      throw new CnnError(`${what}: ${bytes.length.toLocaleString('en-US')} bytes (expected at most ` +
        `${this.limits.fileBytes.toLocaleString('en-US')})`, 1);
    }
    return bytes;
  }

  /** Checks that obj is a live object of this module instance (models and data sets hold pointers into it). */
  _own(obj, Class, what) {
    const noun = Class === Dataset ? 'data set' : 'model';
    if (!(obj instanceof Class)) throw new CnnError(`${what}: expected a ${Class.name}, got ${describe(obj)}`, 1);
    if (obj._cnn !== this) {
      throw new CnnError(`${what}: the ${noun} belongs to another module instance (each loadCnn() has its own ` +
        'memory; create it with this one)', 1);
    }
    if (!obj._ptr) throw new CnnError(`${what}: the ${noun} has been freed`, 1);
    return obj._ptr;
  }
}

/** "1 entry", "2 entries". */
function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

/** A short description of a value for messages: its type or class. */
function describe(v) {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return v.constructor?.name ?? 'an object';
}

/** Bytes of a file: Uint8Array (Node Buffers are ones) or ArrayBuffer; other views would be reinterpreted. */

/** A plain description of a model (or a checked spec) from the core: spec, shapes, counts, layer graph. */
function describeModel(m, p) {
  const layers = [];
  for (let i = 0; i < m._cnn_model_layer_count(p); i++) {
    const inputs = [m._cnn_model_layer_input(p, i, 0), m._cnn_model_layer_input(p, i, 1)].filter((j) => j >= -1);
    layers.push({
      name: m.UTF8ToString(m._cnn_model_layer_name(p, i)), kind: m.UTF8ToString(m._cnn_model_layer_kind(p, i)),
      outputShape: [m._cnn_model_layer_out_height(p, i), m._cnn_model_layer_out_width(p, i), m._cnn_model_layer_out_channels(p, i)],
      params: m._cnn_model_layer_param_count(p, i), flops: m._cnn_model_layer_flops(p, i), inputs,
    });
  }
  return {
    spec: m.UTF8ToString(m._cnn_model_spec(p)), classes: m._cnn_model_classes(p),
    inputShape: [m._cnn_model_input_height(p), m._cnn_model_input_width(p), m._cnn_model_input_channels(p)],
    paramCount: m._cnn_model_param_count(p), flopsPerImage: m._cnn_model_flops_per_image(p), layers,
  };
}

function toBytes(b, what) {
  if (b instanceof Uint8Array) return b;
  if (b instanceof ArrayBuffer) return new Uint8Array(b);
  throw new CnnError(`${what}: expected bytes (a Uint8Array or an ArrayBuffer), got ${describe(b)}`, 1);
}

/** Pixels or labels must be bytes: a Float32Array of pixels would otherwise be copied as its raw bytes. */
function checkBytes(what, a) {
  if (!(a instanceof Uint8Array || a instanceof Uint8ClampedArray)) {
    throw new CnnError(`${what}: expected a Uint8Array of values 0..255, got ${describe(a)}`, 1);
  }
}

function checkInt(what, v, lo, hi) {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new CnnError(`${what} ${v} (expected an integer in ${lo}..${hi})`, 1);
}

function checkNumber(what, v, lo, hi) {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) {
    throw new CnnError(`${what} ${v} (expected a number in ${lo}..${hi})`, 1);
  }
}

const INT32_MAX = 0x7fffffff;

/**
 * Objects that hold a pointer into the module's heap. While pinned (by a running fit()) they cannot be freed:
 * the trainer reads them between its steps.
 */
class HeapObject {
  constructor(cnn, ptr) {
    this._cnn = cnn;
    this._ptr = ptr;
    this._pins = 0;
  }

  _pin() { this._pins++; }
  _unpin() { this._pins--; }

  /** @returns {boolean} whether free() has been called */
  get freed() { return !this._ptr; }

  _free(what, release) {
    if (this._pins > 0) throw new CnnError(`free: the ${what} is in use by a running fit(); stop training first`, 1);
    if (this._ptr) release(this._ptr);
    this._ptr = 0;
  }
}

/** A data set held by the core (uint8 images and labels). */
export class Dataset extends HeapObject {
  constructor(cnn, ptr) {
    super(cnn, ptr);
    const m = cnn._m;
    /** image count */ this.count = m._cnn_dataset_count(ptr);
    this.height = m._cnn_dataset_height(ptr);
    this.width = m._cnn_dataset_width(ptr);
    this.channels = m._cnn_dataset_channels(ptr);
    /** max(label) + 1 */ this.classes = m._cnn_dataset_classes(ptr);
  }

  /** @returns {Uint8Array} a copy of the labels (count) */
  labels() {
    const m = this._cnn._m;
    const p = m._cnn_dataset_labels(this._cnn._own(this, Dataset, 'labels'));
    return m.HEAPU8.slice(p, p + this.count);
  }

  /** @param {number} first @param {number} [count=1] @returns {Uint8Array} a copy of images [first, first+count) */
  images(first, count = 1) {
    const ptr = this._cnn._own(this, Dataset, 'images');
    checkInt('images: first', first, 0, this.count - 1);
    checkInt('images: count', count, 1, this.count - first);
    const m = this._cnn._m;
    const size = this.height * this.width * this.channels;
    const p = m._cnn_dataset_images(ptr) + first * size;
    return m.HEAPU8.slice(p, p + count * size);
  }

  /** Releases the core's memory; the data set cannot be used afterwards. Throws while a fit() uses it. */
  free() {
    this._free('data set', (p) => this._cnn._m._cnn_dataset_free(p));
  }
}

/** A model held by the core. Create with Cnn.createModel or Cnn.loadModel. */
export class Model extends HeapObject {
  constructor(cnn, ptr) {
    super(cnn, ptr);
    this._training = false;
  }

  get _m() {
    if (!this._ptr) throw new CnnError('the model has been freed', 1);
    return this._cnn._m;
  }

  /** @returns {string} canonical spec text, one layer per line */
  get spec() { return this._m.UTF8ToString(this._m._cnn_model_spec(this._ptr)); }
  /** @returns {number[]} [height, width, channels] */
  get inputShape() {
    const m = this._m;
    return [m._cnn_model_input_height(this._ptr), m._cnn_model_input_width(this._ptr), m._cnn_model_input_channels(this._ptr)];
  }
  /** @returns {number} class count */
  get classes() { return this._m._cnn_model_classes(this._ptr); }
  /** @returns {number} parameter count */
  get paramCount() { return this._m._cnn_model_param_count(this._ptr); }
  /** @returns {number} largest batch */
  get maxBatch() { return this._m._cnn_model_max_batch(this._ptr); }

  /** @returns {number} floating-point operations of one image's forward pass */
  get flopsPerImage() { return this._m._cnn_model_flops_per_image(this._ptr); }

  /**
   * @returns {{name: string, kind: string, outputShape: number[], params: number, flops: number,
   *   inputs: number[], frozen: boolean}[]} inputs: indices of the layers it reads (-1: the model's input)
   */
  get layers() {
    const m = this._m, p = this._ptr;
    return describeModel(m, p).layers.map((l) => ({
      ...l, frozen: l.params > 0 && this._cnn._withString(l.name, 'layers', (s) => m._cnn_model_is_frozen(p, s)) === 1,
    }));
  }

  /** @returns {string[]} the model's tensors as weight files name them ('conv1.weight', 'bn1.running_mean', ...) */
  tensorNames() {
    const m = this._m, cnn = this._cnn;
    return cnn._withBuffer(256, 'tensorNames', (buf) => Array.from({ length: m._cnn_model_tensor_count(this._ptr) }, (_, i) => {
      cnn._check(m._cnn_model_tensor_name(this._ptr, i, buf, 256));
      return m.UTF8ToString(buf);
    }));
  }

  /**
   * One tensor by name, in PyTorch layout (conv weights (out, in, kh, kw), ...), copied out.
   * @param {string} name e.g. 'conv1.weight' @returns {{shape: number[], data: Float32Array}}
   */
  tensor(name) { return this._readTensor(name, 0, 'tensor'); }

  /**
   * The gradient of a trained tensor from the last training step (mean over that step's batch), PyTorch
   * layout; zero for a frozen layer. @param {string} name @returns {{shape: number[], data: Float32Array}}
   */
  gradient(name) { return this._readTensor(name, 1, 'gradient'); }

  _readTensor(name, gradient, what) {
    const m = this._m, cnn = this._cnn;
    return cnn._withString(name, what, (s) => cnn._withBuffer(20, what, (info) => {
      cnn._check(m._cnn_model_tensor_shape(this._ptr, s, info, info + 4));
      const shape = Array.from(m.HEAP32.subarray((info >> 2) + 1, (info >> 2) + 1 + m.HEAP32[info >> 2]));
      const count = shape.reduce((a, b) => a * b, 1);
      return cnn._withBuffer(count * 4, what, (out) => {
        cnn._check(m._cnn_model_tensor_read(this._ptr, s, gradient, out, count));
        return { shape, data: m.HEAPF32.slice(out >> 2, (out >> 2) + count) };
      });
    }));
  }

  /**
   * Saliency: the gradient of a class's score (its logit, before the softmax) with respect to each pixel of
   * one image, in inference mode. Parameter gradients are not touched.
   * @param {Float32Array} x (H, W, C) values in [0, 1] @param {number} classIndex 0..classes-1
   * @returns {Float32Array} (H, W, C)
   */
  inputGradient(x, classIndex) {
    const m = this._m, cnn = this._cnn;
    const size = this.inputShape.reduce((a, b) => a * b);
    if (!(x instanceof Float32Array) || x.length !== size) {
      throw new CnnError(`inputGradient: expected a Float32Array of ${size} values (one image), got ${describe(x)}` +
        `${x?.length !== undefined ? ` of ${x.length}` : ''}`, 1);
    }
    checkInt('inputGradient: classIndex', classIndex, 0, this.classes - 1);
    return cnn._withBuffer(size * 4, 'inputGradient', (px) => cnn._withBuffer(size * 4, 'inputGradient', (pg) => {
      m.HEAPF32.set(x, px >> 2);
      cnn._check(m._cnn_model_input_gradient(this._ptr, pg, px, classIndex));
      return m.HEAPF32.slice(pg >> 2, (pg >> 2) + size);
    }));
  }

  /** @returns {Float32Array} a copy of all parameters (internal layout, for inspection and tests) */
  params() {
    const m = this._m;
    const p = m._cnn_model_params(this._ptr) >> 2;
    return m.HEAPF32.slice(p, p + this.paramCount);
  }

  /**
   * Freezes (or unfreezes) parameter layers by name: their weights do not change in training.
   * @param {string|string[]} names e.g. 'conv1' or ['conv1', 'conv2'] @param {boolean} [frozen=true]
   */
  freeze(names, frozen = true) {
    this._notTraining('freeze');
    for (const name of [].concat(names)) {
      this._cnn._withString(name, 'freeze', (s) => this._cnn._check(this._m._cnn_model_set_frozen(this._ptr, s, frozen ? 1 : 0)));
    }
  }

  /**
   * Class probabilities for n images. Allowed while fit() runs (between two of its steps).
   * @param {Float32Array} x (n, H, W, C) values in [0, 1] @returns {Float32Array} (n, classes)
   */
  predict(x) {
    const m = this._m;
    const size = this.inputShape.reduce((a, b) => a * b);
    if (!(x instanceof Float32Array) || x.length === 0 || x.length % size !== 0) {
      throw new CnnError(`predict: expected a Float32Array of n x ${size} values, got ${describe(x)}` +
        `${x?.length !== undefined ? ` of ${x.length}` : ''}`, 1);
    }
    const n = x.length / size, k = this.classes;
    const cnn = this._cnn;
    return cnn._withBuffer(x.length * 4, 'predict', (px) => cnn._withBuffer(n * k * 4, 'predict', (pp) => {
      m.HEAPF32.set(x, px >> 2);
      cnn._check(m._cnn_model_predict(this._ptr, pp, px, n));
      return m.HEAPF32.slice(pp >> 2, (pp >> 2) + n * k);
    }));
  }

  /**
   * The output of a layer for the last image of the last predict() call (feature maps).
   * @param {number} layer index into layers @returns {Float32Array} (H, W, C)
   */
  layerOutput(layer) {
    const layers = this.layers;
    checkInt('layerOutput: layer', layer, 0, layers.length - 1);
    const size = layers[layer].outputShape.reduce((a, b) => a * b);
    const m = this._m;
    return this._cnn._withBuffer(size * 4, 'layerOutput', (p) => {
      this._cnn._check(m._cnn_model_layer_output(this._ptr, p, layer));
      return m.HEAPF32.slice(p >> 2, (p >> 2) + size);
    });
  }

  /**
   * Per-layer profiling, for benchmarks: while on, each layer's forward pass, backward pass and optimizer update
   * add their wall time to its counters (off, it costs nothing measurable). Turning it on zeroes the counters.
   * @param {boolean} on
   */
  setProfiling(on) {
    this._cnn._check(this._m._cnn_model_set_profiling(this._ptr, on ? 1 : 0));
  }

  /**
   * The counters of setProfiling: milliseconds per layer since profiling was turned on (all steps together).
   * @returns {{name: string, kind: string, forwardMs: number, backwardMs: number, updateMs: number}[]}
   */
  profile() {
    const m = this._m, p = this._ptr;
    return describeModel(m, p).layers.map((l, i) => ({
      name: l.name, kind: l.kind, forwardMs: m._cnn_model_profile_ms(p, i, 0), backwardMs: m._cnn_model_profile_ms(p, i, 1),
      updateMs: m._cnn_model_profile_ms(p, i, 2),
    }));
  }

  /**
   * Trains the model. While it runs, the model and the data set are pinned: free() on either throws, and so do
   * fit(), loadWeights() and freeze() on this model; predict() and evaluate() may be called between steps.
   * @param {Dataset} data training images (the last validationSplit fraction is held out for validation)
   * @param {object} [o]
   * @param {number} [o.epochs=1]
   * @param {number} [o.batchSize=32] at most the model's maxBatch
   * @param {'adam'|'sgd'} [o.optimizer='adam']
   * @param {number} [o.lr=0.002] (0.05 for sgd) @param {number} [o.momentum=0.9] SGD @param {boolean} [o.nesterov=false] SGD
   * @param {number} [o.beta1=0.9] @param {number} [o.beta2=0.999] @param {number} [o.eps=1e-8] Adam
   * @param {number} [o.weightDecay=0] @param {boolean} [o.decoupledWeightDecay=false] AdamW-style decay
   * @param {'constant'|'step'|'exponential'|'cosine'} [o.schedule='cosine'] cosine decays to minLr over the run
   * @param {number} [o.warmupSteps=0] @param {number} [o.stepSize] STEP schedule (default: one epoch)
   * @param {number} [o.gamma=0.5] STEP/EXPONENTIAL factor @param {number} [o.minLr=0] COSINE floor
   * @param {number} [o.validationSplit=0] fraction in [0, 0.9] held out at the end of data
   * @param {number} [o.limit] use only the first `limit` images of data
   * @param {boolean} [o.augment=false] random shifts, rotations and scaling
   * @param {{data: Dataset, first?: number, count?: number, perEpoch?: number, ratio?: number}} [o.replay]
   *   images of another data set mixed into every epoch (e.g. MNIST while fine-tuning on a few drawings, so that
   *   the model does not forget it): perEpoch of them, or a fraction `ratio` (0..0.95) of each epoch's images,
   *   drawn afresh each epoch; nothing is copied
   * @param {Record<string, number>} [o.lrMult] learning-rate multiplier per parameter layer, e.g. {conv1: 0.1}
   * @param {{patience?: number, minDelta?: number}} [o.earlyStopping] with a validation split: stop when the
   *   validation loss has not improved by minDelta (0) for `patience` (2) epochs, and keep the best epoch's weights
   * @param {(p: object) => (void|Promise<void>)} [o.onProgress] after every few steps: {epoch, epochs, step,
   *   stepsPerEpoch, loss, accuracy, lr, imagesPerSecond, etaSeconds}; may return a promise to pause training
   * @param {(e: object) => (void|Promise<void>)} [o.onEpoch] after each epoch: {epoch, loss, accuracy, valLoss,
   *   valAccuracy, seconds}
   * @param {AbortSignal} [o.signal] stops training between two steps (the model stays consistent)
   * @param {number} [o.progressIntervalMs=100] how often onProgress is called
   * @param {{ranks: number, begin(args: object): Promise<void>, step(trainer: Trainer): Promise<object>,
   *   end(): Promise<void>}} [o.replicas] data-parallel training (parallel.mjs): this model is replica 0
   * @returns {Promise<{epochs: object[], stopped: boolean, bestEpoch?: number, earlyStopped?: boolean}>} when a
   *   step diverges, the promise rejects with a CnnError of status 4 whose `history` holds the epochs completed
   *   and `stepsDone` the steps applied; the model keeps its last good weights
   */
  async fit(data, o = {}) {
    this._notTraining('fit');
    const epochs = o.epochs ?? 1;
    checkInt('fit: epochs', epochs, 1, 10000);
    const interval = o.progressIntervalMs ?? 100;
    checkNumber('fit: progressIntervalMs', interval, 0, 3.6e6);
    const stop = o.earlyStopping ? { patience: o.earlyStopping.patience ?? 2, minDelta: o.earlyStopping.minDelta ?? 0 } : null;
    if (stop) {
      checkInt('fit: earlyStopping.patience', stop.patience, 1, 1000);
      checkNumber('fit: earlyStopping.minDelta', stop.minDelta, 0, 1e6);
      if (!(o.validationSplit > 0)) throw new CnnError('fit: earlyStopping needs a validationSplit above 0 (it watches the validation loss)', 1);
    }
    const replicas = o.replicas?.ranks > 1 ? o.replicas : null;
    // replicas are reseeded alike before their trainers draw from the generator (shuffle order, dropout streams)
    const seed = replicas ? this.drawSeed() : 0;
    if (replicas) this.reseed(seed);
    const trainer = this.trainer(data, { ...o, rank: 0, ranks: replicas?.ranks ?? 1, epochs });
    const { nTrain, nVal } = trainer;
    const history = { epochs: [], stopped: false };
    let stepsDone = 0, best = null;
    try {
      if (replicas) await replicas.begin({ ...trainer.replicaArgs(), seed, modelBytes: this.save(), maxBatch: this.maxBatch });
      const step = replicas ? () => replicas.step(trainer) : () => trainer.step();
      const stepsPerEpoch = trainer.stepsPerEpoch;
      const start = now();
      let imagesDone = 0;
      const imagesTotal = epochs * trainer.epochImages;
      for (let epoch = 0; epoch < epochs && !history.stopped; epoch++) {
        const epochStart = now();
        let lossSum = 0, correct = 0, seen = 0, done = 0;
        while (done < stepsPerEpoch) {
          if (o.signal?.aborted) { history.stopped = true; break; }
          // Run steps for about `interval` ms, then report and let the event loop breathe.
          const chunkStart = now();
          let chunkLoss = 0, chunkCorrect = 0, chunkImages = 0, lr = 0;
          do {
            let s;
            try {
              s = await step();
            } catch (e) {
              if (e instanceof CnnError) Object.assign(e, { history, stepsDone });
              throw e;
            }
            chunkLoss += s.loss * s.images;
            chunkCorrect += s.accuracy * s.images;
            chunkImages += s.images;
            lr = s.lr;
            done++;
            stepsDone++;
          } while (done < stepsPerEpoch && now() - chunkStart < interval);
          lossSum += chunkLoss;
          correct += chunkCorrect;
          seen += chunkImages;
          imagesDone += chunkImages;
          const elapsed = (now() - start) / 1000;
          const rate = imagesDone / Math.max(elapsed, 1e-9);
          if (o.onProgress) {
            await o.onProgress({
              epoch: epoch + 1, epochs, step: done, stepsPerEpoch, loss: chunkLoss / chunkImages,
              accuracy: chunkCorrect / chunkImages, lr, imagesPerSecond: rate,
              etaSeconds: (imagesTotal - imagesDone) / rate, imagesDone, imagesTotal,
            });
          }
          await yieldToEventLoop();
        }
        if (seen === 0) break;
        const record = { epoch: epoch + 1, loss: lossSum / seen, accuracy: correct / seen, seconds: (now() - epochStart) / 1000, steps: done };
        if (nVal > 0) {
          const v = this.evaluate(data, { first: nTrain, count: nVal });
          record.valLoss = v.loss;
          record.valAccuracy = v.accuracy;
        }
        record.complete = done === stepsPerEpoch;
        history.epochs.push(record);
        if (o.onEpoch) await o.onEpoch(record);
        if (stop && record.complete) {
          if (!best || record.valLoss < best.valLoss - stop.minDelta) best = { epoch: record.epoch, valLoss: record.valLoss, bytes: this.save() };
          else if (record.epoch - best.epoch >= stop.patience) {
            history.earlyStopped = true;
            break;
          }
        }
      }
      return history;
    } finally {
      trainer.free();
      if (replicas) await replicas.end().catch(() => {});
      if (best) {
        // the best epoch's weights, also when a later epoch diverged or the run was stopped
        history.bestEpoch = best.epoch;
        if (best.epoch !== history.epochs.at(-1)?.epoch) this.loadWeights(best.bytes);
      }
    }
  }

  /**
   * The low-level trainer behind fit(), for data-parallel training: every replica of a model (same spec, same
   * weights, reseeded alike) makes one with the same data and options and its own rank; per step each computes
   * its shard's gradients, the gradients are summed in rank order, and each applies the sum. While it exists the
   * model and the data set are pinned. Free it with free().
   * @param {Dataset} data @param {object} o fit's options, and rank (0), ranks (1)
   * @returns {Trainer}
   */
  trainer(data, o = {}) {
    return new Trainer(this, data, o);
  }

  /**
   * Reseeds the model's generator (shuffling, dropout and augmentation of the next fit); a model loaded from a
   * file starts from seed 0. @param {number} seed 0..2^32-1
   */
  reseed(seed) {
    checkInt('reseed: seed', seed, 0, 0xffffffff);
    this._notTraining('reseed');
    this._m._cnn_model_reseed(this._ptr, seed >>> 0);
  }

  /** A seed drawn from the model's own generator (deterministic for a given seed and history). @returns {number} */
  drawSeed() {
    return this._m._cnn_model_draw_seed(this._ptr) >>> 0;
  }

  /**
   * Evaluates on images [first, first + count) of data.
   * @param {Dataset} data @param {{first?: number, count?: number, details?: boolean}} [o] details: also
   *   per-image predictions and confidences
   * @returns {{loss: number, accuracy: number, count: number, confusion: number[][], precision: number[],
   *   recall: number[], f1: number[], macroPrecision: number, macroRecall: number, macroF1: number,
   *   predicted?: Int32Array, confidence?: Float32Array}}
   */
  evaluate(data, { first = 0, count, details = false } = {}) {
    const m = this._m, cnn = this._cnn;
    const dataPtr = cnn._own(data, Dataset, 'evaluate: data');
    checkInt('evaluate: first', first, 0, data.count - 1);
    const n = count ?? data.count - first;
    checkInt('evaluate: count', n, 1, data.count - first);
    const k = this.classes;
    return cnn._withBuffer(k * k * 4, 'evaluate', (conf) => cnn._withBuffer(8, 'evaluate', (out) =>
      cnn._withBuffer(details ? n * 4 : 0, 'evaluate', (pred) => cnn._withBuffer(details ? n * 4 : 0, 'evaluate', (confid) => {
        cnn._check(m._cnn_evaluate(this._ptr, dataPtr, first, n, conf, details ? pred : 0, details ? confid : 0, out, out + 4));
        const c = m.HEAP32.slice(conf >> 2, (conf >> 2) + k * k);
        const confusion = [];
        for (let i = 0; i < k; i++) confusion.push(Array.from(c.subarray(i * k, i * k + k)));
        const result = { loss: m.HEAPF32[out >> 2], accuracy: m.HEAPF32[(out >> 2) + 1], count: n, confusion };
        if (details) {
          result.predicted = m.HEAP32.slice(pred >> 2, (pred >> 2) + n);
          result.confidence = m.HEAPF32.slice(confid >> 2, (confid >> 2) + n);
        }
        return { ...result, ...cnn.metricsFromConfusion(confusion) };
      }))));
  }

  /** @returns {Uint8Array} the model as a .safetensors file (PyTorch names and layouts, spec in metadata) */
  save() {
    const m = this._m;
    return this._cnn._withBuffer(8, 'save', (out) => {
      this._cnn._check(m._cnn_model_save(this._ptr, out, out + 4));
      const p = m.HEAP32[out >> 2] >>> 0;
      const n = m.HEAP32[(out >> 2) + 1] >>> 0;
      const bytes = m.HEAPU8.slice(p, p + n);
      m._cnn_free(p);
      return bytes;
    });
  }

  /**
   * Loads weights from a .safetensors file into this model (for fine-tuning).
   * @param {Uint8Array|ArrayBuffer} bytes
   * @param {{strict?: boolean, except?: string|string[]}} [o] strict (default): the file must hold exactly this
   *   model's tensors; otherwise tensors matching by name and shape are loaded and the rest ignored. except:
   *   parameter layers left as they are (a new head): their tensors are neither needed nor loaded, whatever their
   *   shape in the file; everything else is loaded strictly
   * @returns {number} tensors loaded
   */
  loadWeights(bytes, { strict = true, except } = {}) {
    this._notTraining('loadWeights');
    const m = this._m, cnn = this._cnn;
    const names = except === undefined ? null : [].concat(except);
    if (names && !names.length) throw new CnnError('loadWeights: except is empty (name the layers to leave out)', 1);
    return cnn._withBytes(cnn._fileBytes(bytes, 'loadWeights'), 'loadWeights', (p, n) => cnn._withBuffer(4, 'loadWeights', (out) => {
      if (names) {
        cnn._withString(names.join(','), 'loadWeights: except', (s) => cnn._check(m._cnn_model_load_weights_except(this._ptr, p, n, s, out)));
      } else {
        cnn._check(m._cnn_model_load_weights(this._ptr, p, n, strict ? 1 : 0, out));
      }
      return m.HEAP32[out >> 2];
    }));
  }

  /**
   * Draws parameter layers' weights afresh from the model's generator, as at creation (a new head).
   * @param {string|string[]} names e.g. 'fc2'
   */
  reinit(names) {
    this._notTraining('reinit');
    for (const name of [].concat(names)) {
      this._cnn._withString(name, 'reinit', (s) => this._cnn._check(this._m._cnn_model_reinit_layer(this._ptr, s)));
    }
  }

  /** @returns {string} the name of the output layer (the last dense layer, whose size is the class count) */
  get headName() {
    return this.layers.filter((l) => l.kind === 'dense').at(-1).name;
  }

  /**
   * This model's spec with another class count: the last dense layer resized. For a new head on a pre-trained
   * body: cnn.createModel(model.specWithClasses(5)).loadWeights(model.save(), {except: model.headName}).
   * @param {number} classes 2..limits.classes @returns {string}
   */
  specWithClasses(classes) {
    checkInt('specWithClasses: classes', classes, 2, this._cnn.limits.classes);
    const lines = this.spec.trimEnd().split('\n');
    const head = lines.findLastIndex((l) => /^dense \d+$/.test(l));
    lines[head] = `dense ${classes}`;
    return `${lines.join('\n')}\n`;
  }

  /** Releases the core's memory; the model cannot be used afterwards. Throws while a fit() uses it. */
  free() {
    this._free('model', (p) => this._cnn._m._cnn_model_free(p));
  }

  _notTraining(what) {
    if (this._training) throw new CnnError(`${what}: the model is training; stop training first`, 1);
  }
}

/** Training parameters for the core from fit()'s options (validated here where a JS number could wrap). */
function trainParams(o, stepsPerEpoch, epochs, maxBatch) {
  const batch = o.batchSize ?? 32;
  if (!Number.isInteger(batch) || batch < 1 || batch > maxBatch) {
    throw new CnnError(`fit: batch size ${batch} (expected 1..${maxBatch})`, 1);
  }
  const warmupSteps = o.warmupSteps ?? 0;
  checkInt('fit: warmupSteps', warmupSteps, 0, 1e8);
  const optimizer = o.optimizer ?? 'adam', schedule = o.schedule ?? 'cosine';
  if (!Object.hasOwn(OPTIMIZERS, optimizer)) throw new CnnError(`fit: optimizer '${optimizer}' (expected adam or sgd)`, 1);
  if (!Object.hasOwn(SCHEDULES, schedule)) {
    throw new CnnError(`fit: schedule '${schedule}' (expected constant, step, exponential or cosine)`, 1);
  }
  return {
    optimizer: OPTIMIZERS[optimizer], lr: o.lr ?? (optimizer === 'sgd' ? 5e-2 : 2e-3), momentum: o.momentum ?? 0.9,
    nesterov: o.nesterov ? 1 : 0, beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.999, eps: o.eps ?? 1e-8,
    weightDecay: o.weightDecay ?? 0, decoupledWeightDecay: o.decoupledWeightDecay ? 1 : 0,
    schedule: SCHEDULES[schedule], warmupSteps,
    stepSize: o.stepSize ?? stepsPerEpoch, gamma: o.gamma ?? 0.5,
    totalSteps: o.totalSteps ?? Math.max(1, Math.min(INT32_MAX, epochs * stepsPerEpoch - warmupSteps)),
    minLr: o.minLr ?? 0, batchSize: batch, augment: o.augment ? 1 : 0,
    augShift: o.augShift ?? 2, augRotate: o.augRotate ?? 10, augScale: o.augScale ?? 0.1,
  };
}

/** A training run of a model on a data set (see Model.trainer): one C trainer, and what fit() needs to know. */
export class Trainer {
  constructor(model, data, o) {
    model._notTraining('fit');
    const cnn = model._cnn, m = model._m;
    const dataPtr = cnn._own(data, Dataset, 'fit: data');
    const total = Math.min(data.count, o.limit ?? data.count);
    checkInt('fit: limit', o.limit ?? data.count, 1, INT32_MAX);
    const split = o.validationSplit ?? 0;
    checkNumber('fit: validationSplit', split, 0, 0.9);
    /** images held out at the end for validation, and those trained on before them */
    this.nVal = Math.round(total * split);
    this.nTrain = total - this.nVal;
    if (this.nTrain < 1) throw new CnnError(`fit: no training images left after holding out ${this.nVal} for validation`, 5);
    const rank = o.rank ?? 0, ranks = o.ranks ?? 1;
    checkInt('fit: ranks', ranks, 1, 256);
    checkInt('fit: rank', rank, 0, ranks - 1);
    const replay = o.replay ? replayOptions(cnn, o.replay, this.nTrain) : null;
    const epochImages = this.nTrain + (replay?.perEpoch ?? 0);
    const batch = o.batchSize ?? 32;
    const params = trainParams(o, Math.ceil(epochImages / Math.max(1, batch)), o.epochs ?? 1, model.maxBatch);
    for (const [name, mult] of Object.entries(o.lrMult ?? {})) checkNumber(`fit: lrMult.${name}`, mult, 0, 100);
    this._model = model;
    this._data = data;
    this._replay = replay?.data ?? null;
    this._options = { ...o, replay: replay ? { ...o.replay, perEpoch: replay.perEpoch } : undefined };
    this._ptr = 0;
    this._stats = 0;
    this._gbuf = 0; // heap room for another replica's gradients (addGradients)
    const pp = cnn._alloc(TRAIN_PARAM_FIELDS.length * 4, 'fit');
    try {
      m._cnn_train_params_init(pp);
      writeStruct(m, pp, TRAIN_PARAM_FIELDS, params);
      this._ptr = cnn._out((out) => m._cnn_trainer_create(out, model._ptr, dataPtr, 0, this.nTrain, pp));
      this._stats = cnn._alloc(STEP_STAT_FIELDS.length * 4, 'fit');
      if (replay) {
        cnn._check(m._cnn_trainer_add_replay(this._ptr, cnn._own(replay.data, Dataset, 'fit: replay.data'), replay.first,
          replay.count, replay.perEpoch));
      }
      for (const [name, mult] of Object.entries(o.lrMult ?? {})) {
        cnn._withString(name, 'fit: lrMult', (s) => cnn._check(m._cnn_trainer_set_lr_mult(this._ptr, s, mult)));
      }
      if (ranks > 1) cnn._check(m._cnn_trainer_set_shard(this._ptr, rank, ranks));
    } catch (e) {
      this._release();
      throw e;
    } finally {
      m._free(pp);
    }
    /** steps per epoch, and images per epoch (replay included) */
    this.stepsPerEpoch = m._cnn_trainer_steps_per_epoch(this._ptr);
    this.epochImages = epochImages;
    model._training = true;
    model._pin();
    data._pin();
    this._replay?._pin();
  }

  /** One optimizer step of a single replica. @returns {{images: number, loss: number, accuracy: number, lr: number}} */
  step() {
    return this._call('_cnn_trainer_run', 1);
  }

  /** This replica's shard of the next batch: gradients into the model's arena. @returns {{images, loss, accuracy, lr}} */
  computeGradients() {
    return this._call('_cnn_trainer_compute_gradients');
  }

  /**
   * A copy of the gradient arena (after computeGradients), in `into` when it is a Float32Array of the right
   * length (a buffer reused from step to step), else in a new one. @param {Float32Array} [into] @returns {Float32Array}
   */
  gradients(into) {
    const m = this._model._m, n = this._model.paramCount;
    const p = m._cnn_model_grads(this._model._ptr) >> 2;
    if (into instanceof Float32Array && into.length === n) {
      into.set(m.HEAPF32.subarray(p, p + n));
      return into;
    }
    return m.HEAPF32.slice(p, p + n);
  }

  /** Adds another replica's gradients (as gradients() returns them) into the arena. @param {Float32Array} g */
  addGradients(g) {
    const m = this._model._m, n = this._model.paramCount;
    if (!(g instanceof Float32Array) || g.length !== n) {
      throw new CnnError(`addGradients: expected a Float32Array of ${n} gradients`, 1);
    }
    if (!this._gbuf) this._gbuf = this._model._cnn._alloc(n * 4, 'addGradients');
    m.HEAPF32.set(g, this._gbuf >> 2);
    this._model._cnn._check(m._cnn_model_add_grads(this._model._ptr, this._gbuf));
  }

  /** Writes the replicas' summed gradients into the arena (unless null: they are there already, see
   * addGradients) and applies one step. @param {Float32Array|null} sum @returns {object} */
  applySummed(sum) {
    if (sum) {
      if (!(sum instanceof Float32Array) || sum.length !== this._model.paramCount) {
        throw new CnnError(`applySummed: expected a Float32Array of ${this._model.paramCount} gradients`, 1);
      }
      const m = this._model._m;
      m.HEAPF32.set(sum, m._cnn_model_grads(this._model._ptr) >> 2);
    }
    return this._call('_cnn_trainer_apply_step');
  }

  /** What another replica needs to make the same trainer: options (functions dropped) and the frozen layers. */
  replicaArgs() {
    const { onProgress, onEpoch, signal, replicas, replay, ...options } = this._options;
    void onProgress, void onEpoch, void signal, void replicas;
    return {
      options: { ...options, limit: this.nTrain, validationSplit: 0, replay: replay ? { ...replay, data: undefined } : undefined },
      frozen: this._model.layers.filter((l) => l.frozen).map((l) => l.name),
      data: this._data, replay: this._replay, nTrain: this.nTrain,
    };
  }

  /** Ends the run: the model and the data sets can be freed again. */
  free() {
    if (!this._ptr) return;
    this._release();
    this._model._training = false;
    this._model._unpin();
    this._data._unpin();
    this._replay?._unpin();
  }

  _release() {
    const m = this._model._cnn._m;
    if (this._ptr) m._cnn_trainer_free(this._ptr);
    if (this._stats) m._free(this._stats);
    if (this._gbuf) m._free(this._gbuf);
    this._ptr = 0;
    this._stats = 0;
    this._gbuf = 0;
  }

  _call(fn, ...args) {
    const m = this._model._m;
    if (!this._ptr) throw new CnnError('the trainer has been freed', 1);
    this._model._cnn._check(m[fn](this._ptr, ...args, this._stats));
    return readStruct(m, this._stats, STEP_STAT_FIELDS);
  }
}

/** fit()'s replay option, checked: the data set, its range and how many of its images each epoch draws. */
function replayOptions(cnn, r, nTrain) {
  cnn._own(r.data, Dataset, 'fit: replay.data');
  const first = r.first ?? 0;
  checkInt('fit: replay.first', first, 0, r.data.count - 1);
  const count = r.count ?? r.data.count - first;
  checkInt('fit: replay.count', count, 1, r.data.count - first);
  let perEpoch = r.perEpoch;
  if (perEpoch === undefined) {
    checkNumber('fit: replay.ratio', r.ratio ?? 0.5, 0.01, 0.95);
    const ratio = r.ratio ?? 0.5;
    perEpoch = Math.min(count, Math.max(1, Math.round((nTrain * ratio) / (1 - ratio))));
  }
  checkInt('fit: replay.perEpoch', perEpoch, 1, count);
  return { data: r.data, first, count, perEpoch };
}

/** Writes values into a C struct; every int32 field is range-checked first (a JS number would wrap at 2^32). */
function writeStruct(m, ptr, fields, values) {
  fields.forEach(([name, type], i) => {
    const v = values[name];
    if (v === undefined) return;
    if (type === 'i32') {
      checkInt(`fit: ${name}`, v, -INT32_MAX - 1, INT32_MAX);
      m.HEAP32[(ptr >> 2) + i] = v;
    } else {
      if (typeof v !== 'number') throw new CnnError(`fit: ${name} ${v} (expected a number)`, 1);
      m.HEAPF32[(ptr >> 2) + i] = v;
    }
  });
}

function readStruct(m, ptr, fields) {
  const out = {};
  fields.forEach(([name, type], i) => {
    out[name] = type === 'i32' ? m.HEAP32[(ptr >> 2) + i] : m.HEAPF32[(ptr >> 2) + i];
  });
  return out;
}
