/**
 * histogram.mjs - per-layer histograms of a model's weights (and of their change between two looks), made in
 * the training worker from Model.params() (layer by layer, weight then bias) and drawn by the page.
 */

/** Bins per histogram. */
export const BINS = 24;

/**
 * @param {ArrayLike<number>} values @param {number} [bins=BINS]
 * @returns {{lo: number, hi: number, counts: number[]}} counts of values in [lo, hi] split into bins
 */
export function histogram(values, bins = BINS) {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < lo) lo = values[i];
    if (values[i] > hi) hi = values[i];
  }
  const counts = new Array(bins).fill(0);
  if (!(hi > lo)) {
    if (values.length) counts[0] = values.length;
    return { lo: Number.isFinite(lo) ? lo : 0, hi: Number.isFinite(hi) ? hi : 0, counts };
  }
  const scale = bins / (hi - lo);
  for (let i = 0; i < values.length; i++) counts[Math.min(bins - 1, Math.floor((values[i] - lo) * scale))]++;
  return { lo, hi, counts };
}

/**
 * The weights of each parameter layer, as ranges into Model.params().
 * @param {{name: string, params: number, outputShape: number[]}[]} layers Model.layers
 * @returns {{name: string, start: number, count: number}[]} the weight part (biases follow, one per output)
 */
export function weightRanges(layers) {
  const out = [];
  let offset = 0;
  for (const l of layers) {
    if (!l.params) continue;
    const biases = l.outputShape[2];
    out.push({ name: l.name, start: offset, count: l.params - biases });
    offset += l.params;
  }
  return out;
}
