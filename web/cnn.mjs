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
   * @param {string} message the core's message
   * @param {number} status the core's status code (1 invalid, 2 format, 3 memory, 4 diverged, 5 empty)
   */
  constructor(message, status) {
    super(message);
    this.name = 'CnnError';
    this.status = status;
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
 * @param {'auto'|'simd'|'scalar'} [options.variant='auto'] which build to load; 'auto' picks SIMD when supported
 * @param {string|URL} [options.baseUrl] where the build/ files are (default: ./build/ next to this file)
 * @returns {Promise<Cnn>}
 */
export async function loadCnn({ variant = 'auto', baseUrl } = {}) {
  if (!['auto', 'simd', 'scalar'].includes(variant)) {
    throw new CnnError(`loadCnn: variant '${variant}' (expected auto, simd or scalar)`, 1);
  }
  const simd = variant === 'simd' || (variant === 'auto' && simdSupported());
  if (variant === 'simd' && !simdSupported()) {
    throw new CnnError('loadCnn: this engine does not support WebAssembly SIMD', 1);
  }
  const name = simd ? 'cnn-simd' : 'cnn-scalar';
  const base = new URL(baseUrl ?? './build/', import.meta.url);
  const glueUrl = new URL(`${name}.mjs`, base);
  const wasmUrl = new URL(`${name}.wasm`, base);
  const { default: factory } = await import(glueUrl.href);
  const moduleOptions = {};
  if (isNode) {
    // Node's fetch cannot read file: URLs; hand the bytes over ourselves.
    const { readFile } = await import('node:fs/promises');
    moduleOptions.wasmBinary = await readFile(wasmUrl);
  } else {
    moduleOptions.locateFile = (file) => new URL(file, base).href;
  }
  const m = await factory(moduleOptions);
  return new Cnn(m, simd ? 'simd' : 'scalar');
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
  }

  /** @returns {string} the kernel variant in use ('wasmsimd' or 'scalar'). */
  get kernels() {
    return this._m.UTF8ToString(this._m._cnn_kernels_selected());
  }

  /** Selects a kernel variant compiled into this build ('scalar' or 'wasmsimd'). @param {string} name */
  selectKernels(name) {
    this._withString(name, (p) => this._check(this._m._cnn_kernels_select(p)));
  }

  /** @param {string} name 'keras', 'pytorch', 'mlp' or 'resnet' @returns {string|null} the preset's spec text */
  presetSpec(name) {
    return this._withString(name, (p) => {
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
    const ptr = this._withString(spec, (p, n) => this._out((out) => this._m._cnn_spec_check(out, p, n)));
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
    checkInt('createModel: maxBatch', maxBatch, 1, 4096);
    const ptr = this._withString(spec, (p, n) => this._out((out) => this._m._cnn_model_create_n(out, p, n, seed >>> 0, maxBatch)));
    return new Model(this, ptr);
  }

  /**
   * Creates a model from a .safetensors file written by Model.save() (architecture from its metadata).
   * @param {Uint8Array|ArrayBuffer} bytes @param {{maxBatch?: number}} [options] @returns {Model}
   */
  loadModel(bytes, { maxBatch = 128 } = {}) {
    checkInt('loadModel: maxBatch', maxBatch, 1, 4096);
    const ptr = this._withBytes(toBytes(bytes, 'loadModel'), (p, n) => this._out((out) => this._m._cnn_model_load(out, p, n, maxBatch)));
    return new Model(this, ptr);
  }

  /**
   * Builds a data set from two uncompressed IDX files (images (N,H,W) or (N,H,W,C) and labels (N)).
   * Use gunzipIfNeeded() from data.mjs first for .gz files.
   * @param {Uint8Array} images @param {Uint8Array} labels @returns {Dataset}
   */
  datasetFromIdx(images, labels) {
    const im = toBytes(images, 'datasetFromIdx: images');
    const lb = toBytes(labels, 'datasetFromIdx: labels');
    const ptr = this._withBytes(im, (pi, ni) => this._withBytes(lb, (pl, nl) =>
      this._out((out) => this._m._cnn_dataset_from_idx(out, pi, ni, pl, nl))));
    return new Dataset(this, ptr);
  }

  /**
   * Builds a data set from arrays: images (n, height, width, channels) uint8, labels (n) < classes.
   * @param {Uint8Array} images @param {Uint8Array} labels
   * @param {{height: number, width: number, channels?: number, classes: number}} shape
   * @returns {Dataset}
   */
  datasetFromArrays(images, labels, { height, width, channels = 1, classes }) {
    const n = labels.length;
    if (images.length !== n * height * width * channels) {
      throw new CnnError(`datasetFromArrays: ${images.length} pixels for ${n} images of ${height}x${width}x${channels}`, 1);
    }
    const ptr = this._withBytes(toBytes(images, 'images'), (pi) => this._withBytes(toBytes(labels, 'labels'), (pl) =>
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
    if (gray.length !== width * height) {
      throw new CnnError(`preprocessDigit: ${gray.length} pixels for a ${width}x${height} image`, 1);
    }
    return this._withBytes(toBytes(gray, 'preprocessDigit'), (p) => {
      const out = this._m._malloc(28 * 28 * 4);
      try {
        this._check(this._m._cnn_preprocess_digit(out, p, width, height, invert ? 1 : 0));
        return this._m.HEAPF32.slice(out >> 2, (out >> 2) + 28 * 28);
      } finally {
        this._m._free(out);
      }
    });
  }

  /**
   * Per-class precision, recall and F1 from a confusion matrix.
   * @param {number[][]} confusion rows = true class, columns = predicted class
   * @returns {{precision: number[], recall: number[], f1: number[], macroPrecision: number, macroRecall: number, macroF1: number}}
   */
  metricsFromConfusion(confusion) {
    const k = confusion.length;
    const m = this._m;
    const conf = m._malloc(k * k * 4), out = m._malloc(3 * k * 4 + 12);
    try {
      m.HEAP32.set(Int32Array.from(confusion.flat()), conf >> 2);
      this._check(m._cnn_metrics_from_confusion(out, out + 4 * k, out + 8 * k, conf, k, out + 12 * k,
        out + 12 * k + 4, out + 12 * k + 8));
      const f = m.HEAPF32.slice(out >> 2, (out >> 2) + 3 * k + 3);
      return {
        precision: Array.from(f.subarray(0, k)), recall: Array.from(f.subarray(k, 2 * k)),
        f1: Array.from(f.subarray(2 * k, 3 * k)), macroPrecision: f[3 * k], macroRecall: f[3 * k + 1], macroF1: f[3 * k + 2],
      };
    } finally {
      m._free(conf);
      m._free(out);
    }
  }

  // ---- internals: the heap boundary ----

  /** Throws the core's last error when status is non-zero. */
  _check(status) {
    if (status !== 0) throw new CnnError(this._m.UTF8ToString(this._m._cnn_last_error()), status);
  }

  /** Calls fn(outPtr) for a C function returning a handle through an out-pointer; returns the handle. */
  _out(fn) {
    const out = this._m._malloc(4);
    try {
      this._check(fn(out));
      return this._m.HEAP32[out >> 2];
    } finally {
      this._m._free(out);
    }
  }

  /** Copies a string into the heap (UTF-8, NUL-terminated) for the duration of fn(ptr, byteLength). */
  _withString(s, fn) {
    if (typeof s !== 'string') throw new CnnError(`expected a string, got ${typeof s}`, 1);
    const n = this._m.lengthBytesUTF8(s) + 1;
    const p = this._m._malloc(n);
    if (!p) throw new CnnError(`out of memory for a string of ${n} bytes`, 3);
    try {
      this._m.stringToUTF8(s, p, n);
      return fn(p, n - 1);
    } finally {
      this._m._free(p);
    }
  }

  /** Copies bytes into the heap for the duration of fn(ptr, length). */
  _withBytes(bytes, fn) {
    const p = this._m._malloc(Math.max(1, bytes.length));
    if (!p) throw new CnnError(`out of memory for ${bytes.length} bytes`, 3);
    try {
      this._m.HEAPU8.set(bytes, p);
      return fn(p, bytes.length);
    } finally {
      this._m._free(p);
    }
  }
}

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
  if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  throw new CnnError(`${what}: expected bytes (Uint8Array or ArrayBuffer)`, 1);
}

function checkInt(what, v, lo, hi) {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new CnnError(`${what} ${v} (expected an integer in ${lo}..${hi})`, 1);
}

function checkNumber(what, v, lo, hi) {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) {
    throw new CnnError(`${what} ${v} (expected a number in ${lo}..${hi})`, 1);
  }
}

/** A data set held by the core (uint8 images and labels). */
export class Dataset {
  constructor(cnn, ptr) {
    this._cnn = cnn;
    this._ptr = ptr;
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
    const p = m._cnn_dataset_labels(this._ptr);
    return m.HEAPU8.slice(p, p + this.count);
  }

  /** @param {number} first @param {number} [count=1] @returns {Uint8Array} a copy of images [first, first+count) */
  images(first, count = 1) {
    checkInt('images: first', first, 0, this.count - 1);
    checkInt('images: count', count, 1, this.count - first);
    const m = this._cnn._m;
    const size = this.height * this.width * this.channels;
    const p = m._cnn_dataset_images(this._ptr) + first * size;
    return m.HEAPU8.slice(p, p + count * size);
  }

  /** Releases the core's memory; the data set cannot be used afterwards. */
  free() {
    if (this._ptr) this._cnn._m._cnn_dataset_free(this._ptr);
    this._ptr = 0;
  }
}

/** A model held by the core. Create with Cnn.createModel or Cnn.loadModel. */
export class Model {
  constructor(cnn, ptr) {
    this._cnn = cnn;
    this._ptr = ptr;
    this._busy = false;
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
      ...l, frozen: l.params > 0 && this._cnn._withString(l.name, (s) => m._cnn_model_is_frozen(p, s)) === 1,
    }));
  }

  /** @returns {string[]} the model's tensors as weight files name them ('conv1.weight', 'bn1.running_mean', ...) */
  tensorNames() {
    const m = this._m, n = m._cnn_model_tensor_count(this._ptr), buf = m._malloc(256);
    try {
      if (!buf) throw new CnnError('tensorNames: out of memory', 3);
      return Array.from({ length: n }, (_, i) => {
        this._cnn._check(m._cnn_model_tensor_name(this._ptr, i, buf, 256));
        return m.UTF8ToString(buf);
      });
    } finally {
      m._free(buf);
    }
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
    const m = this._m;
    if (typeof name !== 'string') throw new CnnError(`${what}: expected a tensor name`, 1);
    const info = m._malloc(20);
    if (!info) throw new CnnError(`${what}: out of memory`, 3);
    try {
      const shape = this._cnn._withString(name, (s) => {
        this._cnn._check(m._cnn_model_tensor_shape(this._ptr, s, info, info + 4));
        return Array.from(m.HEAP32.subarray((info >> 2) + 1, (info >> 2) + 1 + m.HEAP32[info >> 2]));
      });
      const count = shape.reduce((a, b) => a * b, 1);
      const out = m._malloc(Math.max(1, count) * 4);
      if (!out) throw new CnnError(`${what}: out of memory for ${count} values`, 3);
      try {
        this._cnn._withString(name, (s) => this._cnn._check(m._cnn_model_tensor_read(this._ptr, s, gradient, out, count)));
        return { shape, data: m.HEAPF32.slice(out >> 2, (out >> 2) + count) };
      } finally {
        m._free(out);
      }
    } finally {
      m._free(info);
    }
  }

  /**
   * Saliency: the gradient of a class's score (its logit, before the softmax) with respect to each pixel of
   * one image, in inference mode. Parameter gradients are not touched.
   * @param {Float32Array} x (H, W, C) values in [0, 1] @param {number} classIndex 0..classes-1
   * @returns {Float32Array} (H, W, C)
   */
  inputGradient(x, classIndex) {
    const m = this._m;
    const size = this.inputShape.reduce((a, b) => a * b);
    if (!(x instanceof Float32Array) || x.length !== size) {
      throw new CnnError(`inputGradient: expected a Float32Array of ${size} values (one image)`, 1);
    }
    checkInt('inputGradient: classIndex', classIndex, 0, this.classes - 1);
    const px = m._malloc(size * 4), pg = m._malloc(size * 4);
    try {
      if (!px || !pg) throw new CnnError('inputGradient: out of memory', 3);
      m.HEAPF32.set(x, px >> 2);
      this._cnn._check(m._cnn_model_input_gradient(this._ptr, pg, px, classIndex));
      return m.HEAPF32.slice(pg >> 2, (pg >> 2) + size);
    } finally {
      m._free(px);
      m._free(pg);
    }
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
    for (const name of [].concat(names)) {
      this._cnn._withString(name, (s) => this._cnn._check(this._m._cnn_model_set_frozen(this._ptr, s, frozen ? 1 : 0)));
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
      throw new CnnError(`predict: expected a Float32Array of n x ${size} values`, 1);
    }
    const n = x.length / size, k = this.classes;
    const px = m._malloc(x.length * 4), pp = m._malloc(n * k * 4);
    try {
      if (!px || !pp) throw new CnnError(`predict: out of memory for ${n} images`, 3);
      m.HEAPF32.set(x, px >> 2);
      this._cnn._check(m._cnn_model_predict(this._ptr, pp, px, n));
      return m.HEAPF32.slice(pp >> 2, (pp >> 2) + n * k);
    } finally {
      m._free(px);
      m._free(pp);
    }
  }

  /**
   * The output of a layer for the last image of the last predict() call (feature maps).
   * @param {number} layer index into layers @returns {Float32Array} (H, W, C)
   */
  layerOutput(layer) {
    const info = this.layers[layer];
    if (!info) throw new CnnError(`layerOutput: no layer ${layer}`, 1);
    const size = info.outputShape.reduce((a, b) => a * b);
    const m = this._m;
    const p = m._malloc(size * 4);
    try {
      this._cnn._check(m._cnn_model_layer_output(this._ptr, p, layer));
      return m.HEAPF32.slice(p >> 2, (p >> 2) + size);
    } finally {
      m._free(p);
    }
  }

  /**
   * Trains the model.
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
   * @param {(p: object) => (void|Promise<void>)} [o.onProgress] after every few steps: {epoch, epochs, step,
   *   stepsPerEpoch, loss, accuracy, lr, imagesPerSecond, etaSeconds}; may return a promise to pause training
   * @param {(e: object) => (void|Promise<void>)} [o.onEpoch] after each epoch: {epoch, loss, accuracy, valLoss,
   *   valAccuracy, seconds}
   * @param {AbortSignal} [o.signal] stops training between two steps (the model stays consistent)
   * @param {number} [o.progressIntervalMs=100] how often onProgress is called
   * @returns {Promise<{epochs: object[], stopped: boolean}>}
   */
  async fit(data, o = {}) {
    this._notBusy('fit');
    const epochs = o.epochs ?? 1;
    checkInt('fit: epochs', epochs, 1, 10000);
    const total = Math.min(data.count, o.limit ?? data.count);
    checkInt('fit: limit', total, 1, data.count);
    const split = o.validationSplit ?? 0;
    checkNumber('fit: validationSplit', split, 0, 0.9);
    const nVal = Math.round(total * split);
    const nTrain = total - nVal;
    const batch = o.batchSize ?? 32;
    const stepsPerEpoch = Math.ceil(nTrain / Math.max(1, batch));
    const params = {
      optimizer: OPTIMIZERS[o.optimizer ?? 'adam'], lr: o.lr ?? (o.optimizer === 'sgd' ? 5e-2 : 2e-3), momentum: o.momentum ?? 0.9,
      nesterov: o.nesterov ? 1 : 0, beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.999, eps: o.eps ?? 1e-8,
      weightDecay: o.weightDecay ?? 0, decoupledWeightDecay: o.decoupledWeightDecay ? 1 : 0,
      schedule: SCHEDULES[o.schedule ?? 'cosine'], warmupSteps: o.warmupSteps ?? 0,
      stepSize: o.stepSize ?? stepsPerEpoch, gamma: o.gamma ?? 0.5,
      totalSteps: o.totalSteps ?? Math.max(1, epochs * stepsPerEpoch - (o.warmupSteps ?? 0)),
      minLr: o.minLr ?? 0, batchSize: batch, augment: o.augment ? 1 : 0,
      augShift: o.augShift ?? 2, augRotate: o.augRotate ?? 10, augScale: o.augScale ?? 0.1,
    };
    if (params.optimizer === undefined) throw new CnnError(`fit: optimizer '${o.optimizer}' (expected adam or sgd)`, 1);
    if (params.schedule === undefined) {
      throw new CnnError(`fit: schedule '${o.schedule}' (expected constant, step, exponential or cosine)`, 1);
    }
    const interval = o.progressIntervalMs ?? 100;
    const m = this._m;
    const pp = m._malloc(TRAIN_PARAM_FIELDS.length * 4), ps = m._malloc(STEP_STAT_FIELDS.length * 4);
    let trainer = 0;
    const history = { epochs: [], stopped: false };
    this._busy = true;
    try {
      m._cnn_train_params_init(pp);
      writeStruct(m, pp, TRAIN_PARAM_FIELDS, params);
      trainer = this._cnn._out((out) => m._cnn_trainer_create(out, this._ptr, data._ptr, 0, nTrain, pp));
      const start = now();
      let imagesDone = 0;
      const imagesTotal = epochs * nTrain;
      for (let epoch = 0; epoch < epochs && !history.stopped; epoch++) {
        const epochStart = now();
        let lossSum = 0, correct = 0, seen = 0, step = 0;
        while (step < stepsPerEpoch) {
          if (o.signal?.aborted) { history.stopped = true; break; }
          // Run steps for about `interval` ms, then report and let the event loop breathe.
          const chunkStart = now();
          let chunkLoss = 0, chunkCorrect = 0, chunkImages = 0, lr = 0;
          do {
            this._cnn._check(m._cnn_trainer_run(trainer, 1, ps));
            const s = readStruct(m, ps, STEP_STAT_FIELDS);
            chunkLoss += s.loss * s.images;
            chunkCorrect += s.accuracy * s.images;
            chunkImages += s.images;
            lr = s.lr;
            step++;
          } while (step < stepsPerEpoch && now() - chunkStart < interval);
          lossSum += chunkLoss;
          correct += chunkCorrect;
          seen += chunkImages;
          imagesDone += chunkImages;
          const elapsed = (now() - start) / 1000;
          const rate = imagesDone / Math.max(elapsed, 1e-9);
          if (o.onProgress) {
            await o.onProgress({
              epoch: epoch + 1, epochs, step, stepsPerEpoch, loss: chunkLoss / chunkImages,
              accuracy: chunkCorrect / chunkImages, lr, imagesPerSecond: rate,
              etaSeconds: (imagesTotal - imagesDone) / rate, imagesDone, imagesTotal,
            });
          }
          await yieldToEventLoop();
        }
        if (seen === 0) break;
        const record = { epoch: epoch + 1, loss: lossSum / seen, accuracy: correct / seen, seconds: (now() - epochStart) / 1000, steps: step };
        if (nVal > 0) {
          const v = this.evaluate(data, { first: nTrain, count: nVal });
          record.valLoss = v.loss;
          record.valAccuracy = v.accuracy;
        }
        record.complete = step === stepsPerEpoch;
        history.epochs.push(record);
        if (o.onEpoch) await o.onEpoch(record);
      }
      return history;
    } finally {
      if (trainer) m._cnn_trainer_free(trainer);
      m._free(pp);
      m._free(ps);
      this._busy = false;
    }
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
    const m = this._m;
    const n = count ?? data.count - first;
    const k = this.classes;
    const conf = m._malloc(k * k * 4), out = m._malloc(8);
    const pred = details ? m._malloc(n * 4) : 0, confid = details ? m._malloc(n * 4) : 0;
    try {
      this._cnn._check(m._cnn_evaluate(this._ptr, data._ptr, first, n, conf, pred, confid, out, out + 4));
      const c = m.HEAP32.slice(conf >> 2, (conf >> 2) + k * k);
      const confusion = [];
      for (let i = 0; i < k; i++) confusion.push(Array.from(c.subarray(i * k, i * k + k)));
      const result = {
        loss: m.HEAPF32[out >> 2], accuracy: m.HEAPF32[(out >> 2) + 1], count: n, confusion,
        ...this._cnn.metricsFromConfusion(confusion),
      };
      if (details) {
        result.predicted = m.HEAP32.slice(pred >> 2, (pred >> 2) + n);
        result.confidence = m.HEAPF32.slice(confid >> 2, (confid >> 2) + n);
      }
      return result;
    } finally {
      m._free(conf);
      m._free(out);
      if (pred) m._free(pred);
      if (confid) m._free(confid);
    }
  }

  /** @returns {Uint8Array} the model as a .safetensors file (PyTorch names and layouts, spec in metadata) */
  save() {
    const m = this._m;
    const out = m._malloc(8);
    try {
      this._cnn._check(m._cnn_model_save(this._ptr, out, out + 4));
      const p = m.HEAP32[out >> 2] >>> 0;
      const n = m.HEAP32[(out >> 2) + 1] >>> 0;
      const bytes = m.HEAPU8.slice(p, p + n);
      m._cnn_free(p);
      return bytes;
    } finally {
      m._free(out);
    }
  }

  /**
   * Loads weights from a .safetensors file into this model (for fine-tuning).
   * @param {Uint8Array|ArrayBuffer} bytes
   * @param {{strict?: boolean}} [o] strict (default): the file must hold exactly this model's tensors;
   *   otherwise tensors matching by name and shape are loaded and the rest ignored
   * @returns {number} tensors loaded
   */
  loadWeights(bytes, { strict = true } = {}) {
    this._notBusy('loadWeights');
    const m = this._m;
    return this._cnn._withBytes(toBytes(bytes, 'loadWeights'), (p, n) => {
      const out = m._malloc(4);
      try {
        this._cnn._check(m._cnn_model_load_weights(this._ptr, p, n, strict ? 1 : 0, out));
        return m.HEAP32[out >> 2];
      } finally {
        m._free(out);
      }
    });
  }

  /** Releases the core's memory; the model cannot be used afterwards. */
  free() {
    if (this._ptr) this._cnn._m._cnn_model_free(this._ptr);
    this._ptr = 0;
  }

  _notBusy(what) {
    if (this._busy) throw new CnnError(`${what}: the model is training; stop training first`, 1);
  }
}

function writeStruct(m, ptr, fields, values) {
  fields.forEach(([name, type], i) => {
    const v = values[name];
    if (v === undefined) return;
    if (type === 'i32') {
      if (!Number.isInteger(v)) throw new CnnError(`fit: ${name} ${v} (expected an integer)`, 1);
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
