// The async retry loop. The engine makes every decision (may the attempt start
// and with what timeout; after a failure, retry after how long or give up); this
// file only keeps time, sleeps, aborts attempts and keeps the state.
import { getRandomValues, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

import { failureFromError } from './from-error.js';
import { afterFailureLenient, planFailuresLenient, Policy } from './policy.js';
import { Returns, sameShared, sameState, toWitShared, toWitState, u64 } from './planner.js';
import { NEVER, pushbackFromError } from './pushback.js';
import { defaultPolicy, deriveSeed } from './thread.js';

/**
 * Entries asked of plan-failures when no kept answer covers a failure: 2 at
 * an operation's first failure, then twice the last answer's length, up to
 * 16. The guest computes every entry it is asked for, and under V8 that is
 * the dearer part, so an operation that fails once or twice does not pay for
 * repeats it never makes.
 */
const FIRST_PLANNED_FAILURES = 2;
const PLANNED_FAILURES = 16;

/** setTimeout fires after 1 ms for anything above this (and warns), so longer sleeps are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The retry loop gave up. `cause` is the last attempt's error (absent when no attempt ran). */
export class RetryError extends Error {
  constructor(message, { reason, attempts, decision = null, permit = null, ...rest }) {
    super(message, 'cause' in rest ? { cause: rest.cause } : undefined);
    /** Why: a give-up reason (`'permanent'`, `'attempts-exhausted'`, `'deadline'`, ...). */
    this.reason = reason;
    /** Attempts that ran. */
    this.attempts = attempts;
    /** The engine's decision after the last failed attempt (a decision to retry when the caller's
     * deadline or a refused permit ended the loop); null when no attempt failed. */
    this.decision = decision;
    /** The refused permit (circuit open, deadline) when no decision gave up; else null. */
    this.permit = permit;
  }
}

/**
 * An attempt ran past its timeout. Its error type is `backstop.AttemptTimeout`,
 * which the built-in rules classify as transient.
 */
export class AttemptTimeoutError extends Error {
  constructor(attempt, timeoutMs) {
    super(`attempt ${attempt} timed out after ${timeoutMs} ms`);
    this.attempt = attempt;
    this.timeoutMs = timeoutMs;
  }
}

Object.defineProperty(RetryError.prototype, 'name', { value: 'RetryError', writable: true, configurable: true });
// The classifier reads `name` as the error type (see failureFromError).
Object.defineProperty(AttemptTimeoutError.prototype, 'name', { value: 'backstop.AttemptTimeout', writable: true, configurable: true });

/**
 * The real clock: `now()` is `Date.now()` (wall-clock milliseconds, so breaker
 * state shared between processes and HTTP-date pushback agree on the time); a
 * clock going backwards is handled by the engine. `sleep` rejects with
 * `signal.reason` when the signal aborts.
 */
export const systemClock = Object.freeze({
  now() {
    return Date.now();
  },
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      let timer;
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      const arm = (left) => {
        timer = setTimeout(() => {
          if (left > MAX_TIMER_MS) {
            arm(left - MAX_TIMER_MS);
            return;
          }
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, Math.min(left, MAX_TIMER_MS));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      arm(ms);
    });
  },
});

/** The default shared-state store: a Map in this thread's memory. */
export class MemoryStore {
  #states = new Map();

  /** @param {string} key */
  get(key) {
    return this.#states.get(key);
  }

  /** @param {string} key */
  set(key, shared) {
    this.#states.set(key, shared);
  }

  delete(key) {
    return this.#states.delete(key);
  }
}

// By default, retries that use the same Policy object share its breaker and budget.
const defaultStores = new WeakMap();

function memoryStoreFor(policy) {
  let store = defaultStores.get(policy);
  if (store === undefined) defaultStores.set(policy, (store = new MemoryStore()));
  return store;
}

function isThenable(value) {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function';
}

/**
 * Read the shared state, compute, write it back. A store with
 * `update(key, compute)` does all three atomically itself (PostgresStore: one
 * transaction holding the row's lock). With a synchronous get/set store (the
 * default) nothing else runs in between, so concurrent retries lose no update.
 * `compute` returns [next shared state, result].
 */
function update(store, key, compute) {
  if (typeof store.update === 'function') return store.update(key, compute);
  const commit = (current) => {
    const [next, result] = compute(current ?? undefined);
    const written = store.set(key, next);
    return isThenable(written) ? written.then(() => result) : result;
  };
  const current = store.get(key);
  return isThenable(current) ? current.then(commit) : commit(current);
}

/**
 * Wait `ms` on `clock`, rejecting with `signal.reason` as soon as it aborts even
 * if the clock's sleep ignores the signal.
 */
function sleepOn(clock, ms, signal) {
  if (signal === undefined) return Promise.resolve(clock.sleep(ms));
  if (signal.aborted) return Promise.reject(signal.reason);
  let onAbort;
  const aborted = new Promise((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([clock.sleep(ms, signal), aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}

/**
 * A never-aborting signal made on first read, kept in a private field of the
 * context (a plain object; see planner.js's Carrier). The context's own
 * `signal` accessor is one shared function: a getter in an object literal is
 * a new closure and a new hidden class per attempt, which kept every attempt's
 * objects alive through a scavenge (a sixth of the young generation promoted).
 */
class LazySignal extends Returns {
  #signal = undefined;

  static of(context) {
    if (typeof context !== 'object' || context === null || !(#signal in context)) return new AbortController().signal;
    return (context.#signal ??= new AbortController().signal);
  }
}

const LAZY_SIGNAL = {
  get: Object.getOwnPropertyDescriptor({
    get signal() {
      return LazySignal.of(this);
    },
  }, 'signal').get,
  enumerable: true,
  configurable: true,
};

/**
 * Run one attempt with a signal that aborts when the caller's does or when the
 * permit's timeout passes (on `clock`, so tests can drive it; AbortSignal.timeout
 * would also fire after 1 ms for timeouts above 2^31-1 ms). Settles as soon as
 * that signal aborts, whether or not `fn` stops.
 */
async function runAttempt(fn, permit, callerSignal, clock) {
  if (permit.timeoutMs === null && callerSignal === undefined) {
    // Nothing can abort this attempt: no race to set up, and the signal fn is
    // given (which never aborts) is made only if fn reads it.
    const context = { attempt: permit.attempt, timeoutMs: null };
    new LazySignal(context);
    Object.defineProperty(context, 'signal', LAZY_SIGNAL);
    try {
      return { ok: true, value: await fn(context) };
    } catch (error) {
      return { ok: false, error };
    }
  }
  const controller = new AbortController();
  // Cancels the timeout's sleep when the attempt ends first (only made when there is one).
  let done = null;
  let timedOut = false;
  const onCallerAbort = () => controller.abort(callerSignal.reason);
  if (callerSignal !== undefined) {
    if (callerSignal.aborted) controller.abort(callerSignal.reason);
    else callerSignal.addEventListener('abort', onCallerAbort, { once: true });
  }
  if (permit.timeoutMs !== null && !controller.signal.aborted) {
    done = new AbortController();
    sleepOn(clock, permit.timeoutMs, done.signal).then(
      () => {
        timedOut = true;
        controller.abort(new DOMException(`attempt ${permit.attempt} timed out after ${permit.timeoutMs} ms`, 'TimeoutError'));
      },
      () => {}, // the attempt finished first
    );
  }
  // Listening before fn does, so an abort settles the race before fn reacts to it.
  const aborted = new Promise((_, reject) => {
    if (controller.signal.aborted) reject(controller.signal.reason);
    controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
  });
  aborted.catch(() => {});
  try {
    const running = new Promise((resolve) => resolve(fn({ attempt: permit.attempt, timeoutMs: permit.timeoutMs, signal: controller.signal })));
    running.catch(() => {}); // a rejection after the race was lost to an abort is not unhandled
    return { ok: true, value: await Promise.race([running, aborted]) };
  } catch (error) {
    return { ok: false, error: timedOut ? new AttemptTimeoutError(permit.attempt, permit.timeoutMs) : error };
  } finally {
    callerSignal?.removeEventListener('abort', onCallerAbort);
    // An explicit reason: a bare abort() builds a DOMException, a third of a fast attempt's cost.
    done?.abort(ATTEMPT_OVER);
  }
}

const ATTEMPT_OVER = Symbol('attempt over');

const OPTIONS = ['policy', 'signal', 'deadline', 'idempotencyKey', 'seed', 'sharedState', 'dependency', 'onRetry', 'clock', 'recorder', 'runId', 'step'];
const FOREIGN_OPTIONS = {
  retries: 'the number of attempts comes from the policy (retry.max_attempts)',
  maxAttempts: 'the number of attempts comes from the policy (retry.max_attempts)',
  minTimeout: 'delays come from the policy (retry.base_delay)',
  maxTimeout: 'delays come from the policy (retry.max_delay)',
  factor: 'delays come from the policy (retry.multiplier)',
  randomize: 'jitter comes from the policy (retry.jitter)',
  maxRetryTime: 'the deadline comes from the policy (retry.deadline)',
  shouldRetry: 'the policy classifies errors (classify.rules)',
  onFailedAttempt: 'did you mean `onRetry`?',
};

function checkOptions(options) {
  if (options === null || typeof options !== 'object') throw new TypeError(`retry options must be an object, got ${options === null ? 'null' : typeof options}`);
  for (const key of Object.keys(options)) {
    if (OPTIONS.includes(key)) continue;
    const hint = FOREIGN_OPTIONS[key] ?? `expected one of: ${OPTIONS.join(', ')}`;
    throw new TypeError(`unknown retry option \`${key}\`: ${hint}`);
  }
  const { policy, signal, deadline, idempotencyKey, sharedState, dependency, onRetry, clock, recorder, runId, step } = options;
  if (recorder !== undefined && typeof recorder?.record !== 'function') throw new TypeError('retry option `recorder` must have a record(run) method (e.g. a PostgresRecorder)');
  if (runId !== undefined && (typeof runId !== 'string' || runId.trim() === '')) throw new TypeError('retry option `runId` must be a non-blank string');
  if (step !== undefined && (typeof step !== 'string' || step.trim() === '')) throw new TypeError('retry option `step` must be a non-blank string');
  if (policy !== undefined && !(policy instanceof Policy)) throw new TypeError('retry option `policy` must be a Policy (from loadPolicy)');
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('retry option `signal` must be an AbortSignal');
  if (deadline !== undefined && !(deadline instanceof Date && !Number.isNaN(deadline.getTime())) && !(typeof deadline === 'number' && Number.isFinite(deadline))) {
    throw new TypeError('retry option `deadline` must be a valid Date or a number of milliseconds on the clock');
  }
  if (idempotencyKey !== undefined && typeof idempotencyKey !== 'string') throw new TypeError('retry option `idempotencyKey` must be a string');
  if (dependency !== undefined && typeof dependency !== 'string') throw new TypeError('retry option `dependency` must be a string');
  if (onRetry !== undefined && typeof onRetry !== 'function') throw new TypeError('retry option `onRetry` must be a function');
  if (sharedState !== undefined && typeof sharedState?.update !== 'function' && (typeof sharedState?.get !== 'function' || typeof sharedState?.set !== 'function')) {
    throw new TypeError('retry option `sharedState` must be a store with update(key, compute) or get(key) and set(key, state) methods');
  }
  if (clock !== undefined && (typeof clock?.now !== 'function' || typeof clock?.sleep !== 'function')) {
    throw new TypeError('retry option `clock` must have now() and sleep(ms, signal) methods');
  }
}

function readNow(clock) {
  const now = clock.now();
  if (typeof now !== 'number' || !Number.isFinite(now) || now < 0) {
    throw new TypeError(`clock.now() must return a non-negative number of milliseconds, got ${String(now)}`);
  }
  return now;
}

function refusal(permit) {
  const what = `attempt ${permit.attempt} refused`;
  if (permit.refused === 'circuit-open') return `${what}: the circuit is open (probes allowed in ${permit.retryAfterMs} ms)`;
  return `${what}: ${permit.refused}`;
}

/**
 * What a cancelled half-open probe is reported as, identically in every host:
 * the probe did not succeed, so the breaker must hear of it (or it would wait
 * for the probe forever); no rule matches it, so it counts as a failure.
 */
export const CANCELLED_PROBE_FAILURE = Object.freeze({ errorTypes: ['backstop.Cancelled'], message: 'the caller cancelled the half-open probe' });

// Seeds drawn from the operating system's randomness 256 at a time: one
// getRandomValues call per seed was a sixth of a successful retry().
const seeds = new BigUint64Array(256);
let nextSeed = seeds.length;

/** A seed from the operating system's randomness, never 0 (0 is what a missing seed used to be). */
function randomSeed() {
  for (;;) {
    if (nextSeed === seeds.length) {
      getRandomValues(seeds);
      nextSeed = 0;
    }
    const seed = seeds[nextSeed++];
    if (seed !== 0n) return seed;
  }
}

/** Two failures read by failureFromError, every field compared exactly (lists element by element). */
function sameFailure(a, b) {
  if (a === b) return true;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) {
    const x = a[key];
    const y = b[key];
    if (Array.isArray(x)) {
      if (!Array.isArray(y) || x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    } else if (x !== y || !(key in b)) return false;
  }
  return true;
}

const sameHeldState = (held, raw) => sameAs(toWitState, sameState, held, raw);
const sameHeldShared = (held, raw) => sameAs(toWitShared, sameShared, held, raw);

/**
 * Whether a state held (as given to or by the store: lifted, plain or absent)
 * equals a raw (WIT) one, field by field; false for one the engine would
 * refuse (the call then made refuses it as before).
 */
function sameAs(toWit, same, held, raw) {
  let mine;
  try {
    mine = toWit(held ?? {});
  } catch {
    return false;
  }
  return same(mine, raw);
}

/**
 * Call `fn` until it succeeds or the policy gives up. See index.d.ts and README.
 * @template T
 * @param {(context: { attempt: number, timeoutMs: number | null, signal: AbortSignal }) => T | Promise<T>} fn
 * @param {object} [options]
 * @returns {Promise<T>}
 */
export async function retry(fn, options = {}) {
  if (typeof fn !== 'function') throw new TypeError(`retry needs a function to call, got ${fn === null ? 'null' : typeof fn}`);
  checkOptions(options);
  const { signal, idempotencyKey, seed, onRetry, dependency = 'default', clock = systemClock } = options;
  const deadline = options.deadline instanceof Date ? options.deadline.getTime() : options.deadline;
  const policy = options.policy ?? defaultPolicy();
  const store = options.sharedState ?? memoryStoreFor(policy);
  signal?.throwIfAborted();

  // Explicit seed > idempotency key (reproducible per run) > the OS's randomness
  // (concurrent callers spread out instead of retrying in lockstep).
  let state = { seed: seed !== undefined ? u64(seed, 'seed') : idempotencyKey !== undefined ? deriveSeed(idempotencyKey) : randomSeed() };
  let lastError;
  let attempts = 0;
  let lastDecision = null;
  // The last plan-failures answer (the engine's decisions for this failure
  // repeating), the entry the next failure may take and the failure and
  // pushback it was computed for. An entry is taken only while the failure
  // and the states held are the ones it was computed for; nothing is derived
  // here, only compared.
  let plan = null;
  let next = 0;
  let planFailure = null;
  let planPushback;
  const rec = options.recorder === undefined ? null : new Recording(options, dependency, readNow(clock));
  const gaveUp = (message, details) => {
    if (attempts > 0) details.cause = lastError;
    return new RetryError(message, { attempts, decision: lastDecision, ...details });
  };
  for (;;) {
    const permit = await update(store, dependency, (shared) => {
      // The last decision came from plan[next - 1]: its next permit is the
      // engine's begin-attempt for that decision's states at any time.
      if (plan !== null && plan.rawNextPermit(next - 1) !== null) {
        const d = plan.rawDecision(next - 1);
        if (sameHeldShared(shared, d.shared) && sameHeldState(state, d.state)) {
          const p = plan.nextPermit(next - 1);
          return [p.shared, p];
        }
      }
      const p = policy.beginAttempt({ state, shared, now: readNow(clock) });
      return [p.shared, p];
    });
    if (permit.refused !== null) {
      if (rec !== null) await rec.finish('failed', permit.refused, permit.state, readNow(clock));
      throw gaveUp(refusal(permit), { reason: permit.refused, permit });
    }
    state = permit.state;
    attempts = permit.attempt;
    const started = readNow(clock);
    const outcome = await runAttempt(fn, permit, signal, clock);
    if (outcome.ok) {
      const ended = readNow(clock);
      await update(store, dependency, (shared) => [policy.afterSuccess(shared), undefined]);
      if (rec !== null) {
        // After the shared state took it: a call that ends in a store error is not recorded.
        rec.attempt(permit, started, ended, 'succeeded');
        await rec.finish('succeeded', 'succeeded', state, readNow(clock));
      }
      return outcome.value;
    }
    const error = outcome.error;
    const ended = readNow(clock);
    const pushback = pushbackFromError(error, ended);
    const report = (failure, pushbackMs) => (shared) => {
      const d = afterFailureLenient(policy, {
        state,
        shared,
        outcome: { failure, durationMs: Math.max(0, ended - started), pushbackMs },
        now: ended,
      });
      return [d.shared, d];
    };
    if (signal?.aborted) {
      if (rec !== null) {
        // As `backstop run` stopped by a signal: the run stays running.
        rec.attempt(permit, started, ended, 'interrupted', { explanation: 'the caller aborted it' });
        await rec.finish('running', null, state, ended);
      }
      // The caller gave up, not the dependency, so nothing is planned; except
      // that a half-open probe must report, or the breaker waits for it forever.
      if (permit.probe) await update(store, dependency, report(CANCELLED_PROBE_FAILURE, undefined));
      throw signal.reason;
    }
    const failure = failureFromError(error);
    const pushbackMs = pushback === NEVER ? undefined : pushback;
    const same = plan !== null && next < plan.length && pushbackMs === planPushback && sameFailure(failure, planFailure);
    const answer = await update(store, dependency, (shared) => {
      const held = same ? plan.rawNextPermit(next - 1) : null;
      if (held !== null && sameHeldState(state, held.state) && sameHeldShared(shared, held.shared)) {
        return [plan.decision(next).shared, { entries: plan, at: next }];
      }
      const entries = planFailuresLenient(policy, {
        state,
        shared,
        outcome: { failure, durationMs: Math.max(0, ended - started), pushbackMs },
        now: ended,
        maxEntries: plan === null ? FIRST_PLANNED_FAILURES : Math.min(PLANNED_FAILURES, 2 * plan.length),
      });
      return [entries.decision(0).shared, { entries, at: 0 }];
    });
    if (answer.entries !== plan) {
      plan = answer.entries;
      planFailure = failure;
      planPushback = pushbackMs;
    }
    next = answer.at + 1;
    let decision = plan.decision(answer.at);
    state = decision.state;
    lastError = error;
    lastDecision = decision;
    if (decision.giveUp === null && pushback === NEVER) decision = lastDecision = serverRefused(decision);
    const timedOut = error instanceof AttemptTimeoutError;
    if (decision.giveUp !== null) {
      if (rec !== null) {
        rec.attempt(permit, started, ended, 'give-up', { decision, timedOut, reason: decision.giveUp });
        await rec.finish('failed', decision.giveUp, state, readNow(clock));
      }
      throw gaveUp(decision.explanation, { reason: decision.giveUp });
    }
    if (deadline !== undefined && ended + decision.delayMs >= deadline) {
      // Sleeping into the caller's deadline only to fail there helps no one.
      const explanation = `attempt ${decision.attempt} failed (${decision.classification.class}); give up: deadline (a wait of ${decision.delayMs} ms would end past the caller's deadline)`;
      if (rec !== null) {
        rec.attempt(permit, started, ended, 'give-up', { decision, timedOut, reason: 'deadline', explanation });
        await rec.finish('failed', 'deadline', state, readNow(clock));
      }
      throw gaveUp(explanation, { reason: 'deadline' });
    }
    if (rec !== null) rec.attempt(permit, started, ended, 'retry', { decision, timedOut });
    if (onRetry !== undefined) await onRetry({ error, attempt: decision.attempt, decision });
    try {
      await sleepOn(clock, decision.delayMs, signal);
    } catch (stopped) {
      if (rec !== null) await rec.finish('running', null, state, readNow(clock));
      throw stopped;
    }
  }
}

const HOST = (() => {
  try {
    return hostname() || 'unknown';
  } catch {
    return 'unknown';
  }
})();

/**
 * One call's run for the `recorder` option: its attempts as they end, handed
 * to `recorder.record(run)` once when the call ends. Recording never changes
 * the call's result: a recorder's error (or rejection) becomes a process
 * warning ('BackstopRecordWarning'), never the call's error.
 */
class Recording {
  #recorder;
  #run;
  #delayBeforeMs = 0;

  constructor(options, dependency, now) {
    this.#recorder = options.recorder;
    this.#run = {
      runId: options.runId ?? randomUUID(),
      step: options.step ?? dependency,
      status: 'running',
      outcome: null,
      retryState: null,
      startedAtMs: now,
      endedAtMs: now,
      host: HOST,
      attempts: [],
    };
  }

  attempt(permit, started, ended, verdict, { decision = null, timedOut = false, reason = null, explanation } = {}) {
    const retrying = verdict === 'retry' && decision !== null;
    this.#run.attempts.push(Object.freeze({
      attempt: permit.attempt,
      startedAtMs: started,
      endedAtMs: ended,
      delayBeforeMs: this.#delayBeforeMs,
      timeoutMs: permit.timeoutMs,
      decision: verdict,
      timedOut,
      class: decision?.classification.class ?? null,
      rule: decision?.classification.rule ?? null,
      giveUpReason: reason,
      delayAfterMs: retrying ? decision.delayMs : null,
      explanation: explanation ?? decision?.explanation ?? null,
    }));
    if (retrying) this.#delayBeforeMs = decision.delayMs;
  }

  async finish(status, outcome, retryState, now) {
    const run = Object.freeze({ ...this.#run, status, outcome, retryState, endedAtMs: now, attempts: Object.freeze([...this.#run.attempts]) });
    try {
      await this.#recorder.record(run);
    } catch (error) {
      process.emitWarning(`backstop: the run ${JSON.stringify(run.runId)} of ${JSON.stringify(run.step)} was not recorded: ${error?.message ?? error}`, 'BackstopRecordWarning');
    }
  }
}

/** The planner would retry, but the server asked not to (gRPC A6): give up as for a pushback past any deadline. */
function serverRefused(decision) {
  return Object.freeze({
    ...decision,
    giveUp: 'pushback-beyond-deadline',
    delayMs: 0,
    nextTimeoutMs: null,
    explanation: `attempt ${decision.attempt} failed (${decision.classification.class}); give up: pushback-beyond-deadline (the server asked not to retry)`,
  });
}
