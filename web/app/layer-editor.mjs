/**
 * layer-editor.mjs - the architecture editor: a list of layer rows (add, remove, reorder, per-layer settings
 * and activation) kept in step with an editable spec textarea. The text is what gets trained; the C core
 * validates it (the page shows its verdict next to the editor).
 */
import { ACTIVATIONS, ROW_KINDS, defaultRow, parseSpec, specText } from './spec.mjs';

const KIND_LABEL = {
  conv2d: 'Conv2D', maxpool: 'MaxPool 2×2', avgpool: 'AvgPool 2×2', dense: 'Dense', dropout: 'Dropout',
  flatten: 'Flatten', activation: 'Activation',
};

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
    for (const el of this.list.querySelectorAll('button, input, select')) el.disabled = disabled;
  }

  /**
   * Shows each row's output shape and parameter count from the core's layer list (after validation).
   * @param {{kind: string, outputShape: number[], params: number}[]|null} layers null clears them
   */
  showShapes(layers) {
    const spans = [...this.list.querySelectorAll('.layer[data-row] .shape')];
    const map = layers && this.rows ? mapRows(this.rows, layers) : null;
    spans.forEach((span, i) => {
      const r = map?.[i];
      span.textContent = r ? `${shapeLabel(r.shape)}${r.params ? ` · ${r.params.toLocaleString('en-US')} params` : ''}` : '';
    });
    const out = this.list.querySelector('.layer.output .shape');
    if (out) out.textContent = layers ? `${layers[layers.length - 1].outputShape[2]} classes` : '';
  }

  _emit() {
    this.textarea.value = specText(this.input, this.rows);
    this.onChange(this.textarea.value);
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
    this.rows.forEach((row, i) => list.append(this._row(row, i)));
    list.append(fixedRow('Softmax', 'class probabilities', 'output'));

    const add = document.createElement('div');
    add.className = 'add';
    const id = `add-kind-${++this._uid}`;
    const label = document.createElement('label');
    label.htmlFor = id;
    label.className = 'visually-hidden';
    label.textContent = 'Kind of layer to add';
    const sel = document.createElement('select');
    sel.id = id;
    for (const k of ROW_KINDS) sel.append(new Option(KIND_LABEL[k], k));
    const btn = button('Add layer', 'Add a layer before the output layer', () => {
      const at = this.rows.length && this.rows[this.rows.length - 1].kind === 'dense' ? this.rows.length - 1 : this.rows.length;
      this.rows.splice(at, 0, defaultRow(sel.value));
      this._render();
      this._emit();
      this.list.querySelectorAll('.layer[data-row]')[at]?.querySelector('input, select, button')?.focus();
    });
    add.append(label, sel, btn);
    list.append(add);
    this.setDisabled(this.disabled);
  }

  _row(row, i) {
    const el = document.createElement('div');
    el.className = 'layer';
    el.dataset.row = String(i);
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
    const name = `${KIND_LABEL[row.kind]} (layer ${i + 1})`;
    if (row.kind === 'conv2d') {
      fields.append(
        numberField('filters', row.filters, 1, 1024, 1, (v) => { row.filters = v; changed(); }, name),
        selectField('kernel', String(row.kernel), ['1', '3', '5', '7'].concat([1, 3, 5, 7].includes(row.kernel) ? [] : [String(row.kernel)]),
          (v) => { row.kernel = Number(v); changed(); }, name),
        selectField('padding', row.padding, ['valid', 'same'], (v) => { row.padding = v; changed(); }, name),
        activationField(row, changed, name));
    } else if (row.kind === 'dense') {
      fields.append(numberField('units', row.units, 1, 65536, 1, (v) => { row.units = v; changed(); }, name),
        activationField(row, changed, name));
    } else if (row.kind === 'dropout') {
      fields.append(numberField('p', row.p, 0, 0.95, 0.05, (v) => { row.p = v; changed(); }, name));
    } else if (row.kind === 'activation') {
      fields.append(selectField('function', row.activation, ACTIVATIONS, (v) => { row.activation = v; changed(); }, name));
    }
    const tools = document.createElement('span');
    tools.className = 'tools';
    const move = (d) => () => {
      const j = i + d;
      if (j < 0 || j >= this.rows.length) return;
      [this.rows[i], this.rows[j]] = [this.rows[j], this.rows[i]];
      this._render();
      this._emit();
      this.list.querySelectorAll('.layer[data-row]')[j]?.querySelector(`button[data-move="${d}"]`)?.focus();
    };
    const up = button('↑', `Move ${name} up`, move(-1));
    up.dataset.move = '-1';
    const down = button('↓', `Move ${name} down`, move(1));
    down.dataset.move = '1';
    up.disabled = i === 0;
    down.disabled = i === this.rows.length - 1;
    const remove = button('✕', `Remove ${name}`, () => {
      this.rows.splice(i, 1);
      this._render();
      this._emit();
    });
    tools.append(up, down, remove);
    el.append(tools);
    return el;
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

function selectField(text, value, options, onChange, name) {
  const label = document.createElement('label');
  const sel = document.createElement('select');
  for (const o of options) sel.append(new Option(o === '' ? 'none' : o, o));
  sel.value = value;
  sel.setAttribute('aria-label', `${name}: ${text}`);
  sel.addEventListener('change', () => onChange(sel.value));
  label.append(text, sel);
  return label;
}

function activationField(row, changed, name) {
  return selectField('activation', row.activation, ['', ...ACTIVATIONS], (v) => { row.activation = v; changed(); }, name);
}

/** Matches rows to the core's layers (which split activations out and add flatten and softmax). */
function mapRows(rows, layers) {
  const out = [];
  let j = 0;
  const take = (kind) => (layers[j]?.kind === kind ? layers[j++] : null);
  const sum = (...ls) => ls.reduce((n, l) => n + (l?.params ?? 0), 0);
  for (const row of rows) {
    let main = null, act = null;
    if (row.kind === 'conv2d' || row.kind === 'dense') {
      if (row.kind === 'dense') take('flatten');
      main = take(row.kind);
      if (main && row.activation) act = take(row.activation);
      if (!main || (row.activation && !act)) return null;
    } else if (row.kind === 'flatten') {
      main = take('flatten') ?? { outputShape: out[out.length - 1]?.shape ?? [1, 1, 1], params: 0 };
    } else if (row.kind === 'activation') {
      main = take(row.activation);
    } else {
      main = take(row.kind);
    }
    if (!main) return null;
    out.push({ shape: (act ?? main).outputShape, params: sum(main) });
  }
  return out;
}
