// retry(): every test runs on a FakeClock, so waits and timeouts are exact and
// instantaneous; the assertions are about virtual time, never real time.
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';

import {
  AttemptTimeoutError,
  defaultPolicy,
  deriveSeed,
  loadPolicy,
  MemoryStore,
  parseGrpcPushback,
  parseRetryAfter,
  PolicyError,
  pushbackFromError,
  retry,
  RetryError,
  systemClock,
} from '../src/index.js';
import { Engine } from '../src/engine.js';
import { failureFromError } from '../src/from-error.js';
import { FakeClock } from './fake-clock.js';

const BACKOFF = `
[retry]
max_attempts = 3
base_delay = "1s"
jitter = "none"
`;

const httpError = (status, extra = {}) => Object.assign(new Error(`HTTP ${status}`), { status }, extra);

/** fn that throws each of `outcomes` in turn (an Error) or returns it; records its calls. */
function script(...outcomes) {
  const calls = [];
  const fn = async (context) => {
    calls.push(context);
    const next = outcomes[calls.length - 1];
    if (next instanceof Error) throw next;
    if (typeof next === 'function') return next(context);
    return next;
  };
  return { fn, calls };
}

/** Run retry() on a fresh FakeClock; returns { result | error, clock, retries }. */
async function drive(fn, options = {}) {
  const clock = options.clock ?? new FakeClock(1_000_000);
  const retries = [];
  const promise = retry(fn, {
    clock,
    onRetry: (info) => {
      retries.push(info);
    },
    ...options,
  });
  try {
    return { result: await clock.run(promise), clock, retries };
  } catch (error) {
    return { error, clock, retries };
  }
}

describe('retry()', () => {
  it('retries transient failures with the policy backoff, then returns the result', async () => {
    const policy = loadPolicy(BACKOFF);
    const { fn, calls } = script(httpError(503), httpError(502), 'done');
    const { result, error, clock, retries } = await drive(fn, { policy });
    assert.equal(error, undefined);
    assert.equal(result, 'done');
    assert.deepEqual(calls.map((c) => c.attempt), [1, 2, 3]);
    assert.ok(calls.every((c) => c.signal instanceof AbortSignal && !c.signal.aborted));
    assert.deepEqual(retries.map((r) => [r.attempt, r.decision.delayMs, r.decision.classification.rule]), [
      [1, 1000, 'builtin.http-transient'],
      [2, 2000, 'builtin.http-transient'],
    ]);
    assert.equal(retries[0].error.status, 503);
    assert.equal(clock.now(), 1_003_000);
  });

  it('accepts a synchronous fn and a fn that throws synchronously', async () => {
    let n = 0;
    const { result } = await drive(
      () => {
        n += 1;
        if (n === 1) throw httpError(503);
        return 42;
      },
      { policy: loadPolicy(BACKOFF) },
    );
    assert.equal(result, 42);
  });

  it('fails fast on a permanent error: one attempt, no wait', async () => {
    const notFound = httpError(404);
    const { fn, calls } = script(notFound, 'unreached');
    const { error, clock, retries } = await drive(fn, { policy: loadPolicy(BACKOFF) });
    assert.ok(error instanceof RetryError);
    assert.equal(error.name, 'RetryError');
    assert.equal(error.reason, 'permanent');
    assert.equal(error.attempts, 1);
    assert.equal(error.cause, notFound);
    assert.equal(error.decision.classification.class, 'permanent');
    assert.equal(error.permit, null);
    assert.match(error.message, /give up: permanent/);
    assert.equal(calls.length, 1);
    assert.deepEqual(retries, []);
    assert.deepEqual(clock.sleeps, []);
  });

  it('gives up when the attempts are exhausted, with the last error as cause', async () => {
    const errors = [httpError(503), httpError(503), httpError(500)];
    const { fn, calls } = script(...errors);
    const { error, clock } = await drive(fn, { policy: loadPolicy(BACKOFF) });
    assert.equal(error.reason, 'attempts-exhausted');
    assert.equal(error.attempts, 3);
    assert.equal(error.cause, errors[2]);
    assert.equal(error.decision.attempt, 3);
    assert.equal(calls.length, 3);
    assert.deepEqual(clock.sleeps.map((s) => s.ms), [1000, 2000]);
  });

  it('never starts an attempt past the deadline, and clamps each timeout to it', async () => {
    const policy = loadPolicy(`
[retry]
max_attempts = 10
base_delay = "1s"
jitter = "none"
deadline = "5s"
`);
    const starts = [];
    const clock = new FakeClock(0);
    // Each attempt takes 1.5 s of virtual time, then fails transiently.
    const fn = async ({ signal }) => {
      starts.push(clock.now());
      await clock.sleep(1500, signal);
      throw httpError(503);
    };
    const { error } = await drive(fn, { policy, clock });
    assert.equal(error.reason, 'deadline');
    // 0-1.5 s, wait 1 s, 2.5-4 s; a 2 s wait would start attempt 3 at 6 s.
    assert.deepEqual(starts, [0, 2500]);
    assert.equal(error.attempts, 2);
    // The attempts' timeouts are what remained of the deadline.
    const timeouts = clock.sleeps.filter((s) => starts.includes(s.at) && s.ms !== 1500).map((s) => s.ms);
    assert.deepEqual(timeouts, [5000, 2500]);
  });

  it('a deadline that passes during an attempt aborts it and gives up', async () => {
    const policy = loadPolicy(`
[retry]
max_attempts = 10
base_delay = "1s"
jitter = "none"
deadline = "3s"
`);
    const clock = new FakeClock(0);
    const fn = async ({ signal }) => {
      await clock.sleep(60_000, signal);
    };
    const { error } = await drive(fn, { policy, clock });
    assert.equal(error.reason, 'deadline');
    assert.ok(error.cause instanceof AttemptTimeoutError);
    assert.equal(clock.now(), 3000);
  });

  it('rejects with signal.reason as soon as the caller aborts mid-sleep', async () => {
    const clock = new FakeClock(0);
    const controller = new AbortController();
    const { fn, calls } = script(httpError(503), 'unreached');
    const promise = retry(fn, { policy: loadPolicy(BACKOFF), clock, signal: controller.signal });
    promise.catch(() => {});
    await clock.idle();
    assert.equal(calls.length, 1);
    assert.deepEqual(clock.sleeps.map((s) => s.ms), [1000]); // sleeping before attempt 2
    const reason = new Error('shutting down');
    controller.abort(reason);
    await assert.rejects(promise, (err) => err === reason);
    assert.equal(clock.now(), 0, 'no virtual time passed');
    assert.equal(clock.pending, 0, 'the sleep timer was cancelled');
    assert.equal(calls.length, 1);
  });

  it('aborts promptly even when the clock ignores the signal', async () => {
    const never = { now: () => 0, sleep: () => new Promise(() => {}) };
    const controller = new AbortController();
    const promise = retry(script(httpError(503)).fn, { policy: loadPolicy(BACKOFF), clock: never, signal: controller.signal });
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    await assert.rejects(promise, (err) => err === controller.signal.reason && err.name === 'AbortError');
  });

  it('rejects at once, without calling fn, when the signal is already aborted', async () => {
    const { fn, calls } = script('unreached');
    const reason = new Error('too late');
    await assert.rejects(retry(fn, { signal: AbortSignal.abort(reason), clock: new FakeClock() }), (err) => err === reason);
    assert.equal(calls.length, 0);
  });

  it('a caller abort during an attempt aborts fn and records nothing in the shared state', async () => {
    const policy = loadPolicy(`${BACKOFF}\n[retry.circuit_breaker]\nconsecutive_failures = 1\n`);
    const store = new MemoryStore();
    const clock = new FakeClock(0);
    const controller = new AbortController();
    let seen;
    const promise = retry(
      async ({ signal }) => {
        seen = signal;
        await clock.sleep(10_000, signal);
      },
      { policy, clock, signal: controller.signal, sharedState: store },
    );
    promise.catch(() => {});
    await clock.idle();
    controller.abort(new Error('cancelled'));
    await assert.rejects(promise, /cancelled/);
    assert.ok(seen.aborted);
    assert.equal(seen.reason.message, 'cancelled');
    assert.equal(store.get('default').breaker.circuit, 'closed');
    assert.equal(store.get('default').breaker.consecutiveFailures, 0);
  });

  it('a per-attempt timeout aborts fn\'s signal and is retried as backstop.AttemptTimeout', async () => {
    const policy = loadPolicy(`${BACKOFF}attempt_timeout = "2s"\n`);
    const clock = new FakeClock(0);
    const signals = [];
    const fn = async ({ attempt, signal }) => {
      signals.push(signal);
      if (attempt === 1) await clock.sleep(10_000, signal); // rejects when the timeout aborts it
      return `attempt ${attempt}`;
    };
    const { result, retries } = await drive(fn, { policy, clock });
    assert.equal(result, 'attempt 2');
    assert.ok(signals[0].aborted);
    assert.equal(signals[0].reason.name, 'TimeoutError');
    assert.ok(!signals[1].aborted);
    const [first] = retries;
    assert.ok(first.error instanceof AttemptTimeoutError);
    assert.equal(first.error.name, 'backstop.AttemptTimeout');
    assert.equal(first.error.timeoutMs, 2000);
    assert.deepEqual(first.decision.classification, {
      class: 'transient',
      rule: 'builtin.attempt-timeout',
      reason: first.decision.classification.reason,
    });
    assert.equal(clock.now(), 3000); // timed out at 2 s, waited 1 s
  });

  it('a per-attempt timeout settles even when fn ignores its signal', async () => {
    const policy = loadPolicy(`${BACKOFF}attempt_timeout = "2s"\n`);
    const { fn } = script(() => new Promise(() => {}), () => new Promise(() => {}), () => new Promise(() => {}));
    const { error } = await drive(fn, { policy });
    assert.equal(error.reason, 'attempts-exhausted');
    assert.ok(error.cause instanceof AttemptTimeoutError);
    assert.equal(error.cause.attempt, 3);
  });

  it('honours pushback: retryAfterMs, Retry-After seconds and HTTP dates', async () => {
    const policy = loadPolicy(BACKOFF.replace('max_attempts = 3', 'max_attempts = 4'));
    const clock = new FakeClock(Date.UTC(2025, 0, 1));
    const { fn } = script(
      httpError(503, { retryAfterMs: 7000 }),
      httpError(429, { response: { status: 429, headers: new Headers({ 'Retry-After': '3' }) } }),
      httpError(503, { response: { headers: { 'retry-after': new Date(clock.now() + 10_000 + 12_000).toUTCString() } } }),
      'ok',
    );
    const { result, retries } = await drive(fn, { policy, clock });
    assert.equal(result, 'ok');
    assert.deepEqual(retries.map((r) => r.decision.delayMs), [7000, 3000, 12_000]);
    assert.match(retries[0].decision.explanation, /server pushback/);
  });

  it('gives up when the pushback is beyond the deadline', async () => {
    const policy = loadPolicy(`${BACKOFF}deadline = "1m"\n`);
    const { error } = await drive(script(httpError(503, { retryAfterMs: 120_000 })).fn, { policy });
    assert.equal(error.reason, 'pushback-beyond-deadline');
  });

  it('refuses to call fn while the shared circuit is open', async () => {
    const policy = loadPolicy(`${BACKOFF}\n[retry.circuit_breaker]\nconsecutive_failures = 2\nopen_for = "30s"\n`);
    const store = new MemoryStore();
    const clock = new FakeClock(100_000);
    store.set('storage', { breaker: { circuit: 'open', openedAtMs: 90_000 } });
    const { fn, calls } = script('unreached');
    const { error } = await drive(fn, { policy, clock, sharedState: store, dependency: 'storage' });
    assert.ok(error instanceof RetryError);
    assert.equal(error.reason, 'circuit-open');
    assert.equal(error.attempts, 0);
    assert.equal(error.decision, null);
    assert.equal(error.permit.retryAfterMs, 20_000);
    assert.ok(!('cause' in error));
    assert.match(error.message, /circuit is open/);
    assert.equal(calls.length, 0);
  });

  it('shares breaker state between calls: failures open it for the next caller; a probe closes it', async () => {
    const policy = loadPolicy(`${BACKOFF}\n[retry.circuit_breaker]\nconsecutive_failures = 2\nopen_for = "30s"\n`);
    const clock = new FakeClock(0);
    // The default store is per Policy object: these calls share it.
    const first = await drive(script(httpError(503), httpError(503), 'unreached').fn, { policy, clock });
    assert.equal(first.error.reason, 'circuit-open');
    const second = await drive(script('unreached').fn, { policy, clock });
    assert.equal(second.error.reason, 'circuit-open');
    assert.equal(second.error.attempts, 0);
    // Another policy object has its own breaker.
    const other = await drive(script('fine').fn, { policy: loadPolicy(BACKOFF), clock });
    assert.equal(other.result, 'fine');
    // After open_for, one probe is let through; its success closes the circuit,
    // so the next caller may fail once and retry.
    await clock.run(clock.sleep(30_000));
    const probe = await drive(script('recovered').fn, { policy, clock });
    assert.equal(probe.result, 'recovered');
    const after = await drive(script(httpError(503), 'again').fn, { policy, clock });
    assert.equal(after.result, 'again');
  });

  it('an aborted half-open probe reports a failure, so the breaker is not left waiting for it', async () => {
    const policy = loadPolicy(`${BACKOFF}\n[retry.circuit_breaker]\nconsecutive_failures = 1\nopen_for = "30s"\n`);
    const store = new MemoryStore();
    store.set('default', { breaker: { circuit: 'open', openedAtMs: 0 } });
    const clock = new FakeClock(30_000);
    const controller = new AbortController();
    const promise = retry(({ signal }) => clock.sleep(5000, signal), { policy, clock, sharedState: store, signal: controller.signal });
    promise.catch(() => {});
    await clock.idle();
    assert.equal(store.get('default').breaker.circuit, 'half-open');
    controller.abort();
    await assert.rejects(promise, { name: 'AbortError' });
    assert.equal(store.get('default').breaker.circuit, 'open');
    assert.equal(store.get('default').breaker.openedAtMs, 30_000);
  });

  it('concurrent retries on one store record every outcome', async () => {
    const policy = loadPolicy(`${BACKOFF}\n[retry.circuit_breaker]\nconsecutive_failures = 10\n`);
    const store = new MemoryStore();
    const clock = new FakeClock(0);
    const runs = Array.from({ length: 4 }, () => retry(script(httpError(503), 'ok').fn, { policy, clock, sharedState: store }));
    assert.deepEqual(await clock.run(Promise.all(runs)), ['ok', 'ok', 'ok', 'ok']);
    // 4 failures, then 4 successes: none lost to interleaving.
    assert.equal(store.get('default').breaker.recentCount, 8);
    assert.equal(store.get('default').breaker.recentOutcomes, String(0b11110000));
  });

  it('works with an asynchronous store', async () => {
    const saved = new Map();
    const store = {
      get: async (key) => (saved.has(key) ? JSON.parse(saved.get(key)) : undefined),
      set: async (key, state) => void saved.set(key, JSON.stringify(state)),
    };
    const policy = loadPolicy(`${BACKOFF}\n[retry.budget]\nmax_tokens = 10\n`);
    const { result } = await drive(script(httpError(503), 'ok').fn, { policy, sharedState: store, dependency: 'db' });
    assert.equal(result, 'ok');
    // One failure spent a token, one success refilled 0.1 of one.
    assert.equal(JSON.parse(saved.get('db')).budget.spentMilli, 900);
  });

  it('accepts a Map as the store', async () => {
    const map = new Map();
    const policy = loadPolicy(`${BACKOFF}\n[retry.circuit_breaker]\nconsecutive_failures = 5\n`);
    await drive(script(httpError(503), 'ok').fn, { policy, sharedState: map });
    assert.deepEqual([...map.keys()], ['default']);
    assert.equal(map.get('default').breaker.recentOutcomes, '2'); // failure then success, newest in bit 0
  });

  it('derives the jitter seed from idempotencyKey, reproducing policy.schedule()', async () => {
    const policy = loadPolicy(`[retry]\nmax_attempts = 4\njitter = "full"\n`);
    const key = 'run-2024-06-01/train';
    const planned = policy.schedule({ seed: deriveSeed(key) }).attempts.slice(1).map((a) => a.delayMs);
    const run = async (options) => (await drive(script(httpError(503), httpError(503), httpError(503), 'ok').fn, { policy, ...options })).retries.map((r) => r.decision.delayMs);
    assert.deepEqual(await run({ idempotencyKey: key }), planned);
    assert.deepEqual(await run({ seed: deriveSeed(key).toString() }), planned);
    // Without a key each call draws a random one: the same schedule twice in a row
    // would take a 1-in-2^30 coincidence over three full-jitter delays of ~1-4 s.
    assert.notDeepEqual(await run({}), await run({}));
  });

  it('awaits an async onRetry before sleeping, and stops when it throws', async () => {
    const clock = new FakeClock(0);
    const events = [];
    const { result } = await drive(script(httpError(503), 'ok').fn, {
      policy: loadPolicy(BACKOFF),
      clock,
      onRetry: async ({ decision }) => {
        await clock.sleep(5);
        events.push(`onRetry at ${clock.now()}, wait ${decision.delayMs}`);
      },
    });
    assert.equal(result, 'ok');
    assert.deepEqual(events, ['onRetry at 5, wait 1000']);
    assert.equal(clock.now(), 1005);

    const stop = new Error('stop retrying');
    const { error } = await drive(script(httpError(503), 'unreached').fn, {
      policy: loadPolicy(BACKOFF),
      onRetry: () => {
        throw stop;
      },
    });
    assert.equal(error, stop);
  });

  it('gives an attempt nothing can abort a plain context whose signal is made once, when read', async () => {
    const { fn, calls } = script(httpError(503), 'done');
    await drive(fn, { policy: loadPolicy(BACKOFF) });
    for (const [i, context] of calls.entries()) {
      assert.equal(Object.getPrototypeOf(context), Object.prototype);
      assert.deepEqual(Object.keys(context), ['attempt', 'timeoutMs', 'signal']);
      const { signal } = context;
      assert.ok(signal instanceof AbortSignal && !signal.aborted);
      assert.equal(context.signal, signal);
      assert.deepEqual({ ...context }, { attempt: i + 1, timeoutMs: null, signal });
      assert.notEqual(calls[1 - i].signal, signal);
    }
  });

  it('classifies errors the engine cannot fully interpret instead of throwing', async () => {
    const odd = Object.assign(new Error('killed'), { signal: 'SIGNOTREAL', status: 503 });
    const { retries, result } = await drive(script(odd, 'ok').fn, { policy: loadPolicy(BACKOFF) });
    assert.equal(result, 'ok');
    assert.equal(retries[0].decision.classification.rule, 'builtin.http-transient');
  });

  it('reports a corrupted shared state as a PolicyError', async () => {
    const store = new MemoryStore();
    store.set('default', { breaker: { recentCount: 65 } });
    const policy = loadPolicy(`${BACKOFF}\n[retry.circuit_breaker]\nconsecutive_failures = 2\n`);
    const { error } = await drive(script('unreached').fn, { policy, sharedState: store });
    assert.ok(error instanceof PolicyError);
    assert.equal(error.code, 'invalid-state');
  });

  it('uses the built-in policy by default (five attempts, 1 s doubling, +25% jitter)', async () => {
    const { error, clock } = await drive(script(...Array.from({ length: 5 }, () => httpError(503))).fn, {});
    assert.equal(defaultPolicy().schedule().attempts.length, 5);
    assert.equal(error.reason, 'attempts-exhausted');
    assert.equal(error.attempts, 5);
    clock.sleeps.forEach(({ ms }, i) => assert.ok(ms >= 1000 * 2 ** i && ms <= 1250 * 2 ** i, `${ms}`));
  });

  it('rejects bad arguments with clear TypeErrors', async () => {
    await assert.rejects(retry('not a function'), /retry needs a function to call, got string/);
    await assert.rejects(retry(() => 1, { retries: 5 }), /unknown retry option `retries`: the number of attempts comes from the policy/);
    await assert.rejects(retry(() => 1, { onFailedAttempt() {} }), /did you mean `onRetry`/);
    await assert.rejects(retry(() => 1, { policy: {} }), /must be a Policy/);
    await assert.rejects(retry(() => 1, { signal: {} }), /must be an AbortSignal/);
    await assert.rejects(retry(() => 1, { idempotencyKey: 7 }), /idempotencyKey` must be a string/);
    await assert.rejects(retry(() => 1, { sharedState: { get() {} } }), TypeError);
    await assert.rejects(retry(() => 1, { sharedState: {} }), /get\(key\) and set\(key, state\)/);
    await assert.rejects(retry(() => 1, { clock: { now: () => 0 } }), /now\(\) and sleep\(ms, signal\)/);
    await assert.rejects(retry(() => 1, { clock: { now: () => NaN, sleep: async () => {} } }), /clock.now\(\) must return/);
    await assert.rejects(retry(() => 1, { seed: -1 }), RangeError);
    await assert.rejects(retry(() => 1, { deadline: 'soon' }), /option `deadline` must be/);
    await assert.rejects(retry(() => 1, { deadline: new Date(NaN) }), /option `deadline` must be/);
    await assert.rejects(retry(() => 1, null), /options must be an object/);
  });
});

describe('pushback parsing', () => {
  const now = Date.UTC(2025, 0, 1, 12, 0, 0);

  it('parses Retry-After delay-seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('1.5', now), undefined, 'delay-seconds is 1*DIGIT');
    assert.equal(parseRetryAfter('+5', now), undefined);
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 12:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Wednesday, 01-Jan-25 12:00:30 GMT', now), 30_000, 'RFC 850');
    assert.equal(parseRetryAfter('Wed Jan  1 12:00:30 2025', now), 30_000, 'asctime');
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 12:00:30 +0000', now), undefined, 'not an HTTP-date');
    assert.equal(parseRetryAfter('Wed, 31 Feb 2025 12:00:30 GMT', now), undefined, 'no such day');
    assert.equal(parseRetryAfter('2025-01-01T12:00:30Z', now), undefined);
    assert.equal(parseRetryAfter('Wed, 01 Jan 2025 11:00:00 GMT', now), 0, 'a date in the past means now');
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter('-5', now), undefined);
    assert.equal(parseRetryAfter('', now), undefined);
    assert.equal(parseRetryAfter('9'.repeat(30), now), Number.MAX_SAFE_INTEGER);
  });

  it('finds pushback on the error, its response headers, or along the cause chain', () => {
    assert.equal(pushbackFromError({ retryAfterMs: 250.2 }, now), 251);
    assert.equal(pushbackFromError({ response: { headers: new Headers({ 'retry-after': '2' }) } }, now), 2000);
    assert.equal(pushbackFromError({ response: { headers: { 'Retry-After': ['4'] } } }, now), 4000);
    assert.equal(pushbackFromError({ headers: { 'retry-after': 5 } }, now), 5000);
    const wrapped = new Error('fetch failed', { cause: new Error('inner', { cause: { retryAfterMs: 9 } }) });
    assert.equal(pushbackFromError(wrapped, now), 9);
    const grpc = { code: 14, details: 'unavailable', metadata: { get: (k) => (k === 'grpc-retry-pushback-ms' ? ['1500'] : []) } };
    assert.equal(pushbackFromError(grpc, now), 1500);
    for (const value of ['-1', 'soon', '1.5', '']) {
      const refused = { code: 14, details: 'unavailable', metadata: { get: (k) => (k === 'grpc-retry-pushback-ms' ? [value] : []) } };
      assert.equal(pushbackFromError(refused, now), Infinity, `grpc-retry-pushback-ms ${JSON.stringify(value)} means do not retry`);
    }
    assert.equal(parseGrpcPushback('250'), 250);
    assert.equal(parseGrpcPushback('-5'), Infinity);
  });

  it('finds nothing, and never throws, on errors without pushback', () => {
    const loop = new Error('a');
    loop.cause = loop;
    const hostile = new Proxy({}, { get() { throw new Error('boom'); } });
    for (const error of [undefined, null, 'text', new Error('x'), loop, hostile, { retryAfterMs: -1 }, { retryAfterMs: NaN }, { response: { headers: { 'retry-after': 'later' } } }]) {
      assert.equal(pushbackFromError(error, now), undefined);
    }
  });
});

describe('systemClock', () => {
  it('reads Date.now()', () => {
    mock.method(Date, 'now', () => 1234);
    try {
      assert.equal(systemClock.now(), 1234);
    } finally {
      mock.restoreAll();
    }
  });

  it('sleeps longer than setTimeout can in one go, and rejects with signal.reason on abort', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      let done = false;
      const long = systemClock.sleep(2 ** 31 + 5).then(() => (done = true));
      mock.timers.tick(2 ** 31 - 1);
      await Promise.resolve();
      assert.equal(done, false, 'a single setTimeout would have fired after 1 ms');
      mock.timers.tick(6);
      await long;
      assert.equal(done, true);

      const controller = new AbortController();
      const aborted = systemClock.sleep(1000, controller.signal);
      const reason = new Error('stop');
      controller.abort(reason);
      await assert.rejects(aborted, (err) => err === reason);
      await assert.rejects(systemClock.sleep(1, AbortSignal.abort(reason)), (err) => err === reason);
    } finally {
      mock.timers.reset();
    }
  });
});

// retry() keeps the engine's plan-failures answer and takes its entries while
// the failure and the states it holds are the ones an entry was computed for.
describe('retry() and the planned failures', () => {
  const REPEATS = `
[retry]
max_attempts = 6
base_delay = "1s"
jitter = "full"

[retry.circuit_breaker]
consecutive_failures = 10

[retry.budget]
max_tokens = 100
`;
  const ENGINE_CALLS = ['classify', 'plan', 'beginAttempt', 'afterFailure', 'planFailures', 'afterSuccess'];

  /** Count every call into the engine (the one door to the guest) while `body` runs. */
  async function countingEngineCalls(body) {
    const spies = Object.fromEntries(ENGINE_CALLS.map((name) => [name, mock.method(Engine.prototype, name)]));
    try {
      await body();
    } finally {
      mock.restoreAll();
    }
    return Object.fromEntries(Object.entries(spies).map(([name, spy]) => [name, spy.mock.callCount()]));
  }

  /**
   * A get/set store that logs what it hands over and what it is given; after
   * every write, `interfere` (another process) may replace the stored state.
   */
  function loggingStore(clock, interfere = (shared) => shared) {
    const saved = new Map();
    const log = [];
    return {
      log,
      get(key) {
        const shared = saved.get(key);
        log.push({ handed: shared, at: clock.now() });
        return shared;
      },
      set(key, shared) {
        log.at(-1).written = shared;
        saved.set(key, interfere(shared));
      },
    };
  }

  /**
   * Replay the store's log through beginAttempt and afterFailure from the
   * retry state retry() starts with: each write must be what those calls
   * give for the states actually held. Returns the decisions in order.
   */
  function replay(policy, seed, log, errors, outcomes) {
    let state = { seed };
    const decisions = [];
    for (let i = 0; i < outcomes.length; i++) {
      const begin = log.shift();
      const permit = policy.beginAttempt({ state, shared: begin.handed, now: begin.at });
      assert.deepEqual(begin.written, permit.shared, `permit ${i + 1}'s shared state`);
      state = permit.state;
      if (outcomes[i] === 'ok') {
        const done = log.shift();
        assert.deepEqual(done.written, policy.afterSuccess(done.handed), 'the success');
        break;
      }
      const failed = log.shift();
      const outcome = { failure: failureFromError(errors[i]), durationMs: 0 };
      const decision = policy.afterFailure({ state, shared: failed.handed, outcome, now: failed.at });
      assert.deepEqual(failed.written, decision.shared, `decision ${i + 1}'s shared state`);
      decisions.push(decision);
      state = decision.state;
    }
    assert.equal(log.length, 0);
    return decisions;
  }

  it('repeated failures cost no engine call, and decide what afterFailure and beginAttempt decide', async () => {
    const policy = loadPolicy(REPEATS);
    const clock = new FakeClock(1_000_000);
    const store = loggingStore(clock);
    const errors = Array.from({ length: 5 }, () => httpError(503));
    let run;
    const calls = await countingEngineCalls(async () => {
      run = await drive(script(...errors, 'ok').fn, { policy, clock, sharedState: store, seed: 99n });
    });
    assert.equal(run.result, 'ok', run.error?.stack);
    assert.equal(run.retries.length, 5);
    // Two plan-failures for five failures (2 entries at the first, then 4),
    // and the permits for attempts 2 to 6 came with them. What is left:
    // attempt 1's permit (fresh: the fast path's one question at most), and
    // after-success once.
    assert.equal(calls.planFailures, 2, JSON.stringify(calls));
    assert.equal(calls.afterFailure, 0, JSON.stringify(calls));
    assert.ok(calls.beginAttempt + calls.plan <= 1, JSON.stringify(calls));
    assert.equal(calls.afterSuccess, 1, JSON.stringify(calls));
    const decisions = replay(policy, 99n, store.log, errors, [...errors, 'ok']);
    assert.deepEqual(run.retries.map((r) => r.decision), decisions);
    assert.deepEqual(decisions.map((d) => d.shared.breaker.consecutiveFailures), [1, 2, 3, 4, 5]);
  });

  it('does not take the plan when the shared state changed between attempts (another process)', async () => {
    const policy = loadPolicy(REPEATS);
    const clock = new FakeClock(1_000_000);
    // Another process, between every two steps of this one: a success of its
    // own on the breaker and budget, then a failure (consecutive failures
    // and tokens move).
    const other = loadPolicy(REPEATS);
    let turn = 0;
    const store = loggingStore(clock, (shared) => {
      turn += 1;
      if (turn % 2 === 0) return other.afterSuccess(shared);
      return other.afterFailure({ state: { attempts: 1, startedAtMs: 0, seed: 5 }, shared, outcome: { failure: { httpStatus: 500 } }, now: clock.now() }).shared;
    });
    const errors = Array.from({ length: 4 }, () => httpError(503));
    let run;
    const calls = await countingEngineCalls(async () => {
      run = await drive(script(...errors, 'ok').fn, { policy, clock, sharedState: store, seed: 7n });
    });
    assert.equal(run.result, 'ok', run.error?.stack);
    // Every failure found a shared state its plan was not computed for.
    assert.equal(calls.planFailures, 4, JSON.stringify(calls));
    const decisions = replay(policy, 7n, store.log, errors, [...errors, 'ok']);
    assert.deepEqual(run.retries.map((r) => r.decision), decisions);
  });

  it('a plain JSON store (no identity) still takes the plan; a different failure asks again', async () => {
    const policy = loadPolicy(REPEATS);
    const clock = new FakeClock(1_000_000);
    const saved = new Map();
    const store = {
      get: (key) => (saved.has(key) ? JSON.parse(saved.get(key)) : undefined),
      set: (key, state) => void saved.set(key, JSON.stringify(state)),
    };
    const errors = [httpError(503), httpError(503), httpError(502), httpError(502), httpError(502, { retryAfterMs: 2000 })];
    let run;
    const calls = await countingEngineCalls(async () => {
      run = await drive(script(...errors, 'ok').fn, { policy, clock, sharedState: store, seed: 3n });
    });
    assert.equal(run.result, 'ok', run.error?.stack);
    // 503 twice: one plan; 502 twice: one plan; 502 with pushback: one plan.
    assert.equal(calls.planFailures, 3, JSON.stringify(calls));
    assert.equal(calls.afterFailure, 0, JSON.stringify(calls));
    assert.equal(run.retries[4].decision.delayMs, 2000);
  });
});
