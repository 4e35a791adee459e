// The escalation evaluator's JS surface: the seed's Example 3 flow end to end,
// argument checks, corrupted state, frozen results, and that cutting long inputs
// before the copy into wasm changes nothing. The alert semantics in depth are
// covered by the conformance vectors (alerts-*.json).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { loadPolicy, PolicyError } from '../src/index.js';
import { fromWitEvaluation, toWitEvent } from '../src/alerts.js';
import { Engine, Slot } from '../src/engine.js';

// The seed guide's Example 3 policy, exactly as written there.
const SEED_POLICY = `{
"rules": [
{"condition": "run.failure_count==1", "severity": "info", "notify": ["mlops-room"], "dedup_window": "30m"},
{"condition": "run.consecutive_failures >= 3 or sla.late_minutes >= 60", "severity": "high", "notify": ["oncall"], "escalate_after": "15m"}
],
"payload": ["pipeline", "step", "run_id", "error_type", "last_log_lines"]
}`;
const policy = loadPolicy(SEED_POLICY, { format: 'json' });

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const NIGHT = Date.UTC(2024, 0, 1); // 2024-01-01T00:00:00Z
const FAILURE = { httpStatus: 503, errorTypes: ['TransientError'], message: '503 Service Unavailable' };
const step = (kind, runId, extra = {}) => ({ kind, pipeline: 'nightly', step: 'train', runId, ...extra });

/** Evaluate a sequence, threading the state; returns every evaluation. */
function replay(events, state = '') {
  return events.map(([event, now]) => {
    const evaluation = policy.evaluateAlerts({ state, event, now });
    state = evaluation.state;
    return evaluation;
  });
}

/** A failed night: an attempt fails, then the run gives up. */
function failedNight(runId, night) {
  return [
    [step('attempt-failed', runId, { failure: FAILURE, attempt: 1 }), NIGHT + night * DAY],
    [step('run-failed', runId, { failure: FAILURE, attempt: 1 }), NIGHT + night * DAY + 10 * MINUTE],
  ];
}

const kinds = (evaluation) => evaluation.notifications.map((n) => `${n.kind} ${n.severity} ${n.targets.join(',')}`);

describe('evaluateAlerts: the seed guide Example 3', () => {
  it('one transient failure informs the room and never pages; the success resolves it', () => {
    const [failed, succeeded] = replay([
      [step('attempt-failed', 'r1', { failure: FAILURE, attempt: 1 }), NIGHT],
      [step('run-succeeded', 'r1', { attempt: 2 }), NIGHT + 2 * MINUTE],
    ]);
    assert.deepEqual(kinds(failed), ['trigger info mlops-room']);
    const [info] = failed.notifications;
    assert.equal(info.rule, 'rule-1');
    assert.equal(info.dedupKey, 'backstop/rule-1/nightly/train/r1/TransientError');
    assert.equal(failed.nextWakeupMs, null);
    assert.deepEqual(kinds(succeeded), ['resolve info mlops-room']);
    assert.equal(succeeded.notifications[0].dedupKey, info.dedupKey);
  });

  it('three failed nights page on-call with a runbook; a tick escalates after 15 minutes', () => {
    const nights = replay([...failedNight('r1', 0), ...failedNight('r2', 1), ...failedNight('r3', 2)]);
    // Nights one and two: the room hears once per run, on-call never.
    for (const evaluation of nights.slice(0, 5)) {
      assert.ok(evaluation.notifications.every((n) => n.severity === 'info'), kinds(evaluation).join('; '));
    }
    const third = nights[5];
    assert.deepEqual(kinds(third), ['trigger high oncall']);
    assert.deepEqual(third.suppressed.map((s) => [s.rule, s.reason]), [['rule-1', 'duplicate']]);
    const paged = NIGHT + 2 * DAY + 10 * MINUTE;
    assert.equal(third.nextWakeupMs, paged + 15 * MINUTE);

    const { payload } = third.notifications[0];
    assert.equal(payload.pipeline, 'nightly');
    assert.equal(payload.run_id, 'r3');
    assert.equal(payload.error_type, 'TransientError');
    assert.equal(payload.runbook.correlation_id, 'r3');
    assert.equal(payload.runbook.when, '2024-01-03T00:10:00Z');
    assert.match(payload.runbook.how_to_retry, /--run-id r3/);

    // Too early: nothing, and the same wake-up.
    const [early, due] = replay(
      [
        [{ kind: 'tick' }, paged + 10 * MINUTE],
        [{ kind: 'tick' }, new Date(paged + 16 * MINUTE)],
      ],
      third.state,
    );
    assert.deepEqual(early.notifications, []);
    assert.equal(early.nextWakeupMs, paged + 15 * MINUTE);
    assert.deepEqual(kinds(due), ['escalate high oncall']);
    assert.equal(due.nextWakeupMs, null);

    // The next good run resolves everything that was notified, the page included.
    const [recovered] = replay([[step('run-succeeded', 'r4', { attempt: 1 }), NIGHT + 3 * DAY]], due.state);
    assert.ok(recovered.notifications.every((n) => n.kind === 'resolve'));
    assert.ok(kinds(recovered).includes('resolve high oncall'));
    assert.equal(recovered.nextWakeupMs, null);
  });

  it('an acknowledgement stops the escalation', () => {
    const nights = replay([...failedNight('r1', 0), ...failedNight('r2', 1), ...failedNight('r3', 2)]);
    const page = nights[5].notifications[0];
    const paged = NIGHT + 2 * DAY + 10 * MINUTE;
    const [acked, later] = replay(
      [
        [{ kind: 'alert-acknowledged', dedupKey: page.dedupKey }, paged + 5 * MINUTE],
        [{ kind: 'tick' }, paged + 60 * MINUTE],
      ],
      nights[5].state,
    );
    assert.deepEqual(acked.notifications, []);
    assert.equal(acked.nextWakeupMs, null);
    assert.ok(later.notifications.every((n) => n.kind !== 'escalate'), kinds(later).join('; '));
    // Acknowledged is not resolved: the recovery still tells on-call.
    const [recovered] = replay([[step('run-succeeded', 'r4'), NIGHT + 3 * DAY]], later.state);
    assert.ok(kinds(recovered).includes('resolve high oncall'));
  });

  it('data an hour late pages', () => {
    const [late] = replay([[step('run-late', 'r9', { lateMinutes: 75 }), NIGHT]]);
    assert.deepEqual(kinds(late), ['trigger high oncall']);
  });
});

describe('evaluateAlerts: values', () => {
  it('returns frozen, JSON-ready results with the payload parsed', () => {
    const evaluation = policy.evaluateAlerts({
      event: step('attempt-failed', 'r1', { failure: FAILURE, labels: { team: 'ml' }, logLines: ['GET https://u:hunter2@host/x'] }),
      now: NIGHT,
    });
    assert.ok(Object.isFrozen(evaluation));
    assert.ok(Object.isFrozen(evaluation.notifications));
    assert.ok(Object.isFrozen(evaluation.suppressed));
    const [n] = evaluation.notifications;
    assert.ok(Object.isFrozen(n) && Object.isFrozen(n.targets) && Object.isFrozen(n.payload) && Object.isFrozen(n.payload.runbook));
    assert.deepEqual(Object.keys(evaluation), ['notifications', 'suppressed', 'state', 'nextWakeupMs']);
    assert.deepEqual(Object.keys(n), ['kind', 'severity', 'targets', 'rule', 'dedupKey', 'summary', 'payload']);
    assert.equal(typeof n.payload, 'object');
    // Secrets in log lines are redacted by the engine before they reach the host.
    assert.doesNotMatch(JSON.stringify(n.payload), /hunter2/);
    assert.equal(typeof evaluation.state, 'string');
    assert.deepEqual(JSON.parse(JSON.stringify(evaluation)).nextWakeupMs, null);
  });

  it('defaults: state "" and now = Date.now()', () => {
    const before = Date.now();
    const evaluation = policy.evaluateAlerts({ event: step('attempt-failed', 'r1', { failure: FAILURE }) });
    const when = Date.parse(evaluation.notifications[0].payload.runbook.when);
    assert.ok(when >= Math.floor(before / 1000) * 1000 && when <= Date.now());
    assert.deepEqual(policy.evaluateAlerts({ state: null, event: { kind: 'tick' }, now: 0 }).notifications, []);
  });

  it('a next wake-up beyond Number.MAX_SAFE_INTEGER is a RangeError, never a rounded number', () => {
    const raw = { notifications: [], suppressed: [], state: '', nextWakeupMs: 2n ** 53n };
    assert.throws(() => fromWitEvaluation(raw), RangeError, /evaluation.nextWakeupMs is 9007199254740992/);
    assert.equal(fromWitEvaluation({ ...raw, nextWakeupMs: 2n ** 53n - 1n }).nextWakeupMs, Number.MAX_SAFE_INTEGER);
  });

  it('cutting long log lines, many labels and a huge message before the copy changes nothing', () => {
    const engine = new Engine();
    const slot = new Slot(SEED_POLICY, 'json');
    assert.equal(engine.load(slot), null);
    const event = step('attempt-failed', 'r1', {
      failure: { errorTypes: ['TransientError'], message: `${'é😀'.repeat(3000)} token=abc ${'x'.repeat(200_000)} ECONNRESET` },
      logLines: Array.from({ length: 30 }, (_, i) => `${i} ${'😀'.repeat(700)} password=hunter2`),
      labels: Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`k${i}`, `v${i}`])),
    });
    const wit = toWitEvent(event);
    assert.equal(wit.logLines.length, 20);
    assert.equal(wit.labels.length, 64);
    assert.ok(wit.failure.message.length < event.failure.message.length);
    const uncut = {
      ...wit,
      failure: { ...wit.failure, message: event.failure.message },
      logLines: event.logLines,
      labels: Object.entries(event.labels).map(([key, value]) => ({ key, value })),
    };
    const cut = fromWitEvaluation(engine.evaluateAlerts(slot, '', wit, BigInt(NIGHT)));
    const whole = fromWitEvaluation(engine.evaluateAlerts(slot, '', uncut, BigInt(NIGHT)));
    assert.deepEqual(cut, whole);
    assert.ok(cut.notifications.length > 0);
  });
});

describe('evaluateAlerts: bad input', () => {
  const ok = step('attempt-failed', 'r1', { failure: FAILURE });
  const cases = [
    [() => policy.evaluateAlerts(), TypeError, /event is required/],
    [() => policy.evaluateAlerts({ event: null }), TypeError, /event must be an object, got null/],
    [() => policy.evaluateAlerts({ event: {} }), TypeError, /event.kind must be one of 'attempt-failed', .*'tick', got nothing/],
    [() => policy.evaluateAlerts({ event: { kind: 'run_failed' } }), TypeError, /got "run_failed"/],
    [() => policy.evaluateAlerts({ event: { ...ok, run_id: 'r1' } }), TypeError, /unknown field `event.run_id`; did you mean `runId`\?/],
    [() => policy.evaluateAlerts({ event: { ...ok, severity: 'high' } }), TypeError, /unknown field `event.severity`; expected one of: kind, /],
    [() => policy.evaluateAlerts({ event: { ...ok, pipeline: 7 } }), TypeError, /event.pipeline must be a string, got a number/],
    [() => policy.evaluateAlerts({ event: { ...ok, attempt: 2 ** 32 } }), RangeError, /event.attempt must be an integer from 0 to 4294967295/],
    [() => policy.evaluateAlerts({ event: { ...ok, attempt: 1.5 } }), RangeError, /event.attempt/],
    [() => policy.evaluateAlerts({ event: { ...ok, lateMinutes: -1 } }), RangeError, /event.lateMinutes/],
    [() => policy.evaluateAlerts({ event: { ...ok, lateMinutes: '60' } }), TypeError, /event.lateMinutes must be a number/],
    [() => policy.evaluateAlerts({ event: { ...ok, labels: [['team', 'ml']] } }), TypeError, /event.labels must be a plain object of strings/],
    [() => policy.evaluateAlerts({ event: { ...ok, labels: new Map() } }), TypeError, /got a Map/],
    [() => policy.evaluateAlerts({ event: { ...ok, labels: { gpus: 8 } } }), TypeError, /event.labels.gpus must be a string, got a number/],
    [() => policy.evaluateAlerts({ event: { ...ok, logLines: 'one line' } }), TypeError, /event.logLines must be an array of strings/],
    [() => policy.evaluateAlerts({ event: { ...ok, logLines: ['a', null] } }), TypeError, /event.logLines\[1\] must be a string, got null/],
    [() => policy.evaluateAlerts({ event: { ...ok, dedupKey: 5 } }), TypeError, /event.dedupKey must be a string/],
    [() => policy.evaluateAlerts({ event: { ...ok, failure: { http_status: 503 } } }), TypeError, /did you mean `httpStatus`\?/],
    [() => policy.evaluateAlerts({ event: ok, now: -1 }), RangeError, /now must be a whole number of milliseconds/],
    [() => policy.evaluateAlerts({ event: ok, now: new Date(NaN) }), RangeError, /invalid Date/],
    [() => policy.evaluateAlerts({ event: ok, now: 2 ** 53 }), RangeError, /MAX_SAFE_INTEGER/],
    [() => policy.evaluateAlerts({ event: ok, state: 0 }), TypeError, /state must be the string a previous evaluation returned/],
    [() => policy.evaluateAlerts({ event: ok, state: { version: 1 } }), TypeError, /not JSON.parse of it/],
  ];
  for (const [call, type, message] of cases) {
    it(`${message}`, () => assert.throws(call, (err) => err instanceof type && message.test(err.message)));
  }

  const refused = (args, code, path) => {
    let thrown;
    assert.throws(() => policy.evaluateAlerts(args), (err) => (thrown = err) instanceof PolicyError);
    assert.equal(thrown.code, code);
    assert.equal(thrown.path, path);
  };

  it('events the engine refuses are PolicyErrors naming the field', () => {
    refused({ event: step('run-failed', ''), now: NIGHT }, 'invalid-value', 'event.run_id');
    refused({ event: step('run-failed', 'r1', { pipeline: ' ' }), now: NIGHT }, 'invalid-value', 'event.pipeline');
    refused({ event: { kind: 'alert-acknowledged' }, now: NIGHT }, 'invalid-value', 'event.dedup_key');
    refused({ event: step('run-failed', 'r1', { failure: { signal: 'SIGNOPE' } }), now: NIGHT }, 'invalid-failure', 'failure.signal');
  });

  it('corrupted state is invalid-state, and a refused call leaves the caller’s state usable', () => {
    const { state } = policy.evaluateAlerts({ event: ok, now: NIGHT });
    refused({ state: '{not json', event: { kind: 'tick' }, now: NIGHT }, 'invalid-state', 'state');
    refused({ state: '{"version": 9}', event: { kind: 'tick' }, now: NIGHT }, 'invalid-state', 'state.version');
    refused({ state: state.slice(0, -1), event: { kind: 'tick' }, now: NIGHT }, 'invalid-state', 'state');
    refused({ state, event: step('run-failed', ''), now: NIGHT }, 'invalid-value', 'event.run_id');
    // The same run fails again within the window: a duplicate, so the state was kept.
    const again = policy.evaluateAlerts({ state, event: step('run-failed', 'r1', { failure: FAILURE }), now: NIGHT + MINUTE });
    assert.deepEqual(again.notifications, []);
    assert.deepEqual(again.suppressed.map((s) => s.reason), ['duplicate']);
  });

  it('a closed policy is refused', () => {
    const closed = loadPolicy(SEED_POLICY, { format: 'json' });
    closed.close();
    assert.throws(() => closed.evaluateAlerts({ event: ok }), (err) => err instanceof PolicyError && err.code === 'unknown-policy');
  });
});
