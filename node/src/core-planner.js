// The planner calls every retry() makes (begin-attempt, after-success and, per
// failed attempt that its last plan does not answer, plan-failures; after-failure
// for the public API), called on the core module's exports directly. jco 1.35's
// generated wrapper builds an AsyncTask, a task-metadata closure and a debug
// record on every call (about a quarter of a successful retry()), and no
// transpile option turns that off for a sync export. begin-attempt and
// after-success take only flat scalars (15 and 9 core parameters), so lowering
// them is a list of arguments; after-failure's arguments are one 208-byte
// record in guest memory (strings and lists allocated with cabi_realloc, as
// jco does), plan-failures' the same record and max-entries (216 bytes). The results are fixed-size records read at fixed offsets:
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

import { Buffer } from 'node:buffer';

const CIRCUIT = ['closed', 'open', 'half-open'];
const CIRCUIT_CODE = { closed: 0, open: 1, 'half-open': 2 };
const GIVE_UP = ['permanent', 'attempts-exhausted', 'deadline', 'pushback-beyond-deadline', 'circuit-open', 'budget-exhausted'];

const BEGIN_ATTEMPT = 'backstop:policy/retry@0.1.0#begin-attempt';
const AFTER_SUCCESS = 'backstop:policy/retry@0.1.0#after-success';
const AFTER_FAILURE = 'backstop:policy/retry@0.1.0#after-failure';
const PLAN_FAILURES = 'backstop:policy/retry@0.1.0#plan-failures';
const CLASS = ['transient', 'permanent', 'unknown'];


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
  #bytes = null;
  #begin;
  #beginPost;
  #success;
  #successPost;
  #failure;
  #failurePost;
  #plan;
  #planPost;
  #realloc;

  /** @param {Record<string, any>} exports the core instance's exports */
  constructor(exports) {
    this.#memory = exports.memory;
    this.#begin = exports[BEGIN_ATTEMPT];
    this.#beginPost = exports[`cabi_post_${BEGIN_ATTEMPT}`];
    this.#success = exports[AFTER_SUCCESS];
    this.#successPost = exports[`cabi_post_${AFTER_SUCCESS}`];
    this.#failure = exports[AFTER_FAILURE];
    this.#failurePost = exports[`cabi_post_${AFTER_FAILURE}`];
    this.#plan = exports[PLAN_FAILURES];
    this.#planPost = exports[`cabi_post_${PLAN_FAILURES}`];
    this.#realloc = exports.cabi_realloc;
    for (const [name, fn] of [
      [BEGIN_ATTEMPT, this.#begin],
      [AFTER_SUCCESS, this.#success],
      [AFTER_FAILURE, this.#failure],
      [PLAN_FAILURES, this.#plan],
      [`cabi_post_${BEGIN_ATTEMPT}`, this.#beginPost],
      [`cabi_post_${AFTER_SUCCESS}`, this.#successPost],
      [`cabi_post_${AFTER_FAILURE}`, this.#failurePost],
      [`cabi_post_${PLAN_FAILURES}`, this.#planPost],
      ['cabi_realloc', this.#realloc],
    ]) {
      if (typeof fn !== 'function') throw new Error(`the core module exports no function ${name}; did the component change?`);
    }
  }

  /** A DataView on the current memory (a new one only after the memory grew). */
  #dv() {
    // Growing a memory detaches its old buffer (byteLength 0): cheaper to
    // test than reading memory.buffer, a call into the engine, every time.
    if (this.#buffer === null || this.#buffer.byteLength === 0) {
      const buffer = this.#memory.buffer;
      this.#buffer = buffer;
      this.#view = new DataView(buffer);
      this.#bytes = Buffer.from(buffer);
    }
    return this.#view;
  }

  /** A Buffer on the current memory (as #dv). */
  #mem() {
    this.#dv();
    return this.#bytes;
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
      return readPermit(m, ret + 8);
    } finally {
      this.#beginPost(ret);
    }
  }

  /** cabi_realloc(0, 0, align, size). */
  #alloc(size, align) {
    return this.#realloc(0, 0, align, size);
  }

  /** A string copied into a fresh guest allocation, its (ptr, len) written at `at`. */
  #string(at, text) {
    if (text.length === 0) {
      // As jco: an empty allocation is never read.
      const m = this.#dv();
      m.setUint32(at, 1, true);
      m.setUint32(at + 4, 0, true);
      return;
    }
    // Lone surrogates count (and are written) as U+FFFD, as TextEncoder does.
    const size = Buffer.byteLength(text, 'utf8');
    const ptr = this.#alloc(size, 1);
    const written = this.#mem().write(text, ptr, size, 'utf8');
    if (written !== size) throw new Error('failed to encode a whole string into guest memory');
    const m = this.#dv();
    m.setUint32(at, ptr, true);
    m.setUint32(at + 4, size, true);
  }

  /** An option<string> at `at` (disc, then ptr and len at +4, +8). */
  #optionString(at, text) {
    if (text == null) {
      this.#dv().setUint8(at, 0);
      return;
    }
    this.#string(at + 4, text);
    this.#dv().setUint8(at, 1);
  }

  /** A list<string> at `at` (ptr, len). */
  #stringList(at, texts) {
    const list = texts.length === 0 ? 4 : this.#alloc(texts.length * 8, 4);
    for (let i = 0; i < texts.length; i++) this.#string(list + i * 8, texts[i]);
    const m = this.#dv();
    m.setUint32(at, list, true);
    m.setUint32(at + 4, texts.length, true);
  }

  /**
   * after-failure's and plan-failures' arguments (they share one layout; the
   * latter adds max-entries at +208) lowered into a fresh allocation of `size`.
   */
  #failureArgs(size, handle, state, shared, outcome, nowMs) {
    const args = this.#alloc(size, 8);
    const f = outcome.failure;
    // Strings first: each allocation may grow the memory (a new buffer).
    this.#optionString(args + 100, f.grpcCode);
    this.#optionString(args + 120, f.signal);
    this.#stringList(args + 132, f.errorTypes);
    this.#stringList(args + 140, f.errorBases);
    this.#optionString(args + 148, f.errorCode);
    this.#optionString(args + 160, f.message);
    const m = this.#dv();
    m.setUint32(args, handle, true);
    m.setUint32(args + 8, state.attempts, true);
    const started = state.startedAtMs;
    m.setUint8(args + 16, started == null ? 0 : 1);
    if (started != null) m.setBigUint64(args + 24, started, true);
    m.setBigUint64(args + 32, state.lastDelayMs, true);
    m.setBigUint64(args + 40, state.seed, true);
    const b = shared.breaker;
    m.setUint8(args + 48, circuitCode(b.circuit));
    m.setUint32(args + 52, b.consecutiveFailures, true);
    m.setBigUint64(args + 56, b.recentOutcomes, true);
    m.setUint32(args + 64, b.recentCount, true);
    m.setBigUint64(args + 72, b.openedAtMs, true);
    m.setUint32(args + 80, b.probesStarted, true);
    m.setUint32(args + 84, b.probesSucceeded, true);
    m.setUint32(args + 88, shared.budget.spentMilli, true);
    m.setUint8(args + 96, f.httpStatus == null ? 0 : 1);
    if (f.httpStatus != null) m.setUint16(args + 98, f.httpStatus, true);
    m.setUint8(args + 112, f.exitCode == null ? 0 : 1);
    if (f.exitCode != null) m.setInt32(args + 116, f.exitCode, true);
    m.setBigUint64(args + 176, outcome.durationMs, true);
    m.setUint8(args + 184, outcome.pushbackMs == null ? 0 : 1);
    if (outcome.pushbackMs != null) m.setBigUint64(args + 192, outcome.pushbackMs, true);
    m.setBigUint64(args + 200, nowMs, true);
    return args;
  }

  /** after-failure with WIT-shaped arguments; jco's raw decision, or GUEST_ERROR. */
  afterFailure(handle, state, shared, outcome, nowMs) {
    const ret = this.#failure(this.#failureArgs(208, handle, state, shared, outcome, nowMs));
    try {
      const m = this.#dv();
      if (tag(m.getUint8(ret)) === 1) return GUEST_ERROR;
      return this.#readDecision(m, ret + 8);
    } finally {
      this.#failurePost(ret);
    }
  }

  /**
   * plan-failures with WIT-shaped arguments; jco's raw list of planned
   * failures (`{ decision, nextPermit }`), or GUEST_ERROR.
   */
  planFailures(handle, state, shared, outcome, nowMs, maxEntries) {
    const args = this.#failureArgs(216, handle, state, shared, outcome, nowMs);
    this.#dv().setUint32(args + 208, maxEntries, true);
    const ret = this.#plan(args);
    try {
      const m = this.#dv();
      if (tag(m.getUint8(ret)) === 1) return GUEST_ERROR;
      const base = m.getUint32(ret + 4, true);
      const len = m.getUint32(ret + 8, true);
      const entries = new Array(len);
      for (let i = 0; i < len; i++) {
        const at = base + i * 296; // planned-failure: decision (160 bytes), option<permit> at +160
        const next = m.getUint8(at + 160);
        if (next > 1) throw new TypeError('invalid variant discriminant for option');
        const decision = this.#readDecision(m, at);
        // A permit's shared state is usually its decision's (a closed breaker):
        // then both entries hold one (equal) record, read once.
        const nextPermit = next === 1 ? readPermit(m, at + 168, sameSharedAt(m, at + 112, at + 248) ? decision.shared : undefined) : undefined;
        entries[i] = { decision, nextPermit };
      }
      return entries;
    } finally {
      this.#planPost(ret);
    }
  }

  /** A decision record at `at` (8-aligned; 160 bytes). */
  #readDecision(m, at) {
    const giveUp = m.getUint8(at);
    const nextTimeout = m.getUint8(at + 24);
    const rule = m.getUint8(at + 44);
    const startedAt = m.getUint8(at + 80);
    if (giveUp > 1 || nextTimeout > 1 || rule > 1 || startedAt > 1) throw new TypeError('invalid variant discriminant for option');
    return {
      giveUp: giveUp === 1 ? lookup(GIVE_UP, m.getUint8(at + 1), 'GiveUpReason') : undefined,
      delayMs: m.getBigUint64(at + 8, true),
      attempt: m.getUint32(at + 16, true),
      nextTimeoutMs: nextTimeout === 1 ? m.getBigUint64(at + 32, true) : undefined,
      classification: {
        class: lookup(CLASS, m.getUint8(at + 40), 'FailureClass'),
        rule: rule === 1 ? this.#readString(m, at + 48) : undefined,
        reason: this.#readString(m, at + 56),
      },
      explanation: this.#readString(m, at + 64),
      state: {
        attempts: m.getUint32(at + 72, true),
        startedAtMs: startedAt === 1 ? m.getBigUint64(at + 88, true) : undefined,
        lastDelayMs: m.getBigUint64(at + 96, true),
        seed: m.getBigUint64(at + 104, true),
      },
      shared: readShared(m, at + 112),
    };
  }

  /**
   * A string (ptr, len) at `at`. The guest's strings are Rust `String`s (valid
   * UTF-8); were a byte invalid, it would read as U+FFFD, as in jco's wrapper.
   */
  #readString(m, at) {
    const ptr = m.getUint32(at, true);
    return this.#bytes.toString('utf8', ptr, ptr + m.getUint32(at + 4, true));
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

/** A permit record at `at` (8-aligned; 128 bytes). */
function readPermit(m, at, shared = undefined) {
  const refused = m.getUint8(at);
  const timeout = m.getUint8(at + 8);
  const startedAt = m.getUint8(at + 48);
  if (refused > 1 || timeout > 1 || startedAt > 1) throw new TypeError('invalid variant discriminant for option');
  return {
    refused: refused === 1 ? lookup(GIVE_UP, m.getUint8(at + 1), 'GiveUpReason') : undefined,
    attempt: m.getUint32(at + 4, true),
    timeoutMs: timeout === 1 ? m.getBigUint64(at + 16, true) : undefined,
    retryAfterMs: m.getBigUint64(at + 24, true),
    probe: bool(m.getUint8(at + 32)),
    state: {
      attempts: m.getUint32(at + 40, true),
      startedAtMs: startedAt === 1 ? m.getBigUint64(at + 56, true) : undefined,
      lastDelayMs: m.getBigUint64(at + 64, true),
      seed: m.getBigUint64(at + 72, true),
    },
    shared: shared ?? readShared(m, at + 80),
  };
}

/** Whether the shared-state records at `a` and `b` hold the same values (padding aside). */
function sameSharedAt(m, a, b) {
  return m.getUint8(a) === m.getUint8(b)
    && m.getUint32(a + 4, true) === m.getUint32(b + 4, true)
    && m.getUint32(a + 8, true) === m.getUint32(b + 8, true)
    && m.getUint32(a + 12, true) === m.getUint32(b + 12, true)
    && m.getUint32(a + 16, true) === m.getUint32(b + 16, true)
    && m.getUint32(a + 24, true) === m.getUint32(b + 24, true)
    && m.getUint32(a + 28, true) === m.getUint32(b + 28, true)
    && m.getUint32(a + 32, true) === m.getUint32(b + 32, true)
    && m.getUint32(a + 36, true) === m.getUint32(b + 36, true)
    && m.getUint32(a + 40, true) === m.getUint32(b + 40, true);
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
