/**
 * draw.mjs - pixels on canvases: the drawing pad (pointer input: mouse, touch, pen) and small image renderers
 * (the 28x28 input the model sees, data set images).
 *
 * The pad draws white ink on black, like MNIST, so predictions use preprocessDigit(..., {invert: false}). It
 * keeps the strokes: the model's input is rendered from them with a pen width relative to the digit's size
 * (modelPixels), and the last stroke can be undone.
 */

/** The widest pen on the pad, as a fraction of its side (a large digit drawn with a finger). */
const PEN_MAX = 0.07;
/** The narrowest pen on the pad, in canvas pixels (the first point of a stroke is still visible). */
const PEN_MIN = 3;
/**
 * Stroke width relative to the digit's size (the longer side of the strokes' bounding box): MNIST strokes are
 * about 2 px wide on a digit about 18 px tall (centre line to centre line).
 */
const STROKE_TO_SIZE = 0.12;
/** Smallest digit size used for the width: a lone tap becomes a dot, not an invisible point. */
const MIN_SIZE = 0.03;
/** The model input is rendered with the digit's box this many pixels wide (then the MNIST recipe runs). */
const RENDER_BOX = 112;

export class DrawingPad {
  /**
   * @param {HTMLCanvasElement} canvas its width/height attributes set the drawing's resolution
   * @param {{onChange?: () => void, onStrokeEnd?: () => void}} [callbacks]
   */
  constructor(canvas, { onChange = () => {}, onStrokeEnd = () => {} } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { willReadFrequently: true });
    this.onChange = onChange;
    this.onStrokeEnd = onStrokeEnd;
    /** whether anything has been drawn since the last clear */
    this.hasInk = false;
    /** the strokes, each a list of points in canvas pixels */
    this.strokes = [];
    this._painted = false; // pixels were put into the canvas from outside (an image, a test)
    this._pointer = null;  // {id, x, y} while a stroke is in progress
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
    this.strokes = [];
    this._painted = false;
    this._pointer = null;
  }

  /** Removes the last stroke. @returns {boolean} whether there was one */
  undo() {
    if (this._pointer || !this.strokes.length) return false;
    this.strokes.pop();
    this._redraw();
    this.hasInk = this.strokes.length > 0;
    this.onChange();
    return true;
  }

  /** @returns {Uint8Array} (height, width) intensities of the canvas as shown, white ink = 255 */
  grayPixels() {
    return readGray(this.ctx, this.canvas.width, this.canvas.height);
  }

  /**
   * The drawing for the model: the strokes rendered with a pen relative to the digit's size, so that a small
   * digit reads like a large one (or, for pixels painted into the pad, the canvas as it is).
   * @returns {{gray: Uint8Array, width: number, height: number}} white ink on black
   */
  modelPixels() {
    if (this._painted || !this.strokes.length) {
      return { gray: this.grayPixels(), width: this.canvas.width, height: this.canvas.height };
    }
    const box = bounds(this.strokes);
    const size = Math.max(box.w, box.h, MIN_SIZE * this.canvas.width);
    const scale = RENDER_BOX / size;
    const width = scale * STROKE_TO_SIZE * size;
    const side = Math.ceil(RENDER_BOX + 2 * width + 4);
    const c = document.createElement('canvas');
    c.width = c.height = side;
    const ctx = c.getContext('2d', { willReadFrequently: true });
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, side, side);
    const cx = box.x + box.w / 2, cy = box.y + box.h / 2;
    ctx.setTransform(scale, 0, 0, scale, side / 2 - scale * cx, side / 2 - scale * cy);
    drawStrokes(ctx, this.strokes, width / scale);
    return { gray: readGray(ctx, side, side), width: side, height: side };
  }

  /** @returns {boolean} whether a stroke is in progress */
  get drawing() {
    return this._pointer !== null;
  }

  /** Marks the pad as drawn on (after painting into it from outside, e.g. an image or a test). */
  markInk() {
    this.hasInk = true;
    this.strokes = [];
    this._painted = true;
    this.onChange();
  }

  /** Pen width on the pad: relative to the digit drawn so far, between PEN_MIN and PEN_MAX of the side. */
  _penWidth() {
    const box = bounds(this.strokes);
    const size = Math.max(box.w, box.h, MIN_SIZE * this.canvas.width);
    return Math.min(PEN_MAX * this.canvas.width, Math.max(PEN_MIN, STROKE_TO_SIZE * size));
  }

  _redraw() {
    const { ctx, canvas } = this;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    drawStrokes(ctx, this.strokes, this._penWidth());
  }

  _point(e) {
    const r = this._rect; // read at pointerdown: reading layout on every move would force a layout each time
    return { x: (e.clientX - r.left) * this.canvas.width / r.width, y: (e.clientY - r.top) * this.canvas.height / r.height };
  }

  _down(e) {
    if (e.pointerType === 'mouse' && e.button !== 0) return;
    if (this._pointer) return; // a second finger does not draw
    e.preventDefault();
    try {
      this.canvas.setPointerCapture?.(e.pointerId);
    } catch { /* the pointer is already gone (or made by a script): draw without capture */ }
    this._rect = this.canvas.getBoundingClientRect();
    const p = this._point(e);
    if (this._painted) this.clear(); // strokes start a drawing of their own
    this._pointer = { id: e.pointerId, ...p };
    this.strokes.push([p]);
    this._redraw(); // a tap leaves a dot
    this.hasInk = true;
    this.onChange();
  }

  _move(e) {
    if (!this._pointer || e.pointerId !== this._pointer.id) return;
    e.preventDefault();
    const stroke = this.strokes[this.strokes.length - 1];
    const events = e.getCoalescedEvents?.() ?? [];
    const before = this._penWidth();
    for (const ev of events.length ? events : [e]) {
      const p = this._point(ev);
      stroke.push(p);
      this._pointer.x = p.x;
      this._pointer.y = p.y;
    }
    // the pen follows the digit's size: redraw everything when it changed, else only the new segments
    if (Math.abs(this._penWidth() - before) > 0.25) this._redraw();
    else drawStrokes(this.ctx, [stroke.slice(-(events.length || 1) - 1)], before);
    this.onChange();
  }

  _up(e) {
    if (!this._pointer || e.pointerId !== this._pointer.id) return;
    this._pointer = null;
    this.onStrokeEnd();
  }
}

/** The bounding box of all points. */
function bounds(strokes) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const s of strokes) {
    for (const p of s) {
      if (p.x < x0) x0 = p.x;
      if (p.x > x1) x1 = p.x;
      if (p.y < y0) y0 = p.y;
      if (p.y > y1) y1 = p.y;
    }
  }
  return x0 === Infinity ? { x: 0, y: 0, w: 0, h: 0 } : { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/** White strokes with round ends and joins; a stroke of one point is a dot. */
function drawStrokes(ctx, strokes, width) {
  ctx.strokeStyle = ctx.fillStyle = '#fff';
  ctx.lineWidth = width;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  for (const s of strokes) {
    if (s.length === 1 || s.every((p) => p.x === s[0].x && p.y === s[0].y)) {
      ctx.beginPath();
      ctx.arc(s[0].x, s[0].y, width / 2, 0, 2 * Math.PI);
      ctx.fill();
      continue;
    }
    ctx.beginPath();
    ctx.moveTo(s[0].x, s[0].y);
    for (let i = 1; i < s.length; i++) ctx.lineTo(s[i].x, s[i].y);
    ctx.stroke();
  }
}

function readGray(ctx, width, height) {
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const gray = new Uint8Array(width * height);
  for (let i = 0; i < gray.length; i++) gray[i] = rgba[4 * i];
  return gray;
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
