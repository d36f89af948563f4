/**
 * model-file.mjs - tells why a file picked as a model was refused, in words for people. The C core validates
 * the file (Cnn.loadModel); this only looks at it afterwards to tell "not a .safetensors file at all" from
 * "weights without an architecture" (what PyTorch's safetensors save_file writes), which the page explains
 * with what to do next.
 */

/** Headers larger than this are not looked into (the core refuses far smaller ones). */
const MAX_LOOK = 16 * 1024 * 1024;

/**
 * @param {Uint8Array} bytes a file the core refused as a model
 * @returns {'not-safetensors'|'no-architecture'|'other'} not-safetensors: no 8-byte length + JSON header;
 *   no-architecture: a safetensors file whose __metadata__ has no 'spec'; other: the core's message says it
 */
export function describeRefusedModel(bytes) {
  if (bytes.length < 10) return 'not-safetensors';
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n < 2n || n > BigInt(bytes.length - 8) || bytes[8] !== 0x7b /* { */) return 'not-safetensors';
  if (n > BigInt(MAX_LOOK)) return 'other';
  let header;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + Number(n))));
  } catch {
    return 'not-safetensors';
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return 'not-safetensors';
  return typeof header.__metadata__?.spec === 'string' ? 'other' : 'no-architecture';
}
