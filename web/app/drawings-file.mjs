/**
 * drawings-file.mjs - the user's drawings as files: export as one .tar archive of gzip IDX files (the layout of
 * an IDX data directory, docs/formats.md), and the files of an import sorted into image/label pairs. The IDX
 * bytes themselves are validated by the C core (the training worker's decodeIdx); this module only writes IDX,
 * packs and unpacks the archive, and names the files.
 */

/** The folder inside the archive, and the four file names (the t10k pair holds the held-out drawings). */
export const ARCHIVE_FOLDER = 'my-drawings';
const NAMES = {
  train: ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'],
  test: ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'],
};
const BLOCK = 512; // tar block size

/**
 * @param {Uint8Array} pixels (n, 28, 28) @param {number} n @returns {Uint8Array} an idx3-ubyte file
 */
export function idxImages(pixels, n) {
  const out = new Uint8Array(16 + pixels.length);
  const v = new DataView(out.buffer);
  [0x803, n, 28, 28].forEach((x, i) => v.setUint32(4 * i, x)); // magic: unsigned bytes, 3 dimensions
  out.set(pixels, 16);
  return out;
}

/** @param {Uint8Array} labels (n) @returns {Uint8Array} an idx1-ubyte file */
export function idxLabels(labels) {
  const out = new Uint8Array(8 + labels.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x801);
  v.setUint32(4, labels.length);
  out.set(labels, 8);
  return out;
}

/** @param {Uint8Array} bytes @returns {Promise<Uint8Array>} gzip */
export async function gzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * The drawings as one archive: my-drawings/train-{images,labels}-... (for training) and t10k-... (the held-out
 * ones), each pair only when it has a drawing (IDX has no empty files).
 * @param {{pixels: Uint8Array, label: number, heldOut: boolean}[]} samples
 * @returns {Promise<Uint8Array>} a ustar archive
 */
export async function drawingsArchive(samples) {
  const files = [];
  for (const [split, held] of [['train', false], ['test', true]]) {
    const part = samples.filter((s) => !!s.heldOut === held);
    if (!part.length) continue;
    const pixels = new Uint8Array(part.length * 784);
    part.forEach((s, i) => pixels.set(s.pixels, i * 784));
    const [imagesName, labelsName] = NAMES[split];
    files.push({ name: `${ARCHIVE_FOLDER}/${imagesName}`, bytes: await gzip(idxImages(pixels, part.length)) });
    files.push({ name: `${ARCHIVE_FOLDER}/${labelsName}`, bytes: await gzip(idxLabels(Uint8Array.from(part, (s) => s.label))) });
  }
  return writeTar(files);
}

/**
 * A ustar archive of regular files. @param {{name: string, bytes: Uint8Array}[]} files names < 100 bytes
 * @returns {Uint8Array}
 */
export function writeTar(files) {
  const size = files.reduce((n, f) => n + BLOCK + Math.ceil(f.bytes.length / BLOCK) * BLOCK, 2 * BLOCK);
  const out = new Uint8Array(size);
  const text = new TextEncoder();
  let p = 0;
  const mtime = Math.floor(Date.now() / 1000);
  for (const f of files) {
    const h = out.subarray(p, p + BLOCK);
    const field = (off, len, s) => h.set(text.encode(s).subarray(0, len), off);
    const octal = (off, len, n) => field(off, len, `${n.toString(8).padStart(len - 1, '0')}\0`);
    field(0, 100, f.name);
    octal(100, 8, 0o644);
    octal(108, 8, 0);
    octal(116, 8, 0);
    octal(124, 12, f.bytes.length);
    octal(136, 12, mtime);
    field(156, 1, '0');
    field(257, 8, 'ustar\u000000');
    field(148, 8, '        ');
    const sum = h.reduce((a, b) => a + b, 0);
    field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    out.set(f.bytes, p + BLOCK);
    p += BLOCK + Math.ceil(f.bytes.length / BLOCK) * BLOCK;
  }
  return out; // ends with two zero blocks
}

/** @param {Uint8Array} bytes @returns {boolean} whether the bytes look like a tar archive (ustar magic) */
export function isTar(bytes) {
  return bytes.length >= 2 * BLOCK && String.fromCharCode(...bytes.subarray(257, 262)) === 'ustar';
}

/**
 * The regular files of a tar archive (folders and other entries are skipped).
 * @param {Uint8Array} bytes @param {string} [name] the archive's name, for messages
 * @returns {{name: string, bytes: Uint8Array}[]} names without their folders
 * @throws {Error} when a header is damaged or a file runs past the end
 */
export function readTar(bytes, name = 'archive') {
  const files = [];
  const text = new TextDecoder();
  for (let p = 0; p + BLOCK <= bytes.length;) {
    const h = bytes.subarray(p, p + BLOCK);
    if (h.every((b) => b === 0)) break; // the end
    const str = (off, len) => text.decode(h.subarray(off, off + len)).replace(/\0.*$/s, '');
    const size = parseInt(str(124, 12).trim() || '0', 8);
    const stored = parseInt(str(148, 8).trim(), 8);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (!Number.isFinite(size) || size < 0 || stored !== sum) throw new Error(`${name}: not a valid tar archive (damaged header at byte ${p})`);
    if (p + BLOCK + size > bytes.length) throw new Error(`${name}: the archive is cut short (${str(0, 100)} needs ${size} bytes)`);
    const type = String.fromCharCode(h[156]);
    if (type === '0' || type === '\0') {
      const full = (str(345, 155) ? `${str(345, 155)}/` : '') + str(0, 100);
      files.push({ name: full.split('/').pop(), bytes: bytes.slice(p + BLOCK, p + BLOCK + size) });
    }
    p += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return files;
}

/**
 * Sorts imported IDX files into image/label pairs: train-* and t10k-* (or test-*) pairs as in a data
 * directory, or one pair named only by images/labels (idx3/idx1).
 * @param {{name: string, bytes: Uint8Array}[]} files
 * @returns {{images: {name, bytes}, labels: {name, bytes}, heldOut: boolean|null}[]} heldOut: the t10k pair
 *   (true), the train pair (false), or not said (null: the page decides, as for drawings saved here)
 * @throws {Error} naming the files it cannot place
 */
export function idxPairs(files) {
  const slots = new Map(); // split -> {images, labels}
  const unknown = [];
  for (const f of files) {
    const n = f.name.toLowerCase();
    const split = /train/.test(n) ? 'train' : /t10k|test/.test(n) ? 'test' : 'any';
    const role = /image|idx3/.test(n) ? 'images' : /label|idx1/.test(n) ? 'labels' : null;
    if (!role) {
      unknown.push(f.name);
      continue;
    }
    if (!slots.has(split)) slots.set(split, {});
    const slot = slots.get(split);
    if (slot[role]) throw new Error(`two files look like the ${split === 'any' ? '' : `${split} `}${role}: ${slot[role].name} and ${f.name}`);
    slot[role] = f;
  }
  if (unknown.length) {
    throw new Error(`not recognised as IDX images or labels: ${unknown.join(', ')} (expected names like ` +
      'train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz, or the .tar archive the page exports)');
  }
  if (!slots.size) throw new Error('no IDX files to import');
  return [...slots].map(([split, { images, labels }]) => {
    if (!images || !labels) {
      const have = images ?? labels;
      throw new Error(`${have.name} has no matching ${images ? 'labels' : 'images'} file`);
    }
    return { images, labels, heldOut: split === 'test' ? true : split === 'train' ? false : null };
  });
}
