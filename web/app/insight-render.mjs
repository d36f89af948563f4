/**
 * insight-render.mjs - pixels for the insight views: feature maps in gray levels, filters and saliency in a
 * diverging colour scale (blue negative, black zero, orange positive), one canvas pixel per value.
 */

/**
 * One channel of an (H, W, C) tensor as gray levels: lo black, hi white.
 * @param {HTMLCanvasElement} canvas @param {Float32Array} values (H, W, C) @param {number[]} shape [H, W, C]
 * @param {number} channel @param {number} lo @param {number} hi
 */
export function renderChannel(canvas, values, [h, w, c], channel, lo, hi) {
  const img = imageFor(canvas, w, h);
  const span = hi - lo || 1;
  for (let i = 0; i < h * w; i++) {
    const v = Math.round(255 * Math.min(1, Math.max(0, (values[i * c + channel] - lo) / span)));
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  canvas.getContext('2d').putImageData(img, 0, 0);
}

/**
 * A (H, W) slice in the diverging scale, |v| = scale at full colour.
 * @param {HTMLCanvasElement} canvas @param {ArrayLike<number>} values read at (y * w + x) * stride + offset
 * @param {number} h @param {number} w @param {number} scale @param {number} [stride=1] @param {number} [offset=0]
 * @param {ArrayLike<number>} [base] (H, W) in [0, 1], drawn faintly beneath (e.g. the input under a saliency map)
 */
export function renderDiverging(canvas, values, h, w, scale, stride = 1, offset = 0, base = null) {
  const img = imageFor(canvas, w, h);
  for (let i = 0; i < h * w; i++) {
    const [r, g, b] = diverging(values[i * stride + offset] / (scale || 1));
    const under = base ? Math.round(70 * base[i]) : 0;
    img.data.set([Math.min(255, r + under), Math.min(255, g + under), Math.min(255, b + under), 255], 4 * i);
  }
  canvas.getContext('2d').putImageData(img, 0, 0);
}

/** @param {number} t in [-1, 1] @returns {number[]} r, g, b: blue for negative, orange for positive */
export function diverging(t) {
  const a = Math.min(1, Math.abs(t));
  return t >= 0 ? [Math.round(255 * a), Math.round(150 * a), Math.round(40 * a)] : [Math.round(40 * a), Math.round(120 * a), Math.round(255 * a)];
}

/** @param {ArrayLike<number>} values @returns {[number, number]} min and max */
export function range(values) {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < lo) lo = values[i];
    if (values[i] > hi) hi = values[i];
  }
  return lo === Infinity ? [0, 1] : [lo, hi];
}

function imageFor(canvas, w, h) {
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  return canvas.getContext('2d').createImageData(w, h);
}
