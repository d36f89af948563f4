/**
 * data-loading.mjs - fetching and naming IDX files (used by the training worker). The bytes themselves are
 * unpacked by ../data.mjs and validated by the C core (Cnn.datasetFromIdx).
 */
import { IDX_FILES } from '../data.mjs';

/** Where the page's MNIST lives (same origin, gzip IDX, written by build.sh). */
export const MNIST_BASE = new URL('../data/', import.meta.url);

/** The two files of each split, by role. */
export const SPLITS = {
  train: { images: IDX_FILES.trainImages, labels: IDX_FILES.trainLabels },
  test: { images: IDX_FILES.testImages, labels: IDX_FILES.testLabels },
};

/**
 * Fetches several files at once, reporting the byte count as it streams in.
 * @param {URL[]} urls
 * @param {(loaded: number, total: number) => void} onProgress total is 0 until every size is known
 * @returns {Promise<Uint8Array[]>}
 */
export async function fetchAll(urls, onProgress) {
  const loaded = urls.map(() => 0);
  const sizes = urls.map(() => 0);
  const report = () => onProgress(loaded.reduce((a, b) => a + b, 0), sizes.every((s) => s > 0) ? sizes.reduce((a, b) => a + b, 0) : 0);
  return Promise.all(urls.map(async (url, i) => {
    let res;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new Error(`could not fetch ${url.pathname} (${e.message})`);
    }
    if (!res.ok) throw new Error(`could not fetch ${url.pathname}: HTTP ${res.status}${res.status === 404 ? ' (run bash build.sh)' : ''}`);
    sizes[i] = Number(res.headers.get('Content-Length')) || 1;
    const chunks = [];
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded[i] += value.length;
      report();
    }
    if (sizes[i] === 1) sizes[i] = loaded[i];
    const out = new Uint8Array(loaded[i]);
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.length;
    }
    report();
    return out;
  }));
}

/**
 * Recognises the four files of an IDX data set by their names (train-/t10k- or test-, images/labels or
 * idx3/idx1; any extension, e.g. .gz).
 * @param {{name: string}[]} files
 * @returns {{train: {images: object, labels: object}, test: {images: object, labels: object}}} the same objects
 * @throws {Error} naming what is missing or ambiguous
 */
export function classifyIdxFiles(files) {
  const slots = { train: { images: null, labels: null }, test: { images: null, labels: null } };
  const unknown = [];
  for (const f of files) {
    const n = f.name.toLowerCase();
    const split = /train/.test(n) ? 'train' : /t10k|test/.test(n) ? 'test' : null;
    const role = /image|idx3/.test(n) ? 'images' : /label|idx1/.test(n) ? 'labels' : null;
    if (!split || !role) { unknown.push(f.name); continue; }
    if (slots[split][role]) throw new Error(`two files look like the ${split} ${role}: ${slots[split][role].name} and ${f.name}`);
    slots[split][role] = f;
  }
  const missing = [];
  for (const split of ['train', 'test']) {
    for (const role of ['images', 'labels']) if (!slots[split][role]) missing.push(`${split} ${role}`);
  }
  if (unknown.length || missing.length) {
    throw new Error(`expected four IDX files named like train-images-idx3-ubyte, train-labels-idx1-ubyte, ` +
      `t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (raw or .gz)` +
      (missing.length ? `; missing: ${missing.join(', ')}` : '') +
      (unknown.length ? `; not recognised: ${unknown.join(', ')}` : ''));
  }
  return slots;
}
