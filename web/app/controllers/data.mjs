/**
 * data.mjs - the data controller: MNIST (downloaded once from the site, kept in the training worker) and an
 * IDX data set picked from disk, and the shape and classes of each data set choice.
 */

/** The data set choices, as the page names them. */
export const DATASET_NAMES = {
  mnist: 'MNIST', custom: 'IDX files', drawings: 'my drawings', 'mnist+drawings': 'MNIST + my drawings',
};

/** Loads data sets into the training worker and tells their shapes. */
export class DataController {
  /** @param {import('../runtime.mjs').Runtime} rt */
  constructor(rt) {
    this.rt = rt;
    this._customFiles = null; // the IDX files of the 'custom' data set
  }

  connect({ trainer }) {
    if (!trainer) return; // a new prediction worker
    trainer.on('dataProgress', (p) => this.rt.emit('dataProgress', p));
  }

  /**
   * Downloads the MNIST splits not loaded yet (once; later calls wait for the same download).
   * @param {('train'|'test')[]} splits
   */
  async ensureMnist(splits) {
    const { rt } = this;
    if (splits.every((s) => rt.state.mnist[s])) return;
    rt.emit('dataProgress', { loaded: 0, total: 0 });
    try {
      rt.state.mnist = await rt.workers.trainer.call('loadMnist', { splits });
    } finally {
      rt.emit('dataProgress', null);
    }
    rt.emit('data', { mnist: rt.state.mnist, custom: rt.state.custom });
  }

  /**
   * Loads four IDX files (raw or .gz) as the 'custom' data set.
   * @param {File[]} files @param {*} owner @returns {Promise<{train: object, test: object}>} summaries
   */
  loadIdxFiles(files, owner) {
    const { rt } = this;
    return rt.exclusive('loadIdxFiles', 'loading', owner, async () => {
      rt.status(`Reading ${files.length} file${files.length === 1 ? '' : 's'}…`, 'busy', 'data');
      rt.state.custom = await this._send(files);
      this._customFiles = files; // a fresh training worker gets them again (runtime.mjs checkMemory)
      rt.emit('data', { mnist: rt.state.mnist, custom: rt.state.custom });
      return rt.state.custom;
    });
  }

  async _send(files) {
    const payload = await Promise.all(files.map(async (f) => ({ name: f.name, bytes: await f.arrayBuffer() })));
    return this.rt.workers.trainer.call('loadIdxFiles', { files: payload }, payload.map((p) => p.bytes));
  }

  /** Gives a fresh training worker the data set from disk loaded before (if any). */
  async reloadCustom() {
    if (this._customFiles) await this._send(this._customFiles);
  }

  /** @param {string} choice a data set choice @returns {[number[], number]} [[h, w, c], classes] */
  shape(choice) {
    const { custom } = this.rt.state;
    if (choice === 'custom' && custom) {
      return [[custom.train.height, custom.train.width, custom.train.channels], Math.max(custom.train.classes, custom.test.classes)];
    }
    return [[28, 28, 1], 10];
  }

  /** @param {string} choice @returns {boolean} whether the choice uses MNIST */
  static usesMnist(choice) {
    return choice === 'mnist' || choice === 'mnist+drawings';
  }
}
