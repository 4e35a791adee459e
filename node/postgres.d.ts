// `@backstop/policy/postgres`: retry()'s shared breaker and budget in PostgreSQL,
// on the table the backstop CLI uses. Needs the `pg` package (a peer dependency).
import type { AtomicSharedStateStore, RecordedRun, Recorder, RetryStateInput, SharedState, SharedStateInput } from './index.js';

/** The version of the CLI's schema this store understands; a newer one is refused. */
export const SCHEMA_VERSION: 3;

/** What `pg.Pool` offers that the store uses (pass your own pool to share it). */
export interface PoolLike {
  connect(): Promise<unknown>;
}

export interface PostgresStoreOptions {
  /** `postgresql://user:pass@host:port/db` or `host=... dbname=...`; the store makes and owns a pg.Pool. */
  connectionString?: string;
  /** A pg.Pool of yours instead (the store never ends it). */
  pool?: PoolLike;
  /** How long an update waits for a row another transaction holds (default 5000). */
  lockTimeoutMs?: number;
  /** For the store's own pool (defaults 10000 and 10). */
  connectionTimeoutMillis?: number;
  max?: number;
}

/**
 * The breaker and budget of each dependency in `backstop.shared_state`, keyed
 * by the dependency name (the CLI's `--step`). Every update is one transaction
 * holding the row's lock. Creates the CLI's schema in an empty database; refuses
 * a newer or foreign one.
 */
export class PostgresStore implements AtomicSharedStateStore {
  constructor(options: PostgresStoreOptions);
  update<R>(key: string, compute: (current: SharedState | undefined) => [SharedStateInput, R]): Promise<R>;
  /** The stored state (undefined when none), unlocked. */
  get(key: string): Promise<SharedState | undefined>;
  /** Replace a state (e.g. to reset a breaker by hand). */
  set(key: string, state: SharedStateInput): Promise<void>;
  /** Write one recorded retry() call into the CLI's runs, attempts and run_pipelines tables (see PostgresRecorder). */
  recordRun(run: RecordedRun, options?: { pipeline?: string }): Promise<void>;
  /** Ends the pool the store made. */
  end(): Promise<void>;
}

export interface PostgresRecorderOptions extends PostgresStoreOptions {
  /** Share this store's pool instead of making one. */
  store?: PostgresStore;
  /** Labels every recorded run (the CLI's `--pipeline`). */
  pipeline?: string;
}

/**
 * `retry({ recorder })`: writes each call, once it has ended, into the CLI's
 * tables, so `backstop stats --state postgresql://...` counts it.
 */
export class PostgresRecorder implements Recorder {
  constructor(options: PostgresRecorderOptions);
  record(run: RecordedRun): Promise<void>;
  /** Ends the pool, when the recorder made it. */
  end(): Promise<void>;
}

/** A retry state exactly as the CLI stores it (compact snake_case JSON). */
export function encodeRetryState(state: RetryStateInput): string;

/** A store failure; never carries the connection string's password. */
export class StateStoreError extends Error {
  readonly code: 'unavailable' | 'locked' | 'schema' | 'invalid-state' | 'failed';
}

/** A state exactly as the CLI stores it (compact snake_case JSON). */
export function encodeSharedState(state: SharedStateInput): string;
/** Inverse of encodeSharedState; unknown fields are refused. */
export function decodeSharedState(text: string): SharedState;
/** The CLI's rule for a step name: not blank, at most 256 bytes, no control characters. */
export function checkKey(key: string): string;
