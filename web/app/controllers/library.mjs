/**
 * library.mjs - the model library controller: the models kept in the page's storage scope (each with its
 * name, where it came from, its training record and curves, its test accuracy), which one is current, and
 * switching, renaming, deleting and downloading them. Every model the page makes current (trained,
 * fine-tuned, loaded from a file, rescued) becomes a new entry: nothing is overwritten, so an earlier model is
 * always one click away (the library keeps the KEEP_UNNAMED newest entries the user has not named, and every
 * named one). The site's pretrained model is an entry of every library that is never stored (its
 * id is PRETRAINED_ID) and cannot be deleted.
 *
 * Events: 'library' {entries, currentId}   the list or the current entry changed (also state.library)
 */
import { PRETRAINED_LABEL } from './models.mjs';

/** The id of the pretrained model's entry (not stored: fetched from the site). */
export const PRETRAINED_ID = 'pretrained';
/** Points kept of a run's per-batch curve (older points are thinned out as a run goes on). */
const CURVE_POINTS = 240;
const SMOOTHING = 0.9;
const NAME_MAX = 80;
/** Entries the user has not named that a library keeps (the oldest beyond them make room for new ones). */
export const KEEP_UNNAMED = 20;

/** Keeps the library of models and switches the current model between its entries. */
export class LibraryController {
  /** @param {import('../runtime.mjs').Runtime} rt */
  constructor(rt) {
    this.rt = rt;
    rt.state.library = { entries: [pretrainedEntry()], currentId: PRETRAINED_ID, kept: !!rt.storage };
    this._curve = null; // the curve of the run in progress
    this._pretrainedAccuracy = undefined; // measured in this page (the pretrained entry is not stored)
    rt.on('train:start', () => { this._curve = new CurveRecorder(); });
    rt.on('train:progress', (p) => this._curve?.add(p));
    rt.on('eval:done', ({ result }) => this._tested(result));
  }

  /** Reads the list from storage (after start, and after every change). */
  async refresh() {
    const { rt } = this;
    const stored = rt.storage ? await rt.storage.listModels() : { entries: [], currentId: null };
    rt.state.library = {
      entries: [pretrainedEntry(this._pretrainedAccuracy), ...stored.entries],
      currentId: rt.state.model ? rt.state.model.id : (stored.currentId ?? PRETRAINED_ID),
      kept: !!rt.storage,
    };
    rt.emit('library', rt.state.library);
  }

  /** @param {number|string} id @returns {object|undefined} the entry */
  entry(id) {
    return this.rt.state.library.entries.find((e) => e.id === id);
  }

  /**
   * Keeps a model as a new entry (current unless said otherwise), in one transaction.
   * @param {Uint8Array} bytes @param {object} info the model's info @param {string} label where it came from
   * @param {{source?: string, history?: object, run?: boolean, current?: boolean}} [o] run: a training run just
   *   ended (its curve goes with it)
   * @returns {Promise<number|null>} the entry's id (null when this page keeps nothing)
   */
  async add(bytes, info, label, { source = 'file', history, run = false, current = true } = {}) {
    const { rt } = this;
    const curve = run ? this._curve?.points() : undefined;
    if (run) this._curve = null;
    if (!rt.storage) return null;
    const meta = {
      name: this._freeName(label.slice(0, NAME_MAX - 5)), label, source, spec: info.spec, paramCount: info.paramCount, classes: info.classes,
      ...(history ? { history: { epochs: history.epochs, stopped: !!history.stopped } } : {}),
      ...(curve?.length ? { curve } : {}),
    };
    const { id, removed } = await rt.storage.addModel(bytes, meta, { current, keep: KEEP_UNNAMED });
    if (removed.length) {
      rt.status(`The library keeps the ${KEEP_UNNAMED} newest models you have not named: ${removed.join(', ')} ` +
        `made room (rename a model to keep it).`, 'info', 'library');
    }
    if (!current) await this.refresh(); // else once it is current (ModelsController.makeCurrent)
    return id;
  }

  /** @param {string} name @returns {string} name, or name (2), (3) ... when the library has it already */
  _freeName(name) {
    const taken = new Set(this.rt.state.library.entries.map((e) => e.name));
    let out = name;
    for (let n = 2; taken.has(out); n++) out = `${name} (${n})`;
    return out;
  }

  /**
   * Makes an entry the current model (in the workers, the page and storage).
   * @param {number|string} id @param {*} owner the widget asking
   */
  use(id, owner) {
    const { rt } = this;
    return rt.exclusive('setModel', 'loading', owner, async () => {
      const entry = this.entry(id);
      if (!entry) throw new Error('That model is no longer in the library.');
      rt.status(`Loading ${entry.name}…`, 'busy', 'library');
      const bytes = id === PRETRAINED_ID ? await rt.models.fetchPretrained() : await rt.storage.modelBytes(id);
      if (!bytes) throw new Error(`The weights of ${entry.name} are missing from this browser's storage.`);
      const info = await rt.workers.trainer.call('setModel', { bytes: bytes.slice() });
      await rt.storage?.setCurrent(id === PRETRAINED_ID ? null : id);
      await rt.models.makeCurrent(bytes, info, entry.label, id);
      rt.status(`The current model is now ${entry.name}.`, 'info', 'library');
    });
  }

  /** @param {number} id @param {string} name */
  async rename(id, name) {
    const { rt } = this;
    const clean = String(name).replace(/\s+/g, ' ').trim();
    if (!clean) throw new Error('A model needs a name (at least one letter or digit).');
    if (clean.length > NAME_MAX) throw new Error(`A name has at most ${NAME_MAX} characters (this one has ${clean.length}).`);
    if (id === PRETRAINED_ID) throw new Error('The pretrained model keeps its name.');
    await rt.storage.updateModel(id, { name: clean, named: true });
    await this.refresh();
  }

  /** Deletes an entry that is not current. @param {number} id */
  async remove(id) {
    const { rt } = this;
    if (id === PRETRAINED_ID) throw new Error('The pretrained model is part of the site and cannot be deleted.');
    if (id === rt.state.library.currentId) throw new Error('This is the current model: make another one current first.');
    await rt.storage.deleteModel(id);
    await this.refresh();
  }

  /** @param {number|string} id @returns {Promise<{bytes: Uint8Array, name: string}>} the entry as a file */
  async downloadable(id) {
    const { rt } = this;
    const entry = this.entry(id);
    const bytes = id === PRETRAINED_ID ? await rt.models.fetchPretrained() : await rt.storage.modelBytes(id);
    if (!entry || !bytes) throw new Error('That model is no longer in the library.');
    const slug = entry.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'model';
    return { bytes, name: `digits-${slug}.safetensors` };
  }

  /** The test accuracy of the current model on MNIST goes with its entry. */
  async _tested(result) {
    const { rt } = this;
    const id = rt.state.model?.id;
    if (result?.dataset !== 'mnist' || id === undefined || id === null) return;
    if (id === PRETRAINED_ID) {
      this._pretrainedAccuracy = result.accuracy;
      await this.refresh().catch(() => {});
      return;
    }
    try {
      await rt.storage.updateModel(id, { testAccuracy: result.accuracy });
      await this.refresh();
    } catch (e) {
      rt.status(`The test accuracy could not be kept with the model: ${e.message}`, 'error', 'storage');
    }
  }
}

function pretrainedEntry(testAccuracy) {
  return { id: PRETRAINED_ID, name: PRETRAINED_LABEL, label: PRETRAINED_LABEL, source: 'site', testAccuracy };
}

/** A run's per-batch loss and accuracy, smoothed, at most about CURVE_POINTS points. */
class CurveRecorder {
  constructor() {
    this.all = [];
    this.every = 1;
    this.seen = 0;
    this.ema = null;
  }

  add(p) {
    if (!Number.isFinite(p.loss) || !Number.isFinite(p.accuracy)) return;
    this.ema = this.ema ? [SMOOTHING * this.ema[0] + (1 - SMOOTHING) * p.loss, SMOOTHING * this.ema[1] + (1 - SMOOTHING) * p.accuracy]
      : [p.loss, p.accuracy];
    if (this.seen++ % this.every) return;
    const x = p.epoch - 1 + p.step / Math.max(1, p.stepsPerEpoch);
    this.all.push([round(x), round(this.ema[0]), round(this.ema[1])]);
    if (this.all.length >= 2 * CURVE_POINTS) {
      this.all = this.all.filter((_, i) => i % 2 === 0);
      this.every *= 2;
    }
  }

  points() {
    return this.all;
  }
}

const round = (v) => Math.round(v * 1e4) / 1e4;
