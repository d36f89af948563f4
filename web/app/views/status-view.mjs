/**
 * status-view.mjs - the status line of one widget (the runtime's page-wide status) and the notice shown when
 * the scalar build of the core is in use.
 */
import { parts } from './dom.mjs';

/** The status line and the scalar-build notice of one widget. */
export class StatusView {
  /** @param {HTMLElement} root holds [data-part=status] and [data-part=build-notice] @param {import('../runtime.mjs').Runtime} rt */
  constructor(root, rt) {
    this.$ = parts(root);
    this._off = [rt.on('status', (s) => this.show(s)), rt.on('build', (b) => this.build(b))];
    if (rt.state.status.text) this.show(rt.state.status);
  }

  destroy() {
    for (const off of this._off) off();
  }

  /** @param {{text: string, kind: string}} s */
  show({ text, kind }) {
    const el = this.$('status');
    el.textContent = text;
    el.className = `status ${kind}`;
  }

  /** @param {{build: string, forced: boolean}} b forced: chosen with ?build=scalar */
  build({ build, forced }) {
    if (build !== 'scalar') return;
    const el = this.$('build-notice');
    if (forced) el.textContent = 'The scalar build of the core is in use (?build=scalar): training is about 3–5× slower.';
    el.hidden = false;
  }
}
