/**
 * draw.mjs - pixels on canvases: the drawing pad (pointer input: mouse, touch, pen) and small image renderers
 * (the 28x28 input the model sees, data set images).
 *
 * The pad draws white ink on black, like MNIST, so predictions use preprocessDigit(..., {invert: false}).
 */

/** Pen width as a fraction of the pad's side: MNIST strokes are about 1/8 of a digit's 20 px height. */
const PEN_FRACTION = 0.07;

export class DrawingPad {
  /**
   * @param {HTMLCanvasElement} canvas its width/height attributes set the resolution sent to preprocessing
   * @param {{onChange?: () => void, onStrokeEnd?: () => void}} [callbacks]
   */
  constructor(canvas, { onChange = () => {}, onStrokeEnd = () => {} } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { willReadFrequently: true });
    this.onChange = onChange;
    this.onStrokeEnd = onStrokeEnd;
    /** whether anything has been drawn since the last clear */
    this.hasInk = false;
    this._pointer = null; // {id, x, y} while a stroke is in progress
    this.clear();
    canvas.addEventListener('pointerdown', (e) => this._down(e));
    canvas.addEventListener('pointermove', (e) => this._move(e));
    canvas.addEventListener('pointerup', (e) => this._up(e));
    canvas.addEventListener('pointercancel', (e) => this._up(e));
    canvas.addEventListener('lostpointercapture', (e) => this._up(e));
  }

  /** Erases the drawing. */
  clear() {
    const { ctx, canvas } = this;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    this.hasInk = false;
    this._pointer = null;
  }

  /** @returns {Uint8Array} (height, width) intensities, white ink = 255 */
  grayPixels() {
    const { width, height } = this.canvas;
    const rgba = this.ctx.getImageData(0, 0, width, height).data;
    const gray = new Uint8Array(width * height);
    for (let i = 0; i < gray.length; i++) gray[i] = rgba[4 * i];
    return gray;
  }

  /** @returns {boolean} whether a stroke is in progress */
  get drawing() {
    return this._pointer !== null;
  }

  /** Marks the pad as drawn on (after painting into it from outside, e.g. a test). */
  markInk() {
    this.hasInk = true;
    this.onChange();
  }

  _point(e) {
    const r = this._rect; // read at pointerdown: reading layout on every move would force a layout each time
    return { x: (e.clientX - r.left) * this.canvas.width / r.width, y: (e.clientY - r.top) * this.canvas.height / r.height };
  }

  _down(e) {
    if (e.pointerType === 'mouse' && e.button !== 0) return;
    if (this._pointer) return; // a second finger does not draw
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    this._rect = this.canvas.getBoundingClientRect();
    const p = this._point(e);
    this._pointer = { id: e.pointerId, ...p };
    this._segment(p, p);
    this.hasInk = true;
    this.onChange();
  }

  _move(e) {
    if (!this._pointer || e.pointerId !== this._pointer.id) return;
    e.preventDefault();
    const events = e.getCoalescedEvents?.() ?? [];
    for (const ev of events.length ? events : [e]) {
      const p = this._point(ev);
      this._segment(this._pointer, p);
      this._pointer.x = p.x;
      this._pointer.y = p.y;
    }
    this.onChange();
  }

  _up(e) {
    if (!this._pointer || e.pointerId !== this._pointer.id) return;
    this._pointer = null;
    this.onStrokeEnd();
  }

  _segment(a, b) {
    const { ctx, canvas } = this;
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = PEN_FRACTION * canvas.width;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(b.x, b.y);
    ctx.stroke();
  }
}

/**
 * Shows a model input: values in [0, 1] as gray levels (white ink on black).
 * @param {HTMLCanvasElement} canvas @param {Float32Array|null} input (28, 28), or null to blank it
 */
export function renderInput(canvas, input, side = 28) {
  if (canvas.width !== side) canvas.width = side;
  if (canvas.height !== side) canvas.height = side;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(side, side);
  for (let i = 0; i < side * side; i++) {
    const v = input ? Math.round(Math.min(1, Math.max(0, input[i])) * 255) : 0;
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/**
 * Shows one data set image: 1 channel as gray, 3 or more as RGB (the first three channels).
 * @param {HTMLCanvasElement} canvas @param {Uint8Array} pixels (height, width, channels)
 * @param {number} height @param {number} width @param {number} channels
 */
export function renderImage(canvas, pixels, height, width, channels) {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const p = i * channels;
    const r = pixels[p], g = channels >= 3 ? pixels[p + 1] : r, b = channels >= 3 ? pixels[p + 2] : r;
    img.data[4 * i] = r;
    img.data[4 * i + 1] = g;
    img.data[4 * i + 2] = b;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}
