// The log readers: a finished process's output tail in, a `Failure` (plus what
// was read) out, decided by the guest exactly as in every other host.
import { PolicyError } from './errors.js';
import { engine } from './thread.js';

/** The guest reads only the last this-many UTF-8 bytes of a tail (guest tail::MAX_TEXT_BYTES). */
export const MAX_LOG_BYTES = 256 * 1024;

const STREAMS = new Set(['stderr', 'stdout', 'combined']);
const FIELDS = new Set(['text', 'exitCode', 'signal', 'stream']);

/**
 * A suffix of `text` that still holds the last MAX_LOG_BYTES UTF-8 bytes (each
 * UTF-16 unit is at least one byte), so megabytes of log are not copied into
 * wasm memory. A split surrogate pair at the cut becomes U+FFFD, as any lone
 * surrogate does on the way in.
 */
function logTail(text) {
  const keep = MAX_LOG_BYTES + 1;
  return text.length <= keep ? text : text.slice(text.length - keep);
}

function liftFailure(f) {
  const failure = { errorTypes: f.errorTypes, errorBases: f.errorBases };
  if (f.httpStatus !== undefined) failure.httpStatus = f.httpStatus;
  if (f.grpcCode !== undefined) failure.grpcCode = f.grpcCode;
  if (f.exitCode !== undefined) failure.exitCode = f.exitCode;
  if (f.signal !== undefined) failure.signal = f.signal;
  if (f.errorCode !== undefined) failure.errorCode = f.errorCode;
  if (f.message !== undefined) failure.message = f.message;
  return failure;
}

/**
 * Read a failure out of a process's output tail: Python tracebacks (cause
 * chains, exception groups), provider error codes, HTTP and gRPC statuses, JVM,
 * Node, Go and native runtime errors, errno texts and Retry-After lines.
 * Classify the report's `failure` with `policy.classify`.
 *
 * @param {{ text: string | Uint8Array, exitCode?: number | null, signal?: string | number | null,
 *           stream?: 'stderr' | 'stdout' | 'combined' | null }} input
 *   `text` as written (bytes are decoded as UTF-8, invalid sequences replaced).
 * @returns {{ failure: import('../index.js').ErrorFailure, readers: string[], summary: string,
 *             pushbackMs: number | null }}
 * @throws {PolicyError} `invalid-failure` for a signal that is neither a name nor a number.
 */
export function readLog(input) {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new TypeError(`readLog needs an object such as { text, exitCode }, got ${input === null ? 'null' : typeof input}`);
  }
  for (const key of Object.keys(input)) {
    if (!FIELDS.has(key)) throw new TypeError(`unknown readLog field \`${key}\`; expected one of: ${[...FIELDS].join(', ')}`);
  }
  let { text, exitCode, signal, stream } = input;
  if (text instanceof Uint8Array) text = new TextDecoder('utf-8', { fatal: false }).decode(text);
  if (typeof text !== 'string') throw new TypeError(`readLog text must be a string or bytes, got ${typeof text}`);
  exitCode ??= undefined;
  if (exitCode !== undefined) {
    if (typeof exitCode !== 'number') throw new TypeError(`readLog exitCode must be a number, got ${typeof exitCode}`);
    if (!Number.isInteger(exitCode) || exitCode < -0x80000000 || exitCode > 0x7fffffff) {
      throw new PolicyError('invalid-failure', `${exitCode} is not an exit code (a 32-bit signed integer)`, { path: 'log.exit_code' });
    }
  }
  signal ??= undefined;
  if (typeof signal === 'number') signal = String(signal);
  if (signal !== undefined && typeof signal !== 'string') throw new TypeError(`readLog signal must be a string or a number, got ${typeof signal}`);
  stream ??= undefined;
  if (stream !== undefined && !STREAMS.has(stream)) throw new TypeError(`readLog stream must be stderr, stdout or combined, got ${String(stream)}`);
  const report = engine.readLog({ text: logTail(text), exitCode, signal, stream });
  return {
    failure: liftFailure(report.failure),
    readers: report.readers,
    summary: report.summary,
    pushbackMs: report.pushbackMs === undefined ? null : Number(report.pushbackMs),
  };
}
