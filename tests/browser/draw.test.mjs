// Browser tests of drawing and predicting with the pretrained model: start-up time, real MNIST test digits drawn
// with the mouse, clearing, and the canvas preprocessing path on digits drawn at random sizes and positions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  missingPrerequisite, launch, openPage, gotoReady, tid, readMnistTest, drawDigit, settledPrediction, screenshot,
} from './helpers.mjs';

let env, page, firstReadyMs;

before(async () => {
  const missing = missingPrerequisite();
  if (missing) throw new Error(`cannot run the browser tests: ${missing}`); // a failure, never a skip
  env = await launch();
  ({ page, readyMs: firstReadyMs } = await openPage(env));
});

after(async () => {
  await env?.close();
});

test('the pretrained model is ready to predict about a second after navigation', async (t) => {
  const again = [], inPage = [];
  for (let i = 0; i < 2; i++) {
    again.push(await gotoReady(page, env.server.url));
    // the page's own mark, from navigation start (without the test's round trips)
    inPage.push(Math.round(await page.evaluate(() => performance.getEntriesByName('ready')[0].startTime)));
  }
  t.diagnostic(`navigation -> ready: first load ${firstReadyMs} ms, reloads ${again.join(', ')} ms ` +
    `(performance mark 'ready' at ${inPage.join(', ')} ms)`);
  assert.ok(Math.min(...again) < 3000, `ready after ${again} ms`);
  assert.equal(await page.textContent(tid('prediction')), '');
  assert.equal(await page.locator(`${tid('probabilities')} > *`).count(), 10);
  assert.doesNotMatch(await page.getAttribute(tid('status'), 'class'), /error/, await page.textContent(tid('status')));
});

test('ten real MNIST test digits drawn with the mouse: at least nine read right', async (t) => {
  const { images, labels } = readMnistTest(0, 10);
  const got = [];
  await page.evaluate(() => performance.clearMeasures());
  for (let i = 0; i < images.length; i++) {
    await page.keyboard.press('Escape');
    assert.equal(await settledPrediction(page), '', 'the drawing is cleared');
    await drawDigit(page, images[i]);
    got.push(Number(await settledPrediction(page)));
  }
  const right = got.filter((d, i) => d === labels[i]).length;
  const latencies = await page.evaluate(() => performance.getEntriesByName('pointerup-to-prediction').map((m) => m.duration));
  latencies.sort((a, b) => a - b);
  const pick = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(1);
  t.diagnostic(`labels ${labels.join('')}, read ${got.join('')}: ${right}/10`);
  t.diagnostic(`pointerup -> prediction shown over ${latencies.length} strokes: median ${pick(0.5)} ms, p90 ${pick(0.9)} ms, max ${pick(1)} ms`);
  assert.ok(right >= 9, `read ${got.join('')} for ${labels.join('')}`);
  assert.ok(latencies.length >= 10);
  const bars = await page.locator(`${tid('probabilities')} > *`).count();
  assert.equal(bars, 10);
  await screenshot(page, 'draw');
});

test('the same digits drawn large, small and tiny read alike (the pen follows the digit\'s size)', async (t) => {
  const { images, labels } = readMnistTest(100, 10);
  const read = {};
  for (const size of [0.9, 0.4, 0.2, 0.1]) {
    read[size] = [];
    for (let i = 0; i < images.length; i++) {
      await page.keyboard.press('Escape');
      await drawDigit(page, images[i], { size, cx: 0.3 + 0.4 * ((i * 7) % 10) / 10, cy: 0.35 + 0.3 * ((i * 3) % 10) / 10, synthetic: true });
      read[size].push(Number(await settledPrediction(page)));
    }
  }
  await page.keyboard.press('Escape');
  const right = (size) => read[size].filter((d, i) => d === labels[i]).length;
  t.diagnostic(`labels ${labels.join('')}; ` + Object.keys(read).map((s) => `at ${Math.round(100 * s)}% of the pad read ${read[s].join('')} (${right(s)}/10)`).join(', '));
  for (const size of [0.4, 0.2, 0.1]) assert.ok(right(size) >= Math.min(9, right(0.9)) - 1, `${right(size)}/10 at ${size}, ${right(0.9)}/10 large`);
  assert.ok(right(0.9) >= 9);
});

test('undo removes the last stroke; a tap leaves a dot', async () => {
  await page.keyboard.press('Escape');
  const [seven] = readMnistTest(0, 1).images;
  const strokes = await drawDigit(page, seven);
  assert.equal(await settledPrediction(page), '7');
  const box = await page.locator(tid('draw-canvas')).boundingBox();
  await page.mouse.click(box.x + box.width * 0.85, box.y + box.height * 0.85); // a tap
  await settledPrediction(page);
  const dot = await page.evaluate(() => {
    const c = document.querySelector('[data-testid="draw-canvas"]');
    const d = c.getContext('2d').getImageData(Math.round(c.width * 0.85) - 1, Math.round(c.height * 0.85) - 1, 3, 3).data;
    return Math.max(...d.filter((_, i) => i % 4 === 0));
  });
  assert.ok(dot > 200, `the tap left a dot (${dot})`);
  await page.click('[data-part="undo"]');
  assert.equal(await settledPrediction(page), '7', 'the dot is gone');
  for (let i = 0; i < strokes; i++) await page.keyboard.press('Control+z');
  assert.equal(await settledPrediction(page), '', 'every stroke undone: nothing drawn');
});

test('the clear button and the c key empty the drawing and the prediction', async () => {
  const [digit] = readMnistTest(1, 1).images;
  await drawDigit(page, digit);
  assert.notEqual(await settledPrediction(page), '');
  await page.click(tid('clear-canvas'));
  assert.equal(await settledPrediction(page), '');
  await drawDigit(page, digit);
  assert.notEqual(await settledPrediction(page), '');
  await page.locator('body').press('c');
  assert.equal(await settledPrediction(page), '');
  // typing into a field does not clear the drawing
  await drawDigit(page, digit);
  await page.fill('#epochs', '2');
  await page.focus('#epochs');
  await page.keyboard.press('Backspace');
  assert.notEqual(await settledPrediction(page), '');
  await page.keyboard.press('Escape');
});

test('preprocessing: 200 MNIST digits painted at random sizes and positions are read as well as the originals', async (t) => {
  const n = 200;
  const { images, labels } = readMnistTest(1000, n);
  const result = await page.evaluate(async ({ images, labels }) => {
    // Originals straight into the model (the same prediction worker the drawing uses).
    const x = new Float32Array(images.length * 784);
    images.forEach((img, i) => img.forEach((v, j) => { x[i * 784 + j] = v / 255; }));
    const probs = await window.cnnTest.predictInputs(x);
    let original = 0;
    for (let i = 0; i < images.length; i++) {
      const row = probs.subarray(i * 10, i * 10 + 10);
      if (row.indexOf(Math.max(...row)) === labels[i]) original++;
    }
    // The same digits painted large into the drawing canvas, then read through the drawing path.
    const canvas = document.querySelector('[data-testid="draw-canvas"]');
    const ctx = canvas.getContext('2d');
    const small = document.createElement('canvas');
    small.width = small.height = 28;
    const sctx = small.getContext('2d');
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    let drawn = 0;
    const sizes = [];
    for (let i = 0; i < images.length; i++) {
      const img = sctx.createImageData(28, 28);
      images[i].forEach((v, j) => { img.data.set([v, v, v, 255], 4 * j); });
      sctx.putImageData(img, 0, 0);
      const side = canvas.width * (0.3 + 0.7 * rand());      // the 28x28 box: 30% to 100% of the canvas
      const left = (canvas.width - side) * rand(), top = (canvas.height - side) * rand();
      sizes.push(Math.round(side));
      ctx.fillStyle = '#000';
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = 'high';
      ctx.drawImage(small, left, top, side, side);
      const { digit } = await window.cnnTest.drawn();
      if (digit === labels[i]) drawn++;
    }
    return { original, drawn, minSide: Math.min(...sizes), maxSide: Math.max(...sizes), side: canvas.width };
  }, { images: images.map((a) => Array.from(a)), labels });
  await page.keyboard.press('Escape');
  t.diagnostic(`originals ${result.original}/${n}, painted at ${result.minSide}-${result.maxSide} px on a ${result.side} px canvas: ${result.drawn}/${n}`);
  assert.ok(result.original >= 0.95 * n, `the pretrained model reads ${result.original}/${n} originals`);
  assert.ok(result.drawn >= result.original - 0.01 * n, `${result.drawn}/${n} painted vs ${result.original}/${n} originals`);
});
