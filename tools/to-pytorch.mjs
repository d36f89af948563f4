#!/usr/bin/env node
// to-pytorch.mjs - the way to scale out: writes a PyTorch module for a model's architecture (same layer names,
// tensor names and layouts as the weight files) and a torchrun / DistributedDataParallel training script that
// writes a weight file the page, the JS API and the other tools load.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { loadCnn } from '../web/cnn.mjs';
import { ddpScript, pytorchModule } from './lib/pytorch.mjs';
import { UsageError, parseToolArgs, printResult, readBytes, resolveModelSpec, runTool } from './lib/cli.mjs';

const USAGE = `Usage: node tools/to-pytorch.mjs --model <preset|spec file|spec text|weights.safetensors> [--out DIR]

Writes DIR/model.py (a torch.nn.Module whose state_dict keys, shapes and layouts are those of this project's
.safetensors files, with load/save helpers) and DIR/train_ddp.py (trains it with torchrun on CPUs or GPUs and
writes a .safetensors file that tools/eval.mjs, tools/predict.mjs and the page load). For example:

  node tools/to-pytorch.mjs --model resnet --out torch-resnet
  torchrun --nproc_per_node 4 torch-resnet/train_ddp.py --data DIR --epochs 10 --augment --out resnet.safetensors
  node tools/eval.mjs --weights resnet.safetensors

The last line of stdout is a JSON object naming the files written.

  --model M    a preset (${'PRESETS'}), a spec file, spec text, or a .safetensors file (its architecture)
  --out DIR    where to write model.py and train_ddp.py (default: pytorch)
  -h, --help   this text
`;

async function main() {
  const cnn = await loadCnn();
  const usage = USAGE.replace('PRESETS', cnn.presets().join(', '));
  const { values: v } = parseToolArgs(process.argv.slice(2), { model: { type: 'string' }, out: { type: 'string' } }, usage);
  if (!v.model) throw new UsageError('--model is required (a preset, a spec file, spec text or a .safetensors file); see --help');
  let spec;
  if (/\.safetensors$/i.test(v.model)) {
    const m = cnn.loadModel(await readBytes(v.model, cnn, 'weight file'), { maxBatch: 1 });
    spec = m.spec;
    m.free();
  } else {
    spec = await resolveModelSpec(cnn, v.model);
  }
  const info = cnn.checkSpec(spec);
  const dir = v.out ?? 'pytorch';
  await mkdir(dir, { recursive: true });
  const module = path.join(dir, 'model.py'), script = path.join(dir, 'train_ddp.py');
  await writeFile(module, pytorchModule(info));
  await writeFile(script, ddpScript());
  process.stderr.write(`wrote ${module} (${info.paramCount.toLocaleString('en-US')} parameters) and ${script}\n`);
  printResult({ module, script, parameters: info.paramCount, spec: info.spec });
}

await runTool('to-pytorch', main);
