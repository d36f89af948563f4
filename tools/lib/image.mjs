// Image files for the CLI tools and tests: decode PNG and PGM to 8-bit grayscale, encode gray PNG and PGM.
// Everything read from a file is validated here; a bad file throws Error(`${name}: <what is wrong>`).
// Gray convention: 0 = black, 255 = white (as stored in the file; no inversion here). Colour becomes luminance
// 0.299R + 0.587G + 0.114B, and alpha is composited over white (a transparent background is paper).

import { inflateSync, deflateSync } from 'node:zlib';

/** Largest accepted width or height: the core's drawing limit (Cnn.limits.drawingSide; a test keeps them equal),
 * checked from the header before anything is decompressed. */
export const MAX_SIDE = 4096;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

// Allowed bit depths per PNG colour type, and samples per pixel.
const PNG_COLOR_TYPES = {
  0: { name: 'gray', channels: 1, depths: [1, 2, 4, 8, 16] },
  2: { name: 'RGB', channels: 3, depths: [8, 16] },
  3: { name: 'palette', channels: 1, depths: [1, 2, 4, 8] },
  4: { name: 'gray+alpha', channels: 2, depths: [8, 16] },
  6: { name: 'RGBA', channels: 4, depths: [8, 16] },
};

// Adam7 passes: [x start, y start, x step, y step]. A non-interlaced image is the single pass [0, 0, 1, 1].
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
const NO_INTERLACE = [[0, 0, 1, 1]];

/**
 * Decode a PNG or PGM (P5 binary, P2 ASCII) file to 8-bit grayscale.
 * The format is chosen from the first bytes (PNG signature or "P5"/"P2"), not from the name.
 * @param {Uint8Array} bytes - the whole file
 * @param {string} [name='image'] - used as the prefix of every error message (e.g. the file path)
 * @param {{ checkCrc?: boolean }} [options] - checkCrc (default true): verify PNG chunk CRCs
 * @returns {{ width: number, height: number, gray: Uint8Array }} gray: (height, width) row-major, 0 = black
 * @throws {Error} `${name}: <what is wrong>` for any malformed, truncated or unsupported input
 */
export function decodeImage(bytes, name = 'image', { checkCrc = true } = {}) {
  if (!(bytes instanceof Uint8Array)) throw new Error(`${name}: expected the file bytes as a Uint8Array`);
  if (bytes.length >= 1 && bytes[0] === 0x89) return decodePng(bytes, name, checkCrc);
  if (bytes.length >= 2 && bytes[0] === 0x50 /* P */ && bytes[1] >= 0x31 && bytes[1] <= 0x37) {
    return decodePgm(bytes, name);
  }
  throw new Error(`${name}: unknown image format (expected PNG or PGM)`);
}

/**
 * Encode an 8-bit grayscale image as binary PGM (P5, maxval 255).
 * @param {Uint8Array} gray - (height, width) row-major
 * @param {number} width - 1..4096
 * @param {number} height - 1..4096
 * @returns {Uint8Array} the file bytes
 */
export function encodePgm(gray, width, height) {
  checkEncodeArgs('encodePgm', gray, width, height);
  const header = new TextEncoder().encode(`P5\n${width} ${height}\n255\n`);
  const out = new Uint8Array(header.length + width * height);
  out.set(header, 0);
  out.set(gray.subarray(0, width * height), header.length);
  return out;
}

/**
 * Encode an 8-bit grayscale image as PNG (colour type 0, depth 8, no interlace, filter 0 on every row).
 * @param {Uint8Array} gray - (height, width) row-major
 * @param {number} width - 1..4096
 * @param {number} height - 1..4096
 * @returns {Uint8Array} the file bytes
 */
export function encodePng(gray, width, height) {
  checkEncodeArgs('encodePng', gray, width, height);
  const raw = new Uint8Array(height * (width + 1)); // each row: filter byte 0, then width samples
  for (let y = 0; y < height; y++) raw.set(gray.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  ihdr[8] = 8; // bit depth; bytes 9..12 (colour type, compression, filter, interlace) stay 0
  const table = makeCrcTable();
  const parts = [
    Uint8Array.from(PNG_SIGNATURE),
    pngChunk('IHDR', ihdr, table),
    pngChunk('IDAT', deflateSync(raw), table),
    pngChunk('IEND', new Uint8Array(0), table),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function checkEncodeArgs(fn, gray, width, height) {
  for (const [what, v] of [['width', width], ['height', height]]) {
    if (!Number.isInteger(v) || v < 1 || v > MAX_SIDE) throw new Error(`${fn}: ${what} ${v} out of range (expected 1..${MAX_SIDE})`);
  }
  if (!(gray instanceof Uint8Array || gray instanceof Uint8ClampedArray)) throw new Error(`${fn}: gray must be a Uint8Array`);
  if (gray.length !== width * height) throw new Error(`${fn}: gray has ${gray.length} values (expected ${width}*${height} = ${width * height})`);
}

// ---------------------------------------------------------------------------------------------------------
// CRC-32 (PNG chunks). The table is built per call (256 entries, negligible) so no module state is shared.

function makeCrcTable() {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

function crc32(table, bytes, start, end) {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = table[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type, data, table) {
  const out = new Uint8Array(12 + data.length); // length, type, data, crc
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(table, out, 4, 8 + data.length));
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// PNG

function decodePng(bytes, name, checkCrc) {
  if (bytes.length < 8 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) throw new Error(`${name}: bad PNG signature`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const table = checkCrc ? makeCrcTable() : null;
  let ihdr = null;
  let palette = null; // Uint8Array (entries * 3) RGB
  let trns = null; // Uint8Array, meaning depends on the colour type
  const idat = []; // Uint8Array views of the IDAT payloads, in order
  let idatDone = false; // an IDAT run was followed by another chunk
  let sawIend = false;

  let at = 8;
  while (at < bytes.length) {
    if (bytes.length - at < 12) throw new Error(`${name}: truncated PNG (incomplete chunk at byte ${at})`);
    const length = view.getUint32(at);
    const type = String.fromCharCode(bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]);
    if (!/^[A-Za-z]{4}$/.test(type)) throw new Error(`${name}: bad PNG chunk type at byte ${at + 4}`);
    if (length > 0x7fffffff || length > bytes.length - at - 12) {
      throw new Error(`${name}: truncated PNG (chunk ${type} at byte ${at} declares ${length} bytes, ${Math.max(0, bytes.length - at - 12)} remain)`);
    }
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (checkCrc && crc32(table, bytes, at + 4, at + 8 + length) !== view.getUint32(at + 8 + length)) {
      throw new Error(`${name}: CRC mismatch in PNG chunk ${type} at byte ${at}`);
    }
    at += 12 + length;

    if (ihdr === null && type !== 'IHDR') throw new Error(`${name}: first PNG chunk is ${type} (expected IHDR)`);
    if (idat.length > 0 && type !== 'IDAT') idatDone = true;
    switch (type) {
      case 'IHDR':
        if (ihdr !== null) throw new Error(`${name}: duplicate IHDR chunk`);
        ihdr = parseIhdr(data, name);
        break;
      case 'PLTE':
        if (palette !== null) throw new Error(`${name}: duplicate PLTE chunk`);
        if (idat.length > 0) throw new Error(`${name}: PLTE chunk after IDAT`);
        palette = parsePlte(data, ihdr, name);
        break;
      case 'tRNS':
        if (idat.length > 0) throw new Error(`${name}: tRNS chunk after IDAT`);
        trns = parseTrns(data, ihdr, palette, name);
        break;
      case 'IDAT':
        if (idatDone) throw new Error(`${name}: IDAT chunks are not consecutive`);
        idat.push(data);
        break;
      case 'IEND':
        sawIend = true;
        break;
      default:
        // Ancillary chunks (lower-case first letter) are skipped; an unknown critical one cannot be ignored.
        if (type.charCodeAt(0) < 0x61) throw new Error(`${name}: unsupported critical PNG chunk ${type}`);
    }
    if (sawIend) break; // bytes after IEND are ignored
  }
  if (!sawIend) throw new Error(`${name}: truncated PNG (no IEND chunk)`);
  if (idat.length === 0) throw new Error(`${name}: missing IDAT chunk`); // IEND seen, so IHDR was too
  if (ihdr.colorType === 3 && palette === null) throw new Error(`${name}: palette image without PLTE chunk`);

  const passes = ihdr.interlace ? ADAM7 : NO_INTERLACE;
  const bitsPerPixel = ihdr.channels * ihdr.bitDepth;
  let expected = 0; // bytes of filtered scanlines over all passes
  for (const [xs, ys, dx, dy] of passes) {
    const pw = passSize(ihdr.width, xs, dx), ph = passSize(ihdr.height, ys, dy);
    if (pw > 0 && ph > 0) expected += ph * (1 + Math.ceil((pw * bitsPerPixel) / 8));
  }
  const raw = inflateBounded(concat(idat), expected, name);

  const gray = new Uint8Array(ihdr.width * ihdr.height);
  const toGray = makePixelConverter(ihdr, palette, trns, name);
  const filterBpp = Math.max(1, bitsPerPixel >> 3); // bytes per complete pixel, for the filters
  let rowStart = 0;
  for (const [xs, ys, dx, dy] of passes) {
    const pw = passSize(ihdr.width, xs, dx), ph = passSize(ihdr.height, ys, dy);
    if (pw === 0 || ph === 0) continue;
    const rowBytes = Math.ceil((pw * bitsPerPixel) / 8);
    let prev = -1; // start of the previous unfiltered row of this pass, -1 for none (reads as zeros)
    for (let j = 0; j < ph; j++) {
      const cur = rowStart + 1;
      unfilterRow(raw, raw[rowStart], cur, prev, rowBytes, filterBpp, name, ys + j * dy);
      const outRow = (ys + j * dy) * ihdr.width;
      for (let i = 0; i < pw; i++) gray[outRow + xs + i * dx] = toGray(raw, cur, i);
      prev = cur;
      rowStart += 1 + rowBytes;
    }
  }
  return { width: ihdr.width, height: ihdr.height, gray };
}

function parseIhdr(data, name) {
  if (data.length !== 13) throw new Error(`${name}: IHDR chunk has ${data.length} bytes (expected 13)`);
  const view = new DataView(data.buffer, data.byteOffset, 13);
  const width = view.getUint32(0), height = view.getUint32(4);
  const [bitDepth, colorType, compression, filter, interlace] = data.subarray(8, 13);
  if (width < 1 || width > MAX_SIDE) throw new Error(`${name}: PNG width ${width} out of range (expected 1..${MAX_SIDE})`);
  if (height < 1 || height > MAX_SIDE) throw new Error(`${name}: PNG height ${height} out of range (expected 1..${MAX_SIDE})`);
  const ct = PNG_COLOR_TYPES[colorType];
  if (!ct) throw new Error(`${name}: bad PNG color type ${colorType} (expected 0, 2, 3, 4 or 6)`);
  if (!ct.depths.includes(bitDepth)) {
    throw new Error(`${name}: bad PNG bit depth ${bitDepth} for color type ${colorType} (expected ${ct.depths.join(', ')})`);
  }
  if (compression !== 0) throw new Error(`${name}: bad PNG compression method ${compression} (expected 0)`);
  if (filter !== 0) throw new Error(`${name}: bad PNG filter method ${filter} (expected 0)`);
  if (interlace > 1) throw new Error(`${name}: bad PNG interlace method ${interlace} (expected 0 or 1)`);
  return { width, height, bitDepth, colorType, interlace, channels: ct.channels };
}

function parsePlte(data, ihdr, name) {
  const entries = data.length / 3;
  if (!Number.isInteger(entries) || entries < 1 || entries > 256) {
    throw new Error(`${name}: PLTE chunk has ${data.length} bytes (expected 3 * 1..256)`);
  }
  if (ihdr.colorType === 0 || ihdr.colorType === 4) throw new Error(`${name}: PLTE chunk in a grayscale PNG`);
  if (ihdr.colorType === 3 && entries > 2 ** ihdr.bitDepth) {
    throw new Error(`${name}: PLTE has ${entries} entries (expected <= ${2 ** ihdr.bitDepth} for bit depth ${ihdr.bitDepth})`);
  }
  return data;
}

function parseTrns(data, ihdr, palette, name) {
  if (ihdr.colorType === 4 || ihdr.colorType === 6) throw new Error(`${name}: tRNS chunk in a PNG that has an alpha channel`);
  if (ihdr.colorType === 3) {
    if (palette === null) throw new Error(`${name}: tRNS chunk before PLTE`);
    if (data.length > palette.length / 3) throw new Error(`${name}: tRNS has ${data.length} entries (expected <= ${palette.length / 3})`);
    return data;
  }
  const want = ihdr.colorType === 0 ? 2 : 6;
  if (data.length !== want) throw new Error(`${name}: tRNS chunk has ${data.length} bytes (expected ${want})`);
  const view = new DataView(data.buffer, data.byteOffset, data.length);
  const key = [];
  for (let i = 0; i < want; i += 2) key.push(view.getUint16(i)); // 16-bit values even for smaller depths
  return key;
}

function passSize(size, start, step) {
  return size > start ? Math.ceil((size - start) / step) : 0;
}

function concat(parts) {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

// Inflate with an output bound, so a small file cannot expand into unbounded memory.
function inflateBounded(compressed, expected, name) {
  let raw;
  try {
    raw = inflateSync(compressed, { maxOutputLength: expected });
  } catch (err) {
    if (err.code === 'ERR_BUFFER_TOO_LARGE') throw new Error(`${name}: decompressed PNG data is larger than expected ${expected} bytes`);
    throw new Error(`${name}: corrupt PNG image data (zlib: ${err.message})`);
  }
  if (raw.length !== expected) throw new Error(`${name}: decompressed PNG data has ${raw.length} bytes (expected ${expected})`);
  return raw;
}

function paeth(a, b, c) {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

// Undo the PNG filter of one row in place. buf[cur .. cur+n) is the row, buf[prev ..) the previous unfiltered
// row of the same pass (prev < 0: none, reads as zeros); bpp = bytes per complete pixel (at least 1).
function unfilterRow(buf, filter, cur, prev, n, bpp, name, y) {
  switch (filter) {
    case 0: return;
    case 1: for (let i = bpp; i < n; i++) buf[cur + i] = (buf[cur + i] + buf[cur + i - bpp]) & 0xff; return;
    case 2: if (prev >= 0) for (let i = 0; i < n; i++) buf[cur + i] = (buf[cur + i] + buf[prev + i]) & 0xff; return;
    case 3:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? buf[cur + i - bpp] : 0, b = prev >= 0 ? buf[prev + i] : 0;
        buf[cur + i] = (buf[cur + i] + ((a + b) >> 1)) & 0xff;
      }
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? buf[cur + i - bpp] : 0, b = prev >= 0 ? buf[prev + i] : 0;
        const c = i >= bpp && prev >= 0 ? buf[prev + i - bpp] : 0;
        buf[cur + i] = (buf[cur + i] + paeth(a, b, c)) & 0xff;
      }
      return;
    default:
      throw new Error(`${name}: bad PNG filter type ${filter} in row ${y} (expected 0..4)`);
  }
}

// Gray value from luminance L = 299R + 587G + 114B (or 1000 * gray) of samples in 0..max with alpha a in 0..max:
// round((L / 1000 * 255 / max) * (a / max) + 255 * (1 - a / max)). Integer numerator (< 2^53) so results are
// exact and the same for every depth.
function composite(L, a, max) {
  const num = L * 255 * a + 255000 * max * (max - a);
  const den = 1000 * max * max;
  return Math.floor((2 * num + den) / (2 * den));
}

// Returns (buf, rowStart, i) -> gray byte of pixel i of the unfiltered row that starts at rowStart.
function makePixelConverter(ihdr, palette, trns, name) {
  const { colorType, bitDepth } = ihdr;
  const max = 2 ** bitDepth - 1;
  // sample(buf, row, k): k-th sample of the row (samples packed MSB first below 8 bits, big-endian at 16)
  const sample = bitDepth === 8 ? (buf, row, k) => buf[row + k]
    : bitDepth === 16 ? (buf, row, k) => (buf[row + 2 * k] << 8) | buf[row + 2 * k + 1]
      : (buf, row, k) => {
        const bit = k * bitDepth;
        return (buf[row + (bit >> 3)] >> (8 - bitDepth - (bit & 7))) & max;
      };
  switch (colorType) {
    case 0: {
      const key = trns ? trns[0] : -1;
      return (buf, row, i) => {
        const v = sample(buf, row, i);
        return composite(1000 * v, v === key ? 0 : max, max);
      };
    }
    case 2: {
      const key = trns || [-1, -1, -1];
      return (buf, row, i) => {
        const r = sample(buf, row, 3 * i), g = sample(buf, row, 3 * i + 1), b = sample(buf, row, 3 * i + 2);
        const opaque = r !== key[0] || g !== key[1] || b !== key[2];
        return composite(299 * r + 587 * g + 114 * b, opaque ? max : 0, max);
      };
    }
    case 3: {
      const entries = palette.length / 3;
      const lut = new Uint8Array(entries); // gray per palette index, alpha applied
      for (let p = 0; p < entries; p++) {
        const L = 299 * palette[3 * p] + 587 * palette[3 * p + 1] + 114 * palette[3 * p + 2];
        lut[p] = composite(L, trns && p < trns.length ? trns[p] : 255, 255);
      }
      return (buf, row, i) => {
        const p = sample(buf, row, i);
        if (p >= entries) throw new Error(`${name}: palette index ${p} out of range (PLTE has ${entries} entries)`);
        return lut[p];
      };
    }
    case 4:
      return (buf, row, i) => composite(1000 * sample(buf, row, 2 * i), sample(buf, row, 2 * i + 1), max);
    case 6:
      return (buf, row, i) => {
        const k = 4 * i;
        const L = 299 * sample(buf, row, k) + 587 * sample(buf, row, k + 1) + 114 * sample(buf, row, k + 2);
        return composite(L, sample(buf, row, k + 3), max);
      };
    default:
      throw new Error(`${name}: bad PNG color type ${colorType}`); // unreachable: parseIhdr checked it
  }
}

// ---------------------------------------------------------------------------------------------------------
// PGM (netpbm): "P5" binary or "P2" ASCII; header tokens separated by whitespace, '#' comments to end of line.
// Bytes after the last sample are ignored (netpbm allows several images in one file).

function isSpace(c) {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
}

// Reads unsigned decimal integers from bytes; skips whitespace and comments before each one.
function makeTokenReader(bytes, name) {
  let at = 2; // after the magic number
  return {
    get offset() { return at; },
    next(what) {
      for (;;) {
        while (at < bytes.length && isSpace(bytes[at])) at++;
        if (at < bytes.length && bytes[at] === 0x23 /* # */) {
          while (at < bytes.length && bytes[at] !== 0x0a && bytes[at] !== 0x0d) at++;
        } else break;
      }
      if (at >= bytes.length) throw new Error(`${name}: truncated PGM (missing ${what})`);
      const start = at;
      let v = 0;
      while (at < bytes.length && bytes[at] >= 0x30 && bytes[at] <= 0x39) {
        v = v * 10 + (bytes[at] - 0x30);
        if (at - start >= 9) throw new Error(`${name}: PGM ${what} has too many digits at byte ${start}`);
        at++;
      }
      if (at === start || (at < bytes.length && !isSpace(bytes[at]) && bytes[at] !== 0x23)) {
        throw new Error(`${name}: bad PGM ${what} at byte ${start} (expected a decimal number)`);
      }
      return v;
    },
  };
}

function decodePgm(bytes, name) {
  const magic = String.fromCharCode(bytes[0], bytes[1]);
  if (magic !== 'P5' && magic !== 'P2') throw new Error(`${name}: unsupported netpbm type ${magic} (expected P5 or P2 grayscale)`);
  if (bytes.length < 3 || !isSpace(bytes[2])) throw new Error(`${name}: bad PGM header (expected whitespace after ${magic})`);
  const tokens = makeTokenReader(bytes, name);
  const width = tokens.next('width');
  const height = tokens.next('height');
  const maxval = tokens.next('maxval');
  if (width < 1 || width > MAX_SIDE) throw new Error(`${name}: PGM width ${width} out of range (expected 1..${MAX_SIDE})`);
  if (height < 1 || height > MAX_SIDE) throw new Error(`${name}: PGM height ${height} out of range (expected 1..${MAX_SIDE})`);
  if (maxval < 1 || maxval > 65535) throw new Error(`${name}: PGM maxval ${maxval} out of range (expected 1..65535)`);
  const n = width * height;
  const gray = new Uint8Array(n);
  const scale = (v) => Math.floor((2 * v * 255 + maxval) / (2 * maxval)); // round(v * 255 / maxval)

  if (magic === 'P2') {
    for (let i = 0; i < n; i++) {
      const v = tokens.next(`sample ${i}`);
      if (v > maxval) throw new Error(`${name}: PGM sample ${i} is ${v} (expected <= maxval ${maxval})`);
      gray[i] = scale(v);
    }
    return { width, height, gray };
  }

  // P5: exactly one whitespace byte after maxval, then the raster (2 bytes big-endian per sample if maxval > 255).
  if (tokens.offset >= bytes.length || !isSpace(bytes[tokens.offset])) {
    throw new Error(`${name}: bad PGM header (expected one whitespace byte after maxval)`);
  }
  const start = tokens.offset + 1;
  const bytesPerSample = maxval > 255 ? 2 : 1;
  const need = n * bytesPerSample;
  if (bytes.length - start < need) {
    throw new Error(`${name}: truncated PGM (${Math.max(0, bytes.length - start)} bytes of pixel data, expected ${need})`);
  }
  for (let i = 0; i < n; i++) {
    const v = bytesPerSample === 1 ? bytes[start + i] : (bytes[start + 2 * i] << 8) | bytes[start + 2 * i + 1];
    if (v > maxval) throw new Error(`${name}: PGM sample ${i} is ${v} (expected <= maxval ${maxval})`);
    gray[i] = scale(v);
  }
  return { width, height, gray };
}
