// The two planner calls every retry() makes on the success path (begin-attempt,
// after-success), called on the core module's exports directly. jco 1.35's
// generated wrapper builds an AsyncTask, a task-metadata closure and a debug
// record on every call (about a quarter of a successful retry()), and no
// transpile option turns that off for a sync export. Both functions take only
// flat scalars (15 and 9 core parameters), so lowering them is a list of
// arguments, and their results are fixed-size records read at fixed offsets:
// the layouts below are the canonical ABI's for the WIT records in
// wit/backstop.wit, the same offsets jco generates (gen/backstop.js), and
// test/core-planner.test.js compares both paths value for value.
//
// Only the transport changes: the guest makes every decision, and the values
// returned are exactly those jco's wrapper returns (the same raw WIT shapes, so
// planner.js converts them as before). A guest error (result `err`) is not
// decoded here: the caller repeats the call through jco's wrapper, which throws
// the ComponentError (the planner functions are pure, so the repeat answers the
// same).

const CIRCUIT = ['closed', 'open', 'half-open'];
const CIRCUIT_CODE = { closed: 0, open: 1, 'half-open': 2 };
const GIVE_UP = ['permanent', 'attempts-exhausted', 'deadline', 'pushback-beyond-deadline', 'circuit-open', 'budget-exhausted'];

const BEGIN_ATTEMPT = 'backstop:policy/retry@0.1.0#begin-attempt';
const AFTER_SUCCESS = 'backstop:policy/retry@0.1.0#after-success';

/** Returned instead of a value when the guest answered with its `err` case. */
export const GUEST_ERROR = Symbol('guest error');

function circuitCode(circuit) {
  const code = CIRCUIT_CODE[circuit];
  if (code === undefined) throw new TypeError(`"${circuit}" is not one of the cases of circuit`);
  return code;
}

function lookup(cases, code, what) {
  const value = cases[code];
  if (value === undefined) throw new TypeError(`invalid discriminant specified for ${what}`);
  return value;
}

function bool(byte) {
  if (byte > 1) throw new TypeError('invalid variant discriminant for bool');
  return byte === 1;
}

function tag(byte) {
  if (byte > 1) throw new TypeError('invalid variant discriminant for expected');
  return byte;
}

export class CorePlanner {
  #memory;
  #buffer = null;
  #view = null;
  #begin;
  #beginPost;
  #success;
  #successPost;

  /** @param {Record<string, any>} exports the core instance's exports */
  constructor(exports) {
    this.#memory = exports.memory;
    this.#begin = exports[BEGIN_ATTEMPT];
    this.#beginPost = exports[`cabi_post_${BEGIN_ATTEMPT}`];
    this.#success = exports[AFTER_SUCCESS];
    this.#successPost = exports[`cabi_post_${AFTER_SUCCESS}`];
    for (const [name, fn] of [[BEGIN_ATTEMPT, this.#begin], [AFTER_SUCCESS, this.#success], [`cabi_post_${BEGIN_ATTEMPT}`, this.#beginPost], [`cabi_post_${AFTER_SUCCESS}`, this.#successPost]]) {
      if (typeof fn !== 'function') throw new Error(`the core module exports no function ${name}; did the component change?`);
    }
  }

  /** A DataView on the current memory (a new one only after the memory grew). */
  #dv() {
    const buffer = this.#memory.buffer;
    if (buffer !== this.#buffer) {
      this.#buffer = buffer;
      this.#view = new DataView(buffer);
    }
    return this.#view;
  }

  /** begin-attempt with WIT-shaped arguments; jco's raw permit, or GUEST_ERROR. */
  beginAttempt(handle, state, shared, nowMs) {
    const b = shared.breaker;
    const started = state.startedAtMs;
    const ret = this.#begin(
      handle,
      state.attempts,
      started == null ? 0 : 1,
      started == null ? 0n : started,
      state.lastDelayMs,
      state.seed,
      circuitCode(b.circuit),
      b.consecutiveFailures,
      b.recentOutcomes,
      b.recentCount,
      b.openedAtMs,
      b.probesStarted,
      b.probesSucceeded,
      shared.budget.spentMilli,
      nowMs,
    );
    try {
      const m = this.#dv();
      if (tag(m.getUint8(ret)) === 1) return GUEST_ERROR;
      const refused = m.getUint8(ret + 8);
      const timeout = m.getUint8(ret + 16);
      const startedAt = m.getUint8(ret + 56);
      if (refused > 1 || timeout > 1 || startedAt > 1) throw new TypeError('invalid variant discriminant for option');
      return {
        refused: refused === 1 ? lookup(GIVE_UP, m.getUint8(ret + 9), 'GiveUpReason') : undefined,
        attempt: m.getUint32(ret + 12, true),
        timeoutMs: timeout === 1 ? m.getBigUint64(ret + 24, true) : undefined,
        retryAfterMs: m.getBigUint64(ret + 32, true),
        probe: bool(m.getUint8(ret + 40)),
        state: {
          attempts: m.getUint32(ret + 48, true),
          startedAtMs: startedAt === 1 ? m.getBigUint64(ret + 64, true) : undefined,
          lastDelayMs: m.getBigUint64(ret + 72, true),
          seed: m.getBigUint64(ret + 80, true),
        },
        shared: readShared(m, ret + 88),
      };
    } finally {
      this.#beginPost(ret);
    }
  }

  /** after-success with a WIT-shaped shared state; jco's raw shared state, or GUEST_ERROR. */
  afterSuccess(handle, shared) {
    const b = shared.breaker;
    const ret = this.#success(
      handle,
      circuitCode(b.circuit),
      b.consecutiveFailures,
      b.recentOutcomes,
      b.recentCount,
      b.openedAtMs,
      b.probesStarted,
      b.probesSucceeded,
      shared.budget.spentMilli,
    );
    try {
      const m = this.#dv();
      if (tag(m.getUint8(ret)) === 1) return GUEST_ERROR;
      return readShared(m, ret + 8);
    } finally {
      this.#successPost(ret);
    }
  }
}

/** A shared-state record at `at` (8-aligned; 44 bytes). */
function readShared(m, at) {
  return {
    breaker: {
      circuit: lookup(CIRCUIT, m.getUint8(at), 'Circuit'),
      consecutiveFailures: m.getUint32(at + 4, true),
      recentOutcomes: m.getBigUint64(at + 8, true),
      recentCount: m.getUint32(at + 16, true),
      openedAtMs: m.getBigUint64(at + 24, true),
      probesStarted: m.getUint32(at + 32, true),
      probesSucceeded: m.getUint32(at + 36, true),
    },
    budget: { spentMilli: m.getUint32(at + 40, true) },
  };
}
