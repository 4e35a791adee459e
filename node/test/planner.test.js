// The planner's JS surface: argument shapes and checks, BigInt/number/string
// seeds, JSON round trips, frozen results. The decisions themselves are covered
// by the conformance vectors.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { defaultPolicy, deriveSeed, loadPolicy, PolicyError } from '../src/index.js';
import { fromWitState } from '../src/planner.js';

const POLICY = `
[retry]
max_attempts = 5
base_delay = "1s"
jitter = "full"
attempt_timeout = "10s"
deadline = "1m"

[retry.circuit_breaker]
consecutive_failures = 3
open_for = "30s"
`;
const policy = loadPolicy(POLICY);
const U64_MAX = (1n << 64n) - 1n;

describe('planner API', () => {
  it('runs one attempt cycle from a fresh state', () => {
    const permit = policy.beginAttempt({ state: { seed: 7n }, now: 1000 });
    assert.deepEqual(permit, {
      refused: null,
      attempt: 1,
      timeoutMs: 10_000,
      retryAfterMs: 0,
      probe: false,
      state: { attempts: 1, startedAtMs: 1000, lastDelayMs: 0, seed: '7' },
      shared: {
        breaker: { circuit: 'closed', consecutiveFailures: 0, recentOutcomes: '0', recentCount: 0, openedAtMs: 0, probesStarted: 0, probesSucceeded: 0 },
        budget: { spentMilli: 0 },
      },
    });
    const decision = policy.afterFailure({
      state: permit.state,
      shared: permit.shared,
      outcome: { failure: { httpStatus: 503 }, durationMs: 500 },
      now: 1500,
    });
    assert.equal(decision.giveUp, null);
    assert.equal(decision.attempt, 1);
    assert.ok(decision.delayMs >= 0 && decision.delayMs < 1000);
    assert.equal(decision.nextTimeoutMs, 10_000);
    assert.equal(decision.classification.rule, 'builtin.http-transient');
    assert.equal(decision.shared.breaker.consecutiveFailures, 1);
    assert.equal(decision.state.lastDelayMs, decision.delayMs);
    const shared = policy.afterSuccess(decision.shared);
    assert.equal(shared.breaker.consecutiveFailures, 0);
    assert.equal(shared.breaker.recentOutcomes, '2');
  });

  it('defaults: fresh state and shared state, now = Date.now()', () => {
    const before = Date.now();
    const permit = defaultPolicy().beginAttempt();
    const after = Date.now();
    assert.ok(permit.state.startedAtMs >= before && permit.state.startedAtMs <= after);
    assert.equal(policy.afterSuccess().budget.spentMilli, 0);
    const decision = defaultPolicy().afterFailure({ outcome: {} });
    assert.equal(decision.classification.class, 'unknown');
  });

  it('accepts a Date for now and truncates fractional clock readings', () => {
    assert.equal(policy.beginAttempt({ now: new Date(123_456) }).state.startedAtMs, 123_456);
    assert.equal(policy.beginAttempt({ now: 99.9 }).state.startedAtMs, 99);
    const d = policy.afterFailure({ outcome: { durationMs: 10.7, pushbackMs: 2000.9 }, now: 5000.5 });
    assert.equal(d.state.startedAtMs, 4990);
    assert.equal(d.delayMs, 2000);
  });

  it('returns frozen, JSON-ready results that are valid inputs after a round trip', () => {
    const permit = policy.beginAttempt({ state: { seed: U64_MAX }, now: 0 });
    const decision = policy.afterFailure({ state: permit.state, shared: permit.shared, outcome: { failure: { httpStatus: 503 } }, now: 10 });
    for (const value of [permit, permit.state, permit.shared, permit.shared.breaker, decision, decision.classification, decision.state]) {
      assert.ok(Object.isFrozen(value));
    }
    assert.equal(decision.state.seed, U64_MAX.toString());
    const restored = JSON.parse(JSON.stringify(decision));
    const again = policy.afterFailure({ state: restored.state, shared: restored.shared, outcome: { failure: { httpStatus: 503 } }, now: 20 });
    const direct = policy.afterFailure({ state: decision.state, shared: decision.shared, outcome: { failure: { httpStatus: 503 } }, now: 20 });
    assert.deepEqual(again, direct);
  });

  it('takes seeds as BigInt, number or decimal string, with the same result', () => {
    const at = (seed) => policy.schedule({ seed, maxEntries: 5 });
    assert.deepEqual(at(42n), at(42));
    assert.deepEqual(at(42n), at('42'));
    assert.deepEqual(at(U64_MAX), at(U64_MAX.toString()));
    assert.notDeepEqual(at(1n), at(2n));
    const huge = policy.afterFailure({ state: { seed: '18446744073709551615', attempts: 1 }, outcome: {}, now: 0 });
    assert.equal(huge.state.seed, '18446744073709551615');
    const mask = policy.afterSuccess({ breaker: { recentOutcomes: U64_MAX, recentCount: 20 } });
    assert.equal(BigInt(mask.breaker.recentOutcomes), (U64_MAX << 1n) & U64_MAX);
  });

  it('refuses seeds outside the u64 range or not exactly representable', () => {
    for (const seed of [-1, -1n, 1n << 64n, '18446744073709551616', 2 ** 53, 1.5, '0x10', '-3', '', ' 1']) {
      assert.throws(() => policy.schedule({ seed }), RangeError, String(seed));
    }
    for (const seed of [null, true, {}, [1]]) assert.throws(() => policy.schedule({ seed }), TypeError);
  });

  it('schedule: defaults, maxEntries bounds, and the give-up reason', () => {
    const plan = policy.schedule();
    assert.equal(plan.endsWith, 'attempts-exhausted');
    assert.deepEqual(plan.attempts.map((a) => a.attempt), [1, 2, 3, 4, 5]);
    assert.equal(plan.attempts[0].delayMs, 0);
    assert.ok(Object.isFrozen(plan.attempts) && Object.isFrozen(plan.attempts[1]));
    const cut = policy.schedule({ maxEntries: 2 });
    assert.equal(cut.endsWith, null);
    assert.equal(cut.attempts.length, 2);
    assert.throws(() => policy.schedule({ maxEntries: -1 }), RangeError);
    assert.throws(() => policy.schedule({ maxEntries: 2 ** 32 }), RangeError);
    assert.throws(() => policy.schedule({ maxEntries: '5' }), TypeError);
  });

  it('rejects wrong types, unknown fields and out-of-range numbers before jco wraps them', () => {
    const cases = [
      [() => policy.beginAttempt({ state: { attempts: 2 ** 32 } }), RangeError, /state.attempts must be an integer from 0 to 4294967295/],
      [() => policy.beginAttempt({ state: { attempts: -1 } }), RangeError, /state.attempts/],
      [() => policy.beginAttempt({ state: { attempts: '1' } }), TypeError, /state.attempts must be a number, got a string/],
      [() => policy.beginAttempt({ state: { started_at_ms: 5 } }), TypeError, /unknown field `state.started_at_ms`; did you mean `startedAtMs`\?/],
      [() => policy.beginAttempt({ state: { bogus: 1 } }), TypeError, /expected one of: attempts, startedAtMs, lastDelayMs, seed/],
      [() => policy.beginAttempt({ state: { startedAtMs: 1.5 } }), RangeError, /whole number of milliseconds/],
      [() => policy.beginAttempt({ state: { lastDelayMs: 2 ** 53 } }), RangeError, /MAX_SAFE_INTEGER/],
      [() => policy.beginAttempt({ state: null }), TypeError, /state must be an object, got null/],
      [() => policy.beginAttempt({ shared: { breaker: { circuit: 'ajar' } } }), TypeError, /shared.breaker.circuit must be one of 'closed', 'open', 'half-open'/],
      [() => policy.beginAttempt({ shared: { breaker: { recentCount: 2 ** 32 } } }), RangeError, /shared.breaker.recentCount/],
      [() => policy.beginAttempt({ shared: { budget: { spentMilli: -5 } } }), RangeError, /shared.budget.spentMilli/],
      [() => policy.beginAttempt({ shared: { breakers: {} } }), TypeError, /unknown field `shared.breakers`/],
      [() => policy.beginAttempt({ now: -1 }), RangeError, /now must be a whole number of milliseconds/],
      [() => policy.beginAttempt({ now: NaN }), RangeError, /now/],
      [() => policy.beginAttempt({ now: new Date(NaN) }), RangeError, /invalid Date/],
      [() => policy.beginAttempt({ now: '2024-01-01' }), TypeError, /now must be a number of milliseconds, got a string/],
      [() => policy.beginAttempt({ now: 10n }), TypeError, /got a bigint/],
      [() => policy.afterFailure({}), TypeError, /outcome is required/],
      [() => policy.afterFailure({ outcome: { failure: { http_status: 503 } } }), TypeError, /did you mean `httpStatus`/],
      [() => policy.afterFailure({ outcome: { duration_ms: 5 } }), TypeError, /did you mean `durationMs`/],
      [() => policy.afterFailure({ outcome: { durationMs: -1 } }), RangeError, /outcome.durationMs/],
      [() => policy.afterFailure({ outcome: { pushbackMs: Infinity } }), RangeError, /outcome.pushbackMs/],
      [() => policy.planFailures({}), TypeError, /outcome is required/],
      [() => policy.planFailures({ outcome: {}, maxEntries: -1 }), RangeError, /maxEntries/],
      [() => policy.planFailures({ outcome: {}, maxEntries: 1.5 }), RangeError, /maxEntries/],
      [() => policy.afterSuccess([]), TypeError, /shared must be an object, got an array/],
    ];
    for (const [call, type, message] of cases) assert.throws(call, (err) => err instanceof type && message.test(err.message), String(message));
  });

  it('reports a state no decision can produce as PolicyError invalid-state', () => {
    assert.throws(
      () => policy.beginAttempt({ shared: { breaker: { probesStarted: 1, probesSucceeded: 2 } } }),
      (err) => err instanceof PolicyError && err.code === 'invalid-state' && err.path === 'shared.breaker.probes_succeeded',
    );
    assert.throws(() => policy.afterFailure({ state: { attempts: 2 ** 32 - 1 }, outcome: {} }), { code: 'invalid-state', path: 'state.attempts' });
  });

  it('planFailures: entry 0 is afterFailure, each permit is beginAttempt, each next entry afterFailure on it', () => {
    const p = loadPolicy(POLICY.replace('deadline = "1m"\n', ''));
    const outcome = { failure: { httpStatus: 503 }, durationMs: 5 };
    const first = p.beginAttempt({ state: { seed: 42n }, now: 1000 });
    const entries = p.planFailures({ state: first.state, shared: first.shared, outcome, now: 1500 });
    assert.ok(Object.isFrozen(entries) && entries.every(Object.isFrozen));
    // 5 attempts; the third consecutive failure opens the circuit, which stamps the time: not planned.
    assert.equal(entries.length, 2);
    let expected = p.afterFailure({ state: first.state, shared: first.shared, outcome, now: 1500 });
    for (const [i, { decision, nextPermit }] of entries.entries()) {
      assert.deepEqual(decision, expected, `entry ${i}`);
      assert.notEqual(nextPermit, null);
      const later = 10_000 * (i + 1);
      assert.deepEqual(nextPermit, p.beginAttempt({ state: decision.state, shared: decision.shared, now: later }));
      expected = p.afterFailure({ state: nextPermit.state, shared: nextPermit.shared, outcome: { ...outcome, durationMs: 77 }, now: later + 3 });
    }
    assert.equal(p.planFailures({ state: first.state, shared: first.shared, outcome, now: 1500, maxEntries: 1 }).length, 1);
    // With a deadline no later answer is clock-free: one entry, no permit.
    const once = policy.planFailures({ state: first.state, shared: first.shared, outcome, now: 1500 });
    assert.equal(once.length, 1);
    assert.equal(once[0].nextPermit, null);
    p.close();
  });

  it('refuses planner calls on a closed policy', () => {
    const p = loadPolicy(POLICY);
    p.close();
    assert.throws(() => p.beginAttempt(), { code: 'unknown-policy' });
    assert.throws(() => p.schedule(), { code: 'unknown-policy' });
    assert.throws(() => p.planFailures({ outcome: {} }), { code: 'unknown-policy' });
  });

  it('refuses an engine value a Number cannot hold exactly instead of rounding it', () => {
    const raw = { attempts: 1, startedAtMs: 2n ** 53n, lastDelayMs: 0n, seed: 0n };
    assert.throws(() => fromWitState(raw), (err) => err instanceof RangeError && /state.startedAtMs is 9007199254740992, beyond Number.MAX_SAFE_INTEGER/.test(err.message));
    assert.deepEqual(fromWitState({ ...raw, startedAtMs: 2n ** 53n - 1n }).startedAtMs, Number.MAX_SAFE_INTEGER);
  });
});

describe('deriveSeed', () => {
  it('is 64-bit FNV-1a, as a BigInt', () => {
    assert.equal(deriveSeed(''), 0xcbf29ce484222325n);
    assert.equal(deriveSeed('a'), 0xaf63dc4c8601ec8cn);
    assert.equal(typeof deriveSeed('run-1/train'), 'bigint');
    assert.equal(deriveSeed('ü'), deriveSeed('\u00fc'));
  });

  it('needs a string', () => {
    assert.throws(() => deriveSeed(42), /deriveSeed needs a string key, got number/);
    assert.throws(() => deriveSeed(null), TypeError);
  });
});
