/**
 * charts.mjs - a small line chart on a canvas (training curves). Sharp on high-DPI screens, redraws on resize,
 * at most once per animation frame. Colours come from CSS custom properties so the theme applies.
 *
 *   const chart = new LineChart(canvas, { yMin: 0, format: (v) => v.toFixed(2) });
 *   chart.setSeries([{ name: 'train', color: '--series-1', points: [] }, ...]);
 *   chart.add(0, x, y);
 */

export class LineChart {
  /**
   * @param {HTMLCanvasElement} canvas sized by CSS; the bitmap follows
   * @param {{yMin?: number, yMax?: number, format?: (v: number) => string, xWhole?: boolean}} [o]
   *   yMin/yMax fix that end of the y axis (otherwise it follows the data); xWhole: whole numbers only on the
   *   x axis (e.g. epochs that are measured only at their end)
   */
  constructor(canvas, { yMin, yMax, format = (v) => v.toFixed(2), xWhole = false } = {}) {
    this.canvas = canvas;
    this.o = { yMin, yMax, format, xWhole };
    this.series = [];
    this.xMax = 1;
    this._frame = 0;
    new ResizeObserver(() => this.redraw()).observe(canvas);
  }

  /**
   * @param {{name: string, color: string, points?: number[][], dots?: boolean, line?: boolean, width?: number}[]} series
   *   line: false draws the dots only
   */
  setSeries(series) {
    this.series = series.map((s) => ({ points: [], dots: false, line: true, width: 1.5, ...s }));
    this.redraw();
  }

  /** Removes every point; @param {number} [xMax] the x range to show (e.g. the epoch count) */
  clear(xMax = this.xMax) {
    for (const s of this.series) s.points = [];
    this.xMax = xMax;
    this.redraw();
  }

  /** Adds a point to a series. @param {number} i series index @param {number} x @param {number} y */
  add(i, x, y) {
    if (!Number.isFinite(y)) return;
    this.series[i].points.push([x, y]);
    if (x > this.xMax) this.xMax = x;
    this.redraw();
  }

  /** Schedules a redraw on the next animation frame. */
  redraw() {
    if (this._frame) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      this._draw();
    });
  }

  _draw() {
    const { canvas } = this;
    const dpr = window.devicePixelRatio || 1;
    const cssW = canvas.clientWidth, cssH = canvas.clientHeight;
    if (!cssW || !cssH) return;
    if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
      canvas.width = Math.round(cssW * dpr);
      canvas.height = Math.round(cssH * dpr);
    }
    canvas.dataset.points = String(this.series.reduce((n, s) => n + s.points.length, 0));
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    const style = getComputedStyle(canvas);
    const color = (c) => (c.startsWith('--') ? style.getPropertyValue(c).trim() || '#888' : c);
    const ink = color('--chart-ink'), grid = color('--chart-grid');
    ctx.font = `11px ${style.fontFamily}`;

    // y range from the data unless fixed
    let lo = Infinity, hi = -Infinity;
    for (const s of this.series) for (const [, y] of s.points) { lo = Math.min(lo, y); hi = Math.max(hi, y); }
    if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
    lo = this.o.yMin ?? lo;
    hi = this.o.yMax ?? hi;
    if (hi - lo < 1e-6) hi = lo + 1;
    [lo, hi] = niceRange(lo, hi, this.o.yMin !== undefined, this.o.yMax !== undefined);

    const pad = { l: 44, r: 10, t: 8, b: 26 };
    const w = cssW - pad.l - pad.r, h = cssH - pad.t - pad.b;
    const X = (x) => pad.l + (x / this.xMax) * w;
    const Y = (y) => pad.t + (1 - (y - lo) / (hi - lo)) * h;

    // grid and labels
    ctx.strokeStyle = grid;
    ctx.fillStyle = ink;
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const v = lo + ((hi - lo) * i) / 4;
      const y = Math.round(Y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.l, y);
      ctx.lineTo(pad.l + w, y);
      ctx.stroke();
      ctx.fillText(this.o.format(v), pad.l - 6, y);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const xStep = this.o.xWhole ? Math.max(1, Math.ceil(niceStep(this.xMax / 5))) : niceStep(this.xMax / 5);
    for (let x = 0; x <= this.xMax + 1e-9; x += xStep) {
      ctx.fillText(String(+x.toFixed(2)), X(x), pad.t + h + 6);
    }

    // series
    ctx.save();
    ctx.beginPath();
    ctx.rect(pad.l - 4, pad.t - 4, w + 8, h + 8); // room for the dots at the ends
    ctx.clip();
    for (const s of this.series) {
      if (!s.points.length) continue;
      ctx.strokeStyle = ctx.fillStyle = color(s.color);
      ctx.lineWidth = s.width;
      ctx.lineJoin = 'round';
      ctx.beginPath();
      s.points.forEach(([x, y], i) => (i ? ctx.lineTo(X(x), Y(y)) : ctx.moveTo(X(x), Y(y))));
      if (s.line) ctx.stroke();
      if (s.dots) {
        for (const [x, y] of s.points) {
          ctx.beginPath();
          ctx.arc(X(x), Y(y), 3, 0, 2 * Math.PI);
          ctx.fill();
        }
      }
    }
    ctx.restore();
  }
}

function niceStep(raw) {
  if (raw <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** Widens [lo, hi] to round numbers (ends that are fixed stay). */
function niceRange(lo, hi, fixLo, fixHi) {
  const step = niceStep((hi - lo) / 4);
  return [fixLo ? lo : Math.floor(lo / step) * step, fixHi ? hi : Math.ceil(hi / step) * step];
}

/**
 * Draws a histogram as bars filling the canvas (sized by CSS; sharp on high-DPI screens).
 * @param {HTMLCanvasElement} canvas @param {{lo: number, hi: number, counts: number[]}} h
 * @param {string} [color='--series-2'] a CSS custom property or colour
 */
export function drawHistogram(canvas, { counts }, color = '--series-2') {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 160, hgt = canvas.clientHeight || 40;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(hgt * dpr);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, hgt);
  const style = getComputedStyle(canvas);
  ctx.fillStyle = color.startsWith('--') ? style.getPropertyValue(color).trim() || '#888' : color;
  const top = Math.max(1, ...counts);
  const bw = w / counts.length;
  counts.forEach((n, i) => {
    const bh = n ? Math.max(1, (n / top) * (hgt - 2)) : 0;
    ctx.fillRect(i * bw + 0.5, hgt - bh, Math.max(1, bw - 1), bh);
  });
  canvas.dataset.total = String(counts.reduce((a, b) => a + b, 0));
}
