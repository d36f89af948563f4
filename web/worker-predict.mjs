/**
 * worker-predict.mjs - the prediction worker: holds a snapshot of the current model and answers drawing
 * predictions (MNIST preprocessing + forward pass) in a few milliseconds, also while another worker trains.
 * The page replaces the snapshot with 'setModel' (at start, every few seconds of training, at its end).
 *
 * Requests (see shared/worker-rpc.mjs):
 *   init {variant}                       -> {build, kernels}            load the core ('auto', 'simd', 'scalar')
 *   setModel {bytes}                     -> model info                 replace the model (.safetensors bytes)
 *   predictDrawing {gray, width, height} -> {input, probs} | {empty}   gray: (height, width) uint8, white ink
 *   predictInputs {x}                    -> {probs}                     x: (n, H, W, C) float in [0, 1]
 *   memory                               -> {heap, need}                wasm heap bytes, and about what the model needs
 */
import { loadCnn } from './cnn.mjs';
import { serve, Transfer } from './shared/worker-rpc.mjs';
import { modelInfo } from './shared/model-info.mjs';
import { heapNeed } from './shared/memory.mjs';

const EMPTY_DRAWING = 5; // CnnError status of preprocessDigit for a drawing without ink

let cnnPromise = null;
let model = null;

async function core() {
  if (!cnnPromise) throw new Error('predict worker: not initialised');
  return cnnPromise;
}

serve({
  async init({ variant = 'auto' }) {
    cnnPromise ??= loadCnn({ variant });
    const cnn = await cnnPromise;
    return { build: cnn.build, kernels: cnn.kernels };
  },

  async setModel({ bytes }) {
    const cnn = await core();
    const next = cnn.loadModel(bytes, { maxBatch: 32 });
    model?.free();
    model = next;
    return modelInfo(model);
  },

  async predictDrawing({ gray, width, height }) {
    const cnn = await core();
    if (!model) throw new Error('predict: no model loaded yet');
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
    return new Transfer({ input, probs }, [input.buffer, probs.buffer]);
  },

  async memory() {
    const cnn = await core();
    return { heap: cnn.memoryBytes, need: heapNeed(model ? [modelInfo(model)] : [], model ? [model.maxBatch] : []) };
  },

  async predictInputs({ x }) {
    await core();
    if (!model) throw new Error('predict: no model loaded yet');
    const probs = model.predict(x);
    return new Transfer({ probs, classes: model.classes }, [probs.buffer]);
  },
});
