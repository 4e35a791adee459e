//! The PostgreSQL backend: the state of a fleet in the database it already
//! runs. Sync `postgres` client, one connection per `Store`. Every unit of work
//! is one explicit transaction (READ COMMITTED) that starts by pointing
//! `search_path` at the `backstop` schema with `SET LOCAL`, and serialises on
//! row locks (`SELECT ... FOR UPDATE`). Nothing depends on session state, so
//! the store works through PgBouncer in transaction pooling mode.

use std::time::Duration;

use bytes::BytesMut;
use postgres::error::SqlState;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Config, NoTls};

use super::schema::{
    PG_SCHEMA, PG_SCHEMA_VERSION as SCHEMA_VERSION, POSTGRES_ALERT_KEYS, POSTGRES_OUTBOX,
    POSTGRES_RUN_PIPELINES, POSTGRES_V3,
};
use super::{Backend, Dialect, Fail, Row, StoreErrorKind, Tx, Val};

/// The transaction-scoped advisory lock that serialises schema creation and
/// migration between machines opening a new database at once.
const MIGRATION_LOCK: i64 = 0x6261_636b_7374_6f70; // "backstop"

pub(crate) struct Postgres {
    client: Client,
    config: Config,
    busy: Duration,
}

/// Where the schema stands.
enum Found {
    Missing,
    Version(i64),
    Foreign,
}

impl Postgres {
    /// Connect, create the schema if missing, migrate.
    pub fn open(url: &str, busy: Duration) -> Result<Postgres, Fail> {
        let mut db = Postgres::connect(url, busy)?;
        match db.inspect()? {
            Found::Version(v) if v == SCHEMA_VERSION && db.has_additive_tables()? => return Ok(db),
            Found::Version(v) if v > SCHEMA_VERSION => {
                return Err(Fail::Db(StoreErrorKind::TooNew(v, SCHEMA_VERSION)));
            }
            Found::Foreign => return Err(foreign()),
            _ => {}
        }
        db.migrate()?;
        Ok(db)
    }

    /// Connect to a database whose schema exists; `None` when it does not.
    pub fn open_existing(url: &str, busy: Duration) -> Result<Option<Postgres>, Fail> {
        let mut db = Postgres::connect(url, busy)?;
        match db.inspect()? {
            Found::Missing => Ok(None),
            Found::Version(v) if v > SCHEMA_VERSION => {
                Err(Fail::Db(StoreErrorKind::TooNew(v, SCHEMA_VERSION)))
            }
            Found::Version(_) => Ok(Some(db)),
            Found::Foreign => Err(foreign()),
        }
    }

    fn connect(url: &str, busy: Duration) -> Result<Postgres, Fail> {
        let mut config: Config = url.parse().map_err(|e| {
            Fail::Db(StoreErrorKind::Other(format!(
                "not a valid PostgreSQL URL: {e}"
            )))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(busy.max(Duration::from_secs(1)));
        }
        if config.get_application_name().is_none() {
            config.application_name("backstop");
        }
        let client = config.connect(NoTls).map_err(|e| pg_fail(busy, e))?;
        Ok(Postgres {
            client,
            config,
            busy,
        })
    }

    fn inspect(&mut self) -> Result<Found, Fail> {
        let busy = self.busy;
        let rows = self
            .client
            .query(
                "SELECT (SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = $1),
                        to_regclass($2)::text",
                &[&PG_SCHEMA, &format!("{PG_SCHEMA}.schema_version")],
            )
            .map_err(|e| pg_fail(busy, e))?;
        let tables: i64 = rows[0].get(0);
        let version_table: Option<String> = rows[0].get(1);
        if version_table.is_none() {
            return Ok(if tables > 0 {
                Found::Foreign
            } else {
                Found::Missing
            });
        }
        let row = self
            .client
            .query_opt(
                &format!("SELECT max(version) FROM {PG_SCHEMA}.schema_version"),
                &[],
            )
            .map_err(|e| pg_fail(busy, e))?;
        let version: Option<i64> = row.and_then(|r| r.get(0));
        Ok(match version {
            Some(v) => Found::Version(v),
            None => Found::Foreign,
        })
    }

    /// Whether the tables added to version 3 without a new version (the
    /// outbox, the run pipelines, the alert keys) all exist: a database
    /// another host's store created, or an older backstop, lacks some.
    fn has_additive_tables(&mut self) -> Result<bool, Fail> {
        let busy = self.busy;
        let row = self
            .client
            .query_one(
                "SELECT to_regclass($1)::text, to_regclass($2)::text, to_regclass($3)::text",
                &[
                    &format!("{PG_SCHEMA}.alert_outbox"),
                    &format!("{PG_SCHEMA}.run_pipelines"),
                    &format!("{PG_SCHEMA}.alert_keys"),
                ],
            )
            .map_err(|e| pg_fail(busy, e))?;
        Ok((0..3).all(|i| row.get::<_, Option<String>>(i).is_some()))
    }

    /// Create or migrate under the advisory lock (transaction-scoped), so
    /// machines opening a new database at once create it exactly once.
    fn migrate(&mut self) -> Result<(), Fail> {
        let busy = self.busy;
        let mut tx = self.client.transaction().map_err(|e| pg_fail(busy, e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(|e| pg_fail(busy, e))?;
        // Again, under the lock: another machine may have just done it.
        let rows = tx
            .query(
                "SELECT (SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = $1),
                        to_regclass($2)::text",
                &[&PG_SCHEMA, &format!("{PG_SCHEMA}.schema_version")],
            )
            .map_err(|e| pg_fail(busy, e))?;
        let tables: i64 = rows[0].get(0);
        let version_table: Option<String> = rows[0].get(1);
        match version_table {
            None if tables > 0 => return Err(foreign()),
            None => {
                tx.batch_execute(&format!(
                    "CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA};
                     SET LOCAL search_path TO {PG_SCHEMA};
                     {POSTGRES_V3}
                     {POSTGRES_OUTBOX}
                     {POSTGRES_RUN_PIPELINES}
                     {POSTGRES_ALERT_KEYS}
                     CREATE TABLE schema_version (version BIGINT NOT NULL);
                     INSERT INTO schema_version VALUES ({SCHEMA_VERSION});"
                ))
                .map_err(|e| pg_fail(busy, e))?;
            }
            Some(_) => {
                let version: Option<i64> = tx
                    .query_one(
                        &format!("SELECT max(version) FROM {PG_SCHEMA}.schema_version"),
                        &[],
                    )
                    .map_err(|e| pg_fail(busy, e))?
                    .get(0);
                match version {
                    None => return Err(foreign()),
                    Some(v) if v > SCHEMA_VERSION => {
                        return Err(Fail::Db(StoreErrorKind::TooNew(v, SCHEMA_VERSION)));
                    }
                    // Version 3 was the first on PostgreSQL.
                    // Version 3 is the first here; additive tables come without one.
                    Some(_) => {
                        tx.batch_execute(&format!(
                            "SET LOCAL search_path TO {PG_SCHEMA};
                             {POSTGRES_OUTBOX} {POSTGRES_RUN_PIPELINES} {POSTGRES_ALERT_KEYS}"
                        ))
                        .map_err(|e| pg_fail(busy, e))?;
                    }
                }
            }
        }
        tx.commit().map_err(|e| pg_fail(busy, e))
    }

    /// A server restart leaves the client closed: connect again before the
    /// next transaction (the one that failed is reported, never replayed).
    fn ensure_connected(&mut self) -> Result<(), Fail> {
        if self.client.is_closed() {
            self.client = self
                .config
                .connect(NoTls)
                .map_err(|e| pg_fail(self.busy, e))?;
        }
        Ok(())
    }

    fn transaction(
        &mut self,
        read_only: bool,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<(), Fail>,
    ) -> Result<(), Fail> {
        self.ensure_connected()?;
        let busy = self.busy;
        let mode = if read_only { "READ ONLY" } else { "READ WRITE" };
        // lock_timeout: a row held by a stalled transaction is reported as
        // locked after the busy timeout, as SQLite's busy_timeout does.
        // idle_in_transaction_session_timeout: a process stopped (SIGSTOP, a
        // frozen VM) between two statements would otherwise keep its row
        // locks for as long as its connection lives, so no successor could
        // ever take its lease over; the server ends such a session after the
        // busy timeout (never under a second: our transactions do guest work
        // between statements). Its late commit then fails and changes nothing.
        self.client
            .batch_execute(&format!(
                "BEGIN ISOLATION LEVEL READ COMMITTED {mode};
                 SET LOCAL search_path TO {PG_SCHEMA};
                 SET LOCAL lock_timeout = {};
                 SET LOCAL idle_in_transaction_session_timeout = {};",
                busy.as_millis().max(1),
                busy.as_millis().max(1000)
            ))
            .map_err(|e| pg_fail(busy, e))?;
        let result = f(&mut PgTx {
            client: &mut self.client,
            busy,
            now: None,
        });
        match result {
            Ok(()) => self
                .client
                .batch_execute("COMMIT")
                .map_err(|e| pg_fail(busy, e)),
            Err(e) => {
                let _ = self.client.batch_execute("ROLLBACK");
                Err(e)
            }
        }
    }
}

impl Backend for Postgres {
    fn write(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<(), Fail>) -> Result<(), Fail> {
        self.transaction(false, f)
    }

    fn read(&mut self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<(), Fail>) -> Result<(), Fail> {
        self.transaction(true, f)
    }

    fn reopen(&self) -> Result<Box<dyn Backend>, Fail> {
        let client = self
            .config
            .connect(NoTls)
            .map_err(|e| pg_fail(self.busy, e))?;
        Ok(Box::new(Postgres {
            client,
            config: self.config.clone(),
            busy: self.busy,
        }))
    }

    fn initialised(&mut self) -> Result<bool, Fail> {
        Ok(matches!(self.inspect()?, Found::Version(_)))
    }
}

struct PgTx<'a> {
    client: &'a mut Client,
    busy: Duration,
    now: Option<i64>,
}

/// `?1` -> `$1`: the layers write SQLite's placeholders.
fn placeholders(sql: &str) -> String {
    sql.replace('?', "$")
}

fn bind(params: &[Val]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Tx for PgTx<'_> {
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64, Fail> {
        self.client
            .execute(placeholders(sql).as_str(), &bind(params))
            .map_err(|e| pg_fail(self.busy, e))
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Row>, Fail> {
        let rows = self
            .client
            .query(placeholders(sql).as_str(), &bind(params))
            .map_err(|e| pg_fail(self.busy, e))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut row = Vec::with_capacity(r.len());
            for (i, column) in r.columns().iter().enumerate() {
                let get = |e: postgres::Error| pg_fail(self.busy, e);
                let v = match *column.type_() {
                    Type::INT8 => r.try_get::<_, Option<i64>>(i).map_err(get)?.map(Val::Int),
                    Type::INT4 => r
                        .try_get::<_, Option<i32>>(i)
                        .map_err(get)?
                        .map(|v| Val::Int(v.into())),
                    Type::INT2 => r
                        .try_get::<_, Option<i16>>(i)
                        .map_err(get)?
                        .map(|v| Val::Int(v.into())),
                    Type::BOOL => r
                        .try_get::<_, Option<bool>>(i)
                        .map_err(get)?
                        .map(|v| Val::Int(v.into())),
                    _ => r
                        .try_get::<_, Option<String>>(i)
                        .map_err(get)?
                        .map(Val::Text),
                };
                row.push(v.unwrap_or(Val::Null));
            }
            out.push(Row(row));
        }
        Ok(out)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn now_ms(&mut self, _local_ms: u64) -> Result<i64, Fail> {
        if let Some(now) = self.now {
            return Ok(now);
        }
        let row = self
            .client
            .query_one(
                "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
                &[],
            )
            .map_err(|e| pg_fail(self.busy, e))?;
        let now: i64 = row.get(0);
        self.now = Some(now);
        Ok(now)
    }
}

impl ToSql for Val {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(v) => match *ty {
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Val::Text(t) => t.as_str().to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn foreign() -> Fail {
    Fail::Db(StoreErrorKind::Foreign(format!(
        "a PostgreSQL database whose schema {PG_SCHEMA:?} holds tables"
    )))
}

fn pg_fail(busy: Duration, e: postgres::Error) -> Fail {
    let kind = match e.code() {
        Some(code)
            if *code == SqlState::LOCK_NOT_AVAILABLE || *code == SqlState::QUERY_CANCELED =>
        {
            StoreErrorKind::Locked(busy)
        }
        Some(code)
            if code.code().starts_with("08")
                || code.code().starts_with("57P")
                || *code == SqlState::TOO_MANY_CONNECTIONS =>
        {
            StoreErrorKind::Unavailable(e.to_string())
        }
        Some(_) => StoreErrorKind::Other(match e.as_db_error() {
            Some(db) => format!("{}: {}", db.code().code(), db.message()),
            None => e.to_string(),
        }),
        None if e.is_closed() => StoreErrorKind::Unavailable(e.to_string()),
        None => StoreErrorKind::Unavailable(match std::error::Error::source(&e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        }),
    };
    Fail::Db(kind)
}
