/**
 * layer-editor.mjs - the architecture editor: a list of layer rows (add, remove, reorder, per-layer settings
 * and activation; residual blocks with their branch and skip) kept in step with an editable spec textarea. The
 * text is what gets trained; the C core validates it (the page shows its verdict next to the editor) and its
 * layer list gives each row's output shape.
 */
import {
  ACTIVATIONS, BLOCK_ROW_KINDS, DEFAULT_SLOPE, ROW_KINDS, defaultRow, mapRows, parseSpec, projectionFor, specText,
} from './spec.mjs';

const KIND_LABEL = {
  conv2d: 'Conv2D', maxpool: 'MaxPool 2×2', avgpool: 'AvgPool 2×2', globalavgpool: 'Global avg pool', dense: 'Dense',
  batchnorm: 'BatchNorm', dropout: 'Dropout', flatten: 'Flatten', activation: 'Activation', residual: 'Residual block',
};
const ACTIVATION_LABEL = { relu: 'relu', sigmoid: 'sigmoid', tanh: 'tanh', leakyrelu: 'leaky relu', gelu: 'gelu' };

export class LayerEditor {
  /**
   * @param {{list: HTMLElement, textarea: HTMLTextAreaElement, onChange: (text: string) => void}} o
   *   onChange is called after every edit (rows or text) with the new spec text
   */
  constructor({ list, textarea, onChange }) {
    this.list = list;
    this.textarea = textarea;
    this.onChange = onChange;
    this.input = [28, 28, 1];
    this.rows = [];
    this.disabled = false;
    this._uid = 0;
    this._shapes = null;
    textarea.addEventListener('input', () => {
      const parsed = parseSpec(textarea.value);
      if (parsed) {
        this.rows = parsed.rows;
        if (parsed.input) this.input = parsed.input;
      } else {
        this.rows = null;
      }
      this._render();
      this.onChange(textarea.value);
    });
  }

  /** @returns {string} the spec text */
  get text() { return this.textarea.value; }

  /** Replaces the spec (e.g. a preset); the rows follow when the text can be read as rows. */
  setText(text) {
    const parsed = parseSpec(text);
    if (parsed) {
      this.rows = parsed.rows;
      if (parsed.input) this.input = parsed.input;
      this.textarea.value = specText(this.input, this.rows);
    } else {
      this.rows = null;
      this.textarea.value = text;
    }
    this._render();
  }

  /** @param {boolean} disabled */
  setDisabled(disabled) {
    this.disabled = disabled;
    this.textarea.disabled = disabled;
    for (const el of this.list.querySelectorAll('button, input, select')) el.disabled = disabled || el.dataset.off === '1';
  }

  /**
   * Shows each row's output shape and parameter count from the core's layer list (after validation).
   * @param {{kind: string, outputShape: number[], params: number}[]|null} layers null clears them
   */
  showShapes(layers) {
    const map = layers && this.rows ? mapRows(this.rows, layers) : null;
    const show = (el, r) => {
      const span = el.querySelector(':scope > .head > .shape');
      if (span) span.textContent = r ? `${shapeLabel(r.shape)}${r.params ? ` · ${r.params.toLocaleString('en-US')} params` : ''}` : '';
    };
    [...this.list.querySelectorAll(':scope > .layer[data-row]')].forEach((el, i) => {
      const r = map?.[i];
      show(el, r);
      if (this.rows?.[i]?.kind !== 'residual') return;
      for (const part of ['branch', 'skip']) {
        el.querySelectorAll(`:scope > .rows[data-part="${part}"] > .layer`).forEach((sub, k) => show(sub, r?.[part]?.[k]));
      }
    });
    const out = this.list.querySelector('.layer.output .shape');
    if (out) out.textContent = layers ? `${layers[layers.length - 1].outputShape[2]} classes` : '';
    this._shapes = layers;
  }

  _emit() {
    this.textarea.value = specText(this.input, this.rows);
    this.onChange(this.textarea.value);
  }

  /** Re-renders and reports the edit; focus goes to the element the selector finds afterwards. */
  _edited(focus) {
    this._render();
    this._emit();
    if (focus) this.list.querySelector(focus)?.focus();
  }

  _render() {
    const list = this.list;
    list.replaceChildren();
    if (!this.rows) {
      const p = document.createElement('p');
      p.className = 'unparsed';
      p.textContent = 'The spec text uses lines this list cannot show; edit it as text below.';
      list.append(p);
      return;
    }
    list.append(fixedRow('Input', `${this.input.join('×')} (from the data set)`, 'input'));
    this.rows.forEach((row, i) => list.append(this._row(row, this.rows, i, String(i))));
    list.append(fixedRow('Softmax', 'class probabilities', 'output'));
    list.append(this._adder(this.rows, ROW_KINDS, 'Add layer', 'Add a layer before the output layer', '', true));
    this.setDisabled(this.disabled);
  }

  /**
   * The "add" control of a list of rows. top: new rows go before a trailing dense (the output layer).
   * @param {object[]} rows @param {string[]} kinds @param {string} text @param {string} label
   * @param {string} path the list's path (for focusing the new row) @param {boolean} top
   */
  _adder(rows, kinds, text, label, path, top) {
    const add = document.createElement('div');
    add.className = 'add';
    const id = `add-kind-${++this._uid}`;
    const lab = document.createElement('label');
    lab.htmlFor = id;
    lab.className = 'visually-hidden';
    lab.textContent = `Kind of layer to add${path ? ' to the block' : ''}`;
    const sel = document.createElement('select');
    sel.id = id;
    for (const k of kinds) sel.append(new Option(KIND_LABEL[k], k));
    const btn = button(text, label, () => {
      const at = top && rows.length && rows[rows.length - 1].kind === 'dense' ? rows.length - 1 : rows.length;
      rows.splice(at, 0, defaultRow(sel.value));
      this._edited(`.layer[data-path="${path}${at}"] input, .layer[data-path="${path}${at}"] select`);
    });
    add.append(lab, sel, btn);
    return add;
  }

  /**
   * One row (a residual block holds nested rows for its branch and skip).
   * @param {object} row @param {object[]} rows the list holding it @param {number} i its index there
   * @param {string} path e.g. "3" or "3.branch.1", unique in the editor
   */
  _row(row, rows, i, path) {
    const nested = path.includes('.');
    const el = document.createElement('div');
    el.className = row.kind === 'residual' ? 'layer block' : 'layer';
    if (!nested) el.dataset.row = String(i);
    el.dataset.path = path;
    const head = document.createElement('span');
    head.className = 'head';
    const kind = document.createElement('span');
    kind.className = 'kind';
    kind.textContent = KIND_LABEL[row.kind];
    const shape = document.createElement('span');
    shape.className = 'shape';
    head.append(kind, shape);
    const fields = document.createElement('span');
    fields.className = 'fields-inline';
    el.append(head, fields);
    const changed = () => this._emit();
    const name = `${KIND_LABEL[row.kind]} (${nested ? `block layer ${i + 1}` : `layer ${i + 1}`})`;
    if (row.kind === 'conv2d') {
      fields.append(
        numberField('filters', row.filters, 1, 1024, 1, (v) => { row.filters = v; changed(); }, name),
        selectField('kernel', String(row.kernel), ['1', '3', '5', '7'].concat([1, 3, 5, 7].includes(row.kernel) ? [] : [String(row.kernel)]),
          (v) => { row.kernel = Number(v); changed(); }, name),
        selectField('padding', row.padding, ['valid', 'same'], (v) => { row.padding = v; changed(); }, name),
        selectField('stride', String(row.stride ?? 1), ['1', '2'].concat([1, 2].includes(row.stride ?? 1) ? [] : [String(row.stride)]),
          (v) => { row.stride = Number(v); changed(); }, name),
        activationField(row, changed, name));
    } else if (row.kind === 'dense') {
      fields.append(numberField('units', row.units, 1, 65536, 1, (v) => { row.units = v; changed(); }, name),
        activationField(row, changed, name));
    } else if (row.kind === 'dropout') {
      fields.append(numberField('p', row.p, 0, 0.95, 0.05, (v) => { row.p = v; changed(); }, name));
    } else if (row.kind === 'activation') {
      fields.append(selectField('function', row.activation, ACTIVATIONS, (v) => {
        row.activation = v;
        this._edited(`.layer[data-path="${path}"] select`);
      }, name, ACTIVATION_LABEL));
      if (row.activation === 'leakyrelu') {
        fields.append(numberField('slope', row.slope ?? DEFAULT_SLOPE, 0, 0.99, 0.01, (v) => { row.slope = v; changed(); }, name));
      }
    } else if (row.kind === 'residual') {
      fields.append(activationField(row, changed, `${name}, after the sum`, 'after the sum'));
    }
    el.append(this._tools(row, rows, i, path, name));
    if (row.kind === 'residual') this._block(el, row, path, name);
    return el;
  }

  /** Up, down and remove buttons of a row. */
  _tools(row, rows, i, path, name) {
    const tools = document.createElement('span');
    tools.className = 'tools';
    const base = path.slice(0, path.length - String(i).length);
    const move = (d) => () => {
      const j = i + d;
      if (j < 0 || j >= rows.length) return;
      [rows[i], rows[j]] = [rows[j], rows[i]];
      this._edited(`.layer[data-path="${base}${j}"] > .tools button[data-move="${d}"]`);
    };
    const up = button('↑', `Move ${name} up`, move(-1));
    up.dataset.move = '-1';
    const down = button('↓', `Move ${name} down`, move(1));
    down.dataset.move = '1';
    if (i === 0) up.dataset.off = '1';
    if (i === rows.length - 1) down.dataset.off = '1';
    const remove = button('✕', `Remove ${name}`, () => {
      rows.splice(i, 1);
      this._edited(null);
    });
    tools.append(up, down, remove);
    return tools;
  }

  /** The nested parts of a residual block: its branch, its skip (identity or layers) and their add controls. */
  _block(el, row, path, name) {
    const part = (key, title, note) => {
      const box = document.createElement('div');
      box.className = 'rows';
      box.dataset.part = key;
      const caption = document.createElement('span');
      caption.className = 'part-title';
      caption.textContent = title;
      if (note) {
        const n = document.createElement('span');
        n.className = 'note';
        n.textContent = ` ${note}`;
        caption.append(n);
      }
      box.append(caption);
      return box;
    };
    const branch = part('branch', 'Branch', '(its output is added to the skip\'s)');
    row.branch.forEach((r, k) => branch.append(this._row(r, row.branch, k, `${path}.branch.${k}`)));
    branch.append(this._adder(row.branch, BLOCK_ROW_KINDS, 'Add to branch', `Add a layer to the branch of ${name}`,
      `${path}.branch.`, false));
    const skip = part('skip', 'Skip', row.skip ? '(a projection to the branch\'s shape)' : 'identity: the block\'s input as it is');
    if (row.skip) {
      row.skip.forEach((r, k) => skip.append(this._row(r, row.skip, k, `${path}.skip.${k}`)));
      skip.append(this._adder(row.skip, BLOCK_ROW_KINDS, 'Add to skip', `Add a layer to the skip of ${name}`,
        `${path}.skip.`, false));
      skip.append(button('Identity skip', `Make the skip of ${name} the identity`, () => {
        row.skip = null;
        this._edited(`.layer[data-path="${path}"] > .rows[data-part="skip"] button`);
      }));
    } else {
      skip.append(button('Add projection', `Give ${name} a 1x1 projection on its skip (for a branch that changes the shape)`, () => {
        row.skip = projectionFor(row);
        this._edited(`.layer[data-path="${path}.skip.0"] input`);
      }));
    }
    el.append(branch, skip);
  }
}

function shapeLabel([h, w, c]) {
  return h === 1 && w === 1 ? `${c}` : `${h}×${w}×${c}`;
}

function fixedRow(kind, text, cls) {
  const el = document.createElement('div');
  el.className = `layer fixed ${cls}`;
  const head = document.createElement('span');
  head.className = 'head';
  const k = document.createElement('span');
  k.className = 'kind';
  k.textContent = kind;
  const shape = document.createElement('span');
  shape.className = 'shape';
  head.append(k, shape);
  const t = document.createElement('span');
  t.className = 'note';
  t.textContent = text;
  el.append(head, t);
  return el;
}

function button(text, label, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.setAttribute('aria-label', label);
  b.title = label;
  b.addEventListener('click', onClick);
  return b;
}

function numberField(text, value, min, max, step, onChange, name) {
  const label = document.createElement('label');
  const input = document.createElement('input');
  input.type = 'number';
  Object.assign(input, { min, max, step, value });
  input.setAttribute('aria-label', `${name}: ${text}`);
  input.addEventListener('change', () => {
    const v = Number(input.value);
    if (input.value !== '' && Number.isFinite(v)) onChange(v);
  });
  label.append(text, input);
  return label;
}

function selectField(text, value, options, onChange, name, labels = {}) {
  const label = document.createElement('label');
  const sel = document.createElement('select');
  for (const o of options) sel.append(new Option(o === '' ? 'none' : labels[o] ?? o, o));
  sel.value = value;
  sel.setAttribute('aria-label', `${name}: ${text}`);
  sel.addEventListener('change', () => onChange(sel.value));
  label.append(text, sel);
  return label;
}

function activationField(row, changed, name, text = 'activation') {
  return selectField(text, row.activation, ['', ...ACTIVATIONS], (v) => { row.activation = v; changed(); }, name, ACTIVATION_LABEL);
}
