//! The tables, per backend, and their migrations. Times are milliseconds since
//! the Unix epoch. Version history:
//! 1. runs, attempts, shared_state;
//! 2. alert_state and alert_log;
//! 3. fencing: `runs.lease_epoch` (+1 at every grant of the lease) and
//!    `attempts.lease_epoch` (the grant that wrote the attempt);
//! 4. `alert_outbox`: the notifications to deliver, written in the
//!    evaluation's transaction and claimed, delivered and marked by senders;
//! 5. `run_pipelines`: the pipeline each run (run id + step) ran under, so
//!    `backstop stats` never mixes runs of different pipelines in one row;
//! 6. `alert_keys`: the alert state in keyed shards (the guest names the
//!    keys an event needs), so one event reads and writes what it concerns;
//!    `alert_state.state` keeps only a whole-document state written before,
//!    which the first evaluation splits into keys and empties.
//!
//! PostgreSQL stays at version 3: the Python, Go and Node stores share its
//! `shared_state` table and refuse a newer version, so tables that only add
//! (the outbox, the run pipelines, the alert keys) are created
//! `IF NOT EXISTS` on open without a new version. A change to an existing
//! table must bump [`PG_SCHEMA_VERSION`] and those stores.
//!
//! SQLite keeps the version in `PRAGMA user_version`; PostgreSQL in the
//! one-row table `backstop.schema_version`, with every table in the
//! `backstop` schema so it can share a database with other applications.

/// The version this backstop writes; a database with a newer one is refused.
pub const SCHEMA_VERSION: i64 = 6;

/// The version on PostgreSQL (see the module note).
pub const PG_SCHEMA_VERSION: i64 = 3;

/// SQLite, version 1.
pub(crate) const SQLITE_V1: &str = "
CREATE TABLE runs (
    run_id              TEXT NOT NULL,
    step                TEXT NOT NULL,
    -- 1, then +1 each time a run that gave up (or is forced) is started again.
    round               INTEGER NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    -- The planner's retry-state for the current round, canonical JSON.
    retry_state         TEXT NOT NULL,
    -- 'succeeded' or the give-up reason, once the round has ended.
    outcome             TEXT,
    -- What `backstop run` exited with when the round ended.
    exit_status         INTEGER,
    created_at_ms       INTEGER NOT NULL,
    updated_at_ms       INTEGER NOT NULL,
    finished_at_ms      INTEGER,
    -- The invocation running it (host:pid:nonce:machine) and until when; NULL when free.
    lease_owner         TEXT,
    lease_expires_at_ms INTEGER,
    PRIMARY KEY (run_id, step)
);
CREATE TABLE attempts (
    run_id          TEXT NOT NULL,
    step            TEXT NOT NULL,
    round           INTEGER NOT NULL,
    -- 1-based within the round, as the planner counts.
    attempt         INTEGER NOT NULL,
    host            TEXT NOT NULL,
    -- Process group of the command while it runs (= the child's pid), and the
    -- child's start time in clock ticks (Linux), to find orphans on takeover.
    pid             INTEGER,
    pid_start       INTEGER,
    started_at_ms   INTEGER NOT NULL,
    ended_at_ms     INTEGER,
    -- The wait before this attempt (0 for a round's first) and its timeout.
    delay_before_ms INTEGER NOT NULL,
    timeout_ms      INTEGER,
    exit_code       INTEGER,
    signal          TEXT,
    timed_out       INTEGER NOT NULL DEFAULT 0,
    class           TEXT,
    rule            TEXT,
    -- 'succeeded', 'retry', 'give-up', 'interrupted' (backstop was stopped by a
    -- signal), 'abandoned' (its backstop died; taken over), NULL while running.
    decision        TEXT,
    give_up_reason  TEXT,
    delay_after_ms  INTEGER,
    explanation     TEXT,
    PRIMARY KEY (run_id, step, round, attempt),
    FOREIGN KEY (run_id, step) REFERENCES runs (run_id, step)
);
CREATE INDEX attempts_by_step ON attempts (step);
-- Circuit breaker and retry budget, shared by every run of a step.
CREATE TABLE shared_state (
    step          TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
";

/// SQLite, version 2: the alert evaluator's state and what it sent.
pub(crate) const SQLITE_V2: &str = "
-- The escalation evaluator's state (opaque JSON) per alert policy key (the
-- pipeline name), and the policy that made it (so `alerts ack` can evaluate).
CREATE TABLE IF NOT EXISTS alert_state (
    policy_key    TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    policy_path   TEXT,
    policy_format TEXT,
    policy_source TEXT
);
-- One row per notification and route; delivered is NULL until attempted.
CREATE TABLE IF NOT EXISTS alert_log (
    at_ms      INTEGER NOT NULL,
    policy_key TEXT NOT NULL,
    kind       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    rule       TEXT NOT NULL,
    dedup_key  TEXT NOT NULL,
    targets    TEXT NOT NULL,
    summary    TEXT NOT NULL,
    delivered  INTEGER,
    sink       TEXT,
    error      TEXT
);
CREATE INDEX IF NOT EXISTS alert_log_by_key ON alert_log (dedup_key);
";

/// SQLite, version 3: the fencing token.
pub(crate) const SQLITE_V3: &str = "
ALTER TABLE runs ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN lease_epoch INTEGER;
";

/// SQLite, version 4: the alert outbox. The destination is the sink's index
/// in the policy stored in `alert_state` (never its URL, which may carry a
/// credential); the body is the exact line to send, so a redelivery sends the
/// same bytes with the same dedup key.
pub(crate) const SQLITE_V4: &str = "
CREATE TABLE alert_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    policy_key       TEXT NOT NULL,
    -- The alert_log row this delivers (its delivered/error mirror the outcome).
    log_id           INTEGER,
    dedup_key        TEXT NOT NULL,
    kind             TEXT NOT NULL,
    sink_index       INTEGER NOT NULL,
    sink             TEXT NOT NULL,
    body             TEXT NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    due_at_ms        INTEGER NOT NULL,
    tries            INTEGER NOT NULL DEFAULT 0,
    -- The planner's retry state for this delivery (JSON), NULL before the first try.
    retry_state      TEXT,
    claimed_by       TEXT,
    claimed_until_ms INTEGER,
    delivered_at_ms  INTEGER,
    dead_at_ms       INTEGER,
    last_error       TEXT
);
CREATE INDEX alert_outbox_pending ON alert_outbox (due_at_ms)
    WHERE delivered_at_ms IS NULL AND dead_at_ms IS NULL;
";

/// SQLite, version 5: the pipeline of each run. A table of its own (not a
/// column of `runs`) so PostgreSQL gets it without a new version, and the
/// Python, Go and Node stores, which write `runs` and know no pipeline, are
/// unaffected; their runs have no row here.
pub(crate) const SQLITE_V5: &str = "
CREATE TABLE IF NOT EXISTS run_pipelines (
    run_id   TEXT NOT NULL,
    step     TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    PRIMARY KEY (run_id, step)
);
";

/// PostgreSQL: the run pipelines (as [`SQLITE_V5`]), added to version 3.
pub(crate) const POSTGRES_RUN_PIPELINES: &str = SQLITE_V5;

/// SQLite, version 6: alert state in keyed shards, one row per policy key
/// and state key (the guest's keys: `step:["p","s"]`, `pipeline:"p"`,
/// `global`), with when each must be ticked.
pub(crate) const SQLITE_V6: &str = "
CREATE TABLE alert_keys (
    policy_key     TEXT NOT NULL,
    state_key      TEXT NOT NULL,
    state          TEXT NOT NULL,
    -- When the guest must see this shard again (a tick), NULL for never.
    next_wakeup_ms INTEGER,
    updated_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (policy_key, state_key)
);
CREATE INDEX alert_keys_due ON alert_keys (policy_key, next_wakeup_ms)
    WHERE next_wakeup_ms IS NOT NULL;
";

/// PostgreSQL: the alert keys (as [`SQLITE_V6`]), added to version 3.
pub(crate) const POSTGRES_ALERT_KEYS: &str = "
CREATE TABLE IF NOT EXISTS alert_keys (
    policy_key     TEXT NOT NULL,
    state_key      TEXT NOT NULL,
    state          TEXT NOT NULL,
    next_wakeup_ms BIGINT,
    updated_at_ms  BIGINT NOT NULL,
    PRIMARY KEY (policy_key, state_key)
);
CREATE INDEX IF NOT EXISTS alert_keys_due ON alert_keys (policy_key, next_wakeup_ms)
    WHERE next_wakeup_ms IS NOT NULL;
";

/// PostgreSQL: the alert outbox (as [`SQLITE_V4`]), added to version 3.
pub(crate) const POSTGRES_OUTBOX: &str = "
CREATE TABLE IF NOT EXISTS alert_outbox (
    id               BIGSERIAL PRIMARY KEY,
    policy_key       TEXT NOT NULL,
    log_id           BIGINT,
    dedup_key        TEXT NOT NULL,
    kind             TEXT NOT NULL,
    sink_index       BIGINT NOT NULL,
    sink             TEXT NOT NULL,
    body             TEXT NOT NULL,
    created_at_ms    BIGINT NOT NULL,
    due_at_ms        BIGINT NOT NULL,
    tries            BIGINT NOT NULL DEFAULT 0,
    retry_state      TEXT,
    claimed_by       TEXT,
    claimed_until_ms BIGINT,
    delivered_at_ms  BIGINT,
    dead_at_ms       BIGINT,
    last_error       TEXT
);
CREATE INDEX IF NOT EXISTS alert_outbox_pending ON alert_outbox (due_at_ms)
    WHERE delivered_at_ms IS NULL AND dead_at_ms IS NULL;
";

/// PostgreSQL, version 3 (the first there), in the `backstop` schema.
pub(crate) const POSTGRES_V3: &str = "
CREATE TABLE runs (
    run_id              TEXT NOT NULL,
    step                TEXT NOT NULL,
    round               BIGINT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    retry_state         TEXT NOT NULL,
    outcome             TEXT,
    exit_status         BIGINT,
    created_at_ms       BIGINT NOT NULL,
    updated_at_ms       BIGINT NOT NULL,
    finished_at_ms      BIGINT,
    lease_owner         TEXT,
    lease_expires_at_ms BIGINT,
    lease_epoch         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, step)
);
CREATE TABLE attempts (
    run_id          TEXT NOT NULL,
    step            TEXT NOT NULL,
    round           BIGINT NOT NULL,
    attempt         BIGINT NOT NULL,
    host            TEXT NOT NULL,
    pid             BIGINT,
    pid_start       BIGINT,
    started_at_ms   BIGINT NOT NULL,
    ended_at_ms     BIGINT,
    delay_before_ms BIGINT NOT NULL,
    timeout_ms      BIGINT,
    exit_code       BIGINT,
    signal          TEXT,
    timed_out       BIGINT NOT NULL DEFAULT 0,
    class           TEXT,
    rule            TEXT,
    decision        TEXT,
    give_up_reason  TEXT,
    delay_after_ms  BIGINT,
    explanation     TEXT,
    lease_epoch     BIGINT,
    PRIMARY KEY (run_id, step, round, attempt),
    FOREIGN KEY (run_id, step) REFERENCES runs (run_id, step)
);
CREATE INDEX attempts_by_step ON attempts (step);
CREATE TABLE shared_state (
    step          TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE TABLE alert_state (
    policy_key    TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    policy_path   TEXT,
    policy_format TEXT,
    policy_source TEXT
);
CREATE TABLE alert_log (
    id         BIGSERIAL PRIMARY KEY,
    at_ms      BIGINT NOT NULL,
    policy_key TEXT NOT NULL,
    kind       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    rule       TEXT NOT NULL,
    dedup_key  TEXT NOT NULL,
    targets    TEXT NOT NULL,
    summary    TEXT NOT NULL,
    delivered  BIGINT,
    sink       TEXT,
    error      TEXT
);
CREATE INDEX alert_log_by_key ON alert_log (dedup_key);
";

/// The PostgreSQL schema (namespace) holding the tables.
pub(crate) const PG_SCHEMA: &str = "backstop";

#[cfg(test)]
mod tests {
    /// The Python, Go and Node stores create PostgreSQL's tables from a copy
    /// of this DDL (tests/postgres/schema-v3.sql): it must not drift.
    #[test]
    fn the_shared_postgres_ddl_is_the_one_other_hosts_ship() {
        let shipped = include_str!("../../../tests/postgres/schema-v3.sql");
        assert_eq!(super::POSTGRES_V3.trim(), shipped.trim());
    }

    /// The Python, Go and Node recorders create a new SQLite state file from a
    /// copy of every migration in order (tests/sqlite/schema-v6.sql), as
    /// `migrate_from(0)` does: it must not drift, and a new version must
    /// update it (and those recorders' accepted version).
    #[test]
    fn the_shared_sqlite_ddl_is_every_migration_in_order() {
        let shipped = include_str!("../../../tests/sqlite/schema-v6.sql");
        let all = [
            super::SQLITE_V1,
            super::SQLITE_V2,
            super::SQLITE_V3,
            super::SQLITE_V4,
            super::SQLITE_V5,
            super::SQLITE_V6,
        ]
        .concat();
        assert_eq!(
            super::SCHEMA_VERSION,
            6,
            "update tests/sqlite/schema-v6.sql"
        );
        assert_eq!(all.trim(), shipped.trim());
    }
}
