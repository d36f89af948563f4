/**
 * histogram.mjs - histograms of a model's weights and gradients, made in the training worker from
 * Model.tensor / Model.gradient and drawn by the page.
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
