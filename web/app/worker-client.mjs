/**
 * worker-client.mjs - the page side of the page <-> worker protocol (see worker-rpc.mjs): promises for
 * requests, callbacks for events.
 */

/** An error raised in a worker (the C core's message and status when it came from there). */
export class WorkerError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.name = 'WorkerError';
    this.status = status;
  }
}

export class WorkerClient {
  /**
   * @param {URL|string} url a module worker script
   * @param {string} name shown in error messages and devtools
   */
  constructor(url, name) {
    this.name = name;
    this._worker = new Worker(url, { type: 'module', name });
    this._next = 1;
    this._pending = new Map();
    this._listeners = new Map();
    this._worker.onmessage = ({ data }) => this._receive(data);
    this._worker.onerror = (e) => {
      // A worker that fails to load or throws outside a request: fail every pending request.
      e.preventDefault?.();
      const err = new WorkerError(`${name} worker: ${e.message || 'failed to start'}`);
      for (const { reject } of this._pending.values()) reject(err);
      this._pending.clear();
      this._emit('error', err);
    };
  }

  /**
   * Sends a request.
   * @param {string} type @param {object} [args] @param {Transferable[]} [transfer] buffers to move
   * @returns {Promise<any>} the handler's result; rejects with a WorkerError
   */
  call(type, args = {}, transfer = []) {
    const id = this._next++;
    return new Promise((resolve, reject) => {
      this._pending.set(id, { resolve, reject });
      this._worker.postMessage({ id, type, args }, transfer);
    });
  }

  /** @returns {number} requests sent and not answered yet */
  get pending() {
    return this._pending.size;
  }

  /** Ends the worker once every request sent so far is answered. */
  retire() {
    this._retiring = true;
    if (!this._pending.size) this.terminate();
  }

  /** Ends the worker; pending requests fail. */
  terminate() {
    this._worker.terminate();
    const err = new WorkerError(`${this.name} worker: replaced by a fresh instance`);
    for (const { reject } of this._pending.values()) reject(err);
    this._pending.clear();
  }

  /** @param {string} event @param {(data: any) => void} fn */
  on(event, fn) {
    if (!this._listeners.has(event)) this._listeners.set(event, []);
    this._listeners.get(event).push(fn);
  }

  _emit(event, data) {
    for (const fn of this._listeners.get(event) ?? []) fn(data);
  }

  _receive(msg) {
    if (msg.event) return this._emit(msg.event, msg.data);
    const p = this._pending.get(msg.id);
    if (!p) return;
    this._pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new WorkerError(msg.error.message, msg.error.status));
    if (this._retiring && !this._pending.size) this.terminate();
  }
}
