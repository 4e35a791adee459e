// Converts the escalation evaluator's JS-facing values (camelCase event, labels as
// a plain object, milliseconds as numbers) to and from the WIT records jco lowers
// and lifts. As in planner.js, every integer is range-checked first because jco
// wraps out-of-range values silently (an `attempt` of 2 ** 32 would become 0).
import { headAndTail, toWitFailure } from './failure.js';
import { checkObject, describe, toNumber, u32 } from './planner.js';

export const EVENT_KINDS = Object.freeze(['attempt-failed', 'run-failed', 'run-succeeded', 'run-late', 'alert-acknowledged', 'tick']);

const EVENT_FIELDS = ['kind', 'pipeline', 'step', 'runId', 'failure', 'attempt', 'lateMinutes', 'labels', 'logLines', 'dedupKey'];

/** The guest keeps the last this-many log lines of an event (guest MAX_LOG_LINES). */
export const MAX_LOG_LINES = 20;
/** ...and the first this-many characters of each (guest MAX_LOG_LINE_CHARS). */
export const MAX_LOG_LINE_CHARS = 500;
/** The guest keeps the first this-many labels of an event. */
export const MAX_LABELS = 64;

function string(value, path) {
  if (value === undefined) return '';
  if (typeof value !== 'string') throw new TypeError(`${path} must be a string, got ${describe(value)}`);
  return value;
}

/**
 * A log line cut to a prefix the guest clips exactly as it clips the whole line:
 * 2 * (MAX_LOG_LINE_CHARS + 1) UTF-16 units hold more than MAX_LOG_LINE_CHARS
 * characters, so the guest still cuts it (and marks the cut) at the same place.
 * Saves copying megabytes of a runaway line into wasm memory.
 */
function logLineHead(line) {
  const keep = 2 * (MAX_LOG_LINE_CHARS + 1);
  return line.length <= keep ? line : line.slice(0, keep);
}

function toWitLabels(labels, path) {
  if (labels === undefined) return [];
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels) || labels instanceof Map) {
    throw new TypeError(`${path} must be a plain object of strings such as { team: 'ml' }, got ${labels instanceof Map ? 'a Map' : describe(labels)}`);
  }
  const out = [];
  for (const [key, value] of Object.entries(labels)) {
    if (typeof value !== 'string') throw new TypeError(`${path}.${key} must be a string, got ${describe(value)}`);
    // Labels past the guest's limit are never looked at; do not copy them in.
    if (out.length < MAX_LABELS) out.push({ key, value });
  }
  return out;
}

function toWitLogLines(lines, path) {
  if (lines === undefined) return [];
  if (!Array.isArray(lines)) throw new TypeError(`${path} must be an array of strings, got ${describe(lines)}`);
  for (let i = 0; i < lines.length; i++) {
    if (typeof lines[i] !== 'string') throw new TypeError(`${path}[${i}] must be a string, got ${describe(lines[i])}`);
  }
  const last = lines.length > MAX_LOG_LINES ? lines.slice(lines.length - MAX_LOG_LINES) : lines;
  return last.map(logLineHead);
}

/** Validate a JS `AlertEvent` and build the WIT record; absent fields are empty or zero. */
export function toWitEvent(event, path = 'event') {
  if (event === undefined) throw new TypeError(`${path} is required, e.g. { kind: 'run-failed', pipeline, step, runId, failure }`);
  checkObject(event, path, EVENT_FIELDS);
  const { kind, failure, attempt, lateMinutes, dedupKey } = event;
  if (!EVENT_KINDS.includes(kind)) {
    throw new TypeError(`${path}.kind must be one of ${EVENT_KINDS.map((k) => `'${k}'`).join(', ')}, got ${kind === undefined ? 'nothing' : typeof kind === 'string' ? JSON.stringify(kind) : describe(kind)}`);
  }
  if (dedupKey != null && typeof dedupKey !== 'string') {
    throw new TypeError(`${path}.dedupKey must be a string, got ${describe(dedupKey)}`);
  }
  return {
    kind,
    pipeline: string(event.pipeline, `${path}.pipeline`),
    step: string(event.step, `${path}.step`),
    runId: string(event.runId, `${path}.runId`),
    failure: failure == null ? undefined : toWitFailure(failure, { cut: headAndTail }),
    attempt: attempt === undefined ? 0 : u32(attempt, `${path}.attempt`),
    lateMinutes: lateMinutes === undefined ? 0 : u32(lateMinutes, `${path}.lateMinutes`),
    labels: toWitLabels(event.labels, `${path}.labels`),
    logLines: toWitLogLines(event.logLines, `${path}.logLines`),
    dedupKey: dedupKey ?? undefined,
  };
}

export function toWitAlertState(state) {
  if (state === undefined || state === null) return '';
  if (typeof state !== 'string') {
    const hint = typeof state === 'object' ? ' (store and pass back the string itself, not JSON.parse of it)' : '';
    throw new TypeError(`state must be the string a previous evaluation returned ('' for none), got ${describe(state)}${hint}`);
  }
  return state;
}

/** Freeze a parsed JSON value and everything in it. */
function deepFreeze(value) {
  if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

function parsePayload(text, path) {
  try {
    return deepFreeze(JSON.parse(text));
  } catch (err) {
    // The guest builds payloads with serde_json; this is an engine bug, never bad input.
    throw new Error(`${path}: the engine sent a payload that is not JSON (${err.message})`, { cause: err });
  }
}

export function fromWitEvaluation(raw) {
  const notifications = raw.notifications.map((n, i) =>
    Object.freeze({
      kind: n.kind,
      severity: n.severity,
      targets: Object.freeze(n.targets),
      rule: n.rule,
      dedupKey: n.dedupKey,
      summary: n.summary,
      payload: parsePayload(n.payload, `notifications[${i}].payload`),
    }),
  );
  const suppressed = raw.suppressed.map((s) =>
    Object.freeze({ rule: s.rule, dedupKey: s.dedupKey, severity: s.severity, reason: s.reason }),
  );
  return Object.freeze({
    notifications: Object.freeze(notifications),
    suppressed: Object.freeze(suppressed),
    state: raw.state,
    nextWakeupMs: raw.nextWakeupMs == null ? null : toNumber(raw.nextWakeupMs, 'evaluation.nextWakeupMs'),
  });
}

/** Keyed alert state shards (`{ key, state, nextWakeupMs }`) in WIT shape. */
export function toWitKeyedStates(states) {
  if (!Array.isArray(states)) {
    throw new TypeError(`states must be an array of { key, state, nextWakeupMs } shards, got ${describe(states)}`);
  }
  return states.map((s, i) => {
    if (s === null || typeof s !== 'object' || typeof s.key !== 'string' || typeof s.state !== 'string') {
      throw new TypeError(`states[${i}] must be { key: string, state: string, nextWakeupMs? }, got ${describe(s)}`);
    }
    const wakeup = s.nextWakeupMs;
    if (wakeup != null && !(Number.isSafeInteger(wakeup) && wakeup >= 0)) {
      throw new TypeError(`states[${i}].nextWakeupMs must be a non-negative integer or null, got ${describe(wakeup)}`);
    }
    return { key: s.key, state: s.state, nextWakeupMs: wakeup == null ? undefined : BigInt(wakeup) };
  });
}

export function fromWitNeededKeys(raw) {
  return Object.freeze({ keys: Object.freeze([...raw.keys]), everyKey: raw.everyKey });
}

export function fromWitKeyedEvaluation(raw) {
  const { notifications, suppressed } = fromWitEvaluation({ ...raw, state: '' });
  return Object.freeze({
    notifications,
    suppressed,
    states: Object.freeze(
      raw.states.map((s, i) =>
        Object.freeze({
          key: s.key,
          state: s.state,
          nextWakeupMs: s.nextWakeupMs == null ? null : toNumber(s.nextWakeupMs, `states[${i}].nextWakeupMs`),
        }),
      ),
    ),
    nextWakeupMs: raw.nextWakeupMs == null ? null : toNumber(raw.nextWakeupMs, 'evaluation.nextWakeupMs'),
  });
}

/** The WIT's option<list<sink>> as frozen JS sinks, or null for none. */
export function fromWitSinks(raw) {
  if (raw == null) return null;
  return Object.freeze(
    raw.map((s, i) =>
      Object.freeze({
        target: s.target,
        kind: s.kind,
        location: Object.freeze(s.location),
        format: s.format,
        timeoutMs: toNumber(s.timeoutMs, `sinks[${i}].timeoutMs`),
        deadLetter: s.deadLetter ?? null,
        routingKeyEnv: s.routingKeyEnv ?? null,
        template: s.template ?? null,
      }),
    ),
  );
}
