// `@backstop/policy/postgres`: the shared circuit breaker and retry budget in
// PostgreSQL (the `pg` package, an optional peer dependency), on the table
// `backstop run --state postgresql://...` uses: backstop.shared_state, one row
// per dependency, keyed by the CLI's --step. The main entry point never
// imports this file, so `pg` is needed only by those who use it.
import { readFileSync } from 'node:fs';

import { fromWitShared, toWitShared } from './planner.js';
import { encodeRetryState } from './record-rows.js';

export { encodeRetryState };

let pg;
try {
  pg = (await import('pg')).default;
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND') {
    throw new Error("@backstop/policy/postgres needs the 'pg' package: npm install pg");
  }
  throw error;
}

/** The version of the CLI's schema this store understands (PostgreSQL's first is 3). */
export const SCHEMA_VERSION = 3;
/** The CLI's transaction-scoped advisory lock for creating the schema ("backstop"). */
const MIGRATION_LOCK = BigInt('0x6261636b73746f70').toString(); // "backstop" in ASCII, beyond 2^53
const MAX_KEY_BYTES = 256;

const SELECT = 'SELECT state FROM backstop.shared_state WHERE step = $1 FOR UPDATE';
// A row lock needs a row: two workers creating a step's first state must not
// both read "none" and overwrite each other (as the CLI does).
const INSERT_FRESH = 'INSERT INTO backstop.shared_state (step, state, updated_at_ms) VALUES ($1, $2, 0) ON CONFLICT (step) DO NOTHING';
const SAVE = 'UPDATE backstop.shared_state SET state = $1, updated_at_ms = (extract(epoch FROM clock_timestamp()) * 1000)::bigint WHERE step = $2';
const INSPECT = `SELECT (SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'backstop')::int AS tables,
  to_regclass('backstop.schema_version')::text AS version_table, to_regclass('backstop.shared_state')::text AS shared_table`;

/** The CLI's version-3 DDL, byte for byte (a test compares it). */
const SCHEMA_V3 = readFileSync(new URL('./postgres-schema-v3.sql', import.meta.url), 'utf8');
const CREATE = `CREATE SCHEMA IF NOT EXISTS backstop;\nSET LOCAL search_path TO backstop;\n${SCHEMA_V3}\nCREATE TABLE schema_version (version BIGINT NOT NULL);\nINSERT INTO schema_version VALUES (${SCHEMA_VERSION});\n`;

/** The CLI's run_pipelines table, additive on PostgreSQL (no new version), created as the CLI does on open. */
const RUN_PIPELINES = `CREATE TABLE IF NOT EXISTS backstop.run_pipelines (
    run_id   TEXT NOT NULL,
    step     TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    PRIMARY KEY (run_id, step)
)`;
// A new run id + step is round 1; one given again starts its next round, as
// `backstop run` does for a run that ended, unless a live `backstop run` holds
// its lease (then no row comes back and nothing is written).
const UPSERT_RUN = `INSERT INTO backstop.runs (run_id, step, round, status, retry_state, outcome, exit_status,
                  created_at_ms, updated_at_ms, finished_at_ms)
VALUES ($1, $2, 1, $3, $4, $5, NULL, $6, $7, $8)
ON CONFLICT (run_id, step) DO UPDATE SET
    round = runs.round + 1, status = excluded.status, retry_state = excluded.retry_state,
    outcome = excluded.outcome, exit_status = NULL, updated_at_ms = excluded.updated_at_ms,
    finished_at_ms = excluded.finished_at_ms, lease_owner = NULL, lease_expires_at_ms = NULL
WHERE runs.lease_owner IS NULL OR runs.lease_expires_at_ms IS NULL
   OR runs.lease_expires_at_ms <= excluded.updated_at_ms
RETURNING round::text AS round`;
const INSERT_ATTEMPT = `INSERT INTO backstop.attempts (run_id, step, round, attempt, host, started_at_ms, ended_at_ms,
                      delay_before_ms, timeout_ms, timed_out, class, rule, decision,
                      give_up_reason, delay_after_ms, explanation)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`;
const LABEL_RUN = `INSERT INTO backstop.run_pipelines (run_id, step, pipeline) VALUES ($1, $2, $3)
ON CONFLICT (run_id, step) DO UPDATE SET pipeline = excluded.pipeline`;


/**
 * The shared state could not be read or written. `code`: 'unavailable' (the
 * database is down or dropped the connection), 'locked' (the row stayed locked
 * past the lock timeout), 'schema' (a foreign or newer schema), 'invalid-state'
 * (a stored state is not valid) or 'failed'. Never carries the password.
 */
export class StateStoreError extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'StateStoreError';
    this.code = code;
  }
}

const BREAKER_KEYS = {
  circuit: 'circuit',
  consecutive_failures: 'consecutiveFailures',
  recent_outcomes: 'recentOutcomes',
  recent_count: 'recentCount',
  opened_at_ms: 'openedAtMs',
  probes_started: 'probesStarted',
  probes_succeeded: 'probesSucceeded',
};

/** A shared state exactly as the CLI stores it (serde_json's compact, snake_case form). */
export function encodeSharedState(shared) {
  const s = fromWitShared(toWitShared(shared ?? {}));
  const b = s.breaker;
  return JSON.stringify({
    breaker: {
      circuit: b.circuit,
      consecutive_failures: b.consecutiveFailures,
      recent_outcomes: b.recentOutcomes,
      recent_count: b.recentCount,
      opened_at_ms: b.openedAtMs,
      probes_started: b.probesStarted,
      probes_succeeded: b.probesSucceeded,
    },
    budget: { spent_milli: s.budget.spentMilli },
  });
}

function plainObject(value, path) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TypeError(`${path} must be a JSON object`);
  return value;
}

/** Inverse of encodeSharedState: absent fields are zero, unknown ones refused (as the CLI does). */
export function decodeSharedState(text) {
  const top = plainObject(JSON.parse(text), 'the shared state');
  const out = {};
  for (const [key, value] of Object.entries(top)) {
    if (key === 'breaker') {
      const breaker = {};
      for (const [k, v] of Object.entries(plainObject(value, 'breaker'))) {
        if (!(k in BREAKER_KEYS)) throw new TypeError(`unknown breaker field \`${k}\`; expected one of ${Object.keys(BREAKER_KEYS).join(', ')}`);
        breaker[BREAKER_KEYS[k]] = v;
      }
      out.breaker = breaker;
    } else if (key === 'budget') {
      const budget = {};
      for (const [k, v] of Object.entries(plainObject(value, 'budget'))) {
        if (k !== 'spent_milli') throw new TypeError(`unknown budget field \`${k}\`; expected spent_milli`);
        budget.spentMilli = v;
      }
      out.budget = budget;
    } else {
      throw new TypeError(`unknown field \`${key}\`; expected breaker, budget`);
    }
  }
  return fromWitShared(toWitShared(out));
}

const FRESH = encodeSharedState({});

/** The CLI's rule for a step name: not blank, at most 256 bytes of UTF-8, no control characters. */
export function checkKey(key) {
  if (typeof key !== 'string') throw new TypeError(`the dependency must be a string, got ${typeof key}`);
  if (key.trim() === '') throw new RangeError("the dependency name is blank; give a non-empty name (the CLI's --step)");
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) throw new RangeError(`the dependency name is ${bytes} bytes; the limit is ${MAX_KEY_BYTES} bytes`);
  const control = /\p{Cc}/u.exec(key);
  if (control) {
    const hex = control[0].codePointAt(0).toString(16).toUpperCase().padStart(4, '0');
    throw new RangeError(`the dependency name contains the control character U+${hex}; use printable characters`);
  }
  return key;
}

/**
 * A `retry()` shared-state store in PostgreSQL. `update()` is one transaction:
 * lock the row (SELECT ... FOR UPDATE), compute, write, commit, so workers on
 * any machine never lose one another's outcomes. On first use it creates the
 * CLI's schema (version 3) in a database that has none, under the CLI's
 * advisory lock, and refuses a newer version or a `backstop` schema that is
 * not Backstop's.
 */
export class PostgresStore {
  #pool;
  #owned;
  #target;
  #secrets;
  #lockTimeoutMs;
  #schema = null;
  #recordReady = false;

  /**
   * @param {{ connectionString?: string, pool?: import('pg').Pool, lockTimeoutMs?: number, connectionTimeoutMillis?: number, max?: number }} options
   */
  constructor(options = {}) {
    const { connectionString, pool, lockTimeoutMs = 5000, connectionTimeoutMillis = 10_000, max = 10 } = options;
    if ((connectionString === undefined) === (pool === undefined)) throw new TypeError('PostgresStore needs `connectionString` or `pool`, not both');
    if (!(Number.isFinite(lockTimeoutMs) && lockTimeoutMs > 0)) throw new RangeError('`lockTimeoutMs` must be a positive number');
    this.#lockTimeoutMs = Math.max(1, Math.round(lockTimeoutMs));
    if (pool !== undefined) {
      if (typeof pool?.connect !== 'function') throw new TypeError('`pool` must be a pg.Pool');
      this.#pool = pool;
      this.#owned = false;
      this.#target = 'a pg.Pool';
      this.#secrets = [];
    } else {
      if (typeof connectionString !== 'string') throw new TypeError('`connectionString` must be a string');
      this.#secrets = secretsOf(connectionString);
      this.#target = describe(connectionString);
      this.#owned = true;
      try {
        this.#pool = new pg.Pool({ connectionString, connectionTimeoutMillis, max, application_name: 'backstop-node' });
      } catch (error) {
        throw new StateStoreError(`backstop: not a valid PostgreSQL connection string (${this.#target}): ${scrub(String(error?.message ?? error), this.#secrets)}`, 'failed');
      }
      // An idle client's error (the server restarted) must not crash the process;
      // the next update connects afresh.
      this.#pool.on('error', () => {});
    }
  }

  /**
   * Apply `compute` to `key`'s state atomically; resolves to its second value.
   * An exception from `compute` rolls back and propagates unchanged.
   * @template R
   * @param {string} key
   * @param {(current: import('../index.js').SharedState) => [import('../index.js').SharedStateInput, R]} compute
   * @returns {Promise<R>}
   */
  async update(key, compute) {
    checkKey(key);
    const what = `updating the shared state of ${JSON.stringify(key)}`;
    const client = await this.#connect(what);
    let broken;
    try {
      await this.#ensureSchema(client, what);
      let computed = false;
      try {
        await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
        await client.query("SELECT set_config('lock_timeout', $1, true)", [`${this.#lockTimeoutMs}ms`]);
        let res = await client.query(SELECT, [key]);
        if (res.rows.length === 0) {
          await client.query(INSERT_FRESH, [key, FRESH]);
          res = await client.query(SELECT, [key]);
        }
        const current = this.#decode(res.rows[0].state, key);
        computed = true;
        const [next, result] = compute(current);
        computed = false;
        await client.query(SAVE, [encodeSharedState(next), key]);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((e) => {
          broken = e;
        });
        if (computed || error instanceof StateStoreError) throw error;
        if (!(error instanceof Error && isDatabaseError(error))) throw error;
        broken ??= isConnectionError(error) ? error : undefined;
        throw this.#fail(what, error);
      }
    } finally {
      client.release(broken);
    }
  }

  /** The stored state for `key` (undefined when there is none), without locking it. */
  async get(key) {
    checkKey(key);
    const what = `reading the shared state of ${JSON.stringify(key)}`;
    const client = await this.#connect(what);
    let broken;
    try {
      await this.#ensureSchema(client, what);
      const res = await client.query('SELECT state FROM backstop.shared_state WHERE step = $1', [key]);
      return res.rows.length === 0 ? undefined : this.#decode(res.rows[0].state, key);
    } catch (error) {
      if (error instanceof StateStoreError || !isDatabaseError(error)) throw error;
      broken = isConnectionError(error) ? error : undefined;
      throw this.#fail(what, error);
    } finally {
      client.release(broken);
    }
  }

  /** Replace `key`'s state (e.g. to reset a breaker by hand). */
  async set(key, shared) {
    encodeSharedState(shared); // refuse a bad state before touching the database
    await this.update(key, () => [shared, undefined]);
  }

  /**
   * Write one recorded `retry()` call (see PostgresRecorder) into the CLI's
   * runs, attempts and run_pipelines tables, in one transaction.
   * @param {import('../postgres.js').RecordedRun} run
   * @param {{ pipeline?: string }} [options]
   */
  async recordRun(run, { pipeline } = {}) {
    const what = `recording run ${JSON.stringify(run?.runId)} of ${JSON.stringify(run?.step)}`;
    const client = await this.#connect(what);
    let broken;
    try {
      await this.#ensureSchema(client, what);
      try {
        if (!this.#recordReady) {
          await client.query('BEGIN');
          await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
          await client.query(RUN_PIPELINES);
          await client.query('COMMIT');
          this.#recordReady = true;
        }
        await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
        await client.query("SELECT set_config('lock_timeout', $1, true)", [`${this.#lockTimeoutMs}ms`]);
        const ended = run.endedAtMs;
        const res = await client.query(UPSERT_RUN, [run.runId, run.step, run.status, encodeRetryState(run.retryState), run.outcome ?? null, run.startedAtMs, ended, run.status === 'running' ? null : ended]);
        if (res.rows.length === 0) throw new StateStoreError(`backstop: ${what} in PostgreSQL (${this.#target}): a running \`backstop run\` holds it`, 'locked');
        const round = res.rows[0].round;
        for (const a of run.attempts) {
          await client.query(INSERT_ATTEMPT, [run.runId, run.step, round, a.attempt, run.host || 'unknown', a.startedAtMs, a.endedAtMs, a.delayBeforeMs, a.timeoutMs, a.timedOut ? 1 : 0, a.class, a.rule, a.decision, a.giveUpReason, a.delayAfterMs, a.explanation]);
        }
        if (pipeline !== undefined) await client.query(LABEL_RUN, [run.runId, run.step, pipeline]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch((e) => {
          broken = e;
        });
        if (error instanceof StateStoreError || !isDatabaseError(error)) throw error;
        broken ??= isConnectionError(error) ? error : undefined;
        throw this.#fail(what, error);
      }
    } finally {
      client.release(broken);
    }
  }

  /** Close the pool the store made (a pool passed in is the caller's to end). */
  async end() {
    if (this.#owned) await this.#pool.end();
  }

  async #connect(what) {
    try {
      return await this.#pool.connect();
    } catch (error) {
      throw this.#fail(what, error);
    }
  }

  #decode(text, key) {
    try {
      return decodeSharedState(text);
    } catch (error) {
      throw new StateStoreError(`backstop: the shared state of ${JSON.stringify(key)} in PostgreSQL (${this.#target}) is not valid: ${error.message}`, 'invalid-state');
    }
  }

  async #ensureSchema(client, what) {
    if (this.#schema === 'ok') return;
    try {
      let found = await inspect(client);
      if (found === 'missing') {
        await client.query('BEGIN');
        try {
          await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
          // Again, under the lock: another worker or CLI may just have.
          found = await inspect(client);
          if (found === 'missing') {
            await client.query(CREATE);
            found = SCHEMA_VERSION;
          }
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          throw error;
        }
      }
      if (found === 'foreign') {
        throw new StateStoreError(`backstop: PostgreSQL (${this.#target}) has a schema "backstop" that is not Backstop's (tables but no schema_version, or no shared_state); use another database`, 'schema');
      }
      if (found > SCHEMA_VERSION) {
        throw new StateStoreError(`backstop: PostgreSQL (${this.#target}) holds Backstop schema version ${found}, newer than version ${SCHEMA_VERSION} that this @backstop/policy understands; upgrade @backstop/policy`, 'schema');
      }
      this.#schema = 'ok';
    } catch (error) {
      if (error instanceof StateStoreError) throw error;
      throw this.#fail(`${what}: checking the schema`, error);
    }
  }

  #fail(what, error) {
    const message = scrub(String(error?.message ?? error), this.#secrets);
    if (error?.code === '55P03') {
      return new StateStoreError(`backstop: ${what} in PostgreSQL (${this.#target}): the row stayed locked by another transaction past the lock timeout (${this.#lockTimeoutMs} ms)`, 'locked');
    }
    if (isConnectionError(error)) {
      return new StateStoreError(`backstop: ${what} in PostgreSQL (${this.#target}): the database is unavailable: ${message}`, 'unavailable');
    }
    return new StateStoreError(`backstop: ${what} in PostgreSQL (${this.#target}) failed: ${message}`, 'failed');
  }
}

async function inspect(client) {
  const { rows } = await client.query(INSPECT);
  const { tables, version_table: versionTable, shared_table: sharedTable } = rows[0];
  if (versionTable === null) return tables > 0 ? 'foreign' : 'missing';
  const version = (await client.query('SELECT max(version)::text AS v FROM backstop.schema_version')).rows[0].v;
  if (version === null || sharedTable === null) return 'foreign';
  return Number(version);
}

/** An error from pg or the socket under it (not one of the caller's). */
function isDatabaseError(error) {
  return error instanceof pg.DatabaseError || isConnectionError(error);
}

function isConnectionError(error) {
  const code = error?.code;
  if (typeof code === 'string' && (/^(08|57P)/.test(code) || code === '53300' || /^E[A-Z]+$/.test(code))) return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error|not queryable/i.test(String(error?.message));
}

/** user@host:port/dbname, never the password. */
function describe(connectionString) {
  try {
    const url = new URL(connectionString);
    if (url.protocol === 'postgres:' || url.protocol === 'postgresql:') {
      const user = url.username ? `${decodeURIComponent(url.username)}@` : '';
      return `${user}${url.hostname || 'localhost'}${url.port ? `:${url.port}` : ''}${url.pathname}`;
    }
  } catch {
    // not a URL: key=value, or malformed
  }
  const kv = Object.fromEntries([...connectionString.matchAll(/(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/g)].map((m) => [m[1], m[2]]));
  if (kv.host || kv.dbname || kv.user) return `${kv.user ? `${kv.user}@` : ''}${kv.host ?? 'localhost'}${kv.port ? `:${kv.port}` : ''}/${kv.dbname ?? ''}`;
  return 'an unparseable connection string';
}

function secretsOf(connectionString) {
  const secrets = [connectionString];
  let password;
  try {
    password = decodeURIComponent(new URL(connectionString).password);
  } catch {
    password = /password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/i.exec(connectionString)?.[1];
  }
  // (a shorter one would mangle every message it was scrubbed from)
  if (password && password.length >= 3) secrets.push(password);
  return secrets.sort((a, b) => b.length - a.length);
}

function scrub(message, secrets) {
  let out = message;
  for (const secret of secrets) if (secret) out = out.split(secret).join('[redacted]');
  return out.replace(/(:\/\/[^:/@\s]*:)[^@\s]*@/g, '$1[redacted]@').replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, '$1[redacted]');
}

/**
 * A `retry()` recorder (option \`recorder\`) writing each call, once it has
 * ended, into the CLI's tables, so \`backstop stats --state postgresql://...\`
 * counts library calls. Give `store` (a PostgresStore, sharing its pool) or
 * what PostgresStore takes; `pipeline` labels every run (the CLI's --pipeline).
 * Its errors are StateStoreErrors; `retry()` turns them into a warning and
 * never into the call's error.
 */
export class PostgresRecorder {
  #store;
  #owned;
  #pipeline;

  /** @param {{ store?: PostgresStore, pipeline?: string, connectionString?: string, pool?: import('pg').Pool, lockTimeoutMs?: number }} options */
  constructor(options = {}) {
    const { store, pipeline, ...rest } = options;
    if (pipeline !== undefined && (typeof pipeline !== 'string' || pipeline.trim() === '')) throw new TypeError('`pipeline` must be a non-blank string');
    if (store !== undefined) {
      if (!(store instanceof PostgresStore)) throw new TypeError('`store` must be a PostgresStore');
      if (Object.keys(rest).length > 0) throw new TypeError('PostgresRecorder needs `store` or what PostgresStore takes, not both');
      this.#store = store;
      this.#owned = false;
    } else {
      this.#store = new PostgresStore(rest);
      this.#owned = true;
    }
    this.#pipeline = pipeline;
  }

  /** Write one run and its attempts (called by retry()). */
  record(run) {
    return this.#store.recordRun(run, { pipeline: this.#pipeline });
  }

  /** End the pool, when this recorder made it. */
  async end() {
    if (this.#owned) await this.#store.end();
  }
}
