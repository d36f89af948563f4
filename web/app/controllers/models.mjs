/**
 * models.mjs - the models controller: the current model (restored at start, loaded from a file, reverted to
 * the pretrained one, made by training) and where it lives: the training worker, the prediction worker, the
 * page's state and the page's storage scope, where every new model becomes an entry of the library
 * (library.mjs) instead of replacing the one before.
 */

/** How the page names the pretrained model. */
export const PRETRAINED_LABEL = 'pretrained (Keras MNIST CNN)';

/** Makes a model current: restored, loaded from a file, reverted, rescued, or trained. */
export class ModelsController {
  /** @param {import('../runtime.mjs').Runtime} rt */
  constructor(rt) {
    this.rt = rt;
  }

  /**
   * At start: the model kept in storage, else the pretrained one, else an untrained one (so the page stays
   * usable). Gives it to the prediction worker.
   * @param {Promise<unknown>} trainerInit the training worker's init (needed for an untrained model)
   * @returns {Promise<string>} a warning for the status line, or ''
   */
  async restore(trainerInit) {
    const { rt } = this;
    const stored = rt.storage ? rt.storage.loadModel().catch((e) => ({ error: e })) : Promise.resolve(null);
    // fetch the pretrained model meanwhile, unless this browser keeps a model
    const pretrained = stored.then((kept) => (kept?.bytes ? null : this.fetchPretrained())).catch((e) => e);
    let warning = '';
    const kept = await stored;
    if (kept?.error) warning = `Models cannot be kept in this browser (${kept.error.message}). `;
    else if (kept?.bytes) {
      try {
        await this._use(kept.bytes, kept.label, kept.id);
      } catch (e) {
        warning = `The model kept in this browser could not be loaded (${e.message}); using the pretrained one. `;
      }
    }
    if (!rt.state.model) {
      try {
        let bytes = await pretrained;
        if (bytes instanceof Error) throw bytes;
        bytes ??= await this.fetchPretrained(); // the kept model failed to load
        await this._use(bytes, PRETRAINED_LABEL, 'pretrained');
      } catch (e) {
        warning += `${e.message}. Using an untrained model: train it below.`;
        await trainerInit;
        const r = await rt.workers.trainer.call('create', { spec: 'keras' });
        await this._use(r.bytes, 'untrained (Keras MNIST CNN)', null);
      }
    }
    await rt.library.refresh().catch((e) => { warning += `The model library cannot be read (${e.message}). `; });
    return warning;
  }

  async _use(bytes, label, id) {
    const info = await this.rt.predict.setModel(bytes.slice(), `Predicting with the current model: ${label}.`);
    this.rt.state.model = { bytes, label, info, id };
    this.rt.emit('model', { model: this.rt.state.model });
  }

  /** @returns {Promise<Uint8Array>} the pretrained model's bytes (same origin) */
  async fetchPretrained() {
    let res;
    try {
      res = await fetch(this.rt.url('build/pretrained.safetensors'));
    } catch (e) {
      throw new Error(`The pretrained model could not be fetched (${e.message})`);
    }
    if (!res.ok) throw new Error(`No pretrained model at build/pretrained.safetensors (HTTP ${res.status})`);
    return new Uint8Array(await res.arrayBuffer());
  }

  /**
   * Keeps bytes as a new entry of the library and makes them the current model everywhere: prediction
   * worker, state, storage (one transaction). The training worker has them.
   * @param {Uint8Array} bytes @param {object} info @param {string} label
   * @param {{source?: string, history?: object, run?: boolean}} [o] what the library keeps with it
   */
  async commit(bytes, info, label, o = {}) {
    const { rt } = this;
    let id = null;
    try {
      id = await rt.library.add(bytes, info, label, o);
    } catch (e) {
      rt.status(`The model could not be kept in this browser: ${e.message}`, 'error', 'storage');
    }
    await this.makeCurrent(bytes, info, label, id);
  }

  /**
   * Makes bytes the current model in the prediction worker and the page (the training worker has them).
   * @param {Uint8Array} bytes @param {object} info @param {string} label
   * @param {number|string|null} id its library entry (null: not kept)
   */
  async makeCurrent(bytes, info, label, id) {
    const { rt } = this;
    rt.state.model = { bytes, label, info, id };
    await rt.predict.setModel(bytes.slice(), rt.predict.currentNote());
    rt.evaluation.reset();
    rt.emit('model', { model: rt.state.model });
    await rt.library.refresh().catch((e) => rt.status(`The model library cannot be read: ${e.message}`, 'error', 'storage'));
  }

  /**
   * Loads a .safetensors file as the current model.
   * @param {File} file @param {*} owner the widget asking @returns {Promise<object>} the model's info
   */
  loadFile(file, owner) {
    const { rt } = this;
    return rt.exclusive('setModel', 'loading', owner, async () => {
      rt.status(`Loading ${file.name}…`, 'busy', 'model');
      const bytes = new Uint8Array(await file.arrayBuffer());
      let info;
      try {
        info = await rt.workers.trainer.call('setModel', { bytes: bytes.slice() });
      } catch (e) {
        throw refusedFile(file.name, e);
      }
      await this.commit(bytes, info, `file ${file.name}`, { source: 'file' });
      rt.status(`Loaded ${file.name}: ${info.paramCount.toLocaleString('en-US')} parameters, ${info.classes} classes.`, 'info', 'model');
      return info;
    });
  }

  /**
   * Loads the weights of a file without an architecture (as PyTorch's save_file writes) into a new model
   * of the given architecture, and makes it current.
   * @param {File} file @param {string} spec @param {*} owner @returns {Promise<object>} the model's info
   */
  loadWeightsInto(file, spec, owner) {
    const { rt } = this;
    return rt.exclusive('setModel', 'loading', owner, async () => {
      rt.status(`Loading the weights of ${file.name}…`, 'busy', 'model');
      let info;
      try {
        info = await rt.workers.trainer.call('setModel', { bytes: new Uint8Array(await file.arrayBuffer()), spec });
      } catch (e) {
        throw new Error(`The weights of ${file.name} do not fit the Train card's architecture: ${e.message}`);
      }
      // the page keeps models as files that say their architecture: the model as saved by the core
      const { bytes } = await rt.workers.trainer.call('currentBytes');
      await this.commit(bytes, info, `weights of ${file.name}`, { source: 'file' });
      rt.status(`Loaded the weights of ${file.name}: ${info.paramCount.toLocaleString('en-US')} parameters.`, 'info', 'model');
      return info;
    });
  }

  /** Makes the last good weights of a diverged run the current model. @param {*} owner */
  useRescued(owner) {
    const { rt } = this;
    const rescued = rt.state.rescued;
    if (!rescued) return Promise.resolve();
    return rt.exclusive('setModel', 'loading', owner, async () => {
      const info = await rt.workers.trainer.call('setModel', { bytes: rescued.bytes.slice() });
      rt.state.rescued = null;
      await this.commit(rescued.bytes, info, rescued.label, { source: 'rescued' });
      rt.emit('rescued', { rescued: null });
      rt.status('The last good weights of the diverged run are now the current model.', 'info', 'model');
    });
  }

  /** Makes the pretrained model current again (the library keeps the others). @param {*} owner */
  async revert(owner) {
    await this.rt.library.use('pretrained', owner);
    this.rt.status(`Back to the pretrained model${this.rt.storage ? ' (the others stay in the library)' : ''}.`, 'info', 'model');
  }

  /** @returns {{bytes: Uint8Array, name: string}} the current model as a file to download */
  downloadable() {
    const stamp = new Date().toISOString().slice(0, 16).replace(/[-:T]/g, '');
    return { bytes: this.rt.state.model.bytes, name: `digits-model-${stamp}.safetensors` };
  }
}

/** A model file the page cannot load, in words for people; kind says what to offer next. */
export class ModelFileError extends Error {
  /** @param {string} message @param {'not-safetensors'|'no-architecture'|'other'} kind */
  constructor(message, kind) {
    super(message);
    this.name = 'ModelFileError';
    this.kind = kind;
  }
}

function refusedFile(name, e) {
  if (e.status === 'not-safetensors') {
    return new ModelFileError(`${name} is not a .safetensors file. A model file is what "Download .safetensors" ` +
      'saves here, or what save_file of the safetensors package writes in Python.', 'not-safetensors');
  }
  if (e.status === 'no-architecture') {
    return new ModelFileError(`${name} holds weights but does not say its architecture (PyTorch's save_file ` +
      'writes no metadata). Set the architecture it was trained with in the Train card (the layers must have ' +
      'the same sizes), then choose "Load the weights into the Train card\'s architecture" below.', 'no-architecture');
  }
  return new ModelFileError(`${name} is not a model this page can load: ${e.message}`, 'other');
}
