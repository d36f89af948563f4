/**
 * spec.mjs - the architecture spec text as a list of rows for the layer editor, and back. Only a view: the
 * C core is what validates a spec (the page asks the training worker, which checks it); the kinds below are
 * the core's (tests/spec-editor.test.mjs checks them against Cnn.layerKinds()).
 *
 * Row kinds: conv2d {filters, kernel, padding, stride, activation}, maxpool, avgpool, globalavgpool,
 * dense {units, activation}, batchnorm, dropout {p}, flatten, activation {activation, slope},
 * residual {branch: rows, skip: rows|null, activation} (skip null: the identity; blocks do not nest).
 * activation is '' (none) or one of ACTIVATIONS; slope is leaky ReLU's (0.01 by default).
 */

export const ACTIVATIONS = ['relu', 'sigmoid', 'tanh', 'leakyrelu', 'gelu'];
export const ROW_KINDS = ['conv2d', 'maxpool', 'avgpool', 'globalavgpool', 'dense', 'batchnorm', 'dropout', 'flatten',
  'activation', 'residual'];
/** The kinds a residual block's branch or skip may hold (blocks do not nest). */
export const BLOCK_ROW_KINDS = ROW_KINDS.filter((k) => k !== 'residual');
/** Leaky ReLU's default negative slope (PyTorch's, and the core's). */
export const DEFAULT_SLOPE = 0.01;

/** A new row of a kind, with usual values. @param {string} kind */
export function defaultRow(kind) {
  switch (kind) {
    case 'conv2d': return { kind, filters: 16, kernel: 3, padding: 'valid', stride: 1, activation: 'relu' };
    case 'dense': return { kind, units: 64, activation: 'relu' };
    case 'dropout': return { kind, p: 0.25 };
    case 'activation': return { kind, activation: 'relu', slope: DEFAULT_SLOPE };
    case 'residual': return {
      kind,
      branch: [
        { kind: 'conv2d', filters: 16, kernel: 3, padding: 'same', stride: 1, activation: '' }, { kind: 'batchnorm' },
        { kind: 'activation', activation: 'relu', slope: DEFAULT_SLOPE },
        { kind: 'conv2d', filters: 16, kernel: 3, padding: 'same', stride: 1, activation: '' }, { kind: 'batchnorm' },
      ],
      skip: null, activation: 'relu',
    };
    default: return { kind };
  }
}

/**
 * The projection a block's skip needs when its branch changes the shape: a 1x1 convolution with the branch's
 * last filter count and the product of its strides. @param {object} block a residual row @returns {object[]}
 */
export function projectionFor(block) {
  const convs = block.branch.filter((r) => r.kind === 'conv2d');
  const filters = convs.length ? convs[convs.length - 1].filters : 16;
  const stride = convs.reduce((s, r) => s * (r.stride || 1), 1);
  return [{ kind: 'conv2d', filters, kernel: 1, padding: 'valid', stride, activation: '' }, { kind: 'batchnorm' }];
}

/** The rows of one statement (or null when not understood); act: a trailing activation word may apply. */
function rowOf(w) {
  const k = w[0];
  if ((k === 'conv2d' || k === 'conv') && w.length >= 3) {
    const m = /^(\d+)(?:x(\d+))?$/.exec(w[2]);
    if (!/^\d+$/.test(w[1]) || !m || (m[2] && m[2] !== m[1])) return null;
    const row = { kind: 'conv2d', filters: Number(w[1]), kernel: Number(m[1]), padding: 'valid', stride: 1, activation: '' };
    for (let i = 3; i < w.length; i++) {
      const opt = w[i];
      if (opt === 'same' || opt === 'valid') row.padding = opt;
      else if (opt === 'stride' && /^\d+$/.test(w[i + 1] ?? '')) row.stride = Number(w[++i]);
      else if (ACTIVATIONS.includes(opt) && !row.activation) row.activation = opt;
      else return null;
    }
    return row;
  }
  if ((k === 'maxpool' || k === 'avgpool') && (w.length === 1 || (w.length === 2 && /^2(x2)?$/.test(w[1])))) return { kind: k };
  if ((k === 'globalavgpool' || k === 'gap') && w.length === 1) return { kind: 'globalavgpool' };
  if ((k === 'batchnorm' || k === 'bn') && w.length === 1) return { kind: 'batchnorm' };
  if ((k === 'dense' || k === 'linear') && (w.length === 2 || w.length === 3) && /^\d+$/.test(w[1])) {
    if (w.length === 3 && !ACTIVATIONS.includes(w[2])) return null;
    return { kind: 'dense', units: Number(w[1]), activation: w[2] ?? '' };
  }
  if (k === 'dropout' && w.length === 2 && Number.isFinite(Number(w[1]))) return { kind: 'dropout', p: Number(w[1]) };
  if (k === 'flatten' && w.length === 1) return { kind: 'flatten' };
  if (k === 'leakyrelu' && w.length <= 2 && (w.length === 1 || Number.isFinite(Number(w[1])))) {
    return { kind: 'activation', activation: 'leakyrelu', slope: w.length === 2 ? Number(w[1]) : DEFAULT_SLOPE };
  }
  if (ACTIVATIONS.includes(k) && w.length === 1) return { kind: 'activation', activation: k, slope: DEFAULT_SLOPE };
  return null;
}

/** Whether an activation row may be folded into the row before it (its shorthand has no arguments). */
function foldable(prev, row) {
  return prev && !prev.activation && ['conv2d', 'dense', 'residual'].includes(prev.kind) &&
    (row.activation !== 'leakyrelu' || row.slope === DEFAULT_SLOPE);
}

/**
 * Reads spec text into rows.
 * @param {string} text
 * @returns {{input: number[]|null, rows: object[]}|null} null when a line is not understood here (the core
 *   still decides whether the text is valid)
 */
export function parseSpec(text) {
  const statements = text.replace(/^\uFEFF/, '').split('\n').map((l) => l.replace(/#.*/, '')).join(';').split(';')
    .map((s) => s.trim().toLowerCase()).filter(Boolean);
  let input = null;
  const rows = [];
  let block = null, list = rows; // the open residual block and the list rows go to
  for (const st of statements) {
    const w = st.split(/[\s,]+/);
    const k = w[0];
    if (k === 'input' && w.length === 2 && rows.length === 0 && !input && !block) {
      const m = /^(\d+)x(\d+)(?:x(\d+))?$/.exec(w[1]);
      if (!m) return null;
      input = [Number(m[1]), Number(m[2]), Number(m[3] ?? 1)];
    } else if (k === 'residual' && w.length === 1 && !block) {
      block = { kind: 'residual', branch: [], skip: null, activation: '' };
      rows.push(block);
      list = block.branch;
    } else if (k === 'skip' && w.length === 1 && block && block.skip === null) {
      block.skip = [];
      list = block.skip;
    } else if (k === 'end' && block && w.length <= 2 && (w.length === 1 || ACTIVATIONS.includes(w[1]))) {
      block.activation = w[1] ?? '';
      block = null;
      list = rows;
    } else if (k === 'softmax' && w.length === 1) {
      // always appended by the core
    } else {
      const row = rowOf(w);
      if (!row) return null;
      const prev = list[list.length - 1];
      // an activation right after a conv2d, dense or block without one becomes that row's activation
      if (row.kind === 'activation' && foldable(prev, row)) prev.activation = row.activation;
      else list.push(row);
    }
  }
  if (block) return null; // an unclosed block: the core says what is wrong
  return { input, rows };
}

/** @param {object} row @returns {string} one spec line */
export function rowText(row) {
  const act = row.activation ? ` ${row.activation}` : '';
  switch (row.kind) {
    case 'conv2d':
      return `conv2d ${row.filters} ${row.kernel}x${row.kernel}${row.padding === 'same' ? ' same' : ''}` +
        `${row.stride && row.stride !== 1 ? ` stride ${row.stride}` : ''}${act}`;
    case 'dense': return `dense ${row.units}${act}`;
    case 'dropout': return `dropout ${row.p}`;
    case 'activation':
      if (row.activation === 'leakyrelu' && row.slope !== undefined && row.slope !== DEFAULT_SLOPE) return `leakyrelu ${row.slope}`;
      return row.activation || 'relu';
    case 'maxpool': case 'avgpool': return `${row.kind} 2`;
    default: return row.kind;
  }
}

/** The lines of rows; a residual block becomes residual, its branch, [skip and its rows,] end. */
function lines(rows) {
  return rows.flatMap((row) => (row.kind !== 'residual' ? [rowText(row)] : [
    'residual', ...row.branch.map((r) => `  ${rowText(r)}`),
    ...(row.skip ? ['skip', ...row.skip.map((r) => `  ${rowText(r)}`)] : []),
    `end${row.activation ? ` ${row.activation}` : ''}`,
  ]));
}

/** @param {number[]|null} input [h, w, c] @param {object[]} rows @returns {string} spec text, one layer a line */
export function specText(input, rows) {
  return [input ? `input ${input.join('x')}` : null, ...lines(rows)].filter(Boolean).join('\n');
}

/**
 * Adapts spec text to a data set: sets the input line and the last dense layer's size to the class count.
 * @returns {string|null} the new text, or null when the text cannot be read as rows
 */
export function adaptSpec(text, shape, classes) {
  const parsed = parseSpec(text);
  if (!parsed) return null;
  const last = [...parsed.rows].reverse().find((r) => r.kind === 'dense');
  if (last) last.units = classes;
  else parsed.rows.push({ kind: 'dense', units: classes, activation: '' });
  return specText(shape, parsed.rows);
}

/**
 * Matches rows to the core's layers (Cnn.checkSpec().layers), which split activations out and add flattens,
 * the add that ends a block and the softmax.
 * @param {object[]} rows @param {{kind: string, outputShape: number[], params: number}[]} layers
 * @returns {object[]|null} per row {shape, params} (a residual row also {branch, skip}: the same for its rows),
 *   or null when they do not line up
 */
export function mapRows(rows, layers) {
  let j = 0;
  const take = (kind) => (layers[j]?.kind === kind ? layers[j++] : null);
  const walk = (list) => {
    const out = [];
    for (const row of list) {
      let main = null, act = null;
      if (row.kind === 'residual') {
        const branch = walk(row.branch), skip = row.skip ? walk(row.skip) : [];
        if (!branch || !skip) return null;
        main = take('add');
        if (main && row.activation) act = take(row.activation);
        if (!main || (row.activation && !act)) return null;
        const sum = [...branch, ...skip].reduce((n, r) => n + r.params, 0);
        out.push({ shape: (act ?? main).outputShape, params: sum, branch, skip: row.skip ? skip : null });
        continue;
      }
      if (row.kind === 'conv2d' || row.kind === 'dense') {
        if (row.kind === 'dense') take('flatten');
        main = take(row.kind);
        if (main && row.activation) act = take(row.activation);
        if (!main || (row.activation && !act)) return null;
      } else if (row.kind === 'flatten') { // of features already flat: no layer in the core
        main = take('flatten') ?? { outputShape: out[out.length - 1]?.shape ?? [1, 1, 1], params: 0 };
      } else if (row.kind === 'activation') {
        main = take(row.activation);
      } else {
        main = take(row.kind);
      }
      if (!main) return null;
      out.push({ shape: (act ?? main).outputShape, params: main.params });
    }
    return out;
  };
  return walk(rows);
}
