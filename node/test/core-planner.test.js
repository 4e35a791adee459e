// The success path's planner calls go to the core module directly
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

/** `f()`'s value, or the error it threw as a comparable record. */
function outcome(f) {
  try {
    return { value: f() };
  } catch (err) {
    return { error: { name: err.name, code: err.code, path: err.path, message: err.message } };
  }
}

it('begin-attempt and after-success on the core exports equal jco-generated glue on 4000 states', () => {
  const engine = new Engine();
  const slot = new Slot(POLICY, 'toml');
  assert.equal(engine.load(slot), null);
  const r = rng(0x9e3779b97f4a7c15n);
  const seen = { refused: 0, granted: 0, errors: 0 };
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

    const sharedJco = outcome(() => engine.plan(slot, 'afterSuccess', shared));
    const sharedDirect = outcome(() => engine.afterSuccess(slot, shared));
    assert.deepEqual(sharedDirect, sharedJco, `after-success on ${JSON.stringify(shared, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
    if (sharedJco.error) seen.errors += 1;
  }
  // The generator reaches every kind of answer, or the comparison proves little.
  assert.ok(seen.refused > 50 && seen.granted > 50 && seen.errors > 50, JSON.stringify(seen));
  assert.equal(engine.generation, 0, 'no call trapped');
});
