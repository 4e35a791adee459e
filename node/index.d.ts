// Hand-written types for @backstop/policy (the runtime is src/index.js).
/// <reference types="node" />

/** Which syntax a policy document is written in. */
export type PolicyFormat = 'toml' | 'json';

/** The classifier's verdict. */
export type FailureClass = 'transient' | 'permanent' | 'unknown';

/** What kind of problem a `PolicyError` reports (the WIT `error-code`, kebab-case). */
export type ErrorCode =
  | 'syntax'
  | 'unknown-field'
  | 'missing-field'
  | 'wrong-type'
  | 'invalid-value'
  | 'out-of-range'
  | 'duplicate-id'
  | 'invalid-regex'
  | 'too-large'
  | 'unknown-policy'
  | 'invalid-failure';

/** A failed attempt as the caller observed it. Every field is optional; `null` means absent. */
export interface Failure {
  /** HTTP status code (100-599). */
  httpStatus?: number | null;
  /** gRPC status by canonical name (`'UNAVAILABLE'`) or number (`14`). */
  grpcCode?: string | number | null;
  /** Process exit code (a 32-bit signed integer). */
  exitCode?: number | null;
  /** Terminating signal by name (`'SIGKILL'`, `'KILL'`) or number (`9`). */
  signal?: string | number | null;
  /** Error type names along the cause chain, outermost first. */
  errorTypes?: readonly string[] | null;
  /** Provider or errno code, such as `'ThrottlingException'`, `'SlowDown'`, `'ECONNRESET'`. */
  errorCode?: string | null;
  /** The error message or the last lines of output. */
  message?: string | null;
}

/** Which rule classified a failure, and why. */
export interface Classification {
  class: FailureClass;
  /** Id of the matching rule; `null` when no rule matched (class `unknown`). */
  rule: string | null;
  reason: string;
}

/** A `Failure` as `failureFromError` builds it (absent fields are left out). */
export interface ErrorFailure {
  httpStatus?: number;
  grpcCode?: string;
  exitCode?: number;
  signal?: string;
  errorTypes: string[];
  errorCode?: string;
  message?: string;
}

export interface LoadOptions {
  /** Default: `'toml'`. */
  format?: PolicyFormat;
}

export interface LoadFileOptions {
  /** Default: from the file extension (`.toml`, `.json`). */
  format?: PolicyFormat;
}

/** A loaded, validated policy. Close it (or let `using` do it) when done. */
export class Policy implements Disposable {
  private constructor();
  /** The syntax the policy was written in. */
  readonly format: PolicyFormat;
  /** True once `close()` released the policy. */
  readonly closed: boolean;
  /**
   * Classify a failure; the first matching rule decides.
   * @throws {PolicyError} `invalid-failure` for a value the engine cannot interpret,
   *   `unknown-policy` after `close()`.
   * @throws {TypeError} for a wrong type or an unknown field.
   */
  classify(failure: Failure): Classification;
  /**
   * Classify a caught error: its type names along the `cause` chain (and
   * AggregateError members), `code`, HTTP status, gRPC code, exit code, signal
   * and messages. Never throws because of the error's shape.
   */
  classifyError(error: unknown): Classification;
  /** Release the policy. Idempotent; does nothing on `defaultPolicy()`. */
  close(): void;
  [Symbol.dispose](): void;
}

/** A diagnostic: a problem in a policy document, or an uninterpretable failure. */
export class PolicyError extends Error {
  constructor(code: ErrorCode, message: string, where?: { path?: string; line?: number | null; column?: number | null });
  readonly name: 'PolicyError';
  code: ErrorCode;
  /** The field, e.g. `classify.rules[2].http_status`; `''` for the whole document. */
  path: string;
  /** One-based line in the document, or `null`. */
  line: number | null;
  /** One-based column (in characters), or `null`. */
  column: number | null;
  /** `path (line L, column C): message`, with the parts that are known. */
  describe(): string;
  /** The canonical JSON form shared by every Backstop host. */
  toJSON(): { code: ErrorCode; message: string; path: string; line: number | null; column: number | null };
}

/** A policy document was refused. */
export class PolicyLoadError extends Error {
  constructor(errors: PolicyError[], options?: { file?: string });
  readonly name: 'PolicyLoadError';
  /** Every diagnostic, in document order. */
  errors: PolicyError[];
  /** The file, when loaded with `loadPolicyFile`. */
  file?: string;
}

/** The WebAssembly engine trapped (an engine bug); its instance was replaced. */
export class GuestTrapError extends Error {
  constructor(cause: unknown);
  readonly name: 'GuestTrapError';
}

/**
 * Parse and validate a policy document.
 * @throws {PolicyLoadError} with every diagnostic when the document is refused.
 */
export function loadPolicy(source: string | Uint8Array, options?: LoadOptions): Policy;

/** Read and load a policy file. Rejects with `PolicyLoadError` (with `file` set) or an fs error. */
export function loadPolicyFile(path: string | URL, options?: LoadFileOptions): Promise<Policy>;

/** Synchronous `loadPolicyFile`, for start-up code. */
export function loadPolicyFileSync(path: string | URL, options?: LoadFileOptions): Policy;

/** The built-in rules alone. Shared: always the same Policy; `close()` does nothing. */
export function defaultPolicy(): Policy;

/** What `classifyError` reads from a caught error. */
export function failureFromError(error: unknown): ErrorFailure;
