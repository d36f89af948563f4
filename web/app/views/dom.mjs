/**
 * dom.mjs - small DOM helpers shared by the views. A view finds its elements by their data-part names inside
 * its own root (never by a global id), so a widget can live more than once on a page.
 */

/**
 * The elements of a widget by data-part name.
 * @param {ParentNode} root
 * @returns {((name: string) => HTMLElement) & {maybe(name: string): HTMLElement|null, all(name: string): HTMLElement[]}}
 */
export function parts(root) {
  const cache = new Map();
  const maybe = (name) => {
    let el = cache.get(name);
    if (!el || !el.isConnected) {
      el = root.querySelector(`[data-part="${name}"]`);
      if (el) cache.set(name, el);
    }
    return el ?? null;
  };
  const get = (name) => {
    const el = maybe(name);
    if (!el) throw new Error(`view: no [data-part="${name}"] in this widget`);
    return el;
  };
  get.maybe = maybe;
  get.all = (name) => [...root.querySelectorAll(`[data-part="${name}"]`)];
  return get;
}

/** Sets text only when it changed (no needless layout or screen reader announcements). */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** Enables or disables a control (and the label that styles a file input as a button). */
export function setEnabled(el, on) {
  el.disabled = !on;
  el.closest('label.button')?.classList.toggle('disabled', !on);
}

/** Calls fn(files) when files are picked; the same file can be picked again. */
export function onFiles(input, fn) {
  input.addEventListener('change', () => {
    const files = [...input.files];
    input.value = '';
    if (files.length) fn(files);
  });
}

/** @returns {boolean} whether typing into el is text entry (keys must not act as shortcuts there) */
export function isTextEntry(el) {
  return el instanceof HTMLTextAreaElement || (el instanceof HTMLInputElement && el.type !== 'checkbox') ||
    el instanceof HTMLSelectElement || !!el?.isContentEditable;
}

/** Saves bytes as a file download. @param {Uint8Array} bytes @param {string} name */
export function download(bytes, name) {
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/**
 * Calls fn when files are dragged and dropped onto target (the whole page for the studio page).
 * @param {EventTarget} target @param {Element} marker gets the class 'dropping' while files hover
 * @param {(files: File[]) => void} fn @returns {() => void} removes the listeners
 */
export function onDrop(target, marker, fn) {
  let depth = 0;
  const hasFiles = (e) => [...(e.dataTransfer?.types ?? [])].includes('Files');
  const listeners = {
    dragenter: (e) => {
      if (!hasFiles(e)) return;
      depth++;
      marker.classList.add('dropping');
    },
    dragleave: () => {
      depth = Math.max(0, depth - 1);
      if (!depth) marker.classList.remove('dropping');
    },
    dragover: (e) => {
      if (hasFiles(e)) e.preventDefault();
    },
    drop: (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      marker.classList.remove('dropping');
      fn([...e.dataTransfer.files]);
    },
  };
  for (const [type, f] of Object.entries(listeners)) target.addEventListener(type, f);
  return () => { for (const [type, f] of Object.entries(listeners)) target.removeEventListener(type, f); };
}

/**
 * An error shown next to what caused it (and in the page's status line), announced to screen readers
 * (role="alert" on the element), and cleared when the cause is fixed.
 */
export class ErrorSlot {
  /**
   * @param {HTMLElement} el the element next to the control (hidden while there is no error)
   * @param {import('../runtime.mjs').Runtime} rt @param {string} source the status line's source for it
   * @param {*} [owner] the widget: owner.dispatch('error', {message, source}) tells the host page
   */
  constructor(el, rt, source, owner = null) {
    this.el = el;
    this.rt = rt;
    this.source = source;
    this.owner = owner;
  }

  /** @param {string} message @param {{status?: string|false}} [o] status: other text for the status line */
  show(message, { status } = {}) {
    this.el.textContent = message;
    this.el.hidden = false;
    if (status !== false) this.rt.status(status ?? message, 'error', this.source);
    this.owner?.dispatch?.('error', { message, source: this.source });
  }

  clear() {
    if (!this.el.hidden) {
      this.el.hidden = true;
      this.el.textContent = '';
    }
    this.rt.clearStatus(this.source);
  }

  get shown() {
    return !this.el.hidden;
  }
}

/**
 * Shows an error under a form field (marked aria-invalid, described by the message) until it is edited.
 * @param {HTMLInputElement} input @param {string} message
 * @param {() => void} [onEdit] called once when the field is edited (e.g. clear the status line too)
 */
export function fieldError(input, message, onEdit = () => {}) {
  const field = input.closest('.field') ?? input.parentElement;
  let el = field.querySelector(':scope > .field-error');
  if (!el) {
    el = document.createElement('p');
    el.className = 'field-error';
    el.setAttribute('role', 'alert');
    el.id = `${input.id || 'field'}-error`;
    field.append(el);
  }
  el.textContent = message;
  input.setAttribute('aria-invalid', 'true');
  input.setAttribute('aria-describedby', el.id);
  input.addEventListener('input', () => {
    el.remove();
    input.removeAttribute('aria-invalid');
    input.removeAttribute('aria-describedby');
    onEdit();
  }, { once: true });
}
