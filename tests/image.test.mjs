// Tests for tools/lib/image.mjs: PNG/PGM decoding to gray, encoders, and rejection of bad files.
// PNGs are built here by an independent little encoder (all colour types, bit depths, filters 0..4, Adam7).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { decodeImage, encodePgm, encodePng } from '../tools/lib/image.mjs';

// ---- test-side PNG encoder -------------------------------------------------------------------------------

const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];

function crc32(bytes) {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function u32(v) {
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

function chunk(type, data) {
  const body = [...Buffer.from(type, 'latin1'), ...data];
  return [...u32(data.length), ...body, ...u32(crc32(body))];
}

// Pack one row of pixels (arrays of samples) at the given bit depth, MSB first.
function packRow(pixels, depth) {
  const samples = pixels.flat();
  const out = new Uint8Array(Math.ceil((samples.length * depth) / 8));
  samples.forEach((v, k) => {
    if (depth === 16) { out[2 * k] = v >> 8; out[2 * k + 1] = v & 255; } else if (depth === 8) out[k] = v;
    else out[(k * depth) >> 3] |= v << (8 - depth - ((k * depth) & 7));
  });
  return out;
}

function paeth(a, b, c) {
  const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

// Filter one packed row with filter type f (prev: previous packed row of the pass, or null).
function filterRow(row, prev, f, bpp) {
  const out = [f];
  for (let i = 0; i < row.length; i++) {
    const a = i >= bpp ? row[i - bpp] : 0, b = prev ? prev[i] : 0, c = prev && i >= bpp ? prev[i - bpp] : 0;
    const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][f];
    out.push((row[i] - pred) & 255);
  }
  return out;
}

/**
 * pixels: (height, width) array of sample arrays. Rows use the filter types in `filters` in turn.
 * extra: list of [type, bytes] chunks placed before IDAT (PLTE, tRNS).
 */
function buildPng({ width, height, colorType, depth, pixels, interlace = 0, extra = [], filters = [0, 1, 2, 3, 4] }) {
  const bpp = Math.max(1, (CHANNELS[colorType] * depth) >> 3);
  const raw = [];
  let f = 0;
  for (const [xs, ys, dx, dy] of interlace ? ADAM7 : [[0, 0, 1, 1]]) {
    let prev = null;
    for (let y = ys; y < height; y += dy) {
      const rowPixels = [];
      for (let x = xs; x < width; x += dx) rowPixels.push(pixels[y][x]);
      if (rowPixels.length === 0) continue;
      const row = packRow(rowPixels, depth);
      raw.push(...filterRow(row, prev, filters[f++ % filters.length], bpp));
      prev = row;
    }
  }
  return pngFromParts({ width, height, colorType, depth, interlace, extra, idat: deflateSync(Uint8Array.from(raw)) });
}

function pngFromParts({ width, height, colorType, depth, interlace = 0, extra = [], idat }) {
  const ihdr = [...u32(width), ...u32(height), depth, colorType, 0, 0, interlace];
  return Uint8Array.from([
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a,
    ...chunk('IHDR', ihdr),
    ...extra.flatMap(([type, data]) => chunk(type, data)),
    ...chunk('IDAT', [...idat]),
    ...chunk('IEND', []),
  ]);
}

// Reshape a flat list of pixels into rows of `width`.
function rows(flat, width) {
  const out = [];
  for (let i = 0; i < flat.length; i += width) out.push(flat.slice(i, i + width));
  return out;
}

function decodeGray(bytes) {
  const { width, height, gray } = decodeImage(bytes, 'test.png');
  assert.ok(gray instanceof Uint8Array);
  assert.equal(gray.length, width * height);
  return { width, height, gray: [...gray] };
}

// ---- round trips -----------------------------------------------------------------------------------------

test('encodePng -> decodeImage round-trips odd sizes exactly', () => {
  for (const [w, h] of [[1, 1], [13, 7], [28, 28]]) {
    const gray = Uint8Array.from({ length: w * h }, (_, i) => (i * 37 + 11) & 255);
    const png = encodePng(gray, w, h);
    assert.deepEqual(decodeImage(png, 'rt.png'), { width: w, height: h, gray });
  }
});

test('encodePgm -> decodeImage round-trips', () => {
  const gray = Uint8Array.from({ length: 15 }, (_, i) => i * 17);
  const pgm = encodePgm(gray, 5, 3);
  assert.equal(new TextDecoder().decode(pgm.subarray(0, 11)), 'P5\n5 3\n255\n');
  assert.deepEqual(decodeImage(pgm, 'rt.pgm'), { width: 5, height: 3, gray });
});

test('encoders validate their arguments', () => {
  assert.throws(() => encodePng(new Uint8Array(5), 2, 3), /encodePng: gray has 5 values \(expected 2\*3 = 6\)/);
  assert.throws(() => encodePgm(new Uint8Array(0), 0, 0), /encodePgm: width 0 out of range/);
  assert.throws(() => encodePng([1, 2], 2, 1), /encodePng: gray must be a Uint8Array/);
});

// ---- PNG colour types and depths --------------------------------------------------------------------------

test('PNG RGB 8-bit: luminance 0.299R + 0.587G + 0.114B, rounded', () => {
  const px = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30], [255, 255, 255], [0, 0, 0]];
  const png = buildPng({ width: 3, height: 2, colorType: 2, depth: 8, pixels: rows(px, 3) });
  // 76.245, 149.685, 29.07, 18.15, 255, 0
  assert.deepEqual(decodeGray(png), { width: 3, height: 2, gray: [76, 150, 29, 18, 255, 0] });
});

test('PNG RGB 16-bit', () => {
  const px = [[65535, 0, 0], [0, 65535, 0], [257 * 10, 257 * 20, 257 * 30], [65535, 65535, 65535]];
  const png = buildPng({ width: 2, height: 2, colorType: 2, depth: 16, pixels: rows(px, 2) });
  assert.deepEqual(decodeGray(png).gray, [76, 150, 18, 255]);
});

test('PNG RGBA: transparency is composited over white', () => {
  const px = [
    [0, 0, 0, 0], // fully transparent -> paper
    [0, 0, 0, 255], // opaque black
    [0, 0, 0, 128], // 255 * (1 - 128/255) = 127
    [255, 0, 0, 51], // 76.245 * 0.2 + 255 * 0.8 = 219.249
    [10, 20, 30, 255],
    [200, 100, 50, 0],
  ];
  const png = buildPng({ width: 2, height: 3, colorType: 6, depth: 8, pixels: rows(px, 2) });
  assert.deepEqual(decodeGray(png).gray, [255, 0, 127, 219, 18, 255]);
});

test('PNG RGBA 16-bit and gray+alpha 8/16-bit', () => {
  const rgba16 = buildPng({
    width: 2, height: 1, colorType: 6, depth: 16,
    pixels: [[[65535, 0, 0, 65535], [0, 0, 0, 32896]]], // 76.245; 255 * (1 - 128/255) = 127
  });
  assert.deepEqual(decodeGray(rgba16).gray, [76, 127]);
  const ga8 = buildPng({ width: 3, height: 1, colorType: 4, depth: 8, pixels: [[[100, 0], [100, 255], [0, 127]]] });
  assert.deepEqual(decodeGray(ga8).gray, [255, 100, 128]); // 255 * 128/255 = 128
  const ga16 = buildPng({ width: 2, height: 1, colorType: 4, depth: 16, pixels: [[[0, 65535], [25700, 0]]] });
  assert.deepEqual(decodeGray(ga16).gray, [0, 255]);
});

test('PNG palette (2-bit indices) with tRNS', () => {
  const plte = [0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255]; // black, white, red, blue
  const trns = [255, 255, 0]; // red is transparent, blue has no entry (opaque)
  const idx = [[0], [1], [2], [3], [3], [1], [0]];
  const png = buildPng({
    width: 7, height: 1, colorType: 3, depth: 2, pixels: [idx], extra: [['PLTE', plte], ['tRNS', trns]],
  });
  assert.deepEqual(decodeGray(png).gray, [0, 255, 255, 29, 29, 255, 0]);
});

test('PNG palette 8-bit and 1-bit', () => {
  const plte = [10, 20, 30, 255, 255, 255];
  const p8 = buildPng({ width: 2, height: 2, colorType: 3, depth: 8, pixels: [[[1], [0]], [[0], [1]]], extra: [['PLTE', plte]] });
  assert.deepEqual(decodeGray(p8).gray, [255, 18, 18, 255]);
  const p1 = buildPng({ width: 9, height: 1, colorType: 3, depth: 1, pixels: [[1, 0, 0, 1, 1, 0, 1, 0, 1].map((v) => [v])], extra: [['PLTE', plte]] });
  assert.deepEqual(decodeGray(p1).gray, [255, 18, 18, 255, 255, 18, 255, 18, 255]);
});

test('PNG gray 1, 2, 4, 16-bit (widths not a multiple of 8) and gray tRNS', () => {
  const bits = [1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1];
  const g1 = buildPng({ width: 6, height: 2, colorType: 0, depth: 1, pixels: rows(bits.map((v) => [v]), 6) });
  assert.deepEqual(decodeGray(g1).gray, bits.map((v) => v * 255));
  const g2 = buildPng({ width: 5, height: 1, colorType: 0, depth: 2, pixels: [[0, 1, 2, 3, 1].map((v) => [v])] });
  assert.deepEqual(decodeGray(g2).gray, [0, 85, 170, 255, 85]);
  const g4 = buildPng({ width: 3, height: 1, colorType: 0, depth: 4, pixels: [[0, 7, 15].map((v) => [v])] });
  assert.deepEqual(decodeGray(g4).gray, [0, 119, 255]);
  // 16-bit: 0x8080 = 128 * 257 -> 128; 1000 / 257 = 3.89 -> 4
  const g16 = buildPng({ width: 4, height: 1, colorType: 0, depth: 16, pixels: [[0, 65535, 0x8080, 1000].map((v) => [v])] });
  assert.deepEqual(decodeGray(g16).gray, [0, 255, 128, 4]);
  const key = buildPng({ width: 3, height: 1, colorType: 0, depth: 8, pixels: [[[7], [8], [0]]], extra: [['tRNS', [0, 7]]] });
  assert.deepEqual(decodeGray(key).gray, [255, 8, 0]); // gray 7 is the transparent key
});

test('PNG filters 0..4 on multi-byte pixels over several rows', () => {
  const w = 5, h = 7; // 7 rows cycle through all five filters
  const px = Array.from({ length: w * h }, (_, i) => [(i * 53) & 255, (i * 91 + 7) & 255, (i * 13 + 200) & 255]);
  const png = buildPng({ width: w, height: h, colorType: 2, depth: 8, pixels: rows(px, w) });
  const expected = px.map(([r, g, b]) => Math.round(0.299 * r + 0.587 * g + 0.114 * b));
  const got = decodeGray(png).gray;
  // Exact integer arithmetic in the decoder; the float reference may differ only on an exact .5 tie.
  got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= 1, `pixel ${i}: got ${v}, expected ${expected[i]}`));
  assert.ok(got.filter((v, i) => v === expected[i]).length >= got.length - 1);
});

test('PNG each filter alone on small-range data (hits Paeth and Average ties)', () => {
  let seed = 12345; // LCG, so the data is the same on every run
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
  const w = 16, h = 16;
  const values = Array.from({ length: w * h }, () => rand() % 6);
  for (const f of [0, 1, 2, 3, 4]) {
    const png = buildPng({ width: w, height: h, colorType: 0, depth: 8, pixels: rows(values.map((v) => [v]), w), filters: [f] });
    assert.deepEqual(decodeGray(png).gray, values, `filter ${f}`);
  }
});

test('PNG Adam7 interlaced: gray 8-bit, 1-bit and RGB 16-bit, sizes that leave some passes empty', () => {
  for (const [w, h] of [[11, 9], [1, 1], [3, 2], [8, 8], [17, 5]]) {
    const values = Array.from({ length: w * h }, (_, i) => (i * 29 + 3) & 255);
    const png = buildPng({ width: w, height: h, colorType: 0, depth: 8, interlace: 1, pixels: rows(values.map((v) => [v]), w) });
    assert.deepEqual(decodeGray(png), { width: w, height: h, gray: values }, `gray8 ${w}x${h}`);

    const bits = values.map((v) => (v >> 3) & 1);
    const png1 = buildPng({ width: w, height: h, colorType: 0, depth: 1, interlace: 1, pixels: rows(bits.map((v) => [v]), w) });
    assert.deepEqual(decodeGray(png1).gray, bits.map((v) => v * 255), `gray1 ${w}x${h}`);

    const rgb = values.map((v) => [v * 257, v * 257, v * 257]); // gray in RGB: luminance is v
    const png16 = buildPng({ width: w, height: h, colorType: 2, depth: 16, interlace: 1, pixels: rows(rgb, w) });
    assert.deepEqual(decodeGray(png16).gray, values, `rgb16 ${w}x${h}`);
  }
});

test('PNG: ancillary chunks are skipped, CRC check can be turned off', () => {
  const png = buildPng({ width: 2, height: 1, colorType: 0, depth: 8, pixels: [[[1], [2]]], extra: [['tEXt', [...Buffer.from('a\0b')]]] });
  assert.deepEqual(decodeGray(png).gray, [1, 2]);
  const bad = Uint8Array.from(png);
  bad[29] ^= 0xff; // the CRC of IHDR (8 signature + 4 length + 4 type + 13 data)
  assert.throws(() => decodeImage(bad, 'crc.png'), /^Error: crc.png: CRC mismatch in PNG chunk IHDR/);
  assert.deepEqual([...decodeImage(bad, 'crc.png', { checkCrc: false }).gray], [1, 2]);
});

// ---- PGM --------------------------------------------------------------------------------------------------

test('PGM P5 with comments and 16-bit maxval', () => {
  const header = Buffer.from('P5 # a comment\n3 # width\n2\n# maxval next\n255\n', 'latin1');
  const pgm = Uint8Array.from([...header, 0, 128, 255, 1, 2, 3]);
  assert.deepEqual(decodeImage(pgm, 'a.pgm'), { width: 3, height: 2, gray: Uint8Array.from([0, 128, 255, 1, 2, 3]) });
  const p16 = Uint8Array.from([...Buffer.from('P5\n2 1\n65535\n'), 0x80, 0x80, 0xff, 0xff]);
  assert.deepEqual([...decodeImage(p16, 'b.pgm').gray], [128, 255]);
  const p15 = Uint8Array.from([...Buffer.from('P5\n3 1\n15\n'), 0, 7, 15]);
  assert.deepEqual([...decodeImage(p15, 'c.pgm').gray], [0, 119, 255]);
});

test('PGM P2 ASCII', () => {
  const pgm = Buffer.from('P2\n# comment\n4 2\n100\n0 50 100 25\n# mid-raster comment\n1   2\n3\t99\n');
  assert.deepEqual([...decodeImage(Uint8Array.from(pgm), 'a.pgm').gray], [0, 128, 255, 64, 3, 5, 8, 252]);
});

test('PGM errors', () => {
  const bad = (text, re) => assert.throws(() => decodeImage(Uint8Array.from(Buffer.from(text)), 'x.pgm'), re);
  bad('P5\n3 2\n255\n\x01\x02', /^Error: x.pgm: truncated PGM \(2 bytes of pixel data, expected 6\)/);
  bad('P5\n3 2\n0\n', /x.pgm: PGM maxval 0 out of range/);
  bad('P5\n3 2\n70000\n', /x.pgm: PGM maxval 70000 out of range/);
  bad('P5\n0 2\n255\n', /x.pgm: PGM width 0 out of range/);
  bad('P5\n9000 2\n255\n', /x.pgm: PGM width 9000 out of range/);
  bad('P2\n2 1\n10\n5 11\n', /x.pgm: PGM sample 1 is 11 \(expected <= maxval 10\)/);
  bad('P2\n2 1\n10\n5\n', /x.pgm: truncated PGM \(missing sample 1\)/);
  bad('P2\nx 1\n10\n', /x.pgm: bad PGM width/);
  bad('P2\n2 1\n10\n5 -1\n', /x.pgm: bad PGM sample 1/);
  bad('P2\n99999999999 1\n10\n', /x.pgm: PGM width has too many digits/);
  bad('P6\n1 1\n255\nabc', /x.pgm: unsupported netpbm type P6/);
  bad('GIF89a', /x.pgm: unknown image format/);
});

// ---- bad PNGs ---------------------------------------------------------------------------------------------

const good = () => buildPng({ width: 4, height: 3, colorType: 0, depth: 8, pixels: rows(Array(12).fill([9]), 4) });

test('PNG rejects a bad signature', () => {
  const png = good();
  png[3] = 0x58;
  assert.throws(() => decodeImage(png, 'sig.png'), /^Error: sig.png: bad PNG signature$/);
  assert.throws(() => decodeImage(new Uint8Array([0x89, 0x50]), 'short.png'), /short.png: bad PNG signature/);
  assert.throws(() => decodeImage(new Uint8Array(0), 'empty'), /empty: unknown image format/);
  assert.throws(() => decodeImage('not bytes', 'str'), /str: expected the file bytes as a Uint8Array/);
});

test('PNG rejects truncated files at every length', () => {
  const png = good();
  for (let n = 8; n < png.length; n++) {
    assert.throws(() => decodeImage(png.subarray(0, n), 'cut.png'), /^Error: cut.png: truncated PNG/, `length ${n}`);
  }
});

test('PNG rejects bad IHDR values', () => {
  const ihdr = (width, height, depth, colorType, interlace = 0) =>
    pngFromParts({ width, height, colorType, depth, interlace, idat: deflateSync(new Uint8Array(2)) });
  assert.throws(() => decodeImage(ihdr(1, 1, 3, 0), 'i.png'), /i.png: bad PNG bit depth 3 for color type 0 \(expected 1, 2, 4, 8, 16\)/);
  assert.throws(() => decodeImage(ihdr(1, 1, 4, 2), 'i.png'), /i.png: bad PNG bit depth 4 for color type 2/);
  assert.throws(() => decodeImage(ihdr(1, 1, 8, 5), 'i.png'), /i.png: bad PNG color type 5/);
  assert.throws(() => decodeImage(ihdr(1, 1, 8, 0, 2), 'i.png'), /i.png: bad PNG interlace method 2/);
  assert.throws(() => decodeImage(ihdr(0, 1, 8, 0), 'i.png'), /i.png: PNG width 0 out of range \(expected 1..4096\)/);
  assert.throws(() => decodeImage(ihdr(1, 1, 8, 3), 'i.png'), /i.png: palette image without PLTE chunk/);
  const short = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...chunk('IHDR', [0, 0, 0, 1]), ...chunk('IEND', [])]);
  assert.throws(() => decodeImage(short, 'i.png'), /i.png: IHDR chunk has 4 bytes \(expected 13\)/);
  const noIhdr = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...chunk('IDAT', [1]), ...chunk('IEND', [])]);
  assert.throws(() => decodeImage(noIhdr, 'i.png'), /i.png: first PNG chunk is IDAT \(expected IHDR\)/);
});

test('PNG rejects huge dimensions before allocating', () => {
  const huge = (w, h) => pngFromParts({ width: w, height: h, colorType: 6, depth: 16, idat: deflateSync(new Uint8Array(1)) });
  assert.throws(() => decodeImage(huge(100000, 1), 'big.png'), /big.png: PNG width 100000 out of range \(expected 1..4096\)/);
  assert.throws(() => decodeImage(huge(1, 0xffffffff), 'big.png'), /big.png: PNG height 4294967295 out of range/);
});

test('PNG rejects wrong decompressed sizes, zlib bombs, bad filters and bad palette indices', () => {
  const withRaw = (raw, extra = {}) => pngFromParts({ width: 2, height: 2, colorType: 0, depth: 8, idat: deflateSync(Uint8Array.from(raw)), ...extra });
  assert.deepEqual([...decodeImage(withRaw([0, 1, 2, 0, 3, 4]), 'ok.png').gray], [1, 2, 3, 4]);
  assert.throws(() => decodeImage(withRaw([0, 1, 2, 0, 3]), 'z.png'), /z.png: decompressed PNG data has 5 bytes \(expected 6\)/);
  assert.throws(() => decodeImage(withRaw([0, 1, 2, 0, 3, 4, 5]), 'z.png'), /z.png: decompressed PNG data is larger than expected 6 bytes/);
  // 64 MiB of zeros compresses to ~64 KiB; the decoder must stop at the expected 6 bytes.
  const bomb = pngFromParts({ width: 2, height: 2, colorType: 0, depth: 8, idat: deflateSync(new Uint8Array(64 << 20)) });
  assert.throws(() => decodeImage(bomb, 'bomb.png'), /bomb.png: decompressed PNG data is larger than expected/);
  const garbage = pngFromParts({ width: 2, height: 2, colorType: 0, depth: 8, idat: [1, 2, 3, 4] });
  assert.throws(() => decodeImage(garbage, 'z.png'), /z.png: corrupt PNG image data \(zlib: /);
  assert.throws(() => decodeImage(withRaw([0, 1, 2, 5, 3, 4]), 'f.png'), /f.png: bad PNG filter type 5 in row 1 \(expected 0..4\)/);
  const pal = pngFromParts({ width: 2, height: 1, colorType: 3, depth: 8, extra: [['PLTE', [1, 2, 3, 4, 5, 6]]], idat: deflateSync(Uint8Array.from([0, 1, 2])) });
  assert.throws(() => decodeImage(pal, 'p.png'), /p.png: palette index 2 out of range \(PLTE has 2 entries\)/);
  const big = Uint8Array.from([...good().subarray(0, 33), ...u32(0x7ffffff0), ...Buffer.from('IDAT'), 0, 0, 0, 0]);
  assert.throws(() => decodeImage(big, 'len.png'), /len.png: truncated PNG \(chunk IDAT at byte 33 declares 2147483632 bytes, 0 remain\)/);
});
