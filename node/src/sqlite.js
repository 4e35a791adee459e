// `@backstop/policy/sqlite`: retry({ recorder }) into the backstop CLI's
// SQLite state file (`backstop run --state FILE`, `backstop stats --state
// FILE`), with the `better-sqlite3` package (an optional peer dependency: Node
// 20 has no built-in SQLite). The main entry point never imports this file, so
// `better-sqlite3` is needed only by those who use it.
import { linkSync, mkdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';

import { encodeRetryState } from './record-rows.js';

let Database;
try {
  Database = (await import('better-sqlite3')).default;
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND') {
    throw new Error("@backstop/policy/sqlite needs the 'better-sqlite3' package: npm install better-sqlite3");
  }
  throw error;
}

/** The CLI's SQLite schema version (PRAGMA user_version) this recorder writes; another is refused. */
export const SCHEMA_VERSION = 6;

/** The CLI's migrations 1 to 6 in order, byte for byte (a test compares it with tests/sqlite/schema-v6.sql). */
const SCHEMA_V6 = readFileSync(new URL('./sqlite-schema-v6.sql', import.meta.url), 'utf8');

// The run's row: a new run id + step is round 1; one given again starts its
// next round, as `backstop run` does for a run that ended, unless a live
// `backstop run` holds its lease (then no row comes back and nothing is written).
const UPSERT_RUN = `INSERT INTO runs (run_id, step, round, status, retry_state, outcome, exit_status,
                  created_at_ms, updated_at_ms, finished_at_ms)
VALUES (?, ?, 1, ?, ?, ?, NULL, ?, ?, ?)
ON CONFLICT (run_id, step) DO UPDATE SET
    round = runs.round + 1, status = excluded.status, retry_state = excluded.retry_state,
    outcome = excluded.outcome, exit_status = NULL, updated_at_ms = excluded.updated_at_ms,
    finished_at_ms = excluded.finished_at_ms, lease_owner = NULL, lease_expires_at_ms = NULL
WHERE runs.lease_owner IS NULL OR runs.lease_expires_at_ms IS NULL
   OR runs.lease_expires_at_ms <= excluded.updated_at_ms
RETURNING round`;
const INSERT_ATTEMPT = `INSERT INTO attempts (run_id, step, round, attempt, host, started_at_ms, ended_at_ms,
                      delay_before_ms, timeout_ms, timed_out, class, rule, decision,
                      give_up_reason, delay_after_ms, explanation)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const LABEL_RUN = `INSERT INTO run_pipelines (run_id, step, pipeline) VALUES (?, ?, ?)
ON CONFLICT (run_id, step) DO UPDATE SET pipeline = excluded.pipeline`;

/** An integer column's value (bound as an SQLite INTEGER, never a REAL), or null. */
const int = (v) => (v === null || v === undefined ? null : BigInt(Math.trunc(v)));
const text = (v) => (typeof v === 'string' && v.trim() !== '' ? v : null);

/**
 * A `retry()` recorder (option `recorder`) writing each call, once it has
 * ended, into the CLI's runs, attempts and run_pipelines tables in one
 * transaction, so `backstop stats --state FILE` counts library calls.
 *
 * A missing file is created with the CLI's schema (built under a temporary
 * name and linked into place, as the CLI does, so no reader sees a half-made
 * one); an existing one must hold schema version 6. Writes are synchronous, as
 * better-sqlite3's are: a file another writer holds blocks the event loop up
 * to `busyTimeoutMs`. The file is opened on the
 * first call, so a store problem is one of `record()`'s errors, which
 * `retry()` turns into a warning and never into the call's error.
 */
export class SqliteRecorder {
  #path;
  #pipeline;
  #busyTimeoutMs;
  #db = null;

  /** @param {{ path: string, pipeline?: string, busyTimeoutMs?: number }} options */
  constructor(options = {}) {
    const { path, pipeline, busyTimeoutMs = 5000, ...rest } = options;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) throw new TypeError(`unknown SqliteRecorder option \`${unknown[0]}\`: expected path, pipeline, busyTimeoutMs`);
    if (typeof path !== 'string' || path === '') throw new TypeError('SqliteRecorder needs `path`, the state file (`backstop stats --state FILE`)');
    if (pipeline !== undefined && (typeof pipeline !== 'string' || pipeline.trim() === '')) throw new TypeError('`pipeline` must be a non-blank string');
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs <= 0) throw new TypeError('`busyTimeoutMs` must be a positive integer');
    this.#path = path;
    this.#pipeline = pipeline;
    this.#busyTimeoutMs = busyTimeoutMs;
  }

  /** Write one run and its attempts (called by retry()); throws on a store problem. */
  record(run) {
    const what = `recording run ${JSON.stringify(run?.runId)} of ${JSON.stringify(run?.step)} in ${this.#path}`;
    try {
      const db = this.#open();
      const write = db.transaction(() => {
        const row = db.prepare(UPSERT_RUN).get(run.runId, run.step, run.status, encodeRetryState(run.retryState), run.outcome ?? null,
          int(run.startedAtMs), int(run.endedAtMs), run.status === 'running' ? null : int(run.endedAtMs));
        if (row === undefined) throw new Error('a running `backstop run` holds it');
        const insert = db.prepare(INSERT_ATTEMPT);
        for (const a of run.attempts) {
          insert.run(run.runId, run.step, int(row.round), int(a.attempt), run.host || 'unknown', int(a.startedAtMs), int(a.endedAtMs),
            int(a.delayBeforeMs), int(a.timeoutMs), a.timedOut ? 1n : 0n, text(a.class), text(a.rule), a.decision,
            text(a.giveUpReason), int(a.delayAfterMs), text(a.explanation));
        }
        if (this.#pipeline !== undefined) db.prepare(LABEL_RUN).run(run.runId, run.step, this.#pipeline);
      });
      write.immediate();
    } catch (error) {
      if (error?.code?.startsWith?.('SQLITE_')) this.close();
      throw new Error(`backstop: ${what}: ${error?.message ?? error}`, { cause: error });
    }
  }

  /** Close the file (the next record() opens it again). */
  close() {
    if (this.#db !== null) {
      const db = this.#db;
      this.#db = null;
      db.close();
    }
  }

  #open() {
    if (this.#db !== null) return this.#db;
    const path = this.#path;
    let size;
    try {
      size = statSync(path).size;
    } catch (error) {
      if (error?.code !== 'ENOENT') throw error;
      create(path, this.#busyTimeoutMs);
      size = statSync(path).size;
    }
    if (size === 0) throw new Error(`${path} is an empty file, not a Backstop state database`);
    const db = new Database(path, { fileMustExist: true, timeout: this.#busyTimeoutMs });
    try {
      const version = db.pragma('user_version', { simple: true });
      if (version !== SCHEMA_VERSION) {
        const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get().n;
        if (version === 0 && tables > 0) throw new Error(`${path} is not a Backstop state database`);
        if (version > SCHEMA_VERSION) throw new Error(`${path} holds Backstop schema version ${version}, newer than ${SCHEMA_VERSION}; upgrade @backstop/policy`);
        throw new Error(`${path} holds Backstop schema version ${version}; open it once with the backstop CLI (\`backstop stats --state ${path}\`) to migrate it to ${SCHEMA_VERSION}`);
      }
      db.pragma('synchronous = NORMAL');
    } catch (error) {
      db.close();
      throw error;
    }
    this.#db = db;
    return db;
  }
}

/** Build a complete database under a temporary name in the same directory and link it into place; if another process won the race, use theirs. */
function create(path, busyTimeoutMs) {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${threadId}.tmp`);
  try {
    const db = new Database(tmp, { timeout: busyTimeoutMs });
    try {
      db.pragma('journal_mode = WAL');
      db.exec(`BEGIN;\n${SCHEMA_V6}\nPRAGMA user_version = ${SCHEMA_VERSION};\nCOMMIT;`);
    } finally {
      db.close();
    }
    try {
      linkSync(tmp, path);
    } catch (error) {
      if (error?.code !== 'EEXIST') throw error;
    }
  } finally {
    for (const leftover of [tmp, `${tmp}-wal`, `${tmp}-shm`, `${tmp}-journal`]) {
      try {
        unlinkSync(leftover);
      } catch {
        // not there
      }
    }
  }
}
