// reference.mjs - a plain-JS forward pass with PyTorch semantics (NCHW, float64), read from a weight file's
// tensors and the canonical spec it holds: an independent check of the core's forward pass, of its layouts and
// of its in-place rules (nothing here shares a buffer).

/** erf(x) to about 1e-7 (Abramowitz and Stegun 7.1.26). @param {number} x */
function erf(x) {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) *
    Math.exp(-x * x);
  return x < 0 ? -y : y;
}

const map = (v, f) => ({ ...v, d: v.d.map(f) });

function conv(v, W, B, stride, pad) {
  const [oc, ic, k] = W.shape;
  const oh = Math.floor((v.h + 2 * pad - k) / stride) + 1, ow = Math.floor((v.w + 2 * pad - k) / stride) + 1;
  const d = new Float64Array(oc * oh * ow);
  for (let o = 0; o < oc; o++) for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
    let s = B.data[o];
    for (let c = 0; c < ic; c++) for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
      const iy = y * stride + ky - pad, ix = x * stride + kx - pad;
      if (iy >= 0 && iy < v.h && ix >= 0 && ix < v.w) s += W.data[((o * ic + c) * k + ky) * k + kx] * v.d[(c * v.h + iy) * v.w + ix];
    }
    d[(o * oh + y) * ow + x] = s;
  }
  return { c: oc, h: oh, w: ow, d };
}

function pool(v, f) {
  const oh = v.h >> 1, ow = v.w >> 1, d = new Float64Array(v.c * oh * ow);
  for (let c = 0; c < v.c; c++) for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
    const at = (dy, dx) => v.d[(c * v.h + 2 * y + dy) * v.w + 2 * x + dx];
    d[(c * oh + y) * ow + x] = f(at(0, 0), at(0, 1), at(1, 0), at(1, 1));
  }
  return { c: v.c, h: oh, w: ow, d };
}

/**
 * Class probabilities for one image.
 * @param {{tensors: object}} file parsed weight file (tests/helpers.mjs parseSafetensors)
 * @param {string} spec the canonical spec (one statement a line)
 * @param {Float32Array} image (H, W, C), as Model.predict takes it
 * @returns {Float64Array} (classes)
 */
export function referenceForward(file, spec, image) {
  const T = (name) => {
    if (!file.tensors[name]) throw new Error(`reference: no tensor ${name}`);
    return file.tensors[name];
  };
  const count = { conv: 0, fc: 0, bn: 0 };
  let v = null;
  const blocks = [];
  for (const line of spec.trim().split('\n')) {
    const [kind, ...a] = line.split(' ');
    if (kind === 'input') {
      const [h, w, c] = a[0].split('x').map(Number);
      const d = new Float64Array(c * h * w);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) d[(ch * h + y) * w + x] = image[(y * w + x) * c + ch];
      v = { c, h, w, d };
    } else if (kind === 'conv2d') {
      const n = `conv${++count.conv}`, k = Number(a[1].split('x')[0]);
      const stride = a[3] === 'stride' ? Number(a[4]) : 1, pad = a[2] === 'same' ? (k - 1) / 2 : 0;
      v = conv(v, T(`${n}.weight`), T(`${n}.bias`), stride, pad);
    } else if (kind === 'batchnorm') {
      const n = `bn${++count.bn}`, [w, b, rm, rv] = ['weight', 'bias', 'running_mean', 'running_var'].map((s) => T(`${n}.${s}`).data);
      const per = v.d.length / w.length; // values per channel (1 over flat features)
      v = map(v, (x, i) => { const c = Math.floor(i / per); return (x - rm[c]) / Math.sqrt(rv[c] + 1e-5) * w[c] + b[c]; });
    } else if (kind === 'relu') {
      v = map(v, (x) => Math.max(x, 0));
    } else if (kind === 'leakyrelu') {
      const slope = Number(a[0]);
      v = map(v, (x) => (x > 0 ? x : slope * x));
    } else if (kind === 'gelu') {
      v = map(v, (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)));
    } else if (kind === 'sigmoid') {
      v = map(v, (x) => 1 / (1 + Math.exp(-x)));
    } else if (kind === 'tanh') {
      v = map(v, Math.tanh);
    } else if (kind === 'maxpool') {
      v = pool(v, Math.max);
    } else if (kind === 'avgpool') {
      v = pool(v, (p, q, r, s) => (p + q + r + s) / 4);
    } else if (kind === 'globalavgpool') {
      const d = new Float64Array(v.c), n = v.h * v.w;
      for (let c = 0; c < v.c; c++) for (let i = 0; i < n; i++) d[c] += v.d[c * n + i] / n;
      v = { c: v.c, h: 1, w: 1, d };
    } else if (kind === 'flatten') {
      v = { c: v.d.length, h: 1, w: 1, d: v.d }; // (C, H, W) order, as PyTorch's flatten
    } else if (kind === 'dense') {
      const n = `fc${++count.fc}`, W = T(`${n}.weight`), B = T(`${n}.bias`), [out, inn] = W.shape, d = new Float64Array(out);
      for (let o = 0; o < out; o++) {
        let s = B.data[o];
        for (let i = 0; i < inn; i++) s += W.data[o * inn + i] * v.d[i];
        d[o] = s;
      }
      v = { c: out, h: 1, w: 1, d };
    } else if (kind === 'dropout') {
      // identity in inference
    } else if (kind === 'residual') {
      blocks.push({ input: v, branch: null });
    } else if (kind === 'skip') {
      const b = blocks.at(-1);
      b.branch = v;
      v = b.input;
    } else if (kind === 'end') {
      const b = blocks.pop();
      const branch = b.branch ?? v, skip = b.branch ? v : b.input;
      v = { ...branch, d: branch.d.map((x, i) => x + skip.d[i]) };
    } else if (kind === 'softmax') {
      const mx = Math.max(...v.d), e = v.d.map((x) => Math.exp(x - mx)), s = e.reduce((p, q) => p + q);
      return e.map((x) => x / s);
    } else {
      throw new Error(`reference: unknown statement '${line}'`);
    }
  }
  throw new Error('reference: the spec has no softmax');
}
