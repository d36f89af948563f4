// The layer editor's view of specs (web/app/spec.mjs) against the core: it offers exactly the core's layer
// kinds and activations, its rows read every canonical spec and write it back unchanged, and they line up with
// the core's layer list (for the shapes it shows).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { setup } from './helpers.mjs';
import { ACTIVATIONS, ROW_KINDS, adaptSpec, defaultRow, mapRows, parseSpec, projectionFor, specText } from '../web/app/spec.mjs';

const SPECS = [
  'conv2d 6 3x3 same stride 2 leakyrelu; batchnorm; residual; relu; conv2d 6 3x3 same; end\n' +
    'residual; conv2d 8 3x3 same stride 2 gelu; conv2d 8 3x3 same; batchnorm; skip; conv2d 8 1x1 stride 2; end tanh\n' +
    'avgpool 2; flatten; batchnorm; dropout 0.3; dense 16 sigmoid; batchnorm; dense 10',
  'input 12x12x3; conv2d 4 5x5 valid; leakyrelu 0.2; globalavgpool; dense 7 leakyrelu; dense 3',
  'flatten; residual; dense 784 gelu; end; dense 2',
];

test('the editor offers exactly the layer kinds and activations of the core', async () => {
  const { cnn } = await setup();
  const kinds = cnn.layerKinds();
  const coreLayers = kinds.filter((k) => k.role === 'layer').map((k) => k.name).sort();
  const coreActivations = kinds.filter((k) => k.role === 'activation').map((k) => k.name);
  assert.deepEqual(ACTIVATIONS, coreActivations);
  assert.deepEqual(ROW_KINDS.filter((k) => k !== 'activation' && k !== 'residual').sort(), coreLayers);
  // every kind the editor adds makes a spec the core accepts in some place
  for (const kind of ROW_KINDS) {
    const rows = kind === 'dense' || kind === 'flatten' || kind === 'dropout' || kind === 'activation'
      ? [defaultRow(kind), { kind: 'dense', units: 10, activation: '' }]
      : [{ kind: 'conv2d', filters: 16, kernel: 3, padding: 'same', stride: 1, activation: 'relu' }, defaultRow(kind),
        { kind: 'dense', units: 10, activation: '' }];
    assert.doesNotThrow(() => cnn.checkSpec(specText([28, 28, 1], rows)), `a new ${kind} row`);
  }
});

test('rows read every canonical spec and write it back unchanged, and line up with the core\'s layers', async () => {
  const { cnn } = await setup();
  for (const spec of [...cnn.presets(), ...SPECS]) {
    const info = cnn.checkSpec(spec);
    const parsed = parseSpec(info.spec);
    assert.ok(parsed, `the editor reads the canonical text of ${spec}`);
    const again = cnn.checkSpec(specText(parsed.input, parsed.rows));
    assert.equal(again.spec, info.spec, `rows of ${spec} write the same network`);
    const map = mapRows(parsed.rows, info.layers);
    assert.ok(map, `rows of ${spec} line up with the core's layers`);
    assert.deepEqual(map.at(-1).shape, info.layers.at(-2).outputShape, 'the last row is the output layer');
    assert.equal(map.reduce((n, r) => n + r.params, 0), info.paramCount, 'parameters add up');
    assert.ok(parseSpec(spec) || spec === cnn.presets().find((p) => p === spec), `the editor reads ${spec} as typed`);
  }
  assert.equal(parseSpec('residual; dense 4'), null, 'an unclosed block is left to the core');
  assert.equal(parseSpec('residual; residual; end; end'), null, 'nested blocks are left to the core');
});

test('a projection for a strided branch, and adapting a spec to a data set', async () => {
  const { cnn } = await setup();
  const block = defaultRow('residual');
  block.branch[0].stride = 2;
  const rows = [{ kind: 'conv2d', filters: 16, kernel: 3, padding: 'same', stride: 1, activation: 'relu' }, block,
    { kind: 'dense', units: 10, activation: '' }];
  assert.throws(() => cnn.checkSpec(specText(null, rows)), /add a projection on the skip/);
  block.skip = projectionFor(block);
  assert.equal(cnn.checkSpec(specText(null, rows)).layers.find((l) => l.kind === 'add').outputShape.join('x'), '14x14x16');
  const adapted = adaptSpec(cnn.checkSpec('resnet').spec, [32, 32, 3], 5);
  assert.equal(cnn.checkSpec(adapted).classes, 5);
  assert.match(adapted, /^input 32x32x3\n/);
});
