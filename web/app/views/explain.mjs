/**
 * explain.mjs - the explanations beside the controls: a "?" button after each marked field's label toggles a
 * short note (explanations.mjs) under the field; keyboard reachable, announced through aria-expanded. A field
 * marked data-explain="name:" explains its select's chosen value, and follows it when it changes.
 */
import { EXPLANATIONS } from '../explanations.mjs';
import { ROW_KINDS } from '../spec.mjs';

const KIND_NAMES = {
  conv2d: 'Convolution', maxpool: 'Max pooling', avgpool: 'Average pooling', dense: 'Dense', dropout: 'Dropout',
  flatten: 'Flatten', activation: 'Activation',
};

/**
 * Adds the explanation toggles inside root, and the list of layer kinds into [data-part="layer-kinds"].
 * @param {ParentNode} root @param {string} idPrefix for the notes' ids
 */
export function addExplanations(root, idPrefix) {
  let n = 0;
  for (const field of root.querySelectorAll('[data-explain]')) {
    const key = field.dataset.explain;
    const select = key.endsWith(':') ? field.querySelector('select') : null;
    const textOf = () => EXPLANATIONS[select ? `${key}${select.value}` : key] ?? '';
    if (!textOf() && !select) continue;
    const label = field.querySelector('label, legend') ?? field;
    const note = document.createElement('p');
    note.className = 'explain';
    note.id = `${idPrefix}explain-${++n}`;
    note.hidden = true;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'info';
    button.textContent = '?';
    const name = label.textContent.trim().replace(/\s+/g, ' ');
    button.setAttribute('aria-label', `What is “${name}”?`);
    button.title = `What is “${name}”?`;
    button.setAttribute('aria-expanded', 'false');
    button.setAttribute('aria-controls', note.id);
    button.addEventListener('click', () => {
      note.hidden = !note.hidden;
      button.setAttribute('aria-expanded', String(!note.hidden));
      note.textContent = textOf();
    });
    select?.addEventListener('change', () => { note.textContent = textOf(); });
    label.after(button);
    field.append(note);
  }
  const kinds = root.querySelector('[data-part="layer-kinds"]');
  if (kinds) {
    const list = document.createElement('dl');
    for (const kind of ROW_KINDS) {
      const dt = document.createElement('dt');
      dt.textContent = KIND_NAMES[kind] ?? kind;
      const dd = document.createElement('dd');
      dd.textContent = EXPLANATIONS[`layer:${kind}`] ?? 'No explanation yet.';
      list.append(dt, dd);
    }
    kinds.append(list);
  }
}
