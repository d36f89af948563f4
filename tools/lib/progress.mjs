// Human progress for the CLI tools, written to stderr: a redrawn bar on a terminal, plain periodic lines in a log.

const TTY_INTERVAL_MS = 100; // at most ~10 redraws per second
const LOG_INTERVAL_MS = 10_000; // at most one plain line per 10 seconds
const MAX_BAR = 40; // widest bar, in characters

/**
 * Format a duration as m:ss, or h:mm:ss from one hour on.
 * @param {number} seconds - non-negative; rounded to the nearest second
 * @returns {string} e.g. "0:07", "12:34", "1:02:03"; "--:--" when unknown (NaN, infinite or negative)
 */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * Create a progress reporter.
 * On a TTY stream one line is redrawn in place ('\r' + clear-to-end) at most ~10 times per second: label, a bar
 * sized to stream.columns, done/total, the fields and the ETA. Otherwise a plain line (no control characters)
 * is written on the first update, then at most every 10 seconds, and at done().
 * @param {object} options
 * @param {{ write(s: string): any, isTTY?: boolean, columns?: number }} [options.stream=process.stderr]
 * @param {number} options.total - number of steps, >= 0
 * @param {string} [options.label=''] - shown first on the line, e.g. "epoch 1/3"
 * @returns {{ update(done: number, fields?: Record<string, string|number>): void, done(message?: string): void }}
 *   update: `done` steps are finished; fields are extra named values shown as "name value"
 *   ({ loss: '0.123', acc: '98.1%', 'img/s': 812 }).
 *   done: end the line with `message` if given, else with the last state and the elapsed time; later calls to
 *   update or done do nothing.
 */
export function createProgress({ stream = process.stderr, total, label = '' } = {}) {
  if (!Number.isFinite(total) || total < 0) throw new Error(`createProgress: total must be a number >= 0 (got ${total})`);
  if (!stream || typeof stream.write !== 'function') throw new Error('createProgress: stream must have a write() method');
  const tty = Boolean(stream.isTTY);
  const start = performance.now();
  let last = -Infinity; // time of the last write, ms
  let state = { done: 0, fields: {} };
  let finished = false;

  // Text before and after the bar; timeText is 'ETA m:ss' while running, 'in m:ss' (elapsed) at the end.
  function parts(timeText, withPercent) {
    const fieldText = Object.entries(state.fields).map(([k, v]) => `${k} ${v}`).join('  ');
    const pct = withPercent && total > 0 ? ` (${((100 * Math.min(state.done, total)) / total).toFixed(1)}%)` : '';
    const head = label ? `${label} ` : '';
    const tail = `${state.done}/${total}${pct}${fieldText ? '  ' + fieldText : ''}  ${timeText}`;
    return { head, tail };
  }

  function etaText(now) {
    if (state.done >= total) return 'ETA 0:00';
    if (!(state.done > 0)) return 'ETA --:--';
    const elapsed = (now - start) / 1000;
    return `ETA ${formatDuration((elapsed / state.done) * (total - state.done))}`;
  }

  function ttyLine(timeText) {
    const cols = Number.isInteger(stream.columns) && stream.columns > 0 ? stream.columns : 80;
    const { head, tail } = parts(timeText, false);
    const room = cols - 1 - head.length - tail.length - 3; // -1: never write the last column; 3: '[', ']', ' '
    let bar = '';
    if (room >= 5) {
      const width = Math.min(MAX_BAR, room);
      const fill = total > 0 ? Math.round((Math.min(Math.max(state.done, 0), total) / total) * width) : width;
      bar = `[${'#'.repeat(fill)}${'-'.repeat(width - fill)}] `;
    }
    return (head + bar + tail).slice(0, cols - 1);
  }

  function plainLine(timeText) {
    const { head, tail } = parts(timeText, true);
    return head + tail;
  }

  return {
    update(done, fields = {}) {
      if (finished) return;
      state = { done, fields };
      const now = performance.now();
      if (now - last < (tty ? TTY_INTERVAL_MS : LOG_INTERVAL_MS)) return;
      last = now;
      stream.write(tty ? `\r${ttyLine(etaText(now))}\x1b[K` : `${plainLine(etaText(now))}\n`);
    },
    done(message) {
      if (finished) return;
      finished = true;
      const elapsed = `in ${formatDuration((performance.now() - start) / 1000)}`;
      const text = message ?? (tty ? ttyLine(elapsed) : plainLine(elapsed));
      stream.write(tty ? `\r${text}\x1b[K\n` : `${text}\n`);
    },
  };
}
