/**
 * busy-policy.mjs - the one rule for which requests may run while the training worker is busy.
 *
 * The page asks it to enable controls and to refuse an action before sending it; the training worker asks it
 * again before every request it serves, so a page that gets it wrong still cannot, say, replace the model or
 * free a data set under a running fit. Request names are the training worker's (see worker-train.mjs).
 *
 * Activities (what the training worker is doing): 'training', 'evaluating', 'loading' (a model, a data set,
 * or the page starting up).
 */

/** Runs during any activity: controls, reads, and requests that only add something. */
const ALWAYS = 'always';
/** Replaces or uses what an activity holds: only when nothing runs. */
const IDLE = 'idle';
/** Runs during any activity; what it replaces is swapped in when the run that uses it ends. */
const DEFERRED = 'deferred';

/** Each request of the training worker and when it may run. */
export const REQUESTS = Object.freeze({
  init: ALWAYS,
  pause: ALWAYS,
  resume: ALWAYS,
  stop: ALWAYS,
  cancelEvaluation: ALWAYS,
  validateSpec: ALWAYS,
  images: ALWAYS,
  loadMnist: ALWAYS,
  memory: ALWAYS,
  currentBytes: ALWAYS,
  decodeIdx: ALWAYS,
  setDrawings: DEFERRED,
  train: IDLE,
  transferLab: IDLE,
  evaluate: IDLE,
  setModel: IDLE,
  create: IDLE,
  loadIdxFiles: IDLE,
});

/** The activities, as the messages name them. */
export const ACTIVITIES = Object.freeze({ training: 'training', evaluating: 'evaluating', loading: 'loading' });

const WHAT = {
  train: 'start training', transferLab: 'run the transfer lab', evaluate: 'evaluate', setModel: 'load a model', create: 'create a model',
  loadIdxFiles: 'load a data set',
};
const HOW = {
  training: 'stop training first',
  evaluating: 'cancel the evaluation or wait until it ends',
  loading: 'wait until loading is done',
};

/**
 * Why a request may not run now.
 * @param {string} request a training worker request name (REQUESTS)
 * @param {string|null} activity what the training worker is doing (ACTIVITIES), null when idle
 * @returns {string|null} a message for people, or null when the request may run
 */
export function refusal(request, activity) {
  const rule = REQUESTS[request];
  if (rule === undefined) return `unknown request '${request}'`;
  if (!activity || rule !== IDLE) return null;
  if (!ACTIVITIES[activity]) return `unknown activity '${activity}'`;
  return `Cannot ${WHAT[request]} while ${activity}: ${HOW[activity]}.`;
}

/** @param {string} request @param {string|null} activity @returns {boolean} whether the request may run now */
export function allowed(request, activity) {
  return refusal(request, activity) === null;
}

/** @param {string} request @returns {boolean} whether the request is deferred (not refused) during a run */
export function deferred(request) {
  return REQUESTS[request] === DEFERRED;
}

/** A request refused by the policy (its status, also across the worker boundary). */
export const BUSY_STATUS = 'busy';
