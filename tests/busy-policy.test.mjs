// The busy policy shared by the page and the training worker: every request the worker serves has a rule, and
// the rules refuse what would replace or free something a run holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { REQUESTS, ACTIVITIES, refusal, allowed, deferred } from '../web/shared/busy-policy.mjs';

test('every request the training worker serves has a rule, and every rule a request', () => {
  const src = fs.readFileSync(new URL('../web/worker-train.mjs', import.meta.url), 'utf8');
  const body = src.slice(src.indexOf('const rpc = serve({'), src.indexOf('}, {\n  refuse('));
  const served = [...body.matchAll(/^  (?:async )?(\w+)(?:\(|: )/gm)].map((m) => m[1]);
  assert.ok(served.length >= 12, `found ${served.join(', ')}`);
  assert.deepEqual([...served].sort(), Object.keys(REQUESTS).sort());
});

test('nothing that replaces the model or a data set runs during a run, an evaluation or a load', () => {
  for (const request of ['train', 'evaluate', 'setModel', 'create', 'loadIdxFiles']) {
    assert.equal(refusal(request, null), null, `${request} when idle`);
    for (const activity of Object.keys(ACTIVITIES)) {
      const why = refusal(request, activity);
      assert.match(why, new RegExp(`^Cannot .* while ${activity}: `), `${request} while ${activity}`);
    }
  }
  assert.match(refusal('setModel', 'training'), /stop training first/);
  assert.match(refusal('train', 'evaluating'), /cancel the evaluation/);
});

test('controls, reads and additive requests run during any activity; drawings are deferred', () => {
  for (const request of ['pause', 'resume', 'stop', 'cancelEvaluation', 'validateSpec', 'images', 'loadMnist', 'setDrawings', 'init']) {
    for (const activity of [null, ...Object.keys(ACTIVITIES)]) assert.ok(allowed(request, activity), `${request} while ${activity}`);
  }
  assert.ok(deferred('setDrawings'));
  assert.ok(!deferred('train'));
});

test('unknown requests and activities are refused, not let through', () => {
  assert.match(refusal('freeEverything', null), /unknown request/);
  assert.match(refusal('setModel', 'dreaming'), /unknown activity/);
});
