//! The SQLite backend: one file in WAL mode, for one machine. Write
//! transactions are `BEGIN IMMEDIATE`, so they exclude each other for their
//! whole length; readers (`stats`) never wait for a running step's writes.
//!
//! A new database is built complete under a temporary name and linked into
//! place, so no process ever sees a half-made one: an empty (0-byte) file is
//! therefore never ours and is refused, and concurrent first opens can no
//! longer catch another's schema half-written and call it foreign.

use std::ffi::c_int;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::config::DbConfig;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags, ToSql, TransactionBehavior, ffi};

use super::schema::{
    SCHEMA_VERSION, SQLITE_V1, SQLITE_V2, SQLITE_V3, SQLITE_V4, SQLITE_V5, SQLITE_V6,
};
use super::{Backend, Dialect, Fail, Row, StoreErrorKind, Tx, Val};

pub(crate) struct Sqlite {
    conn: Connection,
    path: PathBuf,
    busy: Duration,
    /// Whether this connection committed anything, to be synced at close.
    wrote: bool,
    /// Pages in the write-ahead log after this connection's last commit
    /// (-1 before its first), from SQLite's log hook.
    log_pages: Arc<AtomicI32>,
}

/// A log holding this many pages is checkpointed before the next attempt
/// (see [`Backend::prepare_attempt`]): about five runs' worth. Each open
/// re-reads the pages the log holds (SQLite rebuilds its index when the
/// first connection opens), so the log stays short; checkpointing at every
/// attempt instead cost four syncs per `backstop run`.
const CHECKPOINT_PAGES: i64 = 64;

/// Room the log must have past its last page before a command starts, for
/// the writes after it (a run's are under 10 pages).
const RESERVED_PAGES: i64 = 16;

/// One page in the log: its 24-byte frame header and the page (SQLite's
/// default page size, which the database is created with).
const LOG_FRAME_BYTES: i64 = 24 + 4096;

/// The log's own header.
const LOG_HEADER_BYTES: i64 = 32;

/// SQLite's own automatic checkpoint, which a log hook replaces.
const AUTOCHECKPOINT_PAGES: i64 = 1000;

impl Sqlite {
    /// Open (creating the file and its directory if missing) and migrate.
    pub fn open(path: &Path, busy: Duration) -> Result<Sqlite, Fail> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                Fail::Db(StoreErrorKind::Other(format!(
                    "cannot create its directory: {e}"
                )))
            })?;
        }
        if !path.exists() {
            create(path, busy)?;
        }
        refuse_empty(path)?;
        let mut db = Sqlite::connect(path, busy, OpenFlags::default())?;
        db.check()?;
        db.migrate()?;
        // It may have committed a migration.
        db.wrote = true;
        Ok(db)
    }

    /// Open an existing file without changing it; `None` when there is none.
    pub fn open_existing(path: &Path, busy: Duration) -> Result<Option<Sqlite>, Fail> {
        if !path.exists() {
            return Ok(None);
        }
        refuse_empty(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let db = Sqlite::connect(path, busy, flags)?;
        db.check()?;
        Ok(Some(db))
    }

    fn connect(path: &Path, busy: Duration, flags: OpenFlags) -> Result<Sqlite, Fail> {
        let error = |e| sql_fail(busy, e);
        let mut conn = Connection::open_with_flags(path, flags).map_err(error)?;
        conn.busy_timeout(busy).map_err(error)?;
        keep_the_log(&conn).map_err(error)?;
        let log_pages = Arc::new(AtomicI32::new(-1));
        let pages = Arc::clone(&log_pages);
        conn.wal_hook(Some(move |log: &mut rusqlite::hooks::Wal, n: c_int| {
            pages.store(n, Ordering::Relaxed);
            if n >= AUTOCHECKPOINT_PAGES as c_int {
                // As SQLite's default hook: a checkpoint that cannot run now
                // (a reader in the way) is retried at a later commit.
                let _ = log.checkpoint();
            }
            Ok(())
        }))
        .map_err(error)?;
        Ok(Sqlite {
            conn,
            path: path.to_path_buf(),
            busy,
            wrote: false,
            log_pages,
        })
    }

    /// Version and ownership checks, before anything is written; the reads
    /// share one snapshot so a concurrent migration cannot fall between them.
    /// No integrity check: `PRAGMA quick_check` reads every page, 45 ms per
    /// `backstop run` at 36,000 recorded runs and growing with them. A damaged
    /// page a run reads fails that read (exit 74, nothing written); `backstop
    /// stats` runs the whole check ([`Backend::verify`]).
    fn check(&self) -> Result<(), Fail> {
        let error = |e| sql_fail(self.busy, e);
        self.conn.execute_batch("BEGIN").map_err(error)?;
        let result = self.check_in_snapshot();
        let _ = self.conn.execute_batch("COMMIT");
        result
    }

    fn check_in_snapshot(&self) -> Result<(), Fail> {
        let error = |e| sql_fail(self.busy, e);
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(error)?;
        if version > SCHEMA_VERSION {
            return Err(Fail::Db(StoreErrorKind::TooNew(version, SCHEMA_VERSION)));
        }
        if version == 0 && self.tables()? > 0 {
            return Err(Fail::Db(StoreErrorKind::Foreign(
                "a SQLite database".into(),
            )));
        }
        Ok(())
    }

    fn tables(&self) -> Result<i64, Fail> {
        self.conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| sql_fail(self.busy, e))
    }

    fn migrate(&self) -> Result<(), Fail> {
        let setup = || -> Result<(), Fail> {
            let error = |e| sql_fail(self.busy, e);
            // WAL: readers (stats) never wait for a running step's writes.
            let _mode: String = self
                .conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(error)?;
            self.conn
                .pragma_update(None, "synchronous", "NORMAL")
                .map_err(error)?;
            let version: i64 = self
                .conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(error)?;
            if version == SCHEMA_VERSION {
                return Ok(());
            }
            self.conn.execute_batch("BEGIN IMMEDIATE").map_err(error)?;
            let version: i64 = self
                .conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(error)?;
            if version == 0 && self.tables()? > 0 {
                return Err(Fail::Db(StoreErrorKind::Foreign(
                    "a SQLite database".into(),
                )));
            }
            migrate_from(&self.conn, version).map_err(error)?;
            self.conn.execute_batch("COMMIT").map_err(error)
        };
        setup().inspect_err(|_| {
            let _ = self.conn.execute_batch("ROLLBACK");
        })
    }

    fn log_path(&self) -> PathBuf {
        let mut log = self.path.clone().into_os_string();
        log.push("-wal");
        PathBuf::from(log)
    }

    /// Write back and empty the write-ahead log, so later commits reuse its
    /// space instead of growing a file: run before a command starts, so a
    /// disk that cannot take the state's growth fails before, not after, it.
    pub fn checkpoint(&self) -> Result<(), Fail> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
            .map_err(|e| sql_fail(self.busy, e))
    }
}

/// Give the file at `path` at least `len` bytes on disk (not a sparse
/// hole, so writes within them cannot fail for space later). No file, no
/// log to make room in (a database SQLite could not put in WAL mode).
fn allocate(path: &Path, len: u64) -> std::io::Result<()> {
    let file = match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if file.metadata()?.len() >= len {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is `file`'s, open for writing for the call.
        let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) };
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    file.set_len(len)
}

/// Closing neither checkpoints nor deletes the write-ahead log. Each
/// `backstop run` used to end with a checkpoint (two fsyncs) and delete the
/// log and its index, and the next one recreated and synced both and their
/// directory: about 1 ms of a `run -- true`. The log stays bounded: it is
/// checkpointed before an attempt once it holds [`CHECKPOINT_PAGES`]
/// ([`Backend::prepare_attempt`]) and at SQLite's 1,000-page autocheckpoint.
/// Durability is as before: commits (`synchronous = NORMAL`) reach the disk
/// when the connection that made them closes ([`Drop for Sqlite`](Sqlite)),
/// as the closing checkpoint made them.
fn keep_the_log(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    let mut persist: c_int = 1;
    // SAFETY: `handle` is this open connection's; PERSIST_WAL reads and
    // writes one int through the pointer, which outlives the call.
    let rc = unsafe {
        ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_PERSIST_WAL,
            (&raw mut persist).cast(),
        )
    };
    match rc {
        ffi::SQLITE_OK => Ok(()),
        rc => Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None)),
    }
}

impl Drop for Sqlite {
    /// Sync what this connection committed (see [`keep_the_log`]). An error
    /// here has nobody to go to, as the closing checkpoint's had none.
    fn drop(&mut self) {
        if self.wrote
            && let Ok(file) = std::fs::File::open(self.log_path())
        {
            let _ = file.sync_data();
        }
    }
}

/// Apply the migrations after `version` (inside the caller's transaction).
fn migrate_from(conn: &Connection, version: i64) -> rusqlite::Result<()> {
    if version < 1 {
        conn.execute_batch(SQLITE_V1)?;
    }
    if version < 2 {
        conn.execute_batch(SQLITE_V2)?;
    }
    if version < 3 {
        conn.execute_batch(SQLITE_V3)?;
    }
    if version < 4 {
        conn.execute_batch(SQLITE_V4)?;
    }
    if version < 5 {
        conn.execute_batch(SQLITE_V5)?;
    }
    if version < 6 {
        conn.execute_batch(SQLITE_V6)?;
    }
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)
}

/// Build a complete database under a temporary name in the same directory and
/// link it into place; if another process won the race, use theirs.
fn create(path: &Path, busy: Duration) -> Result<(), Fail> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state.db".into());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // Threads of one process opening a new file at once may read the same
    // clock; sharing one temporary database, one deleted the other's files
    // under it ("disk I/O error"). The counter keeps their names apart.
    static CREATES: AtomicU64 = AtomicU64::new(0);
    let n = CREATES.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_file_name(format!(".{name}.{}.{nanos}.{n}.new", std::process::id()));
    let io = |what: &str, e: std::io::Error| {
        Fail::Db(StoreErrorKind::Other(format!("cannot {what}: {e}")))
    };
    let build = || -> Result<(), Fail> {
        let error = |e| sql_fail(busy, e);
        let conn = Connection::open(&tmp).map_err(error)?;
        conn.execute_batch("BEGIN").map_err(error)?;
        migrate_from(&conn, 0).map_err(error)?;
        conn.execute_batch("COMMIT").map_err(error)?;
        let _mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(error)?;
        conn.close().map_err(|(_, e)| error(e))?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| io("write a new state database", e))?;
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            // A filesystem without hard links: rename, which replaces; only
            // when there is still nothing to replace.
            Err(_) if !path.exists() => {
                std::fs::rename(&tmp, path).map_err(|e| io("create the state database", e))?
            }
            Err(_) => {}
        }
        if let Some(dir) = path.parent()
            && let Ok(d) = std::fs::File::open(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })
        {
            let _ = d.sync_all();
        }
        Ok(())
    };
    let result = build();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = tmp.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
    result
}

fn refuse_empty(path: &Path) -> Result<(), Fail> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() == 0 => Err(Fail::Db(StoreErrorKind::Empty)),
        _ => Ok(()),
    }
}

impl Backend for Sqlite {
    fn write(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<(), Fail>) -> Result<(), Fail> {
        let busy = self.busy;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_fail(busy, e))?;
        f(&mut SqliteTx { tx: &tx, busy })?;
        tx.commit().map_err(|e| sql_fail(busy, e))?;
        self.wrote = true;
        Ok(())
    }

    fn read(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<(), Fail>) -> Result<(), Fail> {
        let busy = self.busy;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(|e| sql_fail(busy, e))?;
        f(&mut SqliteTx { tx: &tx, busy })?;
        tx.commit().map_err(|e| sql_fail(busy, e))
    }

    fn reopen(&self) -> Result<Box<dyn Backend>, Fail> {
        Ok(Box::new(Sqlite::connect(
            &self.path,
            self.busy,
            OpenFlags::default(),
        )?))
    }

    fn initialised(&mut self) -> Result<bool, Fail> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| sql_fail(self.busy, e))?;
        Ok(version > 0)
    }

    /// A short log (as this connection's last commit left it) with room
    /// for the writes after the command is left alone. Otherwise it is
    /// written back into the database and restarted, and its file is given
    /// the room of a whole cycle on disk, so a full disk fails here, before
    /// the command, and the next runs' writes reuse that space.
    fn prepare_attempt(&mut self) -> Result<(), Fail> {
        let log = self.log_path();
        let pages = i64::from(self.log_pages.load(Ordering::Relaxed));
        let capacity = std::fs::metadata(&log)
            .map(|m| (m.len() as i64 - LOG_HEADER_BYTES) / LOG_FRAME_BYTES)
            .unwrap_or(0);
        if (0..CHECKPOINT_PAGES).contains(&pages) && capacity - pages >= RESERVED_PAGES {
            return Ok(());
        }
        self.checkpoint()?;
        let room = LOG_HEADER_BYTES + (CHECKPOINT_PAGES + RESERVED_PAGES) * LOG_FRAME_BYTES;
        allocate(&log, room as u64).map_err(|e| {
            Fail::Db(StoreErrorKind::Other(format!(
                "cannot make room for its write-ahead log: {e}"
            )))
        })
    }

    fn verify(&mut self) -> Result<(), Fail> {
        let check: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| sql_fail(self.busy, e))?;
        if check == "ok" {
            return Ok(());
        }
        // SQLite lists every damaged page; the first two say enough.
        let problems: Vec<&str> = check
            .lines()
            .filter(|l| !l.starts_with("***") && !l.trim().is_empty())
            .collect();
        let mut detail = problems[..problems.len().min(2)].join("; ");
        if problems.len() > 2 {
            detail.push_str(&format!("; {} more", problems.len() - 2));
        }
        Err(Fail::Db(StoreErrorKind::Corrupt(format!(
            "quick_check: {detail}"
        ))))
    }
}

struct SqliteTx<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    busy: Duration,
}

impl Tx for SqliteTx<'_> {
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, Fail> {
        let mut stmt = self
            .tx
            .prepare_cached(sql)
            .map_err(|e| sql_fail(self.busy, e))?;
        let n = stmt
            .execute(rusqlite::params_from_iter(params))
            .map_err(|e| sql_fail(self.busy, e))?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, Fail> {
        let busy = self.busy;
        let run = || -> rusqlite::Result<Vec<Row>> {
            let mut stmt = self.tx.prepare_cached(sql)?;
            let columns = stmt.column_count();
            let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let mut row = Vec::with_capacity(columns);
                for i in 0..columns {
                    row.push(match r.get_ref(i)? {
                        ValueRef::Null => Val::Null,
                        ValueRef::Integer(v) => Val::Int(v),
                        ValueRef::Real(v) => Val::Int(v as i64),
                        ValueRef::Text(t) | ValueRef::Blob(t) => {
                            Val::Text(String::from_utf8_lossy(t).into_owned())
                        }
                    });
                }
                out.push(Row(row));
            }
            Ok(out)
        };
        run().map_err(|e| sql_fail(busy, e))
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn now_ms(&mut self, local_ms: u64) -> Result<i64, Fail> {
        Ok(super::to_i64(local_ms))
    }
}

impl ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Val::Int(v) => ToSqlOutput::from(*v),
            Val::Text(t) => ToSqlOutput::from(t.as_str()),
            Val::Null => ToSqlOutput::from(rusqlite::types::Null),
        })
    }
}

fn sql_fail(busy: Duration, e: rusqlite::Error) -> Fail {
    Fail::Db(match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreErrorKind::Locked(busy),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            StoreErrorKind::Corrupt(e.to_string())
        }
        Some(ErrorCode::DiskFull) => StoreErrorKind::Other(format!("the disk is full ({e})")),
        _ => StoreErrorKind::Other(e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::allocate;

    #[test]
    fn allocating_gives_the_log_real_blocks_and_never_shrinks_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("state.db-wal");
        std::fs::write(&log, b"header").unwrap();
        allocate(&log, 64 * 1024).unwrap();
        let meta = std::fs::metadata(&log).unwrap();
        assert_eq!(meta.len(), 64 * 1024);
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::MetadataExt;
            // Blocks on disk, not a sparse hole a full disk could fail to fill.
            assert!(meta.blocks() * 512 >= 64 * 1024, "{} blocks", meta.blocks());
        }
        assert_eq!(std::fs::read(&log).unwrap()[..6], *b"header");
        allocate(&log, 1024).unwrap();
        assert_eq!(std::fs::metadata(&log).unwrap().len(), 64 * 1024);
    }

    #[test]
    fn a_database_without_a_log_has_nothing_to_allocate() {
        let dir = tempfile::tempdir().unwrap();
        allocate(&dir.path().join("state.db-wal"), 4096).unwrap();
        assert!(!dir.path().join("state.db-wal").exists());
    }
}
