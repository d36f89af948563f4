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

/** Largest decompressed file accepted: the core's "file_bytes" limit (Cnn.limits.fileBytes; a test keeps them equal). */
export const MAX_FILE_BYTES = 512 * 1024 * 1024;

const SEVERAL_MEMBERS = 'holds several gzip members (.gz files joined together), which is not supported: ' +
  'decompress it (gunzip) and use the raw file';

/** @param {Uint8Array} bytes @returns {boolean} whether the bytes start with the gzip magic number */
export function isGzip(bytes) {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompresses gzip data (or returns non-gzip data unchanged). A file must hold one gzip member: browsers'
 * DecompressionStream refuses joined members, so Node refuses them too and both read the same files.
 * @param {Uint8Array} bytes
 * @param {{name?: string, maxBytes?: number}} [o] name for error messages; maxBytes bounds the output
 * @returns {Promise<Uint8Array>}
 */
export async function gunzipIfNeeded(bytes, { name = 'file', maxBytes = MAX_FILE_BYTES } = {}) {
  if (!isGzip(bytes)) return bytes;
  if (typeof DecompressionStream === 'function' && typeof Blob === 'function' && typeof process !== 'object') {
    return gunzipStream(bytes, name, maxBytes);
  }
  return gunzipNode(await import('node:zlib'), bytes, name, maxBytes);
}

/** Length of a gzip member's header (RFC 1952: 10 bytes, then optional extra field, name, comment, CRC16). */
function gzipHeaderLength(b, name) {
  const bad = (why) => new DataError(`${name}: not a valid gzip file (${why})`);
  if (b.length < 18) throw bad('too short');
  if (b[2] !== 8) throw bad(`compression method ${b[2]}, expected 8 (deflate)`);
  const flags = b[3];
  let p = 10;
  if (flags & 4) p += 2 + (b[10] | (b[11] << 8)); // FEXTRA
  for (const bit of [8, 16]) { // FNAME, FCOMMENT: NUL-terminated
    if (flags & bit) {
      while (p < b.length && b[p] !== 0) p++;
      p++;
    }
  }
  if (flags & 2) p += 2; // FHCRC
  if (p > b.length - 8) throw bad('truncated header');
  return p;
}

function gunzipNode(zlib, bytes, name, maxBytes) {
  const bad = (why) => new DataError(`${name}: not a valid gzip file (${why})`);
  const start = gzipHeaderLength(bytes, name);
  let out;
  try {
    // inflateRaw stops at the end of the deflate stream and says how much input it used
    const r = zlib.inflateRawSync(bytes.subarray(start), { maxOutputLength: maxBytes, info: true });
    out = new Uint8Array(r.buffer.buffer, r.buffer.byteOffset, r.buffer.length);
    const end = start + r.engine.bytesWritten;
    if (end + 8 > bytes.length) throw bad('truncated: the CRC and size at its end are missing');
    const view = new DataView(bytes.buffer, bytes.byteOffset + end, 8);
    if (view.getUint32(4, true) !== out.length % 2 ** 32) throw bad('the size at its end does not match its data');
    if (typeof zlib.crc32 === 'function' && (zlib.crc32(out) >>> 0) !== view.getUint32(0, true)) {
      throw bad('CRC mismatch: the file is corrupt');
    }
    const rest = bytes.length - (end + 8);
    if (rest > 0) throw isGzip(bytes.subarray(end + 8)) ? new DataError(`${name}: ${SEVERAL_MEMBERS}`) : bad(`${rest} bytes of junk after its end`);
  } catch (e) {
    if (e instanceof DataError) throw e;
    if (e.code === 'ERR_BUFFER_TOO_LARGE') throw new DataError(`${name}: decompresses to more than ${maxBytes} bytes`);
    throw bad(e.message);
  }
  return out;
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
    // The stream's errors do not say why ("Failed to fetch"): name the likely causes.
    throw new DataError(e instanceof RangeError ? `${name}: ${e.message}`
      : `${name}: not a valid gzip file: it is corrupt or truncated, or it ${SEVERAL_MEMBERS}`);
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
