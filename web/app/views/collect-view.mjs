/**
 * collect-view.mjs - collect mode: the pad asks for one digit after another ("Draw a 7"), labels each new
 * drawing with it, and moves on to the next digit once it is saved. It starts at the digit with the fewest
 * drawings.
 */
import { setText } from './dom.mjs';

/** Collect mode of one pad (DrawView), started and stopped by a toggle button. */
export class CollectMode {
  /**
   * @param {HTMLButtonElement} button the toggle (aria-pressed)
   * @param {import('./draw-view.mjs').DrawView} draw @param {import('../runtime.mjs').Runtime} rt
   */
  constructor(button, draw, rt) {
    this.button = button;
    this.draw = draw;
    this.rt = rt;
    this.digit = null; // the digit asked for, null when not collecting
    button.addEventListener('click', () => (this.digit === null ? this.start() : this.stop()));
    draw.$('collect-skip').addEventListener('click', () => this.ask((this.digit + 1) % 10));
    draw.$('collect-stop').addEventListener('click', () => this.stop());
  }

  start() {
    const counts = new Array(10).fill(0);
    for (const s of this.rt.state.samples) if (s.label < 10) counts[s.label]++;
    this.draw.onSaved = (label, { heldOut }) => {
      this.ask((label + 1) % 10);
      this.rt.status(`Saved as ${label}${heldOut ? ' (held out for testing)' : ''}. Now draw a ${this.digit}.`, 'info', 'drawings');
    };
    this.button.setAttribute('aria-pressed', 'true');
    this.button.textContent = 'Stop collecting';
    this.draw.$('collect-prompt').hidden = false;
    this.ask(counts.indexOf(Math.min(...counts)));
    this.draw.clear();
    this.draw.pad.canvas.scrollIntoView?.({ block: 'nearest' });
    this.draw.pad.canvas.focus({ preventScroll: true });
  }

  /** @param {number} digit */
  ask(digit) {
    this.digit = digit;
    this.draw.promptLabel = digit;
    this.draw.newDrawing();
    setText(this.draw.$('collect-digit'), String(digit));
  }

  stop() {
    if (this.digit === null) return;
    this.digit = null;
    this.draw.promptLabel = null;
    this.draw.onSaved = null;
    this.draw.$('collect-prompt').hidden = true;
    this.button.setAttribute('aria-pressed', 'false');
    this.button.textContent = 'Collect: prompt me digit by digit';
  }
}
