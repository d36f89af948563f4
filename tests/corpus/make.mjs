#!/usr/bin/env node
// make.mjs - writes the corpus of malformed inputs in this folder (weights/, idx/, images/, specs/) and
// manifest.json: for each file, what it is and the reason every reader must give when refusing it
// (tests/corpus.test.mjs checks the CLI and the API; the browser tests check the page). Run it again after
// changing a case: node tests/corpus/make.mjs
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { gzipSync, deflateSync, crc32 } from 'node:zlib';

import { encodePng } from '../../tools/lib/image.mjs';
import { idxFile, makeSafetensors } from '../helpers.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const manifest = [];
for (const dir of ['weights', 'idx', 'images', 'specs']) rmSync(path.join(here, dir), { recursive: true, force: true });
const META = { format: 'cnn-wasm', format_version: '1', spec: 'input 4x4x1\ndense 3\nsoftmax\n' };
const TINY = { 'fc1.weight': { shape: [3, 16], data: new Float32Array(48).fill(0.1) }, 'fc1.bias': { shape: [3] } };

function add(kind, name, bytes, reason, about) {
  mkdirSync(path.join(here, kind), { recursive: true });
  writeFileSync(path.join(here, kind, name), bytes);
  manifest.push({ kind, file: `${kind}/${name}`, about, reason });
}

const tiny = () => makeSafetensors(TINY, META);
const ascii = (s) => new TextEncoder().encode(s);
const withHeader = (json, dataBytes = 0) => {
  const h = ascii(json);
  const out = new Uint8Array(8 + h.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  return out;
};

// ---- weight files ----
add('weights', 'empty.safetensors', new Uint8Array(0), 'not a \\.safetensors file', 'an empty file');
add('weights', 'image.safetensors', encodePng(new Uint8Array(64).fill(200), 8, 8), 'not a \\.safetensors file', 'a PNG image renamed');
add('weights', 'text.safetensors', ascii('{"fc1.weight": [1, 2, 3]}\n'), 'not a \\.safetensors file', 'a JSON text file');
add('weights', 'truncated.safetensors', tiny().subarray(0, 150), 'exceeds the file size|data_offsets end', 'cut short');
{
  const b = tiny();
  new DataView(b.buffer).setBigUint64(0, 2n ** 21n, true);
  add('weights', 'huge-header.safetensors', b, 'header length 2097152 exceeds the limit of 1048576 bytes', 'claims a 2 MiB header');
}
{
  const data = new Float32Array(48).fill(0.1);
  data[5] = NaN;
  add('weights', 'nan.safetensors', makeSafetensors({ ...TINY, 'fc1.weight': { shape: [3, 16], data } }, META),
    "tensor 'fc1.weight' element 5 is NaN", 'a NaN weight');
}
add('weights', 'no-metadata.safetensors', makeSafetensors(TINY), "no 'spec' in __metadata__",
  'tensors only, as PyTorch\'s save_file writes');
add('weights', 'wrong-shape.safetensors', makeSafetensors({ ...TINY, 'fc1.bias': { shape: [4] } }, META),
  "tensor 'fc1.bias' has shape \\(4\\), the model expects \\(3\\)", 'a tensor of the wrong shape');
add('weights', 'missing-tensor.safetensors', makeSafetensors({ 'fc1.weight': TINY['fc1.weight'] }, META),
  "no tensor 'fc1.bias'", 'a tensor missing');
add('weights', 'extra-tensor.safetensors', makeSafetensors({ ...TINY, 'fc9.weight': { shape: [2] } }, META),
  "a tensor 'fc9.weight' that the model does not have", 'a tensor too many');
add('weights', 'f16.safetensors', makeSafetensors({ ...TINY, 'fc1.bias': { shape: [2], dtype: 'F16' } }, META),
  'dtype F16, only F32', 'a half-precision tensor');
add('weights', 'bad-json.safetensors', withHeader('{"fc1.weight": {"dtype": "F32", "shape": [1], '), 'not valid JSON', 'a header cut inside its JSON');
add('weights', 'overlap.safetensors', withHeader('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 8),
  'overlaps', 'two tensors on the same bytes');
add('weights', 'bad-spec.safetensors', makeSafetensors(TINY, { ...META, spec: 'input 4x4x1\nconv2d 3 9x9\ndense 3\n' }),
  'the architecture in the file is invalid: .*kernel 9x9 is larger than its 4x4 input', 'an impossible architecture in its metadata');
add('weights', 'other-format.safetensors', makeSafetensors(TINY, { ...META, format: 'keras' }), "format is 'keras'", 'another program\'s format');
add('weights', 'escape.safetensors', makeSafetensors({ ...TINY, 'fc1.bias\u001b[2J\u001b[Haccuracy 99.99%': { shape: [1] } }, META),
  "that the model does not have", 'a tensor name with terminal escape sequences');

// ---- IDX data sets (test split: images + labels) ----
const idx = idxFile;
const LABELS = idx([0, 0, 8, 1], [3], Uint8Array.of(1, 2, 3));
const IMAGES = idx([0, 0, 8, 3], [3, 28, 28], new Uint8Array(3 * 784).fill(9));
function idxCase(name, images, labels, reason, about, gz = false) {
  const kind = `idx/${name}`;
  add(kind, gz ? 't10k-images-idx3-ubyte.gz' : 't10k-images-idx3-ubyte', images, reason, about);
  manifest.pop();
  add(kind, 't10k-labels-idx1-ubyte', labels, reason, about);
  Object.assign(manifest.at(-1), { kind: 'idx', file: kind });
}
idxCase('truncated', IMAGES.subarray(0, 1000), LABELS, 'images: file is truncated: data is 984 bytes, dimensions say 2352', 'images cut short');
idxCase('trailing', Uint8Array.of(...IMAGES, 1, 2), LABELS, 'images: file has trailing bytes', 'bytes after the images');
idxCase('magic', Uint8Array.of(1, 2, ...IMAGES.subarray(2)), LABELS, 'bad magic 01 02', 'not an IDX file');
idxCase('dtype', Uint8Array.of(0, 0, 0x0d, ...IMAGES.subarray(3)), LABELS, 'data type 0x0d is not supported', 'float data');
idxCase('count', IMAGES, idx([0, 0, 8, 1], [2], Uint8Array.of(1, 2)), '3 images but 2 labels', 'more images than labels');
idxCase('zero-dim', idx([0, 0, 8, 3], [3, 0, 28], new Uint8Array(0)), LABELS, 'dimension 1 is 0', 'an image of height 0');
idxCase('dims', idx([0, 0, 8, 5], [3, 28, 28, 1, 1], new Uint8Array(3 * 784)), LABELS, 'images: 5 dimensions \\(expected 3 to 4\\)', 'five dimensions');
idxCase('absurd', idx([0, 0, 8, 3], [0xffffffff, 0xffffffff, 28], new Uint8Array(16)), LABELS, 'absurdly large|file is truncated', 'dimensions that overflow');
idxCase('gzip-garbage', Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, ...new Uint8Array(40).fill(0xaa)), LABELS,
  'not a valid gzip file', 'gzip magic, then garbage', true);
idxCase('gzip-members', Uint8Array.of(...gzipSync(IMAGES.subarray(0, 100)), ...gzipSync(IMAGES.subarray(100))), LABELS,
  'several gzip members', 'two .gz files joined together', true);

// ---- images for predict ----
add('images', 'empty.png', new Uint8Array(0), 'unknown image format', 'an empty file');
add('images', 'text.png', ascii('hello'), 'unknown image format', 'text named .png');
{
  const b = encodePng(new Uint8Array(100).fill(128), 10, 10);
  b[b.length - 13] ^= 0xff; // inside the IDAT chunk's CRC
  add('images', 'bad-crc.png', b, 'CRC', 'a corrupted chunk');
  add('images', 'truncated.png', encodePng(new Uint8Array(100).fill(128), 10, 10).subarray(0, 40), 'truncated|ends', 'cut short');
}
/** A PNG from chunks [type, data], each with its length and a correct CRC. */
function png(chunks) {
  const parts = [Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)];
  for (const [type, data] of chunks) {
    const c = new Uint8Array(12 + data.length);
    const v = new DataView(c.buffer);
    v.setUint32(0, data.length);
    c.set(ascii(type), 4);
    c.set(data, 8);
    v.setUint32(8 + data.length, crc32(c.subarray(4, 8 + data.length)));
    parts.push(c);
  }
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}
const ihdr = (w, h) => {
  const d = new Uint8Array(13);
  new DataView(d.buffer).setUint32(0, w);
  new DataView(d.buffer).setUint32(4, h);
  d.set([8, 0, 0, 0, 0], 8); // 8-bit gray, deflate, filter 0, no interlace
  return d;
};
add('images', 'too-wide.png', png([['IHDR', ihdr(5000, 1)], ['IDAT', deflateSync(new Uint8Array(5001))], ['IEND', new Uint8Array(0)]]),
  'PNG width 5000 out of range \\(expected 1..4096\\)', 'wider than the core accepts');
add('images', 'bomb.png', png([['IHDR', ihdr(16, 1)], ['IDAT', deflateSync(new Uint8Array(1 << 20))], ['IEND', new Uint8Array(0)]]),
  'decompressed PNG data is larger than expected 17 bytes', '1 KB that inflates to 1 MB for a 16 x 1 image');
add('images', 'bad-header.pgm', ascii('P5\n28 x\n255\n'), 'PGM', 'a broken PGM header');
add('images', 'maxval.pgm', ascii('P5\n2 2\n0\n\0\0\0\0'), 'maxval 0 out of range', 'a PGM with maxval 0');
add('images', 'blank.png', encodePng(new Uint8Array(50 * 50).fill(255), 50, 50), 'empty', 'white paper, no ink');
// ---- architecture specs (train.mjs --model FILE) ----
add('specs', 'unknown-layer.txt', ascii('conv2d 8 3x3 relu\nblur 2\ndense 10\n'), "layer 2 \\('blur 2'\\): unknown layer 'blur'", 'a layer that does not exist');
add('specs', 'empty.txt', ascii('# nothing but a comment\n'), 'spec is empty', 'no layers');
add('specs', 'kernel.txt', ascii('input 8x8\nconv2d 8 9x9\ndense 10\n'), 'kernel 9x9 is larger than its 8x8 input', 'a kernel larger than its input');
add('specs', 'one-class.txt', ascii('dense 1\n'), 'expected 2..256 classes', 'a single output');
add('specs', 'no-head.txt', ascii('conv2d 8 3x3\n'), 'must end with a dense layer', 'no dense layer at the end');
add('specs', 'layers.txt', ascii(`${'relu\n'.repeat(70)}dense 10\n`), 'too many layers', '71 layers');
add('specs', 'nul.txt', ascii('dense 10\0 dense 5\n'), 'NUL', 'a NUL byte in the middle');
add('specs', 'huge.txt', ascii(`# ${'x'.repeat(70000)}\ndense 10\n`), 'larger than the limit of 64\\.0 KiB|70,0\\d\\d characters \\(expected at most 65536\\)', 'longer than the core reads');

writeFileSync(path.join(here, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
console.log(`tests/corpus: ${manifest.length} malformed inputs`);
