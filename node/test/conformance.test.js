// Runs every vector in tests/vectors (format: tests/README.md) through the public
// API: classification and load-error vectors, planner vectors (with `call`) and
// alert sequences (with `alert_steps`), whose snake_case inputs are renamed to the
// JS API's camelCase and whose results are renamed back to the canonical form
// before comparing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { deriveSeed, loadPolicy, PolicyError, PolicyLoadError, readLog } from '../src/index.js';
import { failureFromJson, pick, suites } from './helpers.js';

const NULL_POLICY = { format: 'toml', source: '' };
const all = suites();

const camel = (key) => key.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const snake = (key) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Rename the keys of a canonical object (state, shared state) to camelCase, values untouched. */
function fromCanonical(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), fromCanonical(v)]));
}

/** A JS planner result in canonical form: snake_case keys (the values already are canonical). */
function toCanonical(value) {
  if (Array.isArray(value)) return value.map(toCanonical);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [snake(k), toCanonical(v)]));
}

/** Deep comparison under the corpus rule: only the keys an expected object names. */
function pickDeep(actual, expected) {
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length ? expected.map((e, i) => pickDeep(actual[i], e)) : actual;
  }
  if (expected === null || typeof expected !== 'object' || actual === null || typeof actual !== 'object') return actual;
  return Object.fromEntries(Object.keys(expected).map((key) => [key, pickDeep(actual[key], expected[key])]));
}

/** A vector's canonical `outcome` as afterFailure and planFailures take it. */
const outcomeFromJson = (outcome) => ({
  failure: failureFromJson(outcome.failure ?? {}),
  durationMs: outcome.duration_ms,
  pushbackMs: outcome.pushback_ms,
});

const CALLS = {
  begin_attempt: (policy, { state, shared, now_ms }) =>
    policy.beginAttempt({ state: fromCanonical(state), shared: fromCanonical(shared), now: now_ms }),
  after_failure: (policy, { state, shared, outcome, now_ms }) =>
    policy.afterFailure({
      state: fromCanonical(state),
      shared: fromCanonical(shared),
      outcome: outcomeFromJson(outcome),
      now: now_ms,
    }),
  plan_failures: (policy, { state, shared, outcome, now_ms, max_entries }) => ({
    entries: policy.planFailures({
      state: fromCanonical(state),
      shared: fromCanonical(shared),
      outcome: outcomeFromJson(outcome),
      now: now_ms,
      maxEntries: max_entries,
    }),
  }),
  after_success: (policy, { shared }) => policy.afterSuccess(fromCanonical(shared)),
  plan_schedule: (policy, { seed, max_entries }) => policy.schedule({ seed, maxEntries: max_entries }),
  derive_seed: (_policy, { key }) => ({ seed: deriveSeed(key).toString() }),
  sinks: (policy, input) => {
    assert.deepEqual(input, {});
    return { sinks: policy.sinks() };
  },
};

it('the corpus holds the redaction corpus (at least 200 vectors)', () => {
  const redaction = all.filter(([file]) => file.startsWith('redaction-')).flatMap(([, suite]) => suite.vectors);
  assert.ok(redaction.length >= 200, `only ${redaction.length} redaction vectors found`);
});

it('the corpus holds every vector (167 classification and load-error, 144 planner, 14 alert sequences of 69 steps)', () => {
  const vectors = all.flatMap(([, suite]) => suite.vectors);
  const planner = vectors.filter((v) => 'call' in v).length;
  const alerts = vectors.filter((v) => 'alert_steps' in v);
  const steps = alerts.reduce((n, v) => n + v.alert_steps.length, 0);
  const logs = vectors.filter((v) => 'log' in v).length;
  const classification = vectors.length - planner - alerts.length - logs;
  assert.ok(classification >= 167, `only ${classification} classification vectors found`);
  assert.ok(planner >= 144, `only ${planner} planner vectors found`);
  assert.ok(alerts.length >= 14, `only ${alerts.length} alert sequences found`);
  assert.ok(steps >= 69, `only ${steps} alert steps found`);
});

/** A canonical alert event -> the JS AlertEvent (`labels` is already a plain object). */
function eventFromJson(json) {
  const event = {};
  for (const [key, value] of Object.entries(json)) {
    event[camel(key)] = key === 'failure' ? failureFromJson(value) : value;
  }
  return event;
}

/** A JS evaluation in canonical form (the payload's keys are the guest's own, left alone). */
function evaluationToCanonical(evaluation) {
  const { notifications, suppressed, nextWakeupMs } = evaluation;
  return {
    notifications: notifications.map(({ payload, ...rest }) => ({ ...toCanonical(rest), payload })),
    suppressed: suppressed.map(toCanonical),
    next_wakeup_ms: nextWakeupMs,
  };
}

/**
 * An alert sequence: thread the state from step to step (a step's own `state`
 * replaces it); a refused step must leave the threaded state as it was.
 */
function runAlertSteps(vector, load) {
  const policy = load();
  try {
    let state = '';
    vector.alert_steps.forEach((step, i) => {
      const input = 'state' in step ? step.state : state;
      const run = () => policy.evaluateAlerts({ state: input, event: eventFromJson(step.event), now: step.now_ms });
      const where = `step ${i + 1} of ${vector.name}`;
      if ('expect_error' in step) {
        let thrown;
        assert.throws(run, (err) => (thrown = err) instanceof PolicyError, where);
        assert.deepEqual(pick(thrown.toJSON(), step.expect_error), step.expect_error, where);
        return;
      }
      const evaluation = run();
      state = evaluation.state;
      if ('expect' in step) {
        assert.deepEqual(pickDeep(evaluationToCanonical(evaluation), step.expect), step.expect, where);
      }
    });
  } finally {
    policy.close();
  }
  runAlertStepsKeyed(vector, load);
}

/**
 * The same sequence as a keyed store runs it (the needed keys, the due ones
 * and a whole-document state under ''; the changed shards stored back): the
 * same answers, the wakeup being the soonest of all stored shards.
 */
function runAlertStepsKeyed(vector, load) {
  const policy = load();
  try {
    let store = new Map();
    vector.alert_steps.forEach((step, i) => {
      const trial = 'state' in step ? new Map([['', { key: '', state: step.state, nextWakeupMs: null }]]) : new Map(store);
      const event = eventFromJson(step.event);
      const now = step.now_ms;
      const where = `step ${i + 1} of ${vector.name} (keyed)`;
      const run = () => {
        const needed = policy.alertStateKeys(event);
        const loaded = [...trial.values()].filter(
          (s) => needed.everyKey || needed.keys.includes(s.key) || s.key === '' || (s.nextWakeupMs != null && s.nextWakeupMs <= now),
        );
        return policy.evaluateAlertsKeyed({ states: loaded, event, now });
      };
      if ('expect_error' in step) {
        let thrown;
        assert.throws(run, (err) => (thrown = err) instanceof PolicyError, where);
        assert.deepEqual(pick(thrown.toJSON(), step.expect_error), step.expect_error, where);
        return;
      }
      const evaluation = run();
      for (const shard of evaluation.states) {
        if (shard.state === '') trial.delete(shard.key);
        else trial.set(shard.key, shard);
      }
      store = trial;
      const wakeups = [...store.values()].map((s) => s.nextWakeupMs).filter((w) => w != null);
      const next = wakeups.length ? Math.min(...wakeups) : null;
      if ('expect' in step) {
        const canonical = evaluationToCanonical({ ...evaluation, nextWakeupMs: next });
        assert.deepEqual(pickDeep(canonical, step.expect), step.expect, where);
      }
    });
  } finally {
    policy.close();
  }
}

/** A report's failure in canonical form, every key present (`null` / `[]` when absent). */
function logFailureToCanonical(f) {
  return {
    http_status: f.httpStatus ?? null,
    grpc_code: f.grpcCode ?? null,
    exit_code: f.exitCode ?? null,
    signal: f.signal ?? null,
    error_types: f.errorTypes,
    error_bases: f.errorBases,
    error_code: f.errorCode ?? null,
    message: f.message ?? null,
  };
}

/** A log vector: read the tail, classify the report's failure, compare both. */
function runLog(vector, load) {
  const { text, exit_code: exitCode, signal, stream } = vector.log;
  const run = () => readLog({ text, exitCode, signal, stream });
  if ('expect_error' in vector) {
    let thrown;
    assert.throws(run, (err) => (thrown = err) instanceof PolicyError);
    assert.deepEqual(pick(thrown.toJSON(), vector.expect_error), vector.expect_error);
    return;
  }
  const report = run();
  const policy = load();
  try {
    const actual = {
      failure: logFailureToCanonical(report.failure),
      readers: report.readers,
      summary: report.summary,
      pushback_ms: report.pushbackMs,
      classification: policy.classify(report.failure),
    };
    assert.deepEqual(pickDeep(actual, vector.expect), vector.expect);
  } finally {
    policy.close();
  }
}

function runCall(vector, load) {
  const call = CALLS[vector.call];
  assert.ok(call, `unknown call ${vector.call}`);
  const policy = vector.call === 'derive_seed' ? null : load();
  try {
    const run = () => toCanonical(call(policy, vector.input));
    if ('expect_error' in vector) {
      let thrown;
      assert.throws(run, (err) => (thrown = err) instanceof PolicyError);
      assert.deepEqual(pick(thrown.toJSON(), vector.expect_error), vector.expect_error);
    } else {
      assert.ok('expect' in vector, `vector ${vector.name} has no expectation`);
      assert.deepEqual(pickDeep(run(), vector.expect), vector.expect);
    }
  } finally {
    policy?.close();
  }
}

for (const [file, suite] of all) {
  describe(file, () => {
    for (const vector of suite.vectors) {
      const spec = ('policy' in vector ? vector.policy : suite.policy) ?? NULL_POLICY;
      const load = () => loadPolicy(spec.source, { format: spec.format });

      it(vector.name, () => {
        if ('alert_steps' in vector) {
          runAlertSteps(vector, load);
          return;
        }
        if ('call' in vector) {
          runCall(vector, load);
          return;
        }
        if ('redact' in vector) {
          const policy = load();
          try {
            assert.deepEqual(pickDeep(policy.redact(vector.redact), vector.expect), vector.expect);
          } finally {
            policy.close();
          }
          return;
        }
        if ('log' in vector) {
          runLog(vector, load);
          return;
        }
        if ('expect_errors' in vector) {
          assert.ok(!('failure' in vector), 'a load-error vector has no failure');
          let thrown;
          assert.throws(load, (err) => (thrown = err) instanceof PolicyLoadError);
          assert.ok(thrown.errors.every((e) => e instanceof PolicyError));
          const actual = thrown.errors.map((e) => e.toJSON());
          assert.equal(actual.length, vector.expect_errors.length, JSON.stringify(actual));
          vector.expect_errors.forEach((expected, i) => assert.deepEqual(pick(actual[i], expected), expected));
          return;
        }
        const policy = load();
        try {
          const failure = failureFromJson(vector.failure);
          if ('expect_error' in vector) {
            let thrown;
            assert.throws(() => policy.classify(failure), (err) => (thrown = err) instanceof PolicyError);
            assert.deepEqual(pick(thrown.toJSON(), vector.expect_error), vector.expect_error);
          } else {
            assert.ok('expect' in vector, `vector ${vector.name} has no expectation`);
            assert.deepEqual(pick(policy.classify(failure), vector.expect), vector.expect);
          }
        } finally {
          policy.close();
        }
      });
    }
  });
}
