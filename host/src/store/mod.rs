//! The state store: the run ledger and its leases, the breaker/budget state
//! shared per step, and the alert state and log. Two backends behind one
//! trait: SQLite (the embedded default, one file) and PostgreSQL (a fleet of
//! machines sharing one database). `--state` / `BACKSTOP_STATE` name either a
//! path or a `postgres://` / `postgresql://` URL.
//!
//! The logic lives once, by layer: [`schema`] (tables and migrations),
//! [`runs`] (leases, fencing, attempts), [`shared`] (breaker and budget),
//! [`stats`], [`trends`] and [`alerts`]. Those layers speak SQL through [`Tx`], which
//! each backend implements; dialect differences are confined to the
//! backends and to a few [`Dialect`] switches.
//!
//! Every write that depends on the lease runs in one transaction that first
//! locks the run's row and checks the fencing token (owner + lease epoch), so
//! an invocation that stalled past its lease can never overwrite its successor.
//! The store never deletes, truncates or recreates an existing database: a
//! damaged, empty or foreign one is reported and left as it is.

mod alerts;
mod outbox;
mod postgres;
mod runs;
mod schema;
mod shared;
mod sqlite;
mod stats;
mod trends;
mod within;

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

pub use alerts::{AlertLogRow, AlertShardRow, AlertStateRow, StoredPolicy};
pub use outbox::{Delivery, OutboxRow, Outgoing};
pub use runs::{Abandoned, Acquired, Fence, Grant, Observed, Owner, RunKey};
pub use schema::{PG_SCHEMA_VERSION, SCHEMA_VERSION};
pub use stats::StepStats;
pub use trends::{TrendAlert, TrendAttempt, TrendFilter};
pub use within::{AlertWriter, Within};

/// Where the state lives, as `--state` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    /// A libpq-style URL (`postgres://user:password@host:port/db?...`).
    Postgres(String),
}

impl Location {
    /// A `postgres://` or `postgresql://` URL, otherwise a file path.
    pub fn parse(state: &Path) -> Location {
        let text = state.to_string_lossy();
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Location::Postgres(text.into_owned())
        } else {
            Location::Sqlite(state.to_path_buf())
        }
    }

    /// For messages: the path, or the URL without its password.
    pub fn display(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(url) => redact_url(url),
        }
    }
}

/// The state argument as messages may show it (a URL's password hidden).
pub fn display_state(state: &Path) -> String {
    Location::parse(state).display()
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let mut out = url[..scheme_end + 3].to_string();
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => out.push_str(&format!("{}:***", &userinfo[..colon])),
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    // A password can also ride in the query string.
    let tail = &rest[authority_end..];
    match tail.find("password=") {
        Some(p) => {
            out.push_str(&tail[..p + 9]);
            out.push_str("***");
            if let Some(amp) = tail[p..].find('&') {
                out.push_str(&tail[p + amp..]);
            }
        }
        None => out.push_str(tail),
    }
    out
}

/// A state database problem, naming the database. `backstop` exits 74 on it.
#[derive(Debug)]
pub struct StoreError {
    /// The path or the URL (password hidden).
    pub location: String,
    pub kind: StoreErrorKind,
}

#[derive(Debug)]
pub enum StoreErrorKind {
    Locked(Duration),
    Corrupt(String),
    /// A SQLite file of 0 bytes: truncated or replaced, never one we made.
    Empty,
    Foreign(String),
    /// The database's version and the newest this backstop knows (per backend).
    TooNew(i64, i64),
    /// The database server cannot be reached or dropped the connection.
    Unavailable(String),
    Other(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = &self.location;
        match &self.kind {
            StoreErrorKind::Locked(waited) => write!(
                f,
                "state database {at} is locked by another process (waited {}ms); nothing was changed, try again",
                waited.as_millis()
            ),
            StoreErrorKind::Corrupt(detail) => write!(
                f,
                "state database {at} is corrupted or not a SQLite database ({detail}); it was left untouched: inspect it, or move it aside to start a new one"
            ),
            StoreErrorKind::Empty => write!(
                f,
                "state database {at} is empty (0 bytes), which backstop never leaves behind: it was truncated or replaced. \
                 Refusing to start afresh, which would run succeeded run ids again; restore it from a backup, \
                 or delete it to start over (every run id then runs again)"
            ),
            StoreErrorKind::Foreign(what) => write!(
                f,
                "{at} is {what} but not a backstop state database; it was left untouched"
            ),
            StoreErrorKind::TooNew(version, known) => write!(
                f,
                "state database {at} has schema version {version}, newer than this backstop's {known}; upgrade backstop"
            ),
            StoreErrorKind::Unavailable(detail) => write!(
                f,
                "state database {at} is unreachable ({detail}); nothing was changed, try again"
            ),
            StoreErrorKind::Other(detail) => write!(f, "state database {at}: {detail}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Another invocation took the run over (this one stalled past its lease):
/// the write carrying a stale fencing token was refused.
#[derive(Debug)]
pub struct LeaseLost;

impl fmt::Display for LeaseLost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("lost the lease on this run: another backstop took it over")
    }
}

impl std::error::Error for LeaseLost {}

/// A failure inside a transaction: the database's or another (a decision
/// callback's, [`LeaseLost`]).
pub(crate) enum Fail {
    Db(StoreErrorKind),
    Other(anyhow::Error),
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

/// A value bound to, or read from, a statement: the types the schema uses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Int(i64),
    Text(String),
    Null,
}

impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::Int(v)
    }
}
impl From<u32> for Val {
    fn from(v: u32) -> Val {
        Val::Int(i64::from(v))
    }
}
impl From<i32> for Val {
    fn from(v: i32) -> Val {
        Val::Int(i64::from(v))
    }
}
impl From<u8> for Val {
    fn from(v: u8) -> Val {
        Val::Int(i64::from(v))
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Val {
        Val::Int(i64::from(v))
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::Text(v.to_string())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::Text(v)
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Val {
        Val::Text(v.clone())
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Val {
        v.map_or(Val::Null, Into::into)
    }
}

/// Statement parameters: `params![a, b]`.
macro_rules! params {
    ($($v:expr),* $(,)?) => { &[$($crate::store::Val::from($v)),*] };
}
pub(crate) use params;

/// One result row.
pub(crate) struct Row(pub Vec<Val>);

impl Row {
    fn get(&self, i: usize) -> Result<&Val, Fail> {
        self.0
            .get(i)
            .ok_or_else(|| Fail::Db(StoreErrorKind::Other(format!("no column {i}"))))
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, Fail> {
        match self.get(i)? {
            Val::Int(v) => Ok(Some(*v)),
            Val::Null => Ok(None),
            Val::Text(t) => Err(Fail::Db(StoreErrorKind::Other(format!(
                "column {i} holds text {t:?} where a number belongs"
            )))),
        }
    }

    pub fn int(&self, i: usize) -> Result<i64, Fail> {
        Ok(self.opt_int(i)?.unwrap_or(0))
    }

    /// A non-negative count or time (NULL, from an aggregate over no rows, is 0).
    pub fn uint(&self, i: usize) -> Result<u64, Fail> {
        Ok(self.int(i)?.max(0) as u64)
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<String>, Fail> {
        match self.get(i)? {
            Val::Text(t) => Ok(Some(t.clone())),
            Val::Null => Ok(None),
            Val::Int(v) => Err(Fail::Db(StoreErrorKind::Other(format!(
                "column {i} holds the number {v} where text belongs"
            )))),
        }
    }

    pub fn text(&self, i: usize) -> Result<String, Fail> {
        Ok(self.opt_text(i)?.unwrap_or_default())
    }
}

/// The SQL differences the layers must know about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// One open transaction. SQL is written once with `?1`, `?2` ... placeholders
/// (the PostgreSQL backend rewrites them to `$1` ...).
pub(crate) trait Tx {
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, Fail>;
    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, Fail>;
    fn dialect(&self) -> Dialect;
    /// The time leases are measured in: the database server's clock on
    /// PostgreSQL (one clock for every machine), this machine's on SQLite
    /// (every user of the file is on this machine).
    fn now_ms(&mut self, local_ms: u64) -> Result<i64, Fail>;

    fn query_opt(&mut self, sql: &str, params: &[Val]) -> Result<Option<Row>, Fail> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// `FOR UPDATE` where the database has row locks; SQLite's write
    /// transactions (`BEGIN IMMEDIATE`) already exclude each other.
    fn for_update(&self) -> &'static str {
        match self.dialect() {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }
}

/// A connected backend.
pub(crate) trait Backend: Send {
    /// Run `f` in one write transaction; commit when it returns `Ok`.
    fn write(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<(), Fail>) -> Result<(), Fail>;
    /// Run `f` in a read-only snapshot.
    fn read(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<(), Fail>) -> Result<(), Fail>;
    /// Another connection to the same database (the lease renewer's).
    fn reopen(&self) -> Result<Box<dyn Backend>, Fail>;
    /// Whether the schema exists (a read on a never-written SQLite file: no).
    fn initialised(&mut self) -> Result<bool, Fail>;
    /// Make room before a command starts, so the writes after it need none
    /// (SQLite: empty the write-ahead log into the file).
    fn prepare_attempt(&mut self) -> Result<(), Fail> {
        Ok(())
    }
    /// Check every page for damage (SQLite's `quick_check`; PostgreSQL
    /// checks its own pages as it reads them).
    fn verify(&mut self) -> Result<(), Fail> {
        Ok(())
    }
}

/// The state store, over either backend.
pub struct Store {
    db: RefCell<Box<dyn Backend>>,
    location: Location,
    busy: Duration,
}

impl Store {
    /// Open (creating the database, its directory or its schema if missing)
    /// and migrate. `state` is a path or a PostgreSQL URL.
    pub fn open(state: &Path, busy: Duration) -> anyhow::Result<Store> {
        let location = Location::parse(state);
        let db: Box<dyn Backend> = match &location {
            Location::Sqlite(path) => {
                Box::new(sqlite::Sqlite::open(path, busy).map_err(|f| fail(&location, f))?)
            }
            Location::Postgres(url) => {
                Box::new(postgres::Postgres::open(url, busy).map_err(|f| fail(&location, f))?)
            }
        };
        Ok(Store {
            db: RefCell::new(db),
            location,
            busy,
        })
    }

    /// Open an existing database without changing it; `None` when there is
    /// none (a missing SQLite file; a PostgreSQL database without the schema).
    pub fn open_existing(state: &Path, busy: Duration) -> anyhow::Result<Option<Store>> {
        let location = Location::parse(state);
        let db: Box<dyn Backend> = match &location {
            Location::Sqlite(path) => {
                match sqlite::Sqlite::open_existing(path, busy).map_err(|f| fail(&location, f))? {
                    Some(db) => Box::new(db),
                    None => return Ok(None),
                }
            }
            Location::Postgres(url) => {
                match postgres::Postgres::open_existing(url, busy)
                    .map_err(|f| fail(&location, f))?
                {
                    Some(db) => Box::new(db),
                    None => return Ok(None),
                }
            }
        };
        Ok(Some(Store {
            db: RefCell::new(db),
            location,
            busy,
        }))
    }

    /// Check the whole database for damage: what a person inspecting the
    /// state runs (`backstop stats`), not every run (it reads every page).
    pub fn verify(&self) -> anyhow::Result<()> {
        self.db
            .borrow_mut()
            .verify()
            .map_err(|f| fail(&self.location, f))
    }

    /// A second connection to the same database (the lease renewer's).
    pub fn reopen(&self) -> anyhow::Result<Store> {
        let db = self
            .db
            .borrow()
            .reopen()
            .map_err(|f| fail(&self.location, f))?;
        Ok(Store {
            db: RefCell::new(db),
            location: self.location.clone(),
            busy: self.busy,
        })
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    /// One write transaction returning `f`'s value.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, Fail>,
    ) -> anyhow::Result<T> {
        let mut f = Some(f);
        let mut out = None;
        self.db
            .borrow_mut()
            .write(&mut |tx| {
                let f = f.take().ok_or_else(|| {
                    Fail::Db(StoreErrorKind::Other("a transaction ran twice".into()))
                })?;
                out = Some(f(tx)?);
                Ok(())
            })
            .map_err(|e| fail(&self.location, e))?;
        out.ok_or_else(|| anyhow::anyhow!("a state transaction returned nothing"))
    }

    /// One read-only transaction returning `f`'s value.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, Fail>,
    ) -> anyhow::Result<T> {
        let mut f = Some(f);
        let mut out = None;
        self.db
            .borrow_mut()
            .read(&mut |tx| {
                let f = f.take().ok_or_else(|| {
                    Fail::Db(StoreErrorKind::Other("a transaction ran twice".into()))
                })?;
                out = Some(f(tx)?);
                Ok(())
            })
            .map_err(|e| fail(&self.location, e))?;
        out.ok_or_else(|| anyhow::anyhow!("a state transaction returned nothing"))
    }

    pub(crate) fn initialised(&self) -> anyhow::Result<bool> {
        self.db
            .borrow_mut()
            .initialised()
            .map_err(|e| fail(&self.location, e))
    }
}

/// A transaction's failure as the caller sees it: database problems become a
/// [`StoreError`] naming the database, the rest passes through.
fn fail(location: &Location, f: Fail) -> anyhow::Error {
    match f {
        Fail::Db(kind) => StoreError {
            location: location.display(),
            kind,
        }
        .into(),
        Fail::Other(e) => e,
    }
}

/// Our times and durations fit an i64 long before 2^63 ms.
pub(crate) fn to_i64(v: u64) -> i64 {
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

/// A local directory for files kept beside the state (the alert dead-letter
/// file): the SQLite file's directory, or the default state directory when
/// the state is on a server.
pub fn local_dir(state: &Path) -> PathBuf {
    match Location::parse(state) {
        Location::Sqlite(path) => path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
        Location::Postgres(_) => default_path()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from(".")),
    }
}

/// How long a write waits for another process's transaction (or a
/// connection) before reporting the database as locked or unreachable.
/// `BACKSTOP_BUSY_TIMEOUT_MS` overrides it (for tests).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_postgres_and_the_rest_are_paths() {
        assert_eq!(
            Location::parse(Path::new("postgresql://h/db")),
            Location::Postgres("postgresql://h/db".into())
        );
        assert_eq!(
            Location::parse(Path::new("POSTGRES://h/db")),
            Location::Postgres("POSTGRES://h/db".into())
        );
        assert_eq!(
            Location::parse(Path::new("state/postgres.db")),
            Location::Sqlite("state/postgres.db".into())
        );
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://bob:s3cret@db:5432/x"),
            "postgres://bob:***@db:5432/x"
        );
        assert_eq!(redact_url("postgres://bob@db/x"), "postgres://bob@db/x");
        assert_eq!(
            redact_url("postgres://db/x?user=a&password=s3cret&sslmode=require"),
            "postgres://db/x?user=a&password=***&sslmode=require"
        );
    }
}
