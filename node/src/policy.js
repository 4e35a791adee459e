import {
  fromWitEvaluation,
  fromWitKeyedEvaluation,
  fromWitNeededKeys,
  fromWitSinks,
  toWitAlertState,
  toWitEvent,
  toWitKeyedStates,
} from './alerts.js';
import { fromWitRedactionReport, toWitText } from './redaction.js';
import { Engine, Slot } from './engine.js';
import { PolicyError, PolicyLoadError } from './errors.js';
import { toWitFailure } from './failure.js';
import { failureFromError } from './from-error.js';
import {
  fromWitDecision,
  fromWitPermit,
  fromWitPlannedFailures,
  fromWitSchedule,
  fromWitShared,
  fromWitState,
  LazyPlan,
  liftedShared,
  sameShared,
  toWitMaxEntries,
  toWitNow,
  toWitOutcome,
  toWitShared,
  toWitState,
  u64,
} from './planner.js';

const ZERO_SHARED = toWitShared({});

/** `policy.planFailures` with its entries lifted on demand (a LazyPlan); set in Policy's static block. */
let planFailuresLazy;

// Policies nobody closed release their guest handle when collected. The guest
// caps loaded policies per instance, so close() (or `using`) is still the way.
const finalizer = new FinalizationRegistry(({ engine, slot }) => {
  try {
    engine.drop(slot);
  } catch {
    // A trap while dropping already replaced the instance, which dropped the handle.
  }
});

/** A loaded, validated policy. Create with `loadPolicy`, `loadPolicyFile` or `defaultPolicy`. */
export class Policy {
  #engine;
  #slot;
  #shared;
  // The guest's fast-path-for answers (a pure function of the policy and a
  // shared state): for the all-zero state and for the last steady state (one
  // a success left unchanged). What beginAttempt on a fresh state and
  // afterSuccess may skip; nothing is decided here.
  #fastZero = null;
  #fastLast = null;

  /** @internal */
  constructor(engine, slot, { shared = false } = {}) {
    this.#engine = engine;
    this.#slot = slot;
    this.#shared = shared;
    if (!shared) finalizer.register(this, { engine, slot }, this);
  }

  /** The syntax the policy was written in. */
  get format() {
    return this.#slot.format;
  }

  /** True once `close()` has released the policy. */
  get closed() {
    return this.#slot.closed;
  }

  /**
   * Classify a failure: the first matching rule decides.
   * @param {import('../index.js').Failure} failure
   * @returns {import('../index.js').Classification}
   */
  classify(failure) {
    return this.#engine.classify(this.#slot, toWitFailure(failure));
  }

  /**
   * Classify a caught error directly (see `failureFromError` for what is read).
   * Never throws because of the error's shape.
   */
  classifyError(error) {
    const failure = failureFromError(error);
    // A signal name or a gRPC code the engine does not know (another platform's
    // signal, say) is left out rather than turning a catch block into a throw.
    for (;;) {
      try {
        return this.classify(failure);
      } catch (err) {
        const field = err instanceof PolicyError && err.code === 'invalid-failure' ? FIELD_OF_PATH[err.path] : undefined;
        if (field === undefined || !(field in failure)) throw err;
        delete failure[field];
      }
    }
  }

  /**
   * Before each attempt: may it start (breaker, deadline), and with what timeout?
   * A refused permit leaves `state` unchanged; `shared` may change either way
   * (an open circuit half-opening), so persist the permit's `shared`.
   * @param {{ state?: object, shared?: object, now?: number | Date }} [args]
   */
  beginAttempt({ state, shared, now } = {}) {
    const rawState = toWitState(state);
    const rawShared = toWitShared(shared);
    const nowMs = toWitNow(now);
    if (rawState.attempts === 0 && rawState.startedAtMs === undefined && rawState.lastDelayMs === 0n && !this.#slot.closed) {
      const fast = this.#fastFor(rawShared, true);
      if (fast?.permit) {
        // The guest's permit for a fresh state against this shared state,
        // with the clock and the seed filled in as its answer says.
        const p = fast.permit;
        return Object.freeze({
          refused: null,
          attempt: p.attempt,
          timeoutMs: p.timeoutMs,
          retryAfterMs: p.retryAfterMs,
          probe: p.probe,
          state: fromWitState({ ...fast.rawPermit.state, startedAtMs: nowMs, seed: rawState.seed }),
          shared: liftedShared(shared) ?? p.shared,
        });
      }
    }
    return fromWitPermit(this.#engine.beginAttempt(this.#slot, rawState, rawShared, nowMs));
  }

  /** The fast path known for a WIT shared state (asking once for the all-zero one when `ask`). */
  #fastFor(raw, ask = false) {
    const last = this.#fastLast;
    if (last !== null && sameShared(last.raw, raw)) return last;
    if (!sameShared(ZERO_SHARED, raw)) return null;
    if (this.#fastZero === null && ask) this.#fastZero = this.#askFast(ZERO_SHARED);
    return this.#fastZero;
  }

  #askFast(raw) {
    const f = this.#engine.plan(this.#slot, 'fastPathFor', raw);
    return {
      raw,
      successRecordsNothing: f.successRecordsNothing,
      rawPermit: f.freshPermit ?? null,
      permit: f.freshPermit == null ? null : fromWitPermit(f.freshPermit),
    };
  }

  /**
   * After a failed attempt: classify it, then retry after `delayMs` or give up
   * (`giveUp` names why). Persist the decision's `state` and `shared`.
   * @param {{ state?: object, shared?: object, outcome: object, now?: number | Date }} args
   */
  afterFailure({ state, shared, outcome, now } = {}) {
    return fromWitDecision(this.#engine.afterFailure(this.#slot, toWitState(state), toWitShared(shared), toWitOutcome(outcome), toWitNow(now)));
  }

  /**
   * `afterFailure`, then what the same failure decides when it fails again and
   * again, as long as no answer can depend on the clock (the engine decides
   * which: no deadline, the breaker closed or absent). Entry 0's `decision` is
   * `afterFailure({ state, shared, outcome, now })`; an entry's `nextPermit`,
   * when not null, is `beginAttempt` on its decision's `state` and `shared` at
   * any `now`; entry i + 1 (present when entry i has a `nextPermit` p and
   * `maxEntries`, 1 to 64, allows) is `afterFailure` on p's `state` and
   * `shared` for the same failure and pushback, at any `now` and duration.
   * @param {{ state?: object, shared?: object, outcome: object, now?: number | Date, maxEntries?: number }} args
   */
  planFailures({ state, shared, outcome, now, maxEntries = 64 } = {}) {
    return fromWitPlannedFailures(this.#engine.planFailures(
      this.#slot, toWitState(state), toWitShared(shared), toWitOutcome(outcome), toWitNow(now), toWitMaxEntries(maxEntries),
    ));
  }

  static {
    planFailuresLazy = (policy, { state, shared, outcome, now, maxEntries }) => new LazyPlan(policy.#engine.planFailures(
      policy.#slot, toWitState(state), toWitShared(shared), toWitOutcome(outcome), toWitNow(now), toWitMaxEntries(maxEntries),
    ));
  }

  /** After a successful attempt: the next shared state (half-open circuit closes, budget refills). */
  afterSuccess(shared) {
    const raw = toWitShared(shared);
    const fast = this.#slot.closed ? null : this.#fastFor(raw);
    if (fast?.successRecordsNothing) return liftedShared(shared) ?? fromWitShared(raw);
    const next = this.#engine.afterSuccess(this.#slot, raw);
    if (sameShared(next, raw) && !sameShared(ZERO_SHARED, raw)) {
      // A steady state (the success left it as it was): ask once what may be
      // skipped for it, so the next calls against it skip the guest.
      this.#fastLast = this.#askFast(next);
    }
    return fromWitShared(next);
  }

  /**
   * A dry run: the attempts this policy makes if every one fails transiently
   * (after its full timeout), with no pushback, breaker or budget in play.
   * @param {{ seed?: bigint | number | string, maxEntries?: number }} [args]
   */
  schedule({ seed = 0n, maxEntries = 100 } = {}) {
    return fromWitSchedule(this.#engine.plan(this.#slot, 'planSchedule', u64(seed, 'seed'), toWitMaxEntries(maxEntries)));
  }

  /**
   * The escalation evaluator: which notifications to send for one pipeline
   * event, which are suppressed and why, the next alert state (an opaque JSON
   * string: store it and pass it back) and when to call back with a `tick`.
   * A refused call (bad event, corrupted state) changes nothing: keep the old state.
   * @param {{ state?: string, event: object, now?: number | Date }} args
   */
  evaluateAlerts({ state = '', event, now } = {}) {
    const raw = this.#engine.evaluateAlerts(this.#slot, toWitAlertState(state), toWitEvent(event), toWitNow(now));
    return fromWitEvaluation(raw);
  }

  /**
   * The keyed alert state shards `event` needs: `{ keys, everyKey }` (a pure
   * function of the policy and the event). See `evaluateAlertsKeyed`.
   * @param {object} event
   */
  alertStateKeys(event) {
    return fromWitNeededKeys(this.#engine.alertStateKeys(this.#slot, toWitEvent(event)));
  }

  /**
   * `evaluateAlerts` over keyed shards, so one event costs what it concerns:
   * pass the stored shards `alertStateKeys` names, every stored shard whose
   * `nextWakeupMs` is due at `now`, and a whole-document state under the key
   * `''` if you have one; store each returned shard (an empty `state`
   * deletes its key). Each key's state is limited to 8 MiB.
   * @param {{ states: Array<{key: string, state: string, nextWakeupMs?: number|null}>, event: object, now?: number | Date }} args
   */
  evaluateAlertsKeyed({ states = [], event, now } = {}) {
    const raw = this.#engine.evaluateAlertsKeyed(this.#slot, toWitKeyedStates(states), toWitEvent(event), toWitNow(now));
    return fromWitKeyedEvaluation(raw);
  }

  /**
   * The policy's `[[alerts.sinks]]` in document order, validated at load with
   * defaults filled in; `null` when the policy has no alert section at all.
   */
  sinks() {
    return fromWitSinks(this.#engine.sinks(this.#slot));
  }

  /**
   * Replace every secret in `text` with `[REDACTED]` (built-in scanner rules
   * plus the policy's `[redaction]` patterns and allow-list) and say how many
   * each rule replaced. Redact a whole log tail before splitting or clipping it.
   * @param {string} text
   * @returns {{ text: string, redactions: { rule: string, count: number }[] }}
   */
  redact(text) {
    return fromWitRedactionReport(this.#engine.redact(this.#slot, toWitText(text)));
  }

  /** Release the policy in the engine. Idempotent; a no-op on `defaultPolicy()`. */
  close() {
    if (this.#shared) return;
    finalizer.unregister(this);
    this.#engine.drop(this.#slot);
  }

  [Symbol.dispose]() {
    this.close();
  }
}

/**
 * `policy.afterFailure` for a failure read from a caught error: like
 * `classifyError`, a signal or gRPC code the engine does not know is left out
 * rather than failing the retry loop. @internal
 */
export function afterFailureLenient(policy, args) {
  return lenient((a) => policy.afterFailure(a), args);
}

/**
 * `policy.planFailures`, as lenient as `afterFailureLenient`, answering a
 * LazyPlan (entries lifted when taken). @internal
 */
export function planFailuresLenient(policy, args) {
  return lenient((a) => planFailuresLazy(policy, a), args);
}

function lenient(call, args) {
  // Called as given: a field the guest refuses is rare, so only then is a
  // reduced copy of the failure built and the call repeated.
  let failure = args.outcome.failure;
  for (;;) {
    try {
      return call(args);
    } catch (err) {
      const field = err instanceof PolicyError && err.code === 'invalid-failure' ? FIELD_OF_PATH[err.path] : undefined;
      if (field === undefined || !(field in failure)) throw err;
      failure = { ...failure };
      delete failure[field];
      args = { ...args, outcome: { ...args.outcome, failure } };
    }
  }
}

const FIELD_OF_PATH = {
  'failure.http_status': 'httpStatus',
  'failure.grpc_code': 'grpcCode',
  'failure.exit_code': 'exitCode',
  'failure.signal': 'signal',
};

const FORMATS = new Set(['toml', 'json']);

/** Parse and validate on `engine`; throws PolicyLoadError. @internal */
export function loadOn(engine, source, { format = 'toml', file, shared } = {}) {
  if (source instanceof Uint8Array) source = new TextDecoder('utf-8', { fatal: true }).decode(source);
  if (typeof source !== 'string') {
    throw new TypeError(`a policy source must be a string or a Uint8Array, got ${source === null ? 'null' : typeof source}`);
  }
  if (!FORMATS.has(format)) {
    throw new TypeError(`format must be 'toml' or 'json', got ${JSON.stringify(format)}`);
  }
  const slot = new Slot(source, format);
  const errors = engine.load(slot);
  if (errors !== null) throw new PolicyLoadError(errors, { file });
  return new Policy(engine, slot, { shared });
}
