// Runs the retry-helper conformance vectors (tests/helpers/*.json, format in
// tests/README.md) against retry() on a FakeClock: every host's loop must make
// the same attempts at the same virtual times with the same callbacks and end.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import { AttemptTimeoutError, loadPolicy, retry, RetryError } from '../src/index.js';
import { FakeClock } from './fake-clock.js';

const DIR = new URL('../../tests/helpers/', import.meta.url);
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

/** The scripted error of an attempt, in the shapes Node libraries use. */
function scriptedError(attempt, outcome) {
  const error = new Error(`attempt-${attempt}`);
  const f = outcome.error;
  if (f.http_status !== undefined) error.status = f.http_status;
  if (f.error_code !== undefined) error.code = f.error_code;
  if (outcome.retry_after !== undefined) error.response = { headers: { 'retry-after': outcome.retry_after } };
  if (outcome.grpc_retry_pushback_ms !== undefined) {
    // grpc-js Metadata#get returns the list of a key's values.
    error.metadata = { get: (key) => (key === 'grpc-retry-pushback-ms' ? [outcome.grpc_retry_pushback_ms] : []) };
  }
  return error;
}

function errorId(error) {
  if (error instanceof AttemptTimeoutError) return `timeout-${error.attempt}`;
  return error?.message;
}

/** Every key of `expected` must equal `actual`'s, recursively; `seed: "random"` is checked by the caller. */
function matches(actual, expected, path) {
  if (expected === null || typeof expected !== 'object') {
    assert.deepEqual(actual, expected, path);
    return;
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected a list, got ${JSON.stringify(actual)}`);
    assert.equal(actual.length, expected.length, `${path}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`);
    expected.forEach((e, i) => matches(actual[i], e, `${path}[${i}]`));
    return;
  }
  for (const [key, value] of Object.entries(expected)) {
    if (key === 'seed' && value === 'random') continue;
    matches(actual?.[key], value, `${path}.${key}`);
  }
}

async function runCall(policy, clock, origin, call) {
  if (call.advance_ms) await clock.run(clock.sleep(call.advance_ms));
  const attempts = [];
  const callbacks = [];
  const controller = new AbortController();
  const cancelReason = new Error('cancelled by the vector');
  const timer = new AbortController();
  if (call.cancel_at_ms !== undefined) {
    clock.sleep(origin + call.cancel_at_ms - clock.now(), timer.signal).then(
      () => controller.abort(cancelReason),
      () => {},
    );
  }
  const options = {
    policy,
    clock,
    signal: controller.signal,
    onRetry: ({ error, attempt, decision }) => {
      assert.equal(decision.attempt, attempt);
      callbacks.push({
        error: errorId(error),
        attempt,
        delay_ms: decision.delayMs,
        class: decision.classification.class,
        rule: decision.classification.rule,
        seed: String(decision.state.seed),
      });
    },
  };
  if (call.seed !== undefined) options.seed = call.seed;
  if (call.idempotency_key !== undefined) options.idempotencyKey = call.idempotency_key;
  if (call.deadline_ms !== undefined) options.deadline = origin + call.deadline_ms;
  const fn = async ({ attempt, timeoutMs }) => {
    attempts.push({ attempt, start_ms: clock.now() - origin, timeout_ms: timeoutMs });
    const outcome = call.outcomes[attempt - 1];
    if (outcome === undefined) throw new Error(`the vector scripts no attempt ${attempt}`);
    if (outcome.hang) return new Promise(() => {}); // only a timeout or a cancel ends it
    if (outcome.duration_ms) await clock.sleep(outcome.duration_ms);
    if ('ok' in outcome) return outcome.ok;
    throw scriptedError(attempt, outcome);
  };
  let result;
  try {
    result = { value: await clock.run(retry(fn, options)) };
  } catch (error) {
    if (error === cancelReason) result = { cancelled: true, attempts: attempts.length };
    else if (error instanceof RetryError) {
      result = {
        give_up: error.reason,
        attempts: error.attempts,
        class: error.decision?.classification.class ?? null,
        cause: 'cause' in error ? errorId(error.cause) : null,
      };
    } else throw error;
  } finally {
    timer.abort();
  }
  return { attempts, callbacks, result, end_ms: clock.now() - origin };
}

for (const file of files) {
  const suite = JSON.parse(readFileSync(new URL(file, DIR), 'utf8'));
  describe(`helper vectors: ${file}`, () => {
    for (const vector of suite.vectors) {
      it(vector.name, async () => {
        const policy = loadPolicy(vector.policy);
        const clock = new FakeClock(suite.origin_ms);
        const randomSeeds = [];
        for (const [i, call] of vector.calls.entries()) {
          const got = await runCall(policy, clock, suite.origin_ms, call);
          const { end_ms: end, ...expect } = call.expect;
          matches(got, expect, `call ${i}`);
          if (end !== null) assert.equal(got.end_ms, end, `call ${i}: the clock at the end`);
          call.expect.callbacks.forEach((cb, j) => {
            if (cb.seed === 'random') randomSeeds.push(got.callbacks[j].seed);
          });
        }
        assert.ok(!randomSeeds.includes('0'), `a random seed was 0: ${randomSeeds}`);
        assert.equal(new Set(randomSeeds).size, randomSeeds.length, `random seeds repeat: ${randomSeeds}`);
      });
    }
  });
}
