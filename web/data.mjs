/**
 * data.mjs - reading data set files: gzip detection and decompression, in a page, a worker or Node.
 * The bytes are validated by the C core (Cnn.datasetFromIdx); this module only unpacks them.
 */

/** A data file that cannot be read as what it claims to be (bad gzip, too large). */
export class DataError extends Error {
  constructor(message) {
    super(message);
    this.name = 'DataError';
  }
}

/** Largest decompressed file accepted (MNIST's training images are 47 MB). */
export const MAX_FILE_BYTES = 512 * 1024 * 1024;

/** @param {Uint8Array} bytes @returns {boolean} whether the bytes start with the gzip magic number */
export function isGzip(bytes) {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompresses gzip data (or returns non-gzip data unchanged).
 * @param {Uint8Array} bytes
 * @param {{name?: string, maxBytes?: number}} [o] name for error messages; maxBytes bounds the output
 * @returns {Promise<Uint8Array>}
 */
export async function gunzipIfNeeded(bytes, { name = 'file', maxBytes = MAX_FILE_BYTES } = {}) {
  if (!isGzip(bytes)) return bytes;
  if (typeof DecompressionStream === 'function' && typeof Blob === 'function' && typeof process !== 'object') {
    return gunzipStream(bytes, name, maxBytes);
  }
  const { gunzipSync } = await import('node:zlib');
  try {
    return new Uint8Array(gunzipSync(bytes, { maxOutputLength: maxBytes }));
  } catch (e) {
    if (e.code === 'ERR_BUFFER_TOO_LARGE') throw new DataError(`${name}: decompresses to more than ${maxBytes} bytes`);
    throw new DataError(`${name}: not a valid gzip file (${e.message})`);
  }
}

async function gunzipStream(bytes, name, maxBytes) {
  const chunks = [];
  let total = 0;
  try {
    const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip')).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        await reader.cancel();
        throw new RangeError(`decompresses to more than ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } catch (e) {
    throw new DataError(e instanceof RangeError ? `${name}: ${e.message}` : `${name}: not a valid gzip file (${e.message})`);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** File names of an IDX data directory (each may also end in .gz). */
export const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
};
