// Shared by the JS tests: the loaded module and real MNIST data, loaded once per test file.
import { loadCnn } from '../web/cnn.mjs';
import { loadIdxPair } from '../tools/lib/mnist.mjs';

let cached = null;

/** @returns {Promise<{cnn: import('../web/cnn.mjs').Cnn, train: object, test: object}>} */
export async function setup(variant = 'auto') {
  if (!cached) {
    const cnn = await loadCnn({ variant });
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
