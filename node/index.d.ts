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
  | 'invalid-failure'
  | 'invalid-state';

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
  /**
   * Base classes of those types, most derived first (`failureFromError` passes
   * the prototype chain's constructor names): a rule naming a base class
   * matches its subclasses.
   */
  errorBases?: readonly string[] | null;
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
  errorBases: string[];
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
  /**
   * Before each attempt: may it start (circuit breaker, deadline), and with what
   * timeout? Persist the permit's `shared` whether or not it was refused.
   * @throws {PolicyError} `invalid-state` for a state no decision can produce.
   * @throws {TypeError | RangeError} for a wrong type, an unknown field or an out-of-range number.
   */
  beginAttempt(args?: { state?: RetryStateInput; shared?: SharedStateInput; now?: Timestamp }): Permit;
  /**
   * After a failed attempt: classify it, then retry after `delayMs` or give up
   * (`giveUp` says why). Persist the decision's `state` and `shared`.
   */
  afterFailure(args: { state?: RetryStateInput; shared?: SharedStateInput; outcome: AttemptFailure; now?: Timestamp }): Decision;
  /**
   * `afterFailure`, then what the same failure decides when it fails again and
   * again while no answer can depend on the clock (the engine decides: no
   * deadline, the breaker closed or absent). Entry 0's `decision` is
   * `afterFailure({ state, shared, outcome, now })`; an entry's `nextPermit`
   * (when not null) is `beginAttempt` on its decision's `state` and `shared` at
   * any `now`; entry i + 1 (present when entry i has a `nextPermit` p and
   * `maxEntries`, clamped to 1 to 64, allows) is `afterFailure` on p's `state`
   * and `shared` with the same failure and pushback, at any `now` and duration.
   * Default `maxEntries`: 64. Throws as `afterFailure` does.
   */
  planFailures(args: { state?: RetryStateInput; shared?: SharedStateInput; outcome: AttemptFailure; now?: Timestamp; maxEntries?: number }): readonly PlannedFailure[];
  /** After a successful attempt: the next shared state (a half-open circuit closes, the budget refills). */
  afterSuccess(shared?: SharedStateInput): SharedState;
  /**
   * A dry run: the attempts this policy makes if every one fails transiently after
   * its full timeout, with no pushback, breaker or budget. Defaults: seed 0, 100 entries.
   */
  schedule(args?: { seed?: U64Input; maxEntries?: number }): Schedule;
  /**
   * The escalation evaluator: the notifications to send for one pipeline event,
   * those suppressed and why, the next alert state (store it, pass it back) and
   * when to call back with a `tick`. A refused call changes nothing.
   * @throws {PolicyError} `invalid-value` for an event the engine refuses (no run id,
   *   an acknowledgement without a dedup key), `invalid-failure`, `invalid-state`
   *   for a state no evaluation produced.
   * @throws {TypeError | RangeError} for a wrong type, an unknown field or an out-of-range number.
   */
  evaluateAlerts(args: { state?: string; event: AlertEvent; now?: Timestamp }): AlertEvaluation;
  /**
   * The policy's `[[alerts.sinks]]` in document order, validated at load with
   * defaults filled in; `null` when the policy has no alert section at all.
   */
  sinks(): readonly AlertSink[] | null;
  /**
   * Replace every secret in `text` with `[REDACTED]` (built-in scanner rules plus
   * the policy's `[redaction]` patterns and allow-list) and count them per rule.
   * Redact a whole log tail before splitting or clipping it.
   * @throws {PolicyError} `too-large` for a text over 8 MiB.
   */
  redact(text: string): RedactionReport;
  /** Release the policy. Idempotent; does nothing on `defaultPolicy()`. */
  close(): void;
  [Symbol.dispose](): void;
}

// ---- Escalation evaluator ------------------------------------------------

export type AlertEventKind = 'attempt-failed' | 'run-failed' | 'run-succeeded' | 'run-late' | 'alert-acknowledged' | 'tick';

/** One pipeline event. Absent fields are empty (strings, lists) or zero. */
export interface AlertEvent {
  kind: AlertEventKind;
  /** Required (non-blank) for every kind but `alert-acknowledged` and `tick`. */
  pipeline?: string;
  step?: string;
  runId?: string;
  /** The failure (attempt-failed, run-failed); classified by the policy. */
  failure?: Failure | null;
  /** The attempt number when known (0 = unknown); a u32. */
  attempt?: number;
  /** Lateness against the SLA (run-late); a u32. */
  lateMinutes?: number;
  /** Labels the conditions can read (`labels.team`); the engine keeps the first 64. */
  labels?: Record<string, string>;
  /** The last lines of output (the engine keeps the last 20); secrets are redacted. */
  logLines?: readonly string[];
  /** The alert acknowledged (alert-acknowledged). */
  dedupKey?: string | null;
}

export type Severity = 'info' | 'warning' | 'high' | 'critical';
export type NotificationKind = 'trigger' | 'escalate' | 'repeat' | 'resolve';
export type SuppressionReason = 'duplicate' | 'inhibited' | 'acknowledged' | 'repeat-limit';

/** A JSON value, as parsed from the engine's payload (frozen throughout). */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

export interface AlertNotification {
  readonly kind: NotificationKind;
  readonly severity: Severity;
  readonly targets: readonly string[];
  /** The rule's id (`rule-1` for the first unnamed rule). */
  readonly rule: string;
  readonly dedupKey: string;
  readonly summary: string;
  /** The policy's payload fields (snake_case, as in the policy) plus `runbook`. */
  readonly payload: { readonly [key: string]: JsonValue };
}

export interface SuppressedAlert {
  readonly rule: string;
  readonly dedupKey: string;
  readonly severity: Severity;
  readonly reason: SuppressionReason;
}

export interface AlertEvaluation {
  readonly notifications: readonly AlertNotification[];
  readonly suppressed: readonly SuppressedAlert[];
  /** The next alert state: an opaque JSON string to store and pass back. */
  readonly state: string;
  /** When to call back with `{ kind: 'tick' }`, or `null` when no timer is pending. */
  readonly nextWakeupMs: number | null;
}

export type SinkKind = 'stdout' | 'file' | 'webhook' | 'command';
export type SinkFormat = 'backstop' | 'pagerduty' | 'slack' | 'template';

/** Where notifications for a target go. The evaluator never delivers; hosts do. */
export interface AlertSink {
  /** The notification target it serves, or `*` for every target without its own sink. */
  readonly target: string;
  readonly kind: SinkKind;
  /** The file path, the URL, or the command's argv; empty for `stdout`. */
  readonly location: readonly string[];
  /** `pagerduty`: a PagerDuty Events v2 body (routing key from `routingKeyEnv`); `slack`: a Slack-compatible message; `template`: `template` filled in. */
  readonly format: SinkFormat;
  /** How long one delivery may take. */
  readonly timeoutMs: number;
  /** Where a webhook's undeliverable notifications go; `null`: the host's default. */
  readonly deadLetter: string | null;
  /** `pagerduty`: the environment variable that holds the routing key (never the key itself). */
  readonly routingKeyEnv: string | null;
  /** `template`: the body template as compact JSON text, keys in document order. */
  readonly template: string | null;
}

// ---- Retry planner -------------------------------------------------------

/** A full-range u64 on input (seeds, `recentOutcomes`): a BigInt, a safe integer or decimal digits. */
export type U64Input = bigint | number | string;

/** Milliseconds on any clock (the same one throughout), or a Date. Fractions are truncated. */
export type Timestamp = number | Date;

/** Why the planner gave up or refused an attempt. */
export type GiveUpReason =
  | 'permanent'
  | 'attempts-exhausted'
  | 'deadline'
  | 'pushback-beyond-deadline'
  | 'circuit-open'
  | 'budget-exhausted';

export type Circuit = 'closed' | 'open' | 'half-open';

/**
 * Progress of one operation (one run of one step). JSON-ready: `seed` is a
 * decimal string (it spans the full u64 range); `BigInt(state.seed)` reads it.
 */
export interface RetryState {
  /** Attempts started so far. */
  readonly attempts: number;
  /** When the first attempt started; `null` before it has. */
  readonly startedAtMs: number | null;
  /** The previous wait (for decorrelated jitter). */
  readonly lastDelayMs: number;
  readonly seed: string;
}

/** A retry state as input: any field may be left out (zero); `{}` is a fresh state. */
export interface RetryStateInput {
  attempts?: number;
  startedAtMs?: number | null;
  lastDelayMs?: number;
  seed?: U64Input;
}

export interface BreakerState {
  readonly circuit: Circuit;
  readonly consecutiveFailures: number;
  /** The latest outcomes, newest in bit 0 (a set bit is a failure): a decimal string, full u64 range. */
  readonly recentOutcomes: string;
  readonly recentCount: number;
  readonly openedAtMs: number;
  readonly probesStarted: number;
  readonly probesSucceeded: number;
}

export interface BudgetState {
  /** How far below full the token bucket is, in thousandths of a token. */
  readonly spentMilli: number;
}

/** State shared by every operation against one dependency. JSON-ready, like `RetryState`. */
export interface SharedState {
  readonly breaker: BreakerState;
  readonly budget: BudgetState;
}

/** A shared state as input: any field may be left out (zero); `{}` is a fresh state. */
export interface SharedStateInput {
  breaker?: {
    circuit?: Circuit;
    consecutiveFailures?: number;
    recentOutcomes?: U64Input;
    recentCount?: number;
    openedAtMs?: number;
    probesStarted?: number;
    probesSucceeded?: number;
  };
  budget?: { spentMilli?: number };
}

/** A failed attempt as the host observed it. */
export interface AttemptFailure {
  /** What failed (default `{}`: unclassifiable, retried as unknown). */
  failure?: Failure;
  /** How long the attempt ran (default 0). */
  durationMs?: number;
  /** Server pushback (Retry-After, grpc-retry-pushback-ms). */
  pushbackMs?: number | null;
}

/** May the next attempt start? Frozen. */
export interface Permit {
  /** `null` when it may start; otherwise `'circuit-open'` or `'deadline'`. */
  readonly refused: GiveUpReason | null;
  /** The attempt about to start (1-based). */
  readonly attempt: number;
  /** Its timeout: the attempt timeout clamped to what remains of the deadline; `null` for none. */
  readonly timeoutMs: number | null;
  /** When refused by an open circuit: how long until it half-opens. */
  readonly retryAfterMs: number;
  /** Whether this attempt is a half-open probe. */
  readonly probe: boolean;
  readonly state: RetryState;
  readonly shared: SharedState;
}

/** What to do after a failed attempt. Frozen. */
export interface Decision {
  /** `null`: retry after `delayMs`; otherwise give up for this reason. */
  readonly giveUp: GiveUpReason | null;
  readonly delayMs: number;
  /** The attempt that failed (1-based). */
  readonly attempt: number;
  /** The next attempt's timeout when retrying. */
  readonly nextTimeoutMs: number | null;
  readonly classification: Readonly<Classification>;
  /** One human sentence: what was decided and why. */
  readonly explanation: string;
  readonly state: RetryState;
  readonly shared: SharedState;
}

/** One failed attempt of a `planFailures` answer. Frozen. */
export interface PlannedFailure {
  readonly decision: Decision;
  /** When the decision retries and the next permit cannot depend on the clock:
   * `beginAttempt` on `decision.state` and `decision.shared` at any `now`; else `null`. */
  readonly nextPermit: Permit | null;
}

export interface PlannedAttempt {
  readonly attempt: number;
  /** Wait before this attempt (0 for the first). */
  readonly delayMs: number;
  readonly timeoutMs: number | null;
  /** Offset of its start from the first attempt's start. */
  readonly startMs: number;
}

export interface Schedule {
  readonly attempts: readonly PlannedAttempt[];
  /** Why the schedule ends; `null` when it was cut at `maxEntries`. */
  readonly endsWith: GiveUpReason | null;
}

/**
 * The default jitter seed for an idempotency key (`<run id>/<step>`): 64-bit
 * FNV-1a of its UTF-8 bytes. A BigInt: seeds span the full u64 range.
 */
export function deriveSeed(key: string): bigint;

/** Where `retry()` keeps the shared state, by dependency name. A `Map` qualifies. */
export interface SharedStateStore {
  get(key: string): SharedStateInput | null | undefined | Promise<SharedStateInput | null | undefined>;
  set(key: string, state: SharedState): unknown;
}

/**
 * A store that applies a read-modify-write itself, atomically (for example in
 * one database transaction holding the row's lock, as `PostgresStore` from
 * `@backstop/policy/postgres` does); `retry()` prefers `update` over get/set.
 * `compute` gets the current state (undefined or `{}` when fresh) and returns
 * [the next state, a result]; `update` resolves to the result, and an
 * exception from `compute` must propagate unchanged.
 */
export interface AtomicSharedStateStore {
  update<R>(key: string, compute: (current: SharedState | undefined) => [SharedStateInput, R]): R | Promise<R>;
}

/** The default store: a Map in this thread's memory. */
export class MemoryStore implements SharedStateStore {
  get(key: string): SharedState | undefined;
  set(key: string, state: SharedState): void;
  delete(key: string): boolean;
}

/** Time for `retry()`. `sleep` must resolve after `ms` or reject with `signal.reason` when it aborts. */
export interface Clock {
  /** Milliseconds (any clock, the same one throughout; HTTP-date pushback assumes Unix epoch time). */
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** `Date.now()` and a cancellable setTimeout sleep (chained beyond setTimeout's 2^31-1 ms limit). */
export const systemClock: Clock;

export interface AttemptContext {
  /** 1-based. */
  attempt: number;
  /** This attempt's timeout in ms (the policy's, clamped to its deadline); `null` when it has none. */
  timeoutMs: number | null;
  /** Aborts when the caller's signal does or the attempt's timeout passes (reason: a `TimeoutError` DOMException). */
  signal: AbortSignal;
}

export interface RetryInfo {
  /** The failed attempt's error (an `AttemptTimeoutError` when it timed out). */
  error: unknown;
  attempt: number;
  decision: Decision;
}

export interface RetryOptions {
  /** Default: `defaultPolicy()` (5 attempts, 1 s doubling to 30 s, +25% jitter). */
  policy?: Policy;
  /** Aborting rejects `retry()` promptly with `signal.reason` (mid-attempt or mid-sleep). */
  signal?: AbortSignal;
  /**
   * The caller's deadline (a Date, or milliseconds on `clock`): when the next wait would end
   * at or past it, give up at once with reason `'deadline'` instead of sleeping into it.
   * (An `AbortSignal.timeout` cannot be read, so pass its deadline here too.)
   */
  deadline?: Date | number;
  /** Seeds the jitter via `deriveSeed` (e.g. `${runId}/${step}`); default: 64 random bits from the OS, never 0. */
  idempotencyKey?: string;
  /** An explicit jitter seed, over `idempotencyKey`: fixes the waits in tests. */
  seed?: U64Input;
  /** Where the breaker and budget state live. Default: in memory, one store per Policy object. */
  sharedState?: SharedStateStore | AtomicSharedStateStore;
  /** The key in the store (default `'default'`): one breaker and budget per dependency. */
  dependency?: string;
  /** Called (and awaited) with (error, attempt, decision) after each failed attempt that will be retried, before the wait; throwing stops. */
  onRetry?: (info: RetryInfo) => unknown;
  /** Default: `systemClock`. Inject a fake clock in tests. */
  clock?: Clock;
  /**
   * Record each call, once it has ended, as a run with its attempts in the state store
   * `backstop stats` reads (`SqliteRecorder` from `@backstop/policy/sqlite`, `PostgresRecorder` from
   * `@backstop/policy/postgres`). A recorder's
   * error becomes a process warning (`BackstopRecordWarning`), never the call's error.
   */
  recorder?: Recorder;
  /** The recorded run's id (default: a new UUID per call); one given again records the run's next round. */
  runId?: string;
  /** The recorded run's step (default: `dependency`, as the CLI's `--step` names both). */
  step?: string;
}

/** One attempt of a recorded call, as a row of the CLI's `attempts` table. Times are Unix ms on the clock. */
export interface RecordedAttempt {
  readonly attempt: number;
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  /** The wait before it (0 for the first). */
  readonly delayBeforeMs: number;
  readonly timeoutMs: number | null;
  readonly decision: 'succeeded' | 'retry' | 'give-up' | 'interrupted';
  readonly timedOut: boolean;
  readonly class: FailureClass | null;
  readonly rule: string | null;
  readonly giveUpReason: GiveUpReason | null;
  /** The wait the planner chose after it, when it retried. */
  readonly delayAfterMs: number | null;
  readonly explanation: string | null;
}

/** One `retry()` call, as a round of the CLI's `runs` row for its run id + step. */
export interface RecordedRun {
  readonly runId: string;
  readonly step: string;
  /** `'running'`: the caller aborted it. */
  readonly status: 'succeeded' | 'failed' | 'running';
  /** `'succeeded'` or the give-up reason; null while running. */
  readonly outcome: string | null;
  readonly retryState: RetryState;
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  readonly host: string;
  readonly attempts: readonly RecordedAttempt[];
}

/** Where `retry()` records its calls (option `recorder`). */
export interface Recorder {
  record(run: RecordedRun): unknown;
}

/**
 * Call `fn` until it succeeds or the policy gives up; resolves with its result.
 * @throws {RetryError} when the policy gives up or refuses an attempt.
 * Rejects with `signal.reason` when the caller aborts.
 */
export function retry<T>(fn: (context: AttemptContext) => T | PromiseLike<T>, options?: RetryOptions): Promise<T>;

/** `retry()` gave up. `cause` is the last attempt's error (absent when no attempt ran). */
export class RetryError extends Error {
  readonly name: 'RetryError';
  readonly reason: GiveUpReason;
  /** Attempts that ran. */
  readonly attempts: number;
  /** The decision after the last failed attempt (a decision to retry when the caller's deadline or a refusal ended the loop); `null` when no attempt failed. */
  readonly decision: Decision | null;
  /** The refused permit (circuit open, deadline); `null` when a decision gave up. */
  readonly permit: Permit | null;
  readonly cause?: unknown;
}

/** An attempt ran past its timeout; its error type `backstop.AttemptTimeout` is transient by default. */
export class AttemptTimeoutError extends Error {
  constructor(attempt: number, timeoutMs: number);
  readonly name: 'backstop.AttemptTimeout';
  readonly attempt: number;
  readonly timeoutMs: number;
}

/**
 * Server pushback in ms from a caught error or its `cause` chain: `retryAfterMs`,
 * a `Retry-After` header on `response.headers` or `headers`, or gRPC
 * `grpc-retry-pushback-ms` metadata; `Infinity` when the server asked not to
 * retry (a negative or unparseable grpc-retry-pushback-ms); `undefined` when there is none.
 */
export function pushbackFromError(error: unknown, nowMs: number): number | undefined;

/**
 * A `Retry-After` value in ms from `nowMs`: RFC 9110's delay-seconds (digits only) or
 * HTTP-date (IMF-fixdate, RFC 850, asctime; past dates are 0); `undefined` for anything else.
 */
export function parseRetryAfter(value: string | number, nowMs: number): number | undefined;

/** A `grpc-retry-pushback-ms` value in ms; `Infinity` ("do not retry", gRPC A6) when negative or unparseable. */
export function parseGrpcPushback(value: string | number): number;

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

// ---- Redaction -------------------------------------------------------------

/** What replaces each secret. */
export declare const REDACTED: '[REDACTED]';

/** A redacted text and how many secrets each rule replaced (never the values). */
export interface RedactionReport {
  text: string;
  redactions: { rule: string; count: number }[];
}

/** The environment variable `backstop run` sets to each attempt's failure report path. */
export const FAILURE_FILE_ENV: 'BACKSTOP_FAILURE_FILE';

/**
 * The failure report `backstop run` reads: `failureFromError(error)` in the
 * canonical JSON form (snake_case keys, absent fields left out), plus
 * `pushback_ms` when the error carries a server pushback.
 */
export function failureReport(error: unknown, options?: { nowMs?: number }): {
  http_status?: number;
  grpc_code?: string;
  exit_code?: number;
  signal?: string;
  error_types?: string[];
  error_code?: string;
  message?: string;
  pushback_ms?: number;
  [field: string]: unknown;
};

/**
 * Write `error` as this attempt's failure report for `backstop run` (atomically:
 * a temporary file and a rename). `path` defaults to `$BACKSTOP_FAILURE_FILE`;
 * when neither is set nothing is written. Returns whether a report was written;
 * never throws (a write error is a warning on stderr).
 */
export function reportFailure(error: unknown, options?: { path?: string; nowMs?: number }): boolean;

/**
 * Report every uncaught exception (and unhandled rejection) with `reportFailure`,
 * leaving Node's own handling unchanged. Returns a function that uninstalls it.
 */
export function installUncaughtHandler(): () => void;

/** A finished process's output tail, for `readLog`. */
export interface LogInput {
  /** The tail as written; bytes are decoded as UTF-8 (invalid sequences replaced). Only the last 256 KiB are read. */
  text: string | Uint8Array;
  exitCode?: number | null;
  /** Terminating signal by name (`'SIGKILL'`) or number. */
  signal?: string | number | null;
  stream?: 'stderr' | 'stdout' | 'combined' | null;
}

/** What the log readers recovered from a tail. */
export interface LogReport {
  /** The failure to classify, exit code and signal included. */
  failure: ErrorFailure;
  /** The readers that contributed, the one that named the error first (`'python-traceback'`, `'botocore'`, ...). */
  readers: string[];
  /** One line for humans: what was read. */
  summary: string;
  /** Server pushback seen in the log (Retry-After, grpc-retry-pushback-ms), in milliseconds. */
  pushbackMs: number | null;
}

/**
 * Read a failure out of a process's output tail (Python tracebacks, provider
 * codes, HTTP and gRPC statuses, JVM/Node/Go errors, errno texts), identically
 * in every Backstop host. Classify `report.failure` with `policy.classify`.
 * Throws a `PolicyError` (`invalid-failure`) for a signal that is neither a name nor a number.
 */
export function readLog(input: LogInput): LogReport;
