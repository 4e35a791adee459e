// A guest trap surfaces as an Error, the instance is replaced, and the policies
// that lived in it keep working (reloaded from their source on first use).
import assert from 'node:assert/strict';
import { it } from 'node:test';

import { Engine } from '../src/engine.js';
import { GuestTrapError, PolicyError } from '../src/errors.js';
import { loadOn } from '../src/policy.js';

// A real wasm trap: a module whose only function executes `unreachable`.
const { trap } = new WebAssembly.Instance(
  new WebAssembly.Module(
    new Uint8Array([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
      0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: () -> ()
      0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
      0x07, 0x08, 0x01, 0x04, 0x74, 0x72, 0x61, 0x70, 0x00, 0x00, // export "trap"
      0x0a, 0x05, 0x01, 0x03, 0x00, 0x00, 0x0b, // code: unreachable; end
    ]),
  ),
).exports;

const CLASSIFY = 'backstop:policy/classifier@0.1.0#classify';
const LOAD = 'backstop:policy/classifier@0.1.0#load-policy';
const AFTER_FAILURE = 'backstop:policy/retry@0.1.0#after-failure';
// Called on the core exports directly, without jco's wrapper (src/core-planner.js).
const BEGIN_ATTEMPT = 'backstop:policy/retry@0.1.0#begin-attempt';
const AFTER_SUCCESS = 'backstop:policy/retry@0.1.0#after-success';

/** An engine whose core instances trap in `export` when `armed[export]` is set. */
function faultyEngine() {
  const armed = {};
  let instances = 0;
  const engine = new Engine({
    instantiateCore(module, imports) {
      instances += 1;
      const real = new WebAssembly.Instance(module, imports).exports;
      const exports = { ...real };
      for (const name of [CLASSIFY, LOAD, AFTER_FAILURE, BEGIN_ATTEMPT, AFTER_SUCCESS]) {
        exports[name] = (...args) => {
          if (armed[name]) {
            armed[name] = false;
            trap();
          }
          return real[name](...args);
        };
      }
      return { exports };
    },
  });
  return { engine, armed, instances: () => instances };
}

const STORAGE = '[[classify.rules]]\nid = "server-errors"\nclass = "transient"\nhttp_status = "5xx"\n';

it('a trap during classify surfaces as GuestTrapError and policies survive it', () => {
  const { engine, armed, instances } = faultyEngine();
  const storage = loadOn(engine, STORAGE);
  const builtin = loadOn(engine, '');
  const closed = loadOn(engine, STORAGE);
  closed.close();
  assert.equal(instances(), 1);

  armed[CLASSIFY] = true;
  let thrown;
  assert.throws(() => storage.classify({ httpStatus: 503 }), (err) => (thrown = err) instanceof GuestTrapError);
  assert.ok(thrown instanceof Error);
  assert.ok(thrown.cause instanceof WebAssembly.RuntimeError);
  assert.match(thrown.message, /unreachable/);
  assert.equal(engine.generation, 1);

  // Next call: a fresh instance, and both live policies reloaded transparently.
  assert.equal(storage.classify({ httpStatus: 503 }).rule, 'server-errors');
  assert.equal(builtin.classify({ httpStatus: 503 }).rule, 'builtin.http-transient');
  assert.equal(instances(), 2);
  // A closed policy stays closed.
  assert.throws(() => closed.classify({ httpStatus: 503 }), { code: 'unknown-policy' });
  // Closing a policy that lives in a discarded instance is harmless.
  loadOn(engine, STORAGE).close();
});

it('a trap during load surfaces as GuestTrapError; the next load works', () => {
  const { engine, armed, instances } = faultyEngine();
  const before = loadOn(engine, STORAGE);
  armed[LOAD] = true;
  assert.throws(() => loadOn(engine, STORAGE), GuestTrapError);
  const after = loadOn(engine, STORAGE);
  assert.equal(after.classify({ httpStatus: 500 }).rule, 'server-errors');
  assert.equal(before.classify({ httpStatus: 500 }).rule, 'server-errors');
  assert.equal(instances(), 2);
});

it('a trap while reloading into the new instance is reported, then recovered from', () => {
  const { engine, armed } = faultyEngine();
  const policy = loadOn(engine, STORAGE);
  armed[CLASSIFY] = true;
  assert.throws(() => policy.classify({ httpStatus: 503 }), GuestTrapError);
  armed[LOAD] = true; // the transparent reload itself traps
  assert.throws(() => policy.classify({ httpStatus: 503 }), GuestTrapError);
  assert.equal(engine.generation, 2);
  assert.equal(policy.classify({ httpStatus: 503 }).rule, 'server-errors');
});

it('classification errors from the guest are not mistaken for traps', () => {
  const { engine } = faultyEngine();
  const policy = loadOn(engine, '');
  assert.throws(() => policy.classify({ httpStatus: 999 }), PolicyError);
  assert.equal(engine.generation, 0);
});

it('a trap in a planner call surfaces as GuestTrapError; the policy plans again on a fresh instance', () => {
  const { engine, armed, instances } = faultyEngine();
  const policy = loadOn(engine, '[retry]\njitter = "none"\n');
  const args = { state: { attempts: 1, startedAtMs: 0 }, outcome: { failure: { httpStatus: 503 } }, now: 10 };
  armed[AFTER_FAILURE] = true;
  assert.throws(() => policy.afterFailure(args), GuestTrapError);
  assert.equal(policy.afterFailure(args).delayMs, 1000);
  assert.equal(policy.beginAttempt({ now: 0 }).attempt, 1);
  assert.equal(instances(), 2);
});

it('a trap in a planner call made on the core exports directly is a GuestTrapError too, and recovered from', () => {
  const { engine, armed, instances } = faultyEngine();
  const policy = loadOn(engine, '[retry]\njitter = "none"\n');
  // A second attempt: a fresh one may be answered without begin-attempt (see below).
  const state = { attempts: 1, startedAtMs: 0 };
  armed[BEGIN_ATTEMPT] = true;
  assert.throws(() => policy.beginAttempt({ state, now: 0 }), GuestTrapError);
  assert.equal(policy.beginAttempt({ state, now: 0 }).attempt, 2);
  assert.equal(instances(), 2);
  armed[AFTER_SUCCESS] = true;
  assert.throws(() => policy.afterSuccess({}), GuestTrapError);
  assert.equal(policy.afterSuccess({}).breaker.circuit, 'closed');
  assert.equal(instances(), 3);
});

it('a fresh attempt and a success against a state fast-path-for vouches for make no begin-attempt or after-success call', () => {
  const { engine, armed, instances } = faultyEngine();
  const policy = loadOn(engine, '[retry]\njitter = "none"\nattempt_timeout = "2s"\n');
  armed[BEGIN_ATTEMPT] = true;
  armed[AFTER_SUCCESS] = true;
  // No breaker, no budget: the all-zero state admits a fresh attempt and a success records nothing.
  const permit = policy.beginAttempt({ state: { seed: 9 }, now: 5 });
  assert.deepEqual(
    { attempt: permit.attempt, timeoutMs: permit.timeoutMs, startedAtMs: permit.state.startedAtMs, seed: permit.state.seed },
    { attempt: 1, timeoutMs: 2000, startedAtMs: 5, seed: '9' },
  );
  assert.equal(policy.afterSuccess(permit.shared), permit.shared);
  assert.equal(instances(), 1, 'neither armed export was called');
  // A second attempt is the guest's to plan.
  assert.throws(() => policy.beginAttempt({ state: permit.state, now: 6 }), GuestTrapError);
});

it('a state the guest refuses gives the same PolicyError on the direct path as through jco', () => {
  const { engine, instances } = faultyEngine();
  const policy = loadOn(engine, '[retry.circuit_breaker]\nconsecutive_failures = 3\n');
  // 65 recent outcomes do not fit the 64-bit window: the guest refuses the state.
  const shared = { breaker: { recentCount: 65 } };
  for (const call of [() => policy.beginAttempt({ shared, now: 0 }), () => policy.afterSuccess(shared)]) {
    assert.throws(call, (err) => err instanceof PolicyError && err.code === 'invalid-state');
  }
  assert.equal(instances(), 1, 'a guest error is not a trap');
});
