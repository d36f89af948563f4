#!/usr/bin/env node
// transfer.mjs - the transfer-learning lab (after the classic Keras "mnist_transfer_cnn" example): pre-train a
// CNN on the digits 0-4, then learn the digits 5-9 three ways (convolutions frozen, everything fine-tuned, from
// scratch) and compare test accuracy after each epoch, time and speed.
import { loadCnn } from '../web/cnn.mjs';
import { runTransferLab } from '../web/shared/transfer.mjs';
import { loadIdxPair } from './lib/mnist.mjs';
import { numberOption, parseToolArgs, printResult, runTool, say, UsageError } from './lib/cli.mjs';

const USAGE = `Usage: node tools/transfer.mjs [options]

Pre-trains a CNN on MNIST digits 0-4, then trains it on digits 5-9 (relabelled 0-4) in three ways:
  frozen    the pre-trained convolutions kept fixed, the dense layers trained from their pre-trained values
  finetune  every layer trained, starting from the pre-trained weights
  scratch   a new model of the same architecture, trained from its initial weights
and prints, for each, the test accuracy on 5-9 after every epoch, the wall time and images/s. Progress goes to
stderr; the last line of stdout is one JSON object.

  --epochs N           epochs on 5-9 for each way (default 3)
  --pretrain-epochs N  epochs on 0-4 (default 1)
  --limit N            training images of each half (default: all, about 30,000)
  --batch N            batch size (default 32)   --lr X  learning rate (default 0.002, Adam)
  --seed N             (default 1)               --workers N  data-parallel threads (default 1)
  -h, --help           this text
`;

async function main() {
  const { values: v } = parseToolArgs(process.argv.slice(2), Object.fromEntries(
    ['epochs', 'pretrain-epochs', 'limit', 'batch', 'lr', 'seed', 'workers'].map((k) => [k, { type: 'string' }])), USAGE);
  const epochs = numberOption(v, 'epochs', 3, { min: 1, max: 100, integer: true });
  const preEpochs = numberOption(v, 'pretrain-epochs', 1, { min: 1, max: 100, integer: true });
  const limit = numberOption(v, 'limit', 1e7, { min: 100, max: 1e7, integer: true });
  const batch = numberOption(v, 'batch', 32, { min: 1, max: 512, integer: true });
  const lr = numberOption(v, 'lr', 2e-3, { min: 1e-7, max: 10 });
  const seed = numberOption(v, 'seed', 1, { min: 0, max: 0xffffffff, integer: true });
  const workers = numberOption(v, 'workers', 1, { min: 1, max: 64, integer: true });
  if (workers > 1) throw new UsageError('--workers: the lab runs one thread per way (the ways are compared by speed)');

  const cnn = await loadCnn();
  const [train, test] = [await loadIdxPair(cnn, 'train'), await loadIdxPair(cnn, 'test')];
  say(`pre-training on digits 0-4: ${preEpochs} epoch${preEpochs === 1 ? '' : 's'}`);
  const r = await runTransferLab(cnn, {
    train, test, epochs, preEpochs, limit, batch, lr, seed,
    onPretrained: (p) => say(`pre-trained on ${p.images} images: ${(100 * p.accuracy04).toFixed(2)}% on 0-4; on 5-9 before ` +
      `transfer: ${(100 * p.accuracy59).toFixed(2)}% (chance is 20%)`),
    onEpoch: (e) => e.epoch > 0 && say(`${e.way.padEnd(8)} epoch ${e.epoch}/${epochs}: test accuracy on 5-9 ${(100 * e.accuracy).toFixed(2)}%`),
  });
  const results = r.ways;
  const col = (s, w) => String(s).padStart(w);
  say('');
  say(`${'way'.padEnd(9)}${Array.from({ length: epochs }, (_, i) => col(`epoch ${i + 1}`, 10)).join('')}${col('time', 9)}${col('images/s', 10)}`);
  for (const [name, r] of Object.entries(results)) {
    say(`${name.padEnd(9)}${r.accuracy.map((a) => col(`${(100 * a).toFixed(2)}%`, 10)).join('')}${col(`${r.seconds} s`, 9)}${col(r.images_per_second, 10)}`);
  }
  printResult({ pretrain: r.pretrain, epochs, batch, seed, ways: results });
}

await runTool('transfer', main);
