#!/usr/bin/env node
// predict.mjs - classifies image files (PNG or PGM) with a saved model, using the MNIST preprocessing recipe.
import path from 'node:path';

import { loadCnn } from '../web/cnn.mjs';
import { decodeImage } from './lib/image.mjs';
import { UsageError, aboutFile, parseToolArgs, printResult, readBytes, runTool, say } from './lib/cli.mjs';

const USAGE = `Usage: node tools/predict.mjs --weights FILE [--raw] [--invert|--no-invert] <image.png|.pgm ...>

Classifies each image. By default a drawing goes through the MNIST recipe (ink bounding box scaled to 20 px,
centre of mass at the centre of 28x28); dark ink on a light background is detected from the border and inverted.
The last line of stdout is one JSON object: {"predictions":[{"file","label","confidence","probabilities"}]}.
An image that cannot be read or classified gets {"file","error"} instead, is named on stderr, and the others
are still classified; the exit status is then 1.

  --weights FILE   the model (.safetensors)
  --raw            use images as they are (they must already be the model's input size, white on black)
  --invert         force: dark ink on a light background      --no-invert  force: light ink on dark
  -h, --help       this text
`;

/** Dark ink on light paper when the border is mostly bright. */
function looksInverted(gray, w, h) {
  let sum = 0, n = 0;
  for (let x = 0; x < w; x++) { sum += gray[x] + gray[(h - 1) * w + x]; n += 2; }
  for (let y = 0; y < h; y++) { sum += gray[y * w] + gray[y * w + w - 1]; n += 2; }
  return sum / n > 127;
}

/** Class probabilities for one image file; errors name the file. */
async function classify(cnn, model, file, v) {
  const [H, W, C] = model.inputShape;
  const bytes = await readBytes(file, cnn, 'image');
  const { width, height, gray } = aboutFile(file, () => {
    try {
      return decodeImage(bytes, path.basename(file));
    } catch (e) {
      throw new UsageError(e.message.startsWith(path.basename(file)) ? `${file}${e.message.slice(path.basename(file).length)}` : `${file}: ${e.message}`);
    }
  });
  const invert = v.invert ? true : v['no-invert'] ? false : looksInverted(gray, width, height);
  let x;
  if (v.raw) {
    if (width !== W || height !== H || C !== 1) {
      throw new UsageError(`${file}: --raw needs a ${W}x${H} image, this one is ${width}x${height}`);
    }
    x = Float32Array.from(gray, (g) => (invert ? 255 - g : g) / 255);
  } else {
    if (H !== 28 || W !== 28 || C !== 1) throw new UsageError(`${file}: the MNIST recipe needs a 28x28x1 model; use --raw`);
    x = aboutFile(file, () => cnn.preprocessDigit(gray, width, height, { invert }));
  }
  return aboutFile(file, () => model.predict(x));
}

async function main() {
  const { values: v, positionals: files } = parseToolArgs(process.argv.slice(2), {
    weights: { type: 'string' }, raw: { type: 'boolean' }, invert: { type: 'boolean' }, 'no-invert': { type: 'boolean' },
  }, USAGE, true);
  if (!v.weights) throw new UsageError('--weights is required; see --help');
  if (files.length === 0) throw new UsageError('no image given; see --help');
  const cnn = await loadCnn();
  const weights = await readBytes(v.weights, cnn, '--weights');
  const model = aboutFile(v.weights, () => cnn.loadModel(weights, { maxBatch: 64 }));
  const predictions = [];
  for (const file of files) {
    try {
      const probs = await classify(cnn, model, file, v);
      let label = 0;
      for (let i = 1; i < probs.length; i++) if (probs[i] > probs[label]) label = i;
      say(`${file}: ${label} (${(100 * probs[label]).toFixed(1)}%)`);
      predictions.push({ file, label, confidence: probs[label], probabilities: Array.from(probs, (p) => Math.round(p * 1e6) / 1e6) });
    } catch (e) {
      if (!(e instanceof UsageError || e.name === 'FileError' || e.name === 'CnnError')) throw e;
      say(`predict: ${e.message}`);
      predictions.push({ file, error: e.message });
      process.exitCode = 1;
    }
  }
  printResult({ predictions });
}

await runTool('predict', main);
