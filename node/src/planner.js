// Converts the retry planner's JS-facing objects (camelCase, milliseconds as plain
// numbers, the two full-range u64 fields as decimal strings) to and from the WIT
// records jco lowers and lifts (u64 as BigInt). jco wraps out-of-range integers
// silently (`toUint32(2 ** 32)` is 0), so every integer is range-checked here first.
import { toWitFailure } from './failure.js';

const U32_MAX = 0xffffffff;
const U64_MAX = (1n << 64n) - 1n;

export const CIRCUITS = Object.freeze(['closed', 'open', 'half-open']);

export function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function camelCase(key) {
  return key.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
}

/** `value` must be a plain object whose keys are all in `fields`. */
export function checkObject(value, path, fields) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${path} must be an object, got ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (fields.includes(key)) continue;
    const hint = fields.includes(camelCase(key)) ? `; did you mean \`${camelCase(key)}\`?` : `; expected one of: ${fields.join(', ')}`;
    throw new TypeError(`unknown field \`${path}.${key}\`${hint}`);
  }
}

export function u32(value, path) {
  if (typeof value !== 'number') throw new TypeError(`${path} must be a number, got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw new RangeError(`${path} must be an integer from 0 to ${U32_MAX}, got ${value}`);
  }
  return value;
}

/**
 * A millisecond count for a u64 field. Readings of a clock (`now`, durations,
 * pushback) may carry fractions (performance.now()) and are truncated; stored
 * state must hold whole milliseconds, as the engine produced it.
 */
function millis(value, path, { truncate = false } = {}) {
  if (typeof value !== 'number') throw new TypeError(`${path} must be a number of milliseconds, got ${describe(value)}`);
  if (truncate && Number.isFinite(value)) value = Math.trunc(value);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${path} must be a whole number of milliseconds from 0 to Number.MAX_SAFE_INTEGER, got ${value}`);
  }
  return BigInt(value);
}

/** A full-range u64 (seed, recentOutcomes): a BigInt, a safe integer, or decimal text. */
export function u64(value, path) {
  let big;
  if (typeof value === 'bigint') big = value;
  else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(`${path} must be an integer no larger than Number.MAX_SAFE_INTEGER (pass a BigInt or a decimal string beyond that), got ${value}`);
    }
    big = BigInt(value);
  } else if (typeof value === 'string') {
    if (!/^[0-9]{1,20}$/.test(value)) throw new RangeError(`${path} must be a decimal string of digits, got ${JSON.stringify(value)}`);
    big = BigInt(value);
  } else {
    throw new TypeError(`${path} must be a BigInt, a number or a decimal string, got ${describe(value)}`);
  }
  if (big < 0n || big > U64_MAX) throw new RangeError(`${path} must be from 0 to 2^64-1, got ${big}`);
  return big;
}

/** `now`: milliseconds (any clock, the same one throughout) or a Date; default Date.now(). */
export function toWitNow(now, path = 'now') {
  if (now === undefined) return BigInt(Date.now());
  if (now instanceof Date) {
    const time = now.getTime();
    if (Number.isNaN(time)) throw new RangeError(`${path} is an invalid Date`);
    return millis(time, path);
  }
  return millis(now, path, { truncate: true });
}

/** u64 from the engine -> number, refusing values a double cannot hold exactly. */
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** `field` is appended to `path` in the error only (no string built per call). */
export function toNumber(big, path, field = '') {
  if (big > MAX_SAFE) {
    throw new RangeError(`${path}${field} is ${big}, beyond Number.MAX_SAFE_INTEGER`);
  }
  return Number(big);
}

const STATE_FIELDS = ['attempts', 'startedAtMs', 'lastDelayMs', 'seed'];
const SHARED_FIELDS = ['breaker', 'budget'];
const BREAKER_FIELDS = ['circuit', 'consecutiveFailures', 'recentOutcomes', 'recentCount', 'openedAtMs', 'probesStarted', 'probesSucceeded'];
const BUDGET_FIELDS = ['spentMilli'];
const OUTCOME_FIELDS = ['failure', 'durationMs', 'pushbackMs'];

// Every state object lifted below carries its WIT form in a private field
// (JSON, Object.keys, spreads and deepStrictEqual do not see it, and the
// prototype stays Object.prototype: the base constructor returns the object it
// is given, so the subclass adds its field to that object). Those objects are
// deeply frozen, so one passed back as it came (retry() does, and so does a
// store keeping the object) needs neither checks nor conversions. A
// non-enumerable symbol property (defineProperty) cost 4 times as much, a
// WeakMap more still (ephemerons in GC).
/** A base class whose constructor returns the object it is given, so a subclass stamps its private fields onto that (plain) object. @internal */
export class Returns {
  constructor(target) {
    return target;
  }
}

class Carrier extends Returns {
  #wit;

  constructor(target, wit) {
    super(target);
    this.#wit = wit;
  }

  /** The WIT form `value` carries, or undefined. */
  static of(value) {
    return typeof value === 'object' && value !== null && #wit in value ? value.#wit : undefined;
  }
}

function remember(lifted, raw) {
  new Carrier(lifted, raw);
  return Object.freeze(lifted);
}

/** An absent field is zero: `{}` (or undefined) is a fresh state. */
export function toWitState(state = {}, path = 'state') {
  const known = Carrier.of(state);
  if (known !== undefined) return known;
  checkObject(state, path, STATE_FIELDS);
  const { attempts, startedAtMs, lastDelayMs, seed } = state;
  return {
    attempts: attempts === undefined ? 0 : u32(attempts, `${path}.attempts`),
    startedAtMs: startedAtMs == null ? undefined : millis(startedAtMs, `${path}.startedAtMs`),
    lastDelayMs: lastDelayMs === undefined ? 0n : millis(lastDelayMs, `${path}.lastDelayMs`),
    seed: seed === undefined ? 0n : u64(seed, `${path}.seed`),
  };
}

export function toWitShared(shared = {}, path = 'shared') {
  const known = Carrier.of(shared);
  if (known !== undefined) return known;
  checkObject(shared, path, SHARED_FIELDS);
  const breaker = shared.breaker ?? {};
  const budget = shared.budget ?? {};
  checkObject(breaker, `${path}.breaker`, BREAKER_FIELDS);
  checkObject(budget, `${path}.budget`, BUDGET_FIELDS);
  const at = (field) => `${path}.breaker.${field}`;
  const circuit = breaker.circuit ?? 'closed';
  if (!CIRCUITS.includes(circuit)) {
    throw new TypeError(`${at('circuit')} must be one of ${CIRCUITS.map((c) => `'${c}'`).join(', ')}, got ${JSON.stringify(circuit)}`);
  }
  const count = (field) => (breaker[field] === undefined ? 0 : u32(breaker[field], at(field)));
  return {
    breaker: {
      circuit,
      consecutiveFailures: count('consecutiveFailures'),
      recentOutcomes: breaker.recentOutcomes === undefined ? 0n : u64(breaker.recentOutcomes, at('recentOutcomes')),
      recentCount: count('recentCount'),
      openedAtMs: breaker.openedAtMs === undefined ? 0n : millis(breaker.openedAtMs, at('openedAtMs')),
      probesStarted: count('probesStarted'),
      probesSucceeded: count('probesSucceeded'),
    },
    budget: { spentMilli: budget.spentMilli === undefined ? 0 : u32(budget.spentMilli, `${path}.budget.spentMilli`) },
  };
}

/** The shared state object itself when it is one this module lifted (its WIT form rides along). */
export function liftedShared(shared) {
  return Carrier.of(shared) !== undefined ? shared : null;
}

/** Whether two WIT shared states are equal, field by field. */
export function sameShared(a, b) {
  if (a === b) return true;
  const x = a.breaker;
  const y = b.breaker;
  return a.budget.spentMilli === b.budget.spentMilli && x.circuit === y.circuit
    && x.consecutiveFailures === y.consecutiveFailures && x.recentOutcomes === y.recentOutcomes
    && x.recentCount === y.recentCount && x.openedAtMs === y.openedAtMs
    && x.probesStarted === y.probesStarted && x.probesSucceeded === y.probesSucceeded;
}

/** Whether two WIT retry states are equal, field by field. */
export function sameState(a, b) {
  if (a === b) return true;
  return a.attempts === b.attempts && a.startedAtMs === b.startedAtMs && a.lastDelayMs === b.lastDelayMs && a.seed === b.seed;
}

export function toWitOutcome(outcome, path = 'outcome') {
  if (outcome === undefined) throw new TypeError(`${path} is required: { failure, durationMs, pushbackMs }`);
  checkObject(outcome, path, OUTCOME_FIELDS);
  const { failure = {}, durationMs = 0, pushbackMs } = outcome;
  return {
    failure: toWitFailure(failure),
    durationMs: millis(durationMs, `${path}.durationMs`, { truncate: true }),
    pushbackMs: pushbackMs == null ? undefined : millis(pushbackMs, `${path}.pushbackMs`, { truncate: true }),
  };
}

export function toWitMaxEntries(value) {
  return u32(value, 'maxEntries');
}

// Lifting: frozen plain objects, JSON-ready (no BigInt inside), so a state can be
// persisted with JSON.stringify and passed back after JSON.parse unchanged.

// A retry keeps one seed, so its states' decimal text is made once.
let lastSeed = 0n;
let lastSeedText = '0';

function seedText(seed) {
  if (seed !== lastSeed) {
    lastSeedText = seed.toString();
    lastSeed = seed;
  }
  return lastSeedText;
}

export function fromWitState(raw, path = 'state') {
  return remember({
    attempts: raw.attempts,
    startedAtMs: raw.startedAtMs == null ? null : toNumber(raw.startedAtMs, path, '.startedAtMs'),
    lastDelayMs: toNumber(raw.lastDelayMs, path, '.lastDelayMs'),
    seed: seedText(raw.seed),
  }, raw);
}

export function fromWitShared(raw, path = 'shared') {
  const b = raw.breaker;
  return remember({
    breaker: Object.freeze({
      circuit: b.circuit,
      consecutiveFailures: b.consecutiveFailures,
      recentOutcomes: b.recentOutcomes.toString(),
      recentCount: b.recentCount,
      openedAtMs: toNumber(b.openedAtMs, path, '.breaker.openedAtMs'),
      probesStarted: b.probesStarted,
      probesSucceeded: b.probesSucceeded,
    }),
    budget: Object.freeze({ spentMilli: raw.budget.spentMilli }),
  }, raw);
}

function optionalNumber(raw, path) {
  return raw == null ? null : toNumber(raw, path);
}

/** `liftedShared`, when given, is reused if it carries `raw.shared` itself. */
export function fromWitPermit(raw, liftedShared = undefined) {
  return Object.freeze({
    refused: raw.refused ?? null,
    attempt: raw.attempt,
    timeoutMs: optionalNumber(raw.timeoutMs, 'permit.timeoutMs'),
    retryAfterMs: toNumber(raw.retryAfterMs, 'permit.retryAfterMs'),
    probe: raw.probe,
    state: fromWitState(raw.state, 'permit.state'),
    shared: liftedShared !== undefined && Carrier.of(liftedShared) === raw.shared ? liftedShared : fromWitShared(raw.shared, 'permit.shared'),
  });
}

export function fromWitDecision(raw) {
  const c = raw.classification;
  return Object.freeze({
    giveUp: raw.giveUp ?? null,
    delayMs: toNumber(raw.delayMs, 'decision.delayMs'),
    attempt: raw.attempt,
    nextTimeoutMs: optionalNumber(raw.nextTimeoutMs, 'decision.nextTimeoutMs'),
    classification: Object.freeze({ class: c.class, rule: c.rule ?? null, reason: c.reason }),
    explanation: raw.explanation,
    state: fromWitState(raw.state, 'decision.state'),
    shared: fromWitShared(raw.shared, 'decision.shared'),
  });
}

/** plan-failures' entries: `{ decision, nextPermit }` (`nextPermit` null when absent), frozen. */
export function fromWitPlannedFailures(raw) {
  return Object.freeze(raw.map((e) => Object.freeze({
    decision: fromWitDecision(e.decision),
    nextPermit: e.nextPermit == null ? null : fromWitPermit(e.nextPermit),
  })));
}

/**
 * plan-failures' raw entries, each lifted only when asked for (retry() takes
 * one or two of them; lifting all would cost more than the calls they save).
 * The lifted objects carry the raw states, so a state passed back compares by
 * identity. @internal
 */
export class LazyPlan {
  #raw;
  #decisions = [];
  #permits = [];

  constructor(raw) {
    this.#raw = raw;
  }

  get length() {
    return this.#raw.length;
  }

  /** Entry i's decision, lifted. */
  decision(i) {
    return (this.#decisions[i] ??= fromWitDecision(this.#raw[i].decision));
  }

  /** Entry i's decision's raw (WIT) retry and shared states. */
  rawDecision(i) {
    return this.#raw[i].decision;
  }

  /** Entry i's next permit, raw (WIT), or null. */
  rawNextPermit(i) {
    return this.#raw[i].nextPermit ?? null;
  }

  /** Entry i's next permit, lifted (it must have one); its shared state the decision's when that is the same record. */
  nextPermit(i) {
    return (this.#permits[i] ??= fromWitPermit(this.#raw[i].nextPermit, this.#decisions[i]?.shared));
  }
}

export function fromWitSchedule(raw) {
  const attempts = raw.attempts.map((a, i) =>
    Object.freeze({
      attempt: a.attempt,
      delayMs: toNumber(a.delayMs, `schedule.attempts[${i}].delayMs`),
      timeoutMs: optionalNumber(a.timeoutMs, `schedule.attempts[${i}].timeoutMs`),
      startMs: toNumber(a.startMs, `schedule.attempts[${i}].startMs`),
    }),
  );
  return Object.freeze({ attempts: Object.freeze(attempts), endsWith: raw.endsWith ?? null });
}
