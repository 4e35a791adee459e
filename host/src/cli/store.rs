//! The run store: one SQLite file (WAL mode) holding every run, every attempt,
//! the planner's state per run and the breaker/budget state per step. Writes
//! that depend on the lease happen in `BEGIN IMMEDIATE` transactions that first
//! check this invocation still holds it, so a run taken over by another
//! invocation is never recorded twice.
//!
//! The store never deletes, truncates or recreates an existing file: a damaged
//! or foreign database is reported and left as it is.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use backstop::{Decision, GiveUpReason, Permit, RetryState, SharedState};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::fmt::duration;

pub const SCHEMA_VERSION: i64 = 2;

/// The schema (documented in the README). Times are milliseconds since the Unix epoch.
const SCHEMA: &str = "
CREATE TABLE runs (
    run_id              TEXT NOT NULL,
    step                TEXT NOT NULL,
    -- 1, then +1 each time a run that gave up is started again.
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
    -- The invocation running it (host:pid:nonce) and until when; NULL when free.
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

/// Schema version 2: the alert evaluator's state and what it sent.
const ALERT_SCHEMA: &str = "
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

/// A state database problem, naming the file. `backstop` exits 74 on it.
#[derive(Debug)]
pub struct StoreError {
    pub path: PathBuf,
    pub kind: StoreErrorKind,
}

#[derive(Debug)]
pub enum StoreErrorKind {
    Locked(Duration),
    Corrupt(String),
    Foreign,
    TooNew(i64),
    Other(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.kind {
            StoreErrorKind::Locked(waited) => write!(
                f,
                "state database {path} is locked by another process (waited {}); nothing was changed, try again",
                duration(waited.as_millis() as u64)
            ),
            StoreErrorKind::Corrupt(detail) => write!(
                f,
                "state database {path} is corrupted or not a SQLite database ({detail}); it was left untouched: inspect it, or move it aside to start a new one"
            ),
            StoreErrorKind::Foreign => write!(
                f,
                "{path} is a SQLite database but not a backstop state database; it was left untouched"
            ),
            StoreErrorKind::TooNew(version) => write!(
                f,
                "state database {path} has schema version {version}, newer than this backstop's {SCHEMA_VERSION}; upgrade backstop"
            ),
            StoreErrorKind::Other(detail) => write!(f, "state database {path}: {detail}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Another invocation took the run over (this one stalled past its lease).
#[derive(Debug)]
pub struct LeaseLost;

impl fmt::Display for LeaseLost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("lost the lease on this run: another backstop took it over")
    }
}

impl std::error::Error for LeaseLost {}

/// A failure inside a transaction: SQLite's (mapped to [`StoreError`]) or another.
enum Fail {
    Sql(rusqlite::Error),
    Other(anyhow::Error),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Fail {
        Fail::Sql(e)
    }
}

impl From<anyhow::Error> for Fail {
    fn from(e: anyhow::Error) -> Fail {
        Fail::Other(e)
    }
}

impl From<serde_json::Error> for Fail {
    fn from(e: serde_json::Error) -> Fail {
        Fail::Other(anyhow::Error::new(e).context("a stored state is not valid JSON"))
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RunKey<'a> {
    pub run_id: &'a str,
    pub step: &'a str,
}

/// What `acquire` found.
#[derive(Debug)]
pub enum Acquired {
    /// The run id + step succeeded before; nothing to do.
    AlreadySucceeded {
        attempt: Option<u32>,
        finished_at_ms: Option<u64>,
    },
    /// Another invocation holds a live lease.
    Held {
        owner: String,
        expires_at_ms: u64,
    },
    Granted(Grant),
}

#[derive(Debug)]
pub struct Grant {
    pub round: u32,
    /// Taken over from an invocation whose lease expired.
    pub resumed: bool,
    /// A run that gave up before, started again with a fresh retry state.
    pub restarted: bool,
    /// Attempts the previous holder left running (now marked `abandoned`).
    pub abandoned: Vec<Abandoned>,
    pub state: RetryState,
}

#[derive(Debug, Clone)]
pub struct Abandoned {
    pub attempt: u32,
    pub host: String,
    pub pid: Option<i32>,
    pub pid_start: Option<u64>,
}

/// How a finished attempt ended, for its row.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub timed_out: bool,
}

/// Per-step numbers for `backstop stats`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepStats {
    pub step: String,
    pub runs: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub running: u64,
    pub attempts: u64,
    pub retries: u64,
    /// Times from a run's first failed attempt to the success that followed, ms.
    pub recoveries_ms: Vec<u64>,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    busy: Duration,
}

impl Store {
    /// Open (creating it and its directory if missing) and migrate.
    pub fn open(path: &Path, busy: Duration) -> anyhow::Result<Store> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| StoreError {
                path: path.to_path_buf(),
                kind: StoreErrorKind::Other(format!("cannot create its directory: {e}")),
            })?;
        }
        let store = Store::connect(path, busy, OpenFlags::default())?;
        store.check()?;
        store.migrate()?;
        Ok(store)
    }

    /// Open an existing database without changing it; `None` when there is none.
    pub fn open_existing(path: &Path, busy: Duration) -> anyhow::Result<Option<Store>> {
        if !path.exists() {
            return Ok(None);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let store = Store::connect(path, busy, flags)?;
        store.check()?;
        Ok(Some(store))
    }

    /// A second connection to the same file (the lease renewer's).
    pub fn reopen(&self) -> anyhow::Result<Store> {
        Store::connect(&self.path, self.busy, OpenFlags::default())
    }

    fn connect(path: &Path, busy: Duration, flags: OpenFlags) -> anyhow::Result<Store> {
        let error = |e| StoreError::from_sqlite(path, busy, e);
        let conn = Connection::open_with_flags(path, flags).map_err(error)?;
        conn.busy_timeout(busy).map_err(error)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            busy,
        })
    }

    fn error(&self, e: rusqlite::Error) -> anyhow::Error {
        StoreError::from_sqlite(&self.path, self.busy, e).into()
    }

    fn fail(&self, kind: StoreErrorKind) -> anyhow::Error {
        StoreError {
            path: self.path.clone(),
            kind,
        }
        .into()
    }

    /// Integrity and ownership checks, before anything is written.
    fn check(&self) -> anyhow::Result<()> {
        let check: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| self.error(e))?;
        if check != "ok" {
            // SQLite lists every damaged page; the first two say enough.
            let problems: Vec<&str> = check
                .lines()
                .filter(|l| !l.starts_with("***") && !l.trim().is_empty())
                .collect();
            let mut detail = problems[..problems.len().min(2)].join("; ");
            if problems.len() > 2 {
                detail.push_str(&format!("; {} more", problems.len() - 2));
            }
            return Err(self.fail(StoreErrorKind::Corrupt(format!("quick_check: {detail}"))));
        }
        let version = self.schema_version()?;
        if version > SCHEMA_VERSION {
            return Err(self.fail(StoreErrorKind::TooNew(version)));
        }
        if version == 0 {
            let tables: i64 = self
                .conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| self.error(e))?;
            if tables > 0 {
                return Err(self.fail(StoreErrorKind::Foreign));
            }
        }
        Ok(())
    }

    fn schema_version(&self) -> anyhow::Result<i64> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.error(e))
    }

    fn migrate(&self) -> anyhow::Result<()> {
        let setup = || -> rusqlite::Result<()> {
            // WAL: readers (stats) never wait for a running step's writes.
            let _mode: String = self
                .conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            self.conn.pragma_update(None, "synchronous", "NORMAL")?;
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            let version: i64 = self
                .conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if version == 0 {
                self.conn.execute_batch(SCHEMA)?;
            }
            if version < 2 {
                self.conn.execute_batch(ALERT_SCHEMA)?;
                self.conn
                    .pragma_update(None, "user_version", SCHEMA_VERSION)?;
            }
            self.conn.execute_batch("COMMIT")
        };
        setup().map_err(|e| {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.error(e)
        })
    }

    fn transaction<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, Fail>,
    ) -> anyhow::Result<T> {
        let (path, busy) = (self.path.clone(), self.busy);
        let run = || -> Result<T, Fail> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        };
        run().map_err(|fail| match fail {
            Fail::Sql(e) => StoreError::from_sqlite(&path, busy, e).into(),
            Fail::Other(e) => e,
        })
    }

    /// Take the run's lease, or say why not.
    pub fn acquire(
        &mut self,
        key: RunKey<'_>,
        owner: &str,
        now_ms: u64,
        lease_ms: u64,
        seed: u64,
    ) -> anyhow::Result<Acquired> {
        let expires = to_i64(now_ms.saturating_add(lease_ms));
        let now = to_i64(now_ms);
        self.transaction(|tx| {
            let row = tx
                .query_row(
                    "SELECT status, round, lease_owner, lease_expires_at_ms, retry_state, finished_at_ms
                     FROM runs WHERE run_id = ?1 AND step = ?2",
                    params![key.run_id, key.step],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, u32>(1)?,
                            r.get::<_, Option<String>>(2)?,
                            r.get::<_, Option<i64>>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, Option<i64>>(5)?,
                        ))
                    },
                )
                .optional()?;
            let fresh = RetryState {
                seed,
                ..RetryState::default()
            };
            let Some((status, round, lease_owner, lease_expires, state, finished)) = row else {
                tx.execute(
                    "INSERT INTO runs (run_id, step, round, status, retry_state, created_at_ms,
                                       updated_at_ms, lease_owner, lease_expires_at_ms)
                     VALUES (?1, ?2, 1, 'running', ?3, ?4, ?4, ?5, ?6)",
                    params![key.run_id, key.step, serde_json::to_string(&fresh)?, now, owner, expires],
                )?;
                return Ok(Acquired::Granted(Grant {
                    round: 1,
                    resumed: false,
                    restarted: false,
                    abandoned: Vec::new(),
                    state: fresh,
                }));
            };
            match status.as_str() {
                "succeeded" => {
                    let attempt = tx
                        .query_row(
                            "SELECT attempt FROM attempts WHERE run_id = ?1 AND step = ?2
                             AND round = ?3 AND decision = 'succeeded'",
                            params![key.run_id, key.step, round],
                            |r| r.get(0),
                        )
                        .optional()?;
                    Ok(Acquired::AlreadySucceeded {
                        attempt,
                        finished_at_ms: finished.map(|t| t.max(0) as u64),
                    })
                }
                "running" => {
                    if let (Some(holder), Some(until)) = (lease_owner, lease_expires)
                        && until > now
                    {
                        return Ok(Acquired::Held {
                            owner: holder,
                            expires_at_ms: until.max(0) as u64,
                        });
                    }
                    let abandoned = {
                        let mut stmt = tx.prepare(
                            "SELECT attempt, host, pid, pid_start FROM attempts
                             WHERE run_id = ?1 AND step = ?2 AND round = ?3 AND decision IS NULL",
                        )?;
                        let rows = stmt.query_map(params![key.run_id, key.step, round], |r| {
                            Ok(Abandoned {
                                attempt: r.get(0)?,
                                host: r.get(1)?,
                                pid: r.get(2)?,
                                pid_start: r.get::<_, Option<i64>>(3)?.map(|t| t.max(0) as u64),
                            })
                        })?;
                        rows.collect::<rusqlite::Result<Vec<_>>>()?
                    };
                    tx.execute(
                        "UPDATE attempts SET decision = 'abandoned',
                             explanation = 'its backstop stopped without recording an outcome; the run was taken over'
                         WHERE run_id = ?1 AND step = ?2 AND round = ?3 AND decision IS NULL",
                        params![key.run_id, key.step, round],
                    )?;
                    tx.execute(
                        "UPDATE runs SET lease_owner = ?3, lease_expires_at_ms = ?4, updated_at_ms = ?5
                         WHERE run_id = ?1 AND step = ?2",
                        params![key.run_id, key.step, owner, expires, now],
                    )?;
                    Ok(Acquired::Granted(Grant {
                        round,
                        resumed: true,
                        restarted: false,
                        abandoned,
                        state: serde_json::from_str(&state)?,
                    }))
                }
                _ => {
                    // It gave up before: a new round with a fresh retry state.
                    let round = round + 1;
                    tx.execute(
                        "UPDATE runs SET round = ?3, status = 'running', retry_state = ?4,
                             outcome = NULL, exit_status = NULL, finished_at_ms = NULL,
                             lease_owner = ?5, lease_expires_at_ms = ?6, updated_at_ms = ?7
                         WHERE run_id = ?1 AND step = ?2",
                        params![
                            key.run_id,
                            key.step,
                            round,
                            serde_json::to_string(&fresh)?,
                            owner,
                            expires,
                            now
                        ],
                    )?;
                    Ok(Acquired::Granted(Grant {
                        round,
                        resumed: false,
                        restarted: true,
                        abandoned: Vec::new(),
                        state: fresh,
                    }))
                }
            }
        })
    }

    /// Extend the lease; `false` when another invocation holds it now.
    pub fn renew(
        &mut self,
        key: RunKey<'_>,
        owner: &str,
        now_ms: u64,
        lease_ms: u64,
    ) -> anyhow::Result<bool> {
        let changed = self
            .conn
            .execute(
                "UPDATE runs SET lease_expires_at_ms = ?4
                 WHERE run_id = ?1 AND step = ?2 AND lease_owner = ?3",
                params![
                    key.run_id,
                    key.step,
                    owner,
                    to_i64(now_ms.saturating_add(lease_ms))
                ],
            )
            .map_err(|e| self.error(e))?;
        Ok(changed == 1)
    }

    /// Before an attempt: ask the planner (`decide`) with the stored states,
    /// store what it returns and, when permitted, the attempt's row.
    /// `refused_exit` is the exit status recorded when the permit is refused.
    #[allow(clippy::too_many_arguments)]
    pub fn begin_attempt(
        &mut self,
        key: RunKey<'_>,
        owner: &str,
        round: u32,
        host: &str,
        now_ms: u64,
        delay_before_ms: u64,
        refused_exit: impl FnOnce(GiveUpReason) -> u8,
        decide: impl FnOnce(&RetryState, &SharedState) -> anyhow::Result<Permit>,
    ) -> anyhow::Result<Permit> {
        let now = to_i64(now_ms);
        self.transaction(|tx| {
            check_lease(tx, key, owner)?;
            let state = load_state(tx, key)?;
            let shared = load_shared(tx, key.step)?;
            let permit = decide(&state, &shared)?;
            save_shared(tx, key.step, &permit.shared, now)?;
            match permit.refused {
                Some(reason) => {
                    tx.execute(
                        "UPDATE runs SET status = 'failed', outcome = ?3, exit_status = ?4,
                             retry_state = ?5, finished_at_ms = ?6, updated_at_ms = ?6,
                             lease_owner = NULL, lease_expires_at_ms = NULL
                         WHERE run_id = ?1 AND step = ?2",
                        params![
                            key.run_id,
                            key.step,
                            reason.as_str(),
                            refused_exit(reason),
                            serde_json::to_string(&permit.state)?,
                            now
                        ],
                    )?;
                }
                None => {
                    tx.execute(
                        "INSERT INTO attempts (run_id, step, round, attempt, host, started_at_ms,
                                               delay_before_ms, timeout_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        params![
                            key.run_id,
                            key.step,
                            round,
                            permit.attempt,
                            host,
                            now,
                            to_i64(delay_before_ms),
                            permit.timeout_ms.map(to_i64)
                        ],
                    )?;
                    tx.execute(
                        "UPDATE runs SET retry_state = ?3, updated_at_ms = ?4
                         WHERE run_id = ?1 AND step = ?2",
                        params![
                            key.run_id,
                            key.step,
                            serde_json::to_string(&permit.state)?,
                            now
                        ],
                    )?;
                }
            }
            Ok(permit)
        })
    }

    /// The running attempt's process group, for a takeover to find orphans.
    pub fn record_process(
        &mut self,
        key: RunKey<'_>,
        owner: &str,
        round: u32,
        attempt: u32,
        pid: i32,
        pid_start: Option<u64>,
    ) -> anyhow::Result<()> {
        self.transaction(|tx| {
            check_lease(tx, key, owner)?;
            tx.execute(
                "UPDATE attempts SET pid = ?5, pid_start = ?6
                 WHERE run_id = ?1 AND step = ?2 AND round = ?3 AND attempt = ?4",
                params![
                    key.run_id,
                    key.step,
                    round,
                    attempt,
                    pid,
                    pid_start.map(to_i64)
                ],
            )?;
            Ok(())
        })
    }

    /// After a failed attempt: ask the planner, store its decision; a give-up
    /// ends the round with `give_up_exit` and frees the lease.
    #[allow(clippy::too_many_arguments)]
    pub fn finish_failure(
        &mut self,
        key: RunKey<'_>,
        owner: &str,
        round: u32,
        attempt: u32,
        now_ms: u64,
        observed: &Observed,
        give_up_exit: u8,
        decide: impl FnOnce(&RetryState, &SharedState) -> anyhow::Result<Decision>,
    ) -> anyhow::Result<Decision> {
        let now = to_i64(now_ms);
        self.transaction(|tx| {
            check_lease(tx, key, owner)?;
            let state = load_state(tx, key)?;
            let shared = load_shared(tx, key.step)?;
            let decision = decide(&state, &shared)?;
            save_shared(tx, key.step, &decision.shared, now)?;
            let verdict = if decision.give_up.is_some() {
                "give-up"
            } else {
                "retry"
            };
            tx.execute(
                "UPDATE attempts SET ended_at_ms = ?5, exit_code = ?6, signal = ?7, timed_out = ?8,
                     class = ?9, rule = ?10, decision = ?11, give_up_reason = ?12,
                     delay_after_ms = ?13, explanation = ?14
                 WHERE run_id = ?1 AND step = ?2 AND round = ?3 AND attempt = ?4",
                params![
                    key.run_id,
                    key.step,
                    round,
                    attempt,
                    now,
                    observed.exit_code,
                    observed.signal,
                    observed.timed_out,
                    decision.classification.class.as_str(),
                    decision.classification.rule,
                    verdict,
                    decision.give_up.map(|r| r.as_str()),
                    decision
                        .give_up
                        .is_none()
                        .then_some(to_i64(decision.delay_ms)),
                    decision.explanation,
                ],
            )?;
            let state = serde_json::to_string(&decision.state)?;
            match decision.give_up {
                Some(reason) => tx.execute(
                    "UPDATE runs SET status = 'failed', outcome = ?3, exit_status = ?4,
                         retry_state = ?5, finished_at_ms = ?6, updated_at_ms = ?6,
                         lease_owner = NULL, lease_expires_at_ms = NULL
                     WHERE run_id = ?1 AND step = ?2",
                    params![
                        key.run_id,
                        key.step,
                        reason.as_str(),
                        give_up_exit,
                        state,
                        now
                    ],
                )?,
                None => tx.execute(
                    "UPDATE runs SET retry_state = ?3, updated_at_ms = ?4
                     WHERE run_id = ?1 AND step = ?2",
                    params![key.run_id, key.step, state, now],
                )?,
            };
            Ok(decision)
        })
    }

    /// After a successful attempt: the run is done; update the shared state.
    pub fn finish_success(
        &mut self,
        key: RunKey<'_>,
        owner: &str,
        round: u32,
        attempt: u32,
        now_ms: u64,
        decide: impl FnOnce(&SharedState) -> anyhow::Result<SharedState>,
    ) -> anyhow::Result<()> {
        let now = to_i64(now_ms);
        self.transaction(|tx| {
            check_lease(tx, key, owner)?;
            let shared = load_shared(tx, key.step)?;
            save_shared(tx, key.step, &decide(&shared)?, now)?;
            tx.execute(
                "UPDATE attempts SET ended_at_ms = ?5, exit_code = 0, decision = 'succeeded'
                 WHERE run_id = ?1 AND step = ?2 AND round = ?3 AND attempt = ?4",
                params![key.run_id, key.step, round, attempt, now],
            )?;
            tx.execute(
                "UPDATE runs SET status = 'succeeded', outcome = 'succeeded', exit_status = 0,
                     finished_at_ms = ?3, updated_at_ms = ?3,
                     lease_owner = NULL, lease_expires_at_ms = NULL
                 WHERE run_id = ?1 AND step = ?2",
                params![key.run_id, key.step, now],
            )?;
            Ok(())
        })
    }

    /// Backstop itself was stopped by a signal: mark the running attempt (if
    /// any) and free the lease; the run stays `running` for a later invocation.
    pub fn interrupt(
        &mut self,
        key: RunKey<'_>,
        owner: &str,
        round: u32,
        attempt: Option<u32>,
        now_ms: u64,
        signal: &str,
    ) -> anyhow::Result<()> {
        let now = to_i64(now_ms);
        self.transaction(|tx| {
            check_lease(tx, key, owner)?;
            if let Some(attempt) = attempt {
                tx.execute(
                    "UPDATE attempts SET ended_at_ms = ?5, decision = 'interrupted', explanation = ?6
                     WHERE run_id = ?1 AND step = ?2 AND round = ?3 AND attempt = ?4",
                    params![
                        key.run_id,
                        key.step,
                        round,
                        attempt,
                        now,
                        format!("backstop received {signal}")
                    ],
                )?;
            }
            tx.execute(
                "UPDATE runs SET lease_owner = NULL, lease_expires_at_ms = NULL, updated_at_ms = ?3
                 WHERE run_id = ?1 AND step = ?2",
                params![key.run_id, key.step, now],
            )?;
            Ok(())
        })
    }

    /// Per-step numbers, steps in name order.
    pub fn stats(&self) -> anyhow::Result<Vec<StepStats>> {
        if self.schema_version()? == 0 {
            return Ok(Vec::new());
        }
        let query = || -> rusqlite::Result<Vec<StepStats>> {
            let mut steps: Vec<StepStats> = Vec::new();
            let mut stmt = self.conn.prepare(
                "SELECT step, count(*),
                        sum(status = 'succeeded'), sum(status = 'failed'), sum(status = 'running')
                 FROM runs GROUP BY step ORDER BY step",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(StepStats {
                    step: r.get(0)?,
                    runs: count(r, 1)?,
                    succeeded: count(r, 2)?,
                    failed: count(r, 3)?,
                    running: count(r, 4)?,
                    ..StepStats::default()
                })
            })?;
            for row in rows {
                steps.push(row?);
            }
            let mut stmt = self
                .conn
                .prepare("SELECT step, count(*), sum(attempt > 1) FROM attempts GROUP BY step")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let step: String = r.get(0)?;
                if let Some(s) = steps.iter_mut().find(|s| s.step == step) {
                    s.attempts = count(r, 1)?;
                    s.retries = count(r, 2)?;
                }
            }
            // Per run: from the end of its first failed attempt to the end of its success.
            let mut stmt = self.conn.prepare(
                "SELECT f.step, s.ended_at_ms - min(f.ended_at_ms)
                 FROM attempts f
                 JOIN attempts s ON s.run_id = f.run_id AND s.step = f.step
                                AND s.decision = 'succeeded'
                 WHERE f.decision IN ('retry', 'give-up') AND f.ended_at_ms <= s.ended_at_ms
                 GROUP BY f.run_id, f.step",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let step: String = r.get(0)?;
                let ms: i64 = r.get(1)?;
                if let Some(s) = steps.iter_mut().find(|s| s.step == step) {
                    s.recoveries_ms.push(ms.max(0) as u64);
                }
            }
            Ok(steps)
        };
        query().map_err(|e| self.error(e))
    }

    /// Every stored alert state, for `alerts list` and `alerts ack`.
    pub fn alert_states(&self) -> anyhow::Result<Vec<AlertStateRow>> {
        let run = || -> rusqlite::Result<Vec<AlertStateRow>> {
            let mut stmt = self.conn.prepare(
                "SELECT policy_key, state, updated_at_ms, policy_path, policy_format, policy_source
                 FROM alert_state ORDER BY policy_key",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(AlertStateRow {
                    key: r.get(0)?,
                    state: r.get(1)?,
                    updated_at_ms: r.get::<_, i64>(2)?.max(0) as u64,
                    policy: StoredPolicy {
                        path: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                        format: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                        source: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                    },
                })
            })?;
            rows.collect()
        };
        run().map_err(|e| self.error(e))
    }

    /// Read a policy key's alert state, evaluate with `decide`, and store the
    /// next state, the policy and the log rows in one transaction. Returns the
    /// log rows' ids (for [`Store::mark_delivery`]) and `decide`'s value.
    pub fn update_alerts<T>(
        &mut self,
        key: &str,
        policy: &StoredPolicy,
        now_ms: u64,
        decide: impl FnOnce(&str) -> anyhow::Result<(String, Vec<AlertLogRow>, T)>,
    ) -> anyhow::Result<(Vec<i64>, T)> {
        let now = to_i64(now_ms);
        self.transaction(|tx| {
            let state: Option<String> = tx
                .query_row(
                    "SELECT state FROM alert_state WHERE policy_key = ?1",
                    params![key],
                    |r| r.get(0),
                )
                .optional()?;
            let (next, rows, value) = decide(state.as_deref().unwrap_or(""))?;
            tx.execute(
                "INSERT INTO alert_state (policy_key, state, updated_at_ms, policy_path, policy_format, policy_source)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (policy_key) DO UPDATE SET state = excluded.state,
                     updated_at_ms = excluded.updated_at_ms, policy_path = excluded.policy_path,
                     policy_format = excluded.policy_format, policy_source = excluded.policy_source",
                params![key, next, now, policy.path, policy.format, policy.source],
            )?;
            let mut ids = Vec::with_capacity(rows.len());
            for row in &rows {
                tx.execute(
                    "INSERT INTO alert_log (at_ms, policy_key, kind, severity, rule, dedup_key, targets, summary, sink)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        to_i64(row.at_ms),
                        key,
                        row.kind,
                        row.severity,
                        row.rule,
                        row.dedup_key,
                        row.targets,
                        row.summary,
                        row.sink
                    ],
                )?;
                ids.push(tx.last_insert_rowid());
            }
            Ok((ids, value))
        })
    }

    /// Record how one logged notification's delivery went.
    pub fn mark_delivery(&mut self, id: i64, error: Option<&str>) -> anyhow::Result<()> {
        self.transaction(|tx| {
            tx.execute(
                "UPDATE alert_log SET delivered = ?2, error = ?3 WHERE rowid = ?1",
                params![id, error.is_none(), error],
            )?;
            Ok(())
        })
    }
}

/// The policy an alert state was made with.
#[derive(Debug, Clone, Default)]
pub struct StoredPolicy {
    pub path: String,
    /// `toml` or `json`.
    pub format: String,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct AlertStateRow {
    pub key: String,
    pub state: String,
    #[allow(dead_code)]
    pub updated_at_ms: u64,
    pub policy: StoredPolicy,
}

/// One notification through one route, as `alert_log` records it.
#[derive(Debug, Clone)]
pub struct AlertLogRow {
    pub at_ms: u64,
    pub kind: String,
    pub severity: String,
    pub rule: String,
    pub dedup_key: String,
    /// JSON array.
    pub targets: String,
    pub summary: String,
    pub sink: String,
}

impl StoreError {
    fn from_sqlite(path: &Path, busy: Duration, e: rusqlite::Error) -> StoreError {
        let kind = match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreErrorKind::Locked(busy)
            }
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                StoreErrorKind::Corrupt(e.to_string())
            }
            _ => StoreErrorKind::Other(e.to_string()),
        };
        StoreError {
            path: path.to_path_buf(),
            kind,
        }
    }
}

fn check_lease(tx: &rusqlite::Transaction<'_>, key: RunKey<'_>, owner: &str) -> Result<(), Fail> {
    let holder: Option<Option<String>> = tx
        .query_row(
            "SELECT lease_owner FROM runs WHERE run_id = ?1 AND step = ?2",
            params![key.run_id, key.step],
            |r| r.get(0),
        )
        .optional()?;
    if holder.flatten().as_deref() == Some(owner) {
        Ok(())
    } else {
        Err(Fail::Other(LeaseLost.into()))
    }
}

fn load_state(tx: &rusqlite::Transaction<'_>, key: RunKey<'_>) -> Result<RetryState, Fail> {
    let text: String = tx.query_row(
        "SELECT retry_state FROM runs WHERE run_id = ?1 AND step = ?2",
        params![key.run_id, key.step],
        |r| r.get(0),
    )?;
    Ok(serde_json::from_str(&text)?)
}

fn load_shared(tx: &rusqlite::Transaction<'_>, step: &str) -> Result<SharedState, Fail> {
    let text: Option<String> = tx
        .query_row(
            "SELECT state FROM shared_state WHERE step = ?1",
            params![step],
            |r| r.get(0),
        )
        .optional()?;
    match text {
        Some(text) => Ok(serde_json::from_str(&text)
            .with_context(|| format!("the shared state of step {step:?} is not valid"))?),
        None => Ok(SharedState::default()),
    }
}

fn save_shared(
    tx: &rusqlite::Transaction<'_>,
    step: &str,
    shared: &SharedState,
    now: i64,
) -> Result<(), Fail> {
    tx.execute(
        "INSERT INTO shared_state (step, state, updated_at_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (step) DO UPDATE SET state = excluded.state, updated_at_ms = excluded.updated_at_ms",
        params![step, serde_json::to_string(shared)?, now],
    )?;
    Ok(())
}

/// A count column (NULL, from `sum` over no rows, is 0).
fn count(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<u64> {
    Ok(row.get::<_, Option<i64>>(index)?.unwrap_or(0).max(0) as u64)
}

/// SQLite integers are signed; our times and durations fit long before 2^63 ms.
fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// `$XDG_STATE_HOME/backstop/state.db` (`~/.local/state/backstop/state.db`), or
/// the platform's local data directory where there is no state directory.
pub fn default_path() -> anyhow::Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "backstop").context(
        "no home directory to keep the state database in; pass --state or set BACKSTOP_STATE",
    )?;
    let base = dirs.state_dir().unwrap_or_else(|| dirs.data_local_dir());
    Ok(base.join("state.db"))
}

/// How long a write waits for another process's transaction before reporting
/// the database as locked. `BACKSTOP_BUSY_TIMEOUT_MS` overrides it (for tests).
pub fn busy_timeout() -> Duration {
    Duration::from_millis(env_ms("BACKSTOP_BUSY_TIMEOUT_MS").unwrap_or(5_000))
}

/// A positive number of milliseconds from the environment.
pub fn env_ms(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&ms| ms > 0)
}
