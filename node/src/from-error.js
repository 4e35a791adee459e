// Reads a caught JS error (or anything thrown) into a `Failure`. Errors come from
// many libraries, so every property read is defensive: getters may throw, cause
// chains may loop, and a malformed error must still classify, never throw.
import { MAX_BASES, MAX_CAUSE_DEPTH } from './failure.js';

/** gRPC status codes by number (grpc-js `status` enum order). */
export const GRPC_CODE_NAMES = Object.freeze([
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND',
  'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION',
  'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS',
  'UNAUTHENTICATED',
]);

/**
 * `object?.[key]`, or undefined when a getter throws; one function per key.
 * A single `object?.[key]` site sees every key on every error class and goes
 * megamorphic: that was half of failureFromError's time.
 */
const get = {
  $metadata: (o) => { try { return o?.$metadata; } catch { return undefined; } },
  cause: (o) => { try { return o?.cause; } catch { return undefined; } },
  cmd: (o) => { try { return o?.cmd; } catch { return undefined; } },
  code: (o) => { try { return o?.code; } catch { return undefined; } },
  Code: (o) => { try { return o?.Code; } catch { return undefined; } },
  command: (o) => { try { return o?.command; } catch { return undefined; } },
  constructor: (o) => { try { return o?.constructor; } catch { return undefined; } },
  details: (o) => { try { return o?.details; } catch { return undefined; } },
  errors: (o) => { try { return o?.errors; } catch { return undefined; } },
  exitCode: (o) => { try { return o?.exitCode; } catch { return undefined; } },
  httpStatusCode: (o) => { try { return o?.httpStatusCode; } catch { return undefined; } },
  message: (o) => { try { return o?.message; } catch { return undefined; } },
  metadata: (o) => { try { return o?.metadata; } catch { return undefined; } },
  name: (o) => { try { return o?.name; } catch { return undefined; } },
  output: (o) => { try { return o?.output; } catch { return undefined; } },
  response: (o) => { try { return o?.response; } catch { return undefined; } },
  signal: (o) => { try { return o?.signal; } catch { return undefined; } },
  spawnargs: (o) => { try { return o?.spawnargs; } catch { return undefined; } },
  status: (o) => { try { return o?.status; } catch { return undefined; } },
  statusCode: (o) => { try { return o?.statusCode; } catch { return undefined; } },
};

function isObject(value) {
  return value !== null && (typeof value === 'object' || typeof value === 'function');
}

function hasOwn(object, key) {
  try {
    return Object.prototype.hasOwnProperty.call(object, key);
  } catch {
    return false;
  }
}

function isAggregate(error) {
  try {
    if (error instanceof AggregateError) return true;
  } catch {
    // A Proxy whose getPrototypeOf trap throws.
  }
  return get.name(error) === 'AggregateError';
}

/**
 * The error objects along the chain, outermost first: each error, then its
 * `cause` chain, then the members of an AggregateError (depth first). Cycle-safe
 * and bounded to the guest's MAX_CAUSE_DEPTH. Primitive causes come back as text.
 */
function walk(error) {
  const links = [];
  const texts = [];
  const seen = new Set();
  const stack = [error];
  while (stack.length > 0 && links.length < MAX_CAUSE_DEPTH) {
    const current = stack.pop();
    if (!isObject(current)) {
      if (current != null && current !== error) texts.push({ at: links.length, text: String(current) });
      continue;
    }
    if (seen.has(current)) continue;
    seen.add(current);
    links.push(current);
    const next = [];
    if (hasOwn(current, 'cause') || get.cause(current) !== undefined) next.push(get.cause(current));
    if (isAggregate(current)) {
      const members = get.errors(current);
      if (Array.isArray(members)) next.push(...members.slice(0, MAX_CAUSE_DEPTH));
    }
    for (let i = next.length - 1; i >= 0; i--) if (next[i] != null) stack.push(next[i]);
  }
  return { links, texts };
}

/**
 * One type name per error: its `name` when the class chose it (set on the
 * instance or on its own prototype, as built-ins, DOMException and SDK errors do),
 * else the constructor's name (a `class MyError extends Error {}` that never set
 * `name` still reports `MyError`, not `Error`).
 */
function typeName(error) {
  const name = get.name(error);
  const proto = (() => {
    try {
      return Object.getPrototypeOf(error);
    } catch {
      return null;
    }
  })();
  const deliberate = typeof name === 'string' && name !== '' && (hasOwn(error, 'name') || (proto !== null && hasOwn(proto, 'name')));
  if (deliberate) return name;
  const ctor = get.name(get.constructor(error));
  if (typeof ctor === 'string' && ctor !== '' && ctor !== 'Object') return ctor;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/** Base-class names no rule should need: every error has them. */
const ROOT_CLASSES = new Set(['Object', 'Error', 'Function']);

/**
 * The constructor names along an error's prototype chain, most derived first,
 * after its own class: `class ThrottledError extends HttpError {}` gives
 * `['HttpError']`. `Error` and `Object` are left out (every error has them),
 * and the walk is bounded and tolerant of hostile prototypes.
 */
function baseNames(error, own) {
  const names = [];
  let proto;
  try {
    proto = Object.getPrototypeOf(error);
  } catch {
    return names;
  }
  for (let depth = 0; proto !== null && depth < MAX_CAUSE_DEPTH; depth++) {
    const name = get.name(get.constructor(proto));
    if (typeof name === 'string' && name !== '' && name !== own && !ROOT_CLASSES.has(name) && !names.includes(name)) {
      names.push(name);
    }
    try {
      proto = Object.getPrototypeOf(proto);
    } catch {
      break;
    }
  }
  return names;
}

/** A child_process / execa error: its `code` or `status` is an exit code, not HTTP. */
function isProcessError(error) {
  return (
    typeof get.cmd(error) === 'string' ||
    typeof get.command(error) === 'string' ||
    Array.isArray(get.spawnargs(error)) ||
    Array.isArray(get.output(error))
  );
}

/** A grpc-js / google-gax ServiceError: numeric `code` with `details` or `metadata`. */
function grpcCode(error) {
  const code = get.code(error);
  if (!Number.isInteger(code) || code < 0 || code >= GRPC_CODE_NAMES.length) return undefined;
  if (typeof get.details(error) !== 'string' && !isObject(get.metadata(error))) return undefined;
  return GRPC_CODE_NAMES[code];
}

function asHttpStatus(value) {
  const n = typeof value === 'string' && /^\d{3}$/.test(value) ? Number(value) : value;
  return Number.isInteger(n) && n >= 100 && n <= 599 ? n : undefined;
}

function httpStatus(error) {
  const response = get.response(error);
  return (
    asHttpStatus(get.status(error)) ??
    asHttpStatus(get.statusCode(error)) ??
    asHttpStatus(get.status(response)) ??
    asHttpStatus(get.statusCode(response)) ??
    // AWS SDK for JavaScript v3
    asHttpStatus(get.httpStatusCode(get.$metadata(error)))
  );
}

function asExitCode(value) {
  return Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff ? value : undefined;
}

function exitCode(error, processError) {
  const explicit = asExitCode(get.exitCode(error)); // execa, and most wrappers
  if (explicit !== undefined || !processError) return explicit;
  // child_process: exec()/execFile() put the exit code in `code`, execSync() in `status`.
  return asExitCode(get.code(error)) ?? asExitCode(get.status(error));
}

function errorCode(error) {
  const code = get.code(error);
  if (typeof code === 'string' && code !== '') return code;
  const Code = get.Code(error);
  if (typeof Code === 'string' && Code !== '') return Code;
  // AWS SDK v3 service exceptions carry the service's error code as `name`.
  if (isObject(get.$metadata(error))) {
    const name = get.name(error);
    if (typeof name === 'string' && name !== '') return name;
  }
  return undefined;
}

/**
 * Describe a caught error as a `Failure`: type names along the cause chain
 * (outermost first), the first error code, HTTP status, gRPC code, exit code and
 * signal found along it, and the messages joined by newlines.
 * @param {unknown} error
 * @returns {import('../index.js').Failure}
 */
export function failureFromError(error) {
  const { links, texts } = walk(error);
  const errorTypes = [];
  const errorBases = [];
  const messages = [];
  let httpStatusFound, grpcCodeFound, exitCodeFound, signalFound, errorCodeFound;
  if (links.length === 0 && error != null) messages.push(String(error));
  links.forEach((link, at) => {
    const processError = isProcessError(link);
    const type = typeName(link);
    if (type !== undefined) errorTypes.push(type);
    for (const base of baseNames(link, type)) {
      if (!errorBases.includes(base) && errorBases.length < MAX_BASES) errorBases.push(base);
    }
    errorCodeFound ??= errorCode(link);
    grpcCodeFound ??= grpcCode(link);
    if (!processError) httpStatusFound ??= httpStatus(link);
    exitCodeFound ??= exitCode(link, processError);
    if (signalFound === undefined) {
      const signal = get.signal(link);
      if (typeof signal === 'string' && signal !== '') signalFound = signal;
    }
    const message = get.message(link);
    if (typeof message === 'string' && message !== '' && message !== messages.at(-1)) messages.push(message);
    for (const t of texts) if (t.at === at + 1) messages.push(t.text);
  });
  // Built in one go, with only the fields found (an object keeps one shape).
  const failure = { errorTypes, errorBases };
  if (httpStatusFound !== undefined) failure.httpStatus = httpStatusFound;
  if (grpcCodeFound !== undefined) failure.grpcCode = grpcCodeFound;
  if (exitCodeFound !== undefined) failure.exitCode = exitCodeFound;
  if (signalFound !== undefined) failure.signal = signalFound;
  if (errorCodeFound !== undefined) failure.errorCode = errorCodeFound;
  if (messages.length > 0) failure.message = messages.join('\n');
  return failure;
}
