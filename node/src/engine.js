// Owns the WebAssembly side: one component instance per engine (one engine per
// thread by default), the compiled core module, and the table of loaded policies.
// A guest trap poisons an instance for good (jco marks it trapped, and Rust state
// may be half-updated), so the engine drops it, builds a new one on the next call,
// and reloads each live policy there from its source the first time it is used.
import { readFileSync } from 'node:fs';

import { instantiate } from '../gen/backstop.js';
import { CorePlanner, GUEST_ERROR } from './core-planner.js';
import { GuestTrapError, PolicyError } from './errors.js';

let coreModule;

/** Compiled once per thread and shared by every instance (compiling is the slow part). */
function compiledCore(name) {
  // The component holds exactly one core module; anything else means jco's output
  // changed shape and this file needs a look.
  if (name !== 'backstop.core.wasm') throw new Error(`unexpected core module ${name} requested by the jco glue`);
  coreModule ??= new WebAssembly.Module(readFileSync(new URL('../gen/backstop.core.wasm', import.meta.url)));
  return coreModule;
}

/** jco wraps a WIT `result` error in `ComponentError`, with the payload attached. */
function isResultError(err) {
  return err instanceof Error && err.constructor.name === 'ComponentError' && 'payload' in err;
}

/** A policy loaded in an engine: enough to reload it into a replacement instance. */
export class Slot {
  constructor(source, format) {
    this.source = source;
    this.format = format;
    this.handle = 0;
    this.generation = -1;
    this.closed = false;
  }
}

export class Engine {
  #classifier = null;
  #retry = null;
  #alerts = null;
  #redaction = null;
  #logs = null;
  #core = null;
  #generation = 0;
  #instantiateCore;

  /** @param {{ instantiateCore?: (module: WebAssembly.Module, imports: object) => WebAssembly.Instance }} [options] */
  constructor({ instantiateCore } = {}) {
    this.#instantiateCore = instantiateCore;
  }

  /** Increments each time an instance is discarded. */
  get generation() {
    return this.#generation;
  }

  #api() {
    if (this.#classifier === null) {
      // The core instance is kept too, for the planner calls made on it directly.
      const instantiateCore = this.#instantiateCore ?? ((module, imports) => new WebAssembly.Instance(module, imports));
      let core = null;
      const root = instantiate(compiledCore, {}, (module, imports) => (core = instantiateCore(module, imports)));
      this.#core = new CorePlanner(core.exports);
      this.#classifier = root.classifier;
      this.#retry = root.retry;
      this.#alerts = root.alerts;
      this.#redaction = root.redaction;
      this.#logs = root.logs;
    }
    return this.#classifier;
  }

  /** Anything but a WIT result error came out of the guest: discard the instance. */
  #fail(err) {
    if (isResultError(err)) return err;
    this.#classifier = null;
    this.#retry = null;
    this.#alerts = null;
    this.#redaction = null;
    this.#logs = null;
    this.#core = null;
    this.#generation += 1;
    return new GuestTrapError(err);
  }

  /**
   * Load `slot` into the current instance. Returns the diagnostics when the
   * document is refused, else null.
   * @returns {PolicyError[] | null}
   */
  load(slot) {
    const api = this.#api();
    try {
      slot.handle = api.loadPolicy(slot.source, slot.format);
      slot.generation = this.#generation;
      return null;
    } catch (err) {
      const failure = this.#fail(err);
      if (isResultError(failure)) return failure.payload.map((raw) => PolicyError.fromWit(raw));
      throw failure;
    }
  }

  #handle(slot) {
    if (slot.closed) {
      throw new PolicyError('unknown-policy', 'this policy was closed');
    }
    if (slot.generation !== this.#generation) {
      // It loaded once and loading is deterministic, so only a guest limit (too
      // many policies) can refuse it here.
      const errors = this.load(slot);
      if (errors !== null) throw errors[0];
    }
    return slot.handle;
  }

  /** Classify a WIT-shaped failure; returns the JS-shaped classification. */
  classify(slot, failure) {
    const handle = this.#handle(slot);
    try {
      const verdict = this.#classifier.classify(handle, failure);
      return { class: verdict.class, rule: verdict.rule ?? null, reason: verdict.reason };
    } catch (err) {
      const failed = this.#fail(err);
      throw isResultError(failed) ? PolicyError.fromWit(failed.payload) : failed;
    }
  }

  /**
   * Call one of the retry planner's functions (`beginAttempt`, `afterFailure`,
   * `planFailures`, `afterSuccess`, `planSchedule`) with the slot's handle and WIT-shaped
   * arguments; returns jco's raw result.
   */
  plan(slot, name, ...args) {
    const handle = this.#handle(slot);
    try {
      return this.#retry[name](handle, ...args);
    } catch (err) {
      const failed = this.#fail(err);
      throw isResultError(failed) ? PolicyError.fromWit(failed.payload) : failed;
    }
  }

  /**
   * begin-attempt on the core exports directly (see core-planner.js), with
   * WIT-shaped arguments; returns jco's raw permit. A guest error is thrown as
   * jco's wrapper throws it, by repeating the (pure) call through the wrapper.
   */
  beginAttempt(slot, state, shared, nowMs) {
    const handle = this.#handle(slot);
    let raw;
    try {
      raw = this.#core.beginAttempt(handle, state, shared, nowMs);
    } catch (err) {
      throw this.#fail(err);
    }
    return raw === GUEST_ERROR ? this.plan(slot, 'beginAttempt', state, shared, nowMs) : raw;
  }

  /** after-failure on the core exports directly; as `beginAttempt`. */
  afterFailure(slot, state, shared, outcome, nowMs) {
    const handle = this.#handle(slot);
    let raw;
    try {
      raw = this.#core.afterFailure(handle, state, shared, outcome, nowMs);
    } catch (err) {
      throw this.#fail(err);
    }
    return raw === GUEST_ERROR ? this.plan(slot, 'afterFailure', state, shared, outcome, nowMs) : raw;
  }

  /** plan-failures on the core exports directly; as `beginAttempt`. */
  planFailures(slot, state, shared, outcome, nowMs, maxEntries) {
    const handle = this.#handle(slot);
    let raw;
    try {
      raw = this.#core.planFailures(handle, state, shared, outcome, nowMs, maxEntries);
    } catch (err) {
      throw this.#fail(err);
    }
    return raw === GUEST_ERROR ? this.plan(slot, 'planFailures', state, shared, outcome, nowMs, maxEntries) : raw;
  }

  /** after-success on the core exports directly; as `beginAttempt`. */
  afterSuccess(slot, shared) {
    const handle = this.#handle(slot);
    let raw;
    try {
      raw = this.#core.afterSuccess(handle, shared);
    } catch (err) {
      throw this.#fail(err);
    }
    return raw === GUEST_ERROR ? this.plan(slot, 'afterSuccess', shared) : raw;
  }

  /**
   * The escalation evaluator's `evaluate` with WIT-shaped arguments; returns
   * jco's raw evaluation.
   */
  evaluateAlerts(slot, state, event, nowMs) {
    const handle = this.#handle(slot);
    try {
      return this.#alerts.evaluate(handle, state, event, nowMs);
    } catch (err) {
      const failed = this.#fail(err);
      throw isResultError(failed) ? PolicyError.fromWit(failed.payload) : failed;
    }
  }

  /** The escalation evaluator's `alert-state-keys`; returns jco's raw needed-keys. */
  alertStateKeys(slot, event) {
    const handle = this.#handle(slot);
    try {
      return this.#alerts.alertStateKeys(handle, event);
    } catch (err) {
      const failed = this.#fail(err);
      throw isResultError(failed) ? PolicyError.fromWit(failed.payload) : failed;
    }
  }

  /** The escalation evaluator's `evaluate-keyed`; returns jco's raw keyed evaluation. */
  evaluateAlertsKeyed(slot, states, event, nowMs) {
    const handle = this.#handle(slot);
    try {
      return this.#alerts.evaluateKeyed(handle, states, event, nowMs);
    } catch (err) {
      const failed = this.#fail(err);
      throw isResultError(failed) ? PolicyError.fromWit(failed.payload) : failed;
    }
  }

  /** The escalation evaluator's `sinks`; returns jco's raw option<list<sink>>. */
  sinks(slot) {
    const handle = this.#handle(slot);
    try {
      return this.#alerts.sinks(handle);
    } catch (err) {
      const failed = this.#fail(err);
      throw isResultError(failed) ? PolicyError.fromWit(failed.payload) : failed;
    }
  }

  /** The guest's `redact`; returns jco's raw report. */
  redact(slot, text) {
    const handle = this.#handle(slot);
    try {
      return this.#redaction.redact(handle, text);
    } catch (err) {
      const failed = this.#fail(err);
      throw isResultError(failed) ? PolicyError.fromWit(failed.payload) : failed;
    }
  }

  /** The guest's `read-log` with a WIT-shaped input; returns jco's raw report. */
  readLog(input) {
    this.#api();
    try {
      return this.#logs.readLog(input);
    } catch (err) {
      const failed = this.#fail(err);
      throw isResultError(failed) ? PolicyError.fromWit(failed.payload) : failed;
    }
  }

  /** The guest's `derive-seed` (a BigInt). */
  deriveSeed(key) {
    this.#api();
    try {
      return this.#retry.deriveSeed(key);
    } catch (err) {
      throw this.#fail(err);
    }
  }

  /** Release a slot's guest handle (if it lives in the current instance). */
  drop(slot) {
    if (slot.closed) return;
    slot.closed = true;
    if (slot.generation !== this.#generation || this.#classifier === null) return;
    try {
      this.#classifier.dropPolicy(slot.handle);
    } catch (err) {
      throw this.#fail(err);
    }
  }
}
