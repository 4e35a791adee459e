// retry()'s planner calls go to the core module directly
// (src/core-planner.js, hand-written canonical-ABI offsets). Here they are
// compared, value for value, with jco's generated wrapper on the same instance,
// over states of every shape: refused and granted permits, every circuit,
// absent and present options, u64 extremes, and states the guest refuses
// (where both must throw the same PolicyError).
import assert from 'node:assert/strict';
import { it } from 'node:test';

import { Engine, Slot } from '../src/engine.js';

const POLICY = `
[retry]
max_attempts = 6
base_delay = "1s"
max_delay = "30s"
jitter = "decorrelated"
attempt_timeout = "10s"
deadline = "1m"

[retry.circuit_breaker]
consecutive_failures = 3
open_for = "30s"

[retry.budget]
max_tokens = 10
`;

// A small deterministic generator (xorshift64*), so a failure reproduces.
function rng(seed) {
  let x = seed;
  const next = () => {
    x ^= x >> 12n;
    x ^= (x << 25n) & 0xffffffffffffffffn;
    x ^= x >> 27n;
    return (x * 0x2545f4914f6cdd1dn) & 0xffffffffffffffffn;
  };
  return {
    u64: next,
    below: (n) => Number(next() % BigInt(n)),
    pick: (xs) => xs[Number(next() % BigInt(xs.length))],
  };
}

function witState(r) {
  return {
    attempts: r.pick([0, 1, 2, 5, 6, 7, 0xffffffff, r.below(10)]),
    startedAtMs: r.pick([undefined, 0n, 1_000n, 59_000n, 2n ** 63n, r.u64() >> 20n]),
    lastDelayMs: r.pick([0n, 1_000n, 30_000n, 2n ** 64n - 1n, r.u64() >> 40n]),
    seed: r.pick([0n, 1n, 2n ** 64n - 1n, r.u64()]),
  };
}

function witShared(r) {
  return {
    breaker: {
      circuit: r.pick(['closed', 'open', 'half-open']),
      consecutiveFailures: r.pick([0, 1, 2, 3, 4, 0xffffffff]),
      recentOutcomes: r.pick([0n, 1n, 2n ** 64n - 1n, r.u64()]),
      recentCount: r.pick([0, 1, 3, 64, 65, 0xffffffff]),
      openedAtMs: r.pick([0n, 1_000n, 40_000n, 2n ** 64n - 1n, r.u64() >> 20n]),
      probesStarted: r.pick([0, 1, 2, 0xffffffff]),
      probesSucceeded: r.pick([0, 1, 2, 0xffffffff]),
    },
    budget: { spentMilli: r.pick([0, 1, 999, 1000, 10_000, 10_001, 0xffffffff]) },
  };
}

const TEXTS = ['', 'x', 'HTTP 503 Service Unavailable', 'TimeoutError', 'ECONNRESET', 'café ünïcödé', '😀 astral', 'a\u0000b', 'x'.repeat(5000)];

function witOutcome(r) {
  const maybe = (value) => (r.below(2) === 0 ? undefined : value);
  const texts = () => Array.from({ length: r.pick([0, 0, 1, 2, 5]) }, () => r.pick(TEXTS));
  return {
    failure: {
      httpStatus: maybe(r.pick([0, 99, 200, 429, 503, 599, 600, 0xffff])),
      grpcCode: maybe(r.pick(['UNAVAILABLE', '14', 'NOT_A_CODE', ''])),
      exitCode: maybe(r.pick([0, 1, 137, -1, -0x80000000, 0x7fffffff])),
      signal: maybe(r.pick(['SIGKILL', '9', 'SIGNOPE'])),
      errorTypes: texts(),
      errorBases: texts(),
      errorCode: maybe(r.pick(TEXTS)),
      message: maybe(r.pick(TEXTS)),
    },
    durationMs: r.pick([0n, 250n, 2n ** 64n - 1n, r.u64() >> 30n]),
    pushbackMs: r.pick([undefined, 0n, 2_000n, 2n ** 64n - 1n, r.u64() >> 30n]),
  };
}

/** `f()`'s value, or the error it threw as a comparable record. */
function outcome(f) {
  try {
    return { value: f() };
  } catch (err) {
    return { error: { name: err.name, code: err.code, path: err.path, message: err.message } };
  }
}

it('begin-attempt, after-failure and after-success on the core exports equal jco-generated glue on 2000 states each', () => {
  const engine = new Engine();
  const slot = new Slot(POLICY, 'toml');
  assert.equal(engine.load(slot), null);
  const r = rng(0x9e3779b97f4a7c15n);
  const seen = { refused: 0, granted: 0, errors: 0, retries: 0, giveUps: 0 };
  for (let i = 0; i < 2000; i++) {
    const state = witState(r);
    const shared = witShared(r);
    const now = r.pick([0n, 1_000n, 31_000n, 70_000n, 2n ** 64n - 1n, r.u64() >> 20n]);
    const viaJco = outcome(() => engine.plan(slot, 'beginAttempt', state, shared, now));
    const direct = outcome(() => engine.beginAttempt(slot, state, shared, now));
    assert.deepEqual(direct, viaJco, `begin-attempt on ${JSON.stringify({ state, shared, now }, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
    if (viaJco.error) seen.errors += 1;
    else if (viaJco.value.refused === undefined) seen.granted += 1;
    else seen.refused += 1;

    // Half of the after-failure cases are ones the guest accepts: an early
    // attempt, a fresh shared state, a failure with valid fields only.
    const sane = r.below(2) === 0;
    const attempt = witOutcome(r);
    if (sane) Object.assign(attempt.failure, { httpStatus: r.pick([undefined, 429, 503]), grpcCode: r.pick([undefined, 'UNAVAILABLE']), signal: undefined, exitCode: undefined });
    const fState = sane ? { attempts: 1 + r.below(3), startedAtMs: 1_000n, lastDelayMs: 0n, seed: r.u64() } : state;
    const fShared = sane ? witShared(rng(7n)) : shared;
    if (sane) Object.assign(fShared.breaker, { circuit: 'closed', consecutiveFailures: 0, recentOutcomes: 0n, recentCount: 0, probesStarted: 0, probesSucceeded: 0 });
    if (sane) fShared.budget.spentMilli = 0;
    const fNow = sane ? 2_000n : now;
    const decisionJco = outcome(() => engine.plan(slot, 'afterFailure', fState, fShared, attempt, fNow));
    const decisionDirect = outcome(() => engine.afterFailure(slot, fState, fShared, attempt, fNow));
    assert.deepEqual(decisionDirect, decisionJco, `after-failure on ${JSON.stringify({ fState, fShared, attempt, fNow }, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
    if (decisionJco.error) seen.errors += 1;
    else if (decisionJco.value.giveUp === undefined) seen.retries += 1;
    else seen.giveUps += 1;

    const sharedJco = outcome(() => engine.plan(slot, 'afterSuccess', shared));
    const sharedDirect = outcome(() => engine.afterSuccess(slot, shared));
    assert.deepEqual(sharedDirect, sharedJco, `after-success on ${JSON.stringify(shared, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
    if (sharedJco.error) seen.errors += 1;
  }
  // The generator reaches every kind of answer, or the comparison proves little.
  assert.ok(Object.values(seen).every((n) => n > 50), JSON.stringify(seen));
  assert.equal(engine.generation, 0, 'no call trapped');
});

it('plan-failures on the core exports equals jco-generated glue on 1000 states per policy', () => {
  const engine = new Engine();
  // The deadline makes every answer one entry; without it (and the breaker
  // closed) answers run to several entries with permits.
  const noDeadline = POLICY.replace('deadline = "1m"\n', '');
  const r = rng(0x2545f4914f6cdd1dn);
  const seen = { errors: 0, single: 0, chains: 0, permits: 0, lastWithPermit: 0, sharedOnce: 0 };
  for (const source of [POLICY, noDeadline]) {
    const slot = new Slot(source, 'toml');
    assert.equal(engine.load(slot), null);
    for (let i = 0; i < 1000; i++) {
      const sane = r.below(3) !== 0;
      const attempt = witOutcome(r);
      if (sane) Object.assign(attempt.failure, { httpStatus: r.pick([undefined, 429, 503]), grpcCode: r.pick([undefined, 'UNAVAILABLE']), signal: undefined, exitCode: undefined });
      const state = sane ? { attempts: 1 + r.below(3), startedAtMs: 1_000n, lastDelayMs: 0n, seed: r.u64() } : witState(r);
      const shared = witShared(r);
      if (sane) Object.assign(shared.breaker, { circuit: r.pick(['closed', 'closed', 'half-open']), consecutiveFailures: r.below(3), probesStarted: 0, probesSucceeded: 0 });
      if (sane) shared.budget.spentMilli = r.pick([0, 1000, 9000]);
      const now = sane ? 2_000n : r.pick([0n, 70_000n, 2n ** 64n - 1n]);
      const maxEntries = r.pick([0, 1, 2, 16, 64, 65, 0xffffffff]);
      const viaJco = outcome(() => engine.plan(slot, 'planFailures', state, shared, attempt, now, maxEntries));
      const direct = outcome(() => engine.planFailures(slot, state, shared, attempt, now, maxEntries));
      assert.deepEqual(direct, viaJco, `plan-failures on ${JSON.stringify({ state, shared, attempt, now, maxEntries }, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
      if (viaJco.error) {
        seen.errors += 1;
        continue;
      }
      const entries = viaJco.value;
      if (entries.length === 1) seen.single += 1;
      else seen.chains += 1;
      seen.permits += entries.filter((e) => e.nextPermit !== undefined).length;
      if (entries.at(-1).nextPermit !== undefined) seen.lastWithPermit += 1;
      // A permit's shared state equal to its decision's is read once (and
      // compared above with jco's two records all the same).
      seen.sharedOnce += direct.value.filter((e) => e.nextPermit !== undefined && e.nextPermit.shared === e.decision.shared).length;
    }
  }
  assert.ok(Object.values(seen).every((n) => n > 20), JSON.stringify(seen));
  assert.equal(engine.generation, 0, 'no call trapped');
});
