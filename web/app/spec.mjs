/**
 * spec.mjs - the architecture spec text as a list of rows for the layer editor, and back. Only a view: the
 * C core is what validates a spec (the page asks the training worker, which builds the model).
 *
 * Row kinds: conv2d {filters, kernel, padding, activation}, maxpool, avgpool, dense {units, activation},
 * dropout {p}, flatten, activation {activation}. activation is '' (none), 'relu', 'sigmoid' or 'tanh'.
 */

export const ACTIVATIONS = ['relu', 'sigmoid', 'tanh'];
export const ROW_KINDS = ['conv2d', 'maxpool', 'avgpool', 'dense', 'dropout', 'flatten', 'activation'];

/** A new row of a kind, with usual values. @param {string} kind */
export function defaultRow(kind) {
  switch (kind) {
    case 'conv2d': return { kind, filters: 16, kernel: 3, padding: 'valid', activation: 'relu' };
    case 'dense': return { kind, units: 64, activation: 'relu' };
    case 'dropout': return { kind, p: 0.25 };
    case 'activation': return { kind, activation: 'relu' };
    default: return { kind };
  }
}

/**
 * Reads spec text into rows.
 * @param {string} text
 * @returns {{input: number[]|null, rows: object[]}|null} null when a line is not understood here (the core
 *   still decides whether the text is valid)
 */
export function parseSpec(text) {
  const statements = text.split('\n').map((l) => l.replace(/#.*/, '')).join(';').split(';')
    .map((s) => s.trim().toLowerCase()).filter(Boolean);
  let input = null;
  const rows = [];
  for (const st of statements) {
    const w = st.split(/[\s,]+/);
    const k = w[0];
    if (k === 'input' && w.length === 2 && rows.length === 0 && !input) {
      const m = /^(\d+)x(\d+)(?:x(\d+))?$/.exec(w[1]);
      if (!m) return null;
      input = [Number(m[1]), Number(m[2]), Number(m[3] ?? 1)];
    } else if ((k === 'conv2d' || k === 'conv') && w.length >= 3) {
      const m = /^(\d+)(?:x(\d+))?$/.exec(w[2]);
      if (!/^\d+$/.test(w[1]) || !m || (m[2] && m[2] !== m[1])) return null;
      const row = { kind: 'conv2d', filters: Number(w[1]), kernel: Number(m[1]), padding: 'valid', activation: '' };
      for (const opt of w.slice(3)) {
        if (opt === 'same' || opt === 'valid') row.padding = opt;
        else if (ACTIVATIONS.includes(opt) && !row.activation) row.activation = opt;
        else return null;
      }
      rows.push(row);
    } else if ((k === 'maxpool' || k === 'avgpool') && (w.length === 1 || (w.length === 2 && /^2(x2)?$/.test(w[1])))) {
      rows.push({ kind: k });
    } else if ((k === 'dense' || k === 'linear') && (w.length === 2 || w.length === 3) && /^\d+$/.test(w[1])) {
      if (w.length === 3 && !ACTIVATIONS.includes(w[2])) return null;
      rows.push({ kind: 'dense', units: Number(w[1]), activation: w[2] ?? '' });
    } else if (k === 'dropout' && w.length === 2 && Number.isFinite(Number(w[1]))) {
      rows.push({ kind: 'dropout', p: Number(w[1]) });
    } else if (k === 'flatten' && w.length === 1) {
      rows.push({ kind: 'flatten' });
    } else if (ACTIVATIONS.includes(k) && w.length === 1) {
      // an activation right after a conv2d/dense without one becomes that row's activation
      const prev = rows[rows.length - 1];
      if (prev && (prev.kind === 'conv2d' || prev.kind === 'dense') && !prev.activation) prev.activation = k;
      else rows.push({ kind: 'activation', activation: k });
    } else if (k === 'softmax' && w.length === 1) {
      // always appended by the core
    } else {
      return null;
    }
  }
  return { input, rows };
}

/** @param {object} row @returns {string} one spec line */
export function rowText(row) {
  const act = row.activation ? ` ${row.activation}` : '';
  switch (row.kind) {
    case 'conv2d': return `conv2d ${row.filters} ${row.kernel}x${row.kernel}${row.padding === 'same' ? ' same' : ''}${act}`;
    case 'dense': return `dense ${row.units}${act}`;
    case 'dropout': return `dropout ${row.p}`;
    case 'activation': return row.activation || 'relu';
    case 'maxpool': case 'avgpool': return `${row.kind} 2`;
    default: return row.kind;
  }
}

/** @param {number[]|null} input [h, w, c] @param {object[]} rows @returns {string} spec text, one layer a line */
export function specText(input, rows) {
  return [input ? `input ${input.join('x')}` : null, ...rows.map(rowText)].filter(Boolean).join('\n');
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
