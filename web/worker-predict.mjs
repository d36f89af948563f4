/**
 * worker-predict.mjs - the prediction worker: holds snapshots of models and answers drawing predictions (MNIST
 * preprocessing + forward pass) in a few milliseconds, also while another worker trains. Each model sits in a
 * slot: 'current' is the page's current model (replaced at start, every few seconds of training, at its end);
 * a widget with a model of its own uses a slot named after its URL.
 *
 * Requests (see shared/worker-rpc.mjs); slot defaults to 'current':
 *   init {variant}                       -> {build, kernels}            load the core ('auto', 'simd', 'scalar')
 *   setModel {bytes, slot}               -> model info                 replace a slot's model (.safetensors bytes)
 *   predictDrawing {gray, width, height, slot, layers}
 *                                        -> {input, probs, layers?} | {empty}   gray: (height, width) uint8,
 *                                           white ink; layers: also each conv, pool and hidden dense layer's
 *                                           output for this drawing [{index, name, kind, shape, values}]
 *   predictInputs {x, slot}              -> {probs}                     x: (n, H, W, C) float in [0, 1]
 *   filters {slot}                       -> {name, count, size, channels, weights} | {none}  the first conv
 *                                           layer's weights, PyTorch layout (count, channels, size, size)
 *   saliency {input, slot}               -> {gradients, classes}       d(class score)/d(input) for each class,
 *                                           (classes, H, W, C)
 *   memory                               -> {heap, need}                wasm heap bytes, and about what the models need
 */
import { loadCnn } from './cnn.mjs';
import { serve, Transfer } from './shared/worker-rpc.mjs';
import { modelInfo } from './shared/model-info.mjs';
import { heapNeed } from './shared/memory.mjs';

const EMPTY_DRAWING = 5;       // CnnError status of preprocessDigit for a drawing without ink
const INSIGHT_KINDS = new Set(['conv2d', 'maxpool', 'avgpool', 'dense']);

let cnnPromise = null;
/** @type {Map<string, import('./cnn.mjs').Model>} */
const models = new Map();

async function core() {
  if (!cnnPromise) throw new Error('predict worker: not initialised');
  return cnnPromise;
}

function slotModel(slot = 'current') {
  const model = models.get(slot);
  if (!model) throw new Error(`predict: no model loaded yet${slot === 'current' ? '' : ` for ${slot}`}`);
  return model;
}

serve({
  async init({ variant = 'auto' }) {
    cnnPromise ??= loadCnn({ variant });
    const cnn = await cnnPromise;
    return { build: cnn.build, kernels: cnn.kernels };
  },

  async setModel({ bytes, slot = 'current' }) {
    const cnn = await core();
    const next = cnn.loadModel(bytes, { maxBatch: 32 });
    models.get(slot)?.free();
    models.set(slot, next);
    return modelInfo(next);
  },

  async predictDrawing({ gray, width, height, slot, layers = false }) {
    const cnn = await core();
    const model = slotModel(slot);
    const [h, w, c] = model.inputShape;
    if (h !== 28 || w !== 28 || c !== 1) {
      throw new Error(`predict: this model takes ${h}x${w}x${c} images; drawings are 28x28x1`);
    }
    let input;
    try {
      input = cnn.preprocessDigit(gray, width, height, { invert: false });
    } catch (e) {
      if (e.status === EMPTY_DRAWING) return { empty: true };
      throw e;
    }
    const probs = model.predict(input);
    if (!layers) return new Transfer({ input, probs }, [input.buffer, probs.buffer]);
    const outputs = layerOutputs(model);
    return new Transfer({ input, probs, layers: outputs }, [input.buffer, probs.buffer, ...outputs.map((l) => l.values.buffer)]);
  },

  async predictInputs({ x, slot }) {
    await core();
    const model = slotModel(slot);
    const probs = model.predict(x);
    return new Transfer({ probs, classes: model.classes }, [probs.buffer]);
  },

  async filters({ slot }) {
    await core();
    const model = slotModel(slot);
    const conv = model.layers.find((l) => l.params > 0);
    if (!conv || conv.kind !== 'conv2d') return { none: true };
    const { shape, data } = model.tensor(`${conv.name}.weight`); // PyTorch layout (out, in, kh, kw)
    const [count, channels, size] = shape;
    return new Transfer({ name: conv.name, count, size, channels, weights: data }, [data.buffer]);
  },

  async saliency({ input, slot }) {
    await core();
    const model = slotModel(slot);
    const size = input.length, k = model.classes;
    const gradients = new Float32Array(k * size);
    for (let c = 0; c < k; c++) gradients.set(model.inputGradient(input, c), c * size);
    return new Transfer({ gradients, classes: k }, [gradients.buffer]);
  },

  async memory() {
    const cnn = await core();
    const held = [...models.values()];
    return { heap: cnn.memoryBytes, need: heapNeed(held.map(modelInfo), held.map((m) => m.maxBatch)) };
  },
});

/** The outputs of the layers worth showing, for the image of the last predict() call. */
function layerOutputs(model) {
  const layers = model.layers;
  const out = [];
  layers.forEach((l, index) => {
    if (!INSIGHT_KINDS.has(l.kind) || index === lastDense(layers)) return;
    out.push({ index, name: l.name, kind: l.kind, shape: l.outputShape, values: model.layerOutput(index) });
  });
  return out;
}

/** The output layer (its softmax is the probabilities, shown as such). */
function lastDense(layers) {
  for (let i = layers.length - 1; i >= 0; i--) if (layers[i].kind === 'dense') return i;
  return -1;
}
