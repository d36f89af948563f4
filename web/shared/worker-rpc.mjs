/**
 * worker-rpc.mjs - the worker side of the page <-> worker protocol (the page side is app/worker-client.mjs).
 *
 *   page -> worker  {id, type, args}                      a request; answered exactly once
 *   worker -> page  {id, ok: true, result}                 its answer
 *                   {id, ok: false, error: {message, status}}
 *                   {event, data}                           an unsolicited event (progress, snapshot, ...)
 *
 * Requests are handled concurrently: a long one (training) awaits between its steps, so 'stop' or 'predict'
 * requests are answered while it runs.
 */

/** A handler's answer with the transferable buffers to move rather than copy. */
export class Transfer {
  /** @param {*} value @param {Transferable[]} list */
  constructor(value, list) {
    this.value = value;
    this.list = list;
  }
}

/** An error whose status crosses the worker boundary (e.g. a request refused by the busy policy). */
export class RequestError extends Error {
  /** @param {string} message @param {number|string} status */
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/**
 * Serves requests in this worker.
 * @param {Record<string, (args: any) => any>} handlers by request type; may return a Transfer or a promise
 * @param {{refuse?: (type: string) => (Error|null)}} [o] refuse: asked before every request; an Error refuses it
 * @returns {{emit(event: string, data?: any, transfer?: Transferable[]): void}}
 */
export function serve(handlers, { refuse = () => null } = {}) {
  self.onmessage = async ({ data: msg }) => {
    const { id, type, args } = msg;
    try {
      const handler = handlers[type];
      if (!handler) throw new Error(`worker: unknown request '${type}'`);
      const refused = refuse(type);
      if (refused) throw refused;
      const out = await handler(args ?? {});
      if (out instanceof Transfer) self.postMessage({ id, ok: true, result: out.value }, out.list);
      else self.postMessage({ id, ok: true, result: out });
    } catch (e) {
      self.postMessage({ id, ok: false, error: { message: e?.message ?? String(e), status: e?.status ?? 0 } });
    }
  };
  return {
    emit(event, data, transfer = []) {
      self.postMessage({ event, data }, transfer);
    },
  };
}
