// Shared by the JS tests: the loaded module and real MNIST data, loaded once per test file.
import { loadCnn } from '../web/cnn.mjs';
import { loadIdxPair } from '../tools/lib/mnist.mjs';

let cached = null;

/**
 * Loads the module the tests run on: the release build, or the debug build (assertions, SAFE_HEAP) when the
 * environment says CNN_TEST_BUILD=debug (tests/debug-build.test.mjs runs the API tests so).
 * @param {object} [options] loadCnn options
 */
export function loadTestCnn(options = {}) {
  return loadCnn(process.env.CNN_TEST_BUILD === 'debug' ? { ...options, debug: true } : options);
}

/** @returns {Promise<{cnn: import('../web/cnn.mjs').Cnn, train: object, test: object}>} */
export async function setup(variant = 'auto') {
  if (!cached) {
    const cnn = await loadTestCnn({ variant });
    cached = { cnn, train: await loadIdxPair(cnn, 'train'), test: await loadIdxPair(cnn, 'test') };
  }
  return cached;
}

/** Images [first, first + count) of a data set as model input (n, H, W, C) in [0, 1]. */
export function inputs(ds, first, count) {
  return Float32Array.from(ds.images(first, count), (v) => v / 255);
}

/**
 * Parses a safetensors buffer independently of the core: {header, metadata, tensors: {name: {dtype, shape,
 * data}}}; data is a Float32Array for F32 and a BigInt64Array for I64.
 */
export function parseSafetensors(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const tensors = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [b, e] = t.data_offsets;
    const raw = bytes.slice(8 + n + b, 8 + n + e);
    const data = t.dtype === 'I64' ? new BigInt64Array(raw.buffer) : new Float32Array(raw.buffer);
    tensors[name] = { dtype: t.dtype, shape: t.shape, offsets: t.data_offsets, data };
  }
  return { headerLength: n, header, metadata: header.__metadata__ ?? {}, tensors };
}

/**
 * Writes a safetensors buffer independently of the core (for crafted files).
 * @param {Record<string, {shape: number[], data?: Float32Array, dtype?: string}>} tensors
 * @param {Record<string, string>} [metadata]
 * @returns {Uint8Array}
 */
export function makeSafetensors(tensors, metadata) {
  const header = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  const parts = [];
  for (const [name, t] of Object.entries(tensors)) {
    const data = t.data ?? new Float32Array(t.shape.reduce((a, b) => a * b, 1));
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    header[name] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [off, off + bytes.length] };
    off += bytes.length;
    parts.push(bytes);
  }
  let json = JSON.stringify(header);
  while ((json.length + 8) % 8) json += ' ';
  const hdr = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hdr.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(hdr.length), true);
  out.set(hdr, 8);
  let p = 8 + hdr.length;
  for (const b of parts) { out.set(b, p); p += b.length; }
  return out;
}

/** An IDX file: magic (4 bytes), big-endian dims, then data. */
export function idxFile(magic, dims, data) {
  const b = new Uint8Array(4 + 4 * dims.length + data.length);
  b.set(magic);
  dims.forEach((d, i) => new DataView(b.buffer).setUint32(4 + 4 * i, d));
  b.set(data, 4 + 4 * dims.length);
  return b;
}
