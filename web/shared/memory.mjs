/**
 * memory.mjs - when a worker's WebAssembly heap has grown far past what it holds now. Wasm memory never
 * shrinks: after a large model, a large spec or a refused file the heap stays big, so the page starts a fresh
 * worker instance when this says so (runtime.mjs).
 */

const MB = 1024 * 1024;
/** A fresh module instance starts with this much memory (build.sh: -sINITIAL_MEMORY). */
export const INITIAL_HEAP = 64 * MB;
/** Growth tolerated past twice what is held, before a fresh instance is worth its start-up. */
export const HEAP_SLACK = 256 * MB;

/**
 * About what a module instance needs for what it holds: the initial heap, the data sets' bytes, and per
 * model its parameters, gradients and optimizer moments plus forward and backward activations for a batch.
 * @param {{paramCount: number, layers: {outputShape: number[]}[]}[]} models with the batch each reserves
 * @param {number[]} maxBatches one per model
 * @param {number} datasetBytes
 * @returns {number} bytes
 */
export function heapNeed(models, maxBatches, datasetBytes = 0) {
  let bytes = INITIAL_HEAP + datasetBytes;
  models.forEach((m, i) => {
    const activations = m.layers.reduce((n, l) => n + l.outputShape.reduce((a, b) => a * b, 1), 0);
    bytes += 4 * (4 * m.paramCount + 2 * maxBatches[i] * activations);
  });
  return bytes;
}

/** @param {number} heap @param {number} need @returns {boolean} whether a fresh instance is worth it */
export function heapTooLarge(heap, need) {
  return heap > 2 * need + HEAP_SLACK;
}
