// Fine-tuning as a learner does it: a new head, layers left out of a load, and the user's own handwriting
// (simulated: real MNIST digits drawn thick and slanted) learnt without forgetting MNIST.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { setup, parseSafetensors } from './helpers.mjs';

const PRETRAINED = fileURLToPath(new URL('../assets/pretrained.safetensors', import.meta.url));

/** A user's style: strokes thickened by `thick` pixels and slanted by `shear` (x shifts by shear per row). */
export function styled(img, shear = 0.5, thick = 2) {
  const out = new Uint8Array(784);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const sx = Math.round(x - shear * (y - 14));
      let v = 0;
      for (let dy = -thick; dy <= thick; dy++) {
        for (let dx = -thick; dx <= thick; dx++) {
          const yy = y + dy, xx = sx + dx;
          if (yy >= 0 && yy < 28 && xx >= 0 && xx < 28) v = Math.max(v, img[yy * 28 + xx]);
        }
      }
      out[y * 28 + x] = v;
    }
  }
  return out;
}

/** n digits of ds from index first on, per digit at most perDigit, in the style. */
function styledSet(cnn, ds, first, perDigit) {
  const labels = ds.labels(), picked = [], count = new Array(10).fill(0);
  for (let i = first; i < ds.count && picked.length < 10 * perDigit; i++) {
    if (count[labels[i]] < perDigit) { count[labels[i]]++; picked.push(i); }
  }
  const images = new Uint8Array(picked.length * 784);
  picked.forEach((idx, j) => images.set(styled(ds.images(idx)), j * 784));
  return cnn.datasetFromArrays(images, Uint8Array.from(picked, (i) => labels[i]), { height: 28, width: 28, classes: 10 });
}

test('a new head: a pre-trained body loads strictly except the head, of any class count', async () => {
  const { cnn } = await setup();
  const bytes = new Uint8Array(readFileSync(PRETRAINED));
  const pre = cnn.loadModel(bytes);
  const spec5 = pre.specWithClasses(5);
  assert.match(spec5, /\ndense 5\nsoftmax\n$/);
  const five = cnn.createModel(spec5, { seed: 3 });
  const fresh = parseSafetensors(five.save()).tensors;
  assert.equal(five.loadWeights(bytes, { except: five.headName }), 6, 'conv1, conv2, fc1: weights and biases');
  const t = parseSafetensors(five.save()).tensors, p = parseSafetensors(bytes).tensors;
  assert.deepEqual(t['conv1.weight'].data, p['conv1.weight'].data, 'the body comes from the file');
  assert.deepEqual(t['fc1.weight'].data, p['fc1.weight'].data);
  assert.deepEqual(t['fc2.weight'].shape, [5, 128]);
  assert.deepEqual(t['fc2.weight'].data, fresh['fc2.weight'].data, 'the head stays as created');
  assert.throws(() => five.loadWeights(bytes), /tensor 'fc2.weight' has shape \(10, 128\), the model expects \(5, 128\)/);
  assert.throws(() => five.loadWeights(bytes, { except: 'fc9' }), /no layer with parameters named 'fc9'/);
  // same class count: reinit draws the head afresh, the rest stays
  pre.reinit('fc2');
  const r = parseSafetensors(pre.save()).tensors;
  assert.notDeepEqual(r['fc2.weight'].data, p['fc2.weight'].data);
  assert.ok(r['fc2.bias'].data.every((x) => x === 0), 'biases start at 0');
  assert.deepEqual(r['conv2.weight'].data, p['conv2.weight'].data);
  [pre, five].forEach((m) => m.free());
});

test('fine-tuning on 200 of "my" digits raises accuracy on my held-out digits, MNIST drops by at most 1 point', async (t) => {
  const { cnn, train, test: t10k } = await setup();
  const mine = styledSet(cnn, train, 0, 20);          // 20 per digit to train on
  const heldOut = styledSet(cnn, t10k, 0, 100);       // 100 per digit of other writers' digits, in my style
  const model = cnn.loadModel(new Uint8Array(readFileSync(PRETRAINED)));
  model.reseed(1);
  const before = { style: model.evaluate(heldOut).accuracy, mnist: model.evaluate(t10k).accuracy };
  const t0 = performance.now();
  await model.fit(mine, { epochs: 6, batchSize: 32, lr: 5e-4, augment: true, replay: { data: train, first: 20000, ratio: 0.5 } });
  const seconds = (performance.now() - t0) / 1000;
  const after = { style: model.evaluate(heldOut).accuracy, mnist: model.evaluate(t10k).accuracy };
  t.diagnostic(`my style: ${(100 * before.style).toFixed(1)}% -> ${(100 * after.style).toFixed(1)}%; MNIST test: ` +
    `${(100 * before.mnist).toFixed(2)}% -> ${(100 * after.mnist).toFixed(2)}%; fine-tune ${seconds.toFixed(1)} s`);
  assert.ok(before.style < 0.85, `the style is hard for the pre-trained model (${before.style})`);
  assert.ok(after.style > before.style + 0.08, `style ${before.style} -> ${after.style}`);
  assert.ok(after.mnist > before.mnist - 0.01, `MNIST ${before.mnist} -> ${after.mnist}`);
  [mine, heldOut, model].forEach((o) => o.free());
});
