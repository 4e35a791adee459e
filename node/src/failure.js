// Turns the JS-facing `Failure` (camelCase, numbers or strings where users have
// either) into the WIT record jco lowers, rejecting what jco would silently wrap
// (e.g. an HTTP status of 70000 would become 4464 through `u16`).
import { PolicyError } from './errors.js';

/** The guest examines at most this many cause-chain entries (guest MAX_CAUSE_DEPTH). */
export const MAX_CAUSE_DEPTH = 64;
/** The guest examines at most this many base-class names (guest MAX_BASES). */
export const MAX_BASES = 256;
/** Message patterns see only the last this-many UTF-8 bytes (guest MAX_MESSAGE_BYTES). */
export const MAX_MESSAGE_BYTES = 64 * 1024;

const FIELDS = new Map([
  ['httpStatus', 'http_status'],
  ['grpcCode', 'grpc_code'],
  ['exitCode', 'exit_code'],
  ['signal', 'signal'],
  ['errorTypes', 'error_types'],
  ['errorBases', 'error_bases'],
  ['errorCode', 'error_code'],
  ['message', 'message'],
]);
const BY_SNAKE_CASE = new Map([...FIELDS].map(([camel, snake]) => [snake, camel]));

function invalid(field, message) {
  return new PolicyError('invalid-failure', message, { path: `failure.${FIELDS.get(field)}` });
}

function typeError(field, expected, value) {
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
  return new TypeError(`failure.${field} must be ${expected}, got ${got}`);
}

/**
 * A suffix of `message` on which the guest's "last MAX_MESSAGE_BYTES" rule gives
 * the same text as on the whole message, so megabytes of log are not copied into
 * wasm memory. Every UTF-16 unit encodes to at least one UTF-8 byte (a split
 * surrogate becomes a 3-byte U+FFFD), so this suffix still spans more than
 * MAX_MESSAGE_BYTES, and the guest cuts it where it would cut the whole.
 */
export function messageTail(message) {
  const keep = MAX_MESSAGE_BYTES + 1;
  return message.length <= keep ? message : message.slice(message.length - keep);
}

/** The alert evaluator quotes at most this many characters of a message (guest evaluate.rs). */
export const MAX_SNIPPET_CHARS = 2000;

/**
 * The cut for a failure inside an alert event: the guest classifies the message's
 * last MAX_MESSAGE_BYTES but quotes its first MAX_SNIPPET_CHARS characters in the
 * payload, so keep both ends. The head holds at least MAX_SNIPPET_CHARS + 1
 * characters (two UTF-16 units at most per character), so the guest still clips
 * it and adds its ellipsis; the tail is `messageTail`'s, so the last
 * MAX_MESSAGE_BYTES of head + tail are those of the whole message.
 */
export function headAndTail(message) {
  const head = 2 * (MAX_SNIPPET_CHARS + 1);
  const tail = MAX_MESSAGE_BYTES + 1;
  return message.length <= head + tail ? message : message.slice(0, head) + message.slice(message.length - tail);
}

function optionalString(failure, field) {
  const value = failure[field];
  if (value == null) return undefined;
  if (typeof value !== 'string') throw typeError(field, 'a string', value);
  return value;
}

/** A name or a number (gRPC code, signal): numbers are passed as their decimal text. */
function stringOrNumber(failure, field) {
  const value = failure[field];
  if (value == null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  throw typeError(field, 'a string or a number', value);
}

/**
 * Validate a JS `Failure` and build the WIT record. `cut` shortens a long
 * message to what the guest reads of it.
 */
export function toWitFailure(failure, { cut = messageTail } = {}) {
  if (failure === null || typeof failure !== 'object' || Array.isArray(failure)) {
    throw new TypeError(`a failure must be an object such as { httpStatus: 503 }, got ${failure === null ? 'null' : typeof failure}`);
  }
  for (const key of Object.keys(failure)) {
    if (!FIELDS.has(key)) {
      const hint = BY_SNAKE_CASE.get(key);
      throw new TypeError(
        hint
          ? `unknown failure field \`${key}\`; did you mean \`${hint}\`?`
          : `unknown failure field \`${key}\`; expected one of: ${[...FIELDS.keys()].join(', ')}`,
      );
    }
  }

  let httpStatus = failure.httpStatus ?? undefined;
  if (httpStatus !== undefined) {
    if (typeof httpStatus !== 'number') throw typeError('httpStatus', 'a number', httpStatus);
    // The guest checks 100-599 itself; only what `u16` cannot carry is caught here,
    // with the guest's wording.
    if (!Number.isInteger(httpStatus) || httpStatus < 0 || httpStatus > 0xffff) {
      throw invalid('httpStatus', `${httpStatus} is not an HTTP status code (100-599)`);
    }
  }

  let exitCode = failure.exitCode ?? undefined;
  if (exitCode !== undefined) {
    if (typeof exitCode !== 'number') throw typeError('exitCode', 'a number', exitCode);
    if (!Number.isInteger(exitCode) || exitCode < -0x80000000 || exitCode > 0x7fffffff) {
      throw invalid('exitCode', `${exitCode} is not an exit code (a 32-bit signed integer)`);
    }
  }

  let errorTypes = failure.errorTypes ?? [];
  if (!Array.isArray(errorTypes)) throw typeError('errorTypes', 'an array of strings', errorTypes);
  for (let i = 0; i < errorTypes.length; i++) {
    if (typeof errorTypes[i] !== 'string') throw typeError(`errorTypes[${i}]`, 'a string', errorTypes[i]);
  }
  // Entries past the guest's depth limit are never looked at; do not copy them in.
  if (errorTypes.length > MAX_CAUSE_DEPTH) errorTypes = errorTypes.slice(0, MAX_CAUSE_DEPTH);

  let errorBases = failure.errorBases ?? [];
  if (!Array.isArray(errorBases)) throw typeError('errorBases', 'an array of strings', errorBases);
  for (let i = 0; i < errorBases.length; i++) {
    if (typeof errorBases[i] !== 'string') throw typeError(`errorBases[${i}]`, 'a string', errorBases[i]);
  }
  if (errorBases.length > MAX_BASES) errorBases = errorBases.slice(0, MAX_BASES);

  const message = optionalString(failure, 'message');
  return {
    httpStatus,
    grpcCode: stringOrNumber(failure, 'grpcCode'),
    exitCode,
    signal: stringOrNumber(failure, 'signal'),
    errorTypes,
    errorBases,
    errorCode: optionalString(failure, 'errorCode'),
    message: message === undefined ? undefined : cut(message),
  };
}
